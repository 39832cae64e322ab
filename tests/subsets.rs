//! Subsets, profiles and env files on the real engine: `start SERVICE` starts it with its
//! dependencies, `stop SERVICE` stops it with its dependants, `--profile` (or `BOSS_PROFILES`)
//! brings in optional services, and `env_file` fields and `--env-file` read `.env` files.

use crate::common::{Project, container, containers};

/// `db` <- `api` <- `web`, and `debug` (profile `debug`) <- `db`.
const SCRIPT: &str = r#"group("@GROUP@");

service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "api", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "web", image: "@IMAGE@", dependencies: ["api"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{
    name: "debug",
    image: "@IMAGE@",
    dependencies: ["db"],
    profiles: ["debug"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

/// The state of each service's container (`-` when it has none), as `db api web debug`.
#[track_caller]
fn states(project: &Project) -> String {
    ["db", "api", "web", "debug"]
        .map(|service| container(project.group(), service).map_or_else(|| "-".to_string(), |row| row.state))
        .join(" ")
}

#[test]
fn named_services_start_with_their_dependencies_and_stop_with_their_dependants() {
    let project = Project::new("subsets_named_services");
    project.script(SCRIPT);

    project.run(["start", "web2"]).code(2).stderr_contains("error: unknown service `web2`");
    project.run(["start", "api"]).success();
    assert_eq!(states(&project), "running running - -");

    // Without names: every service but those of inactive profiles.
    project.run(["start"]).success();
    assert_eq!(states(&project), "running running running -");
    // `debug` was not asked for, so the group is all up.
    project.run(["status"]).success().stdout_contains("debug");
    project.boss(["start"]).env("BOSS_PROFILES", "debug").run().success();
    assert_eq!(states(&project), "running running running running");

    project.run(["stop", "services.rhai", "api"]).success();
    assert_eq!(states(&project), "running exited exited running");
    project.run(["stop", "--remove"]).success();
    assert_eq!(containers(project.group()), []);

    // Named explicitly, a service of an inactive profile starts, with its dependencies.
    project.run(["start", "debug"]).success();
    assert_eq!(states(&project), "running - - running");
}

#[test]
fn a_dependency_on_an_inactive_profile_is_refused_before_the_engine_is_touched() {
    let project = Project::new("subsets_inactive_dependency");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "tools", image: "@IMAGE@", profiles: ["tools"], cmd: ["sleep", "3600"] });
service(#{ name: "app", image: "@IMAGE@", dependencies: ["tools"], cmd: ["sleep", "3600"] });
"#,
    );
    project
        .run(["start"])
        .code(2)
        .stderr_contains(
            "error: service `app` depends on `tools`, which is only in profile `tools`, and no such profile is active",
        )
        .stderr_contains("hint: activate it with `--profile tools`, or name `tools` on the command line too")
        .stderr_lacks("created network");
    assert_eq!(containers(project.group()), []);
    project.run(["plan", "--profile", "tools"]).success();
}

#[test]
fn env_files_fill_env_and_env_wins() {
    let project = Project::new("subsets_env_files");
    project
        .script(
            r#"group("@GROUP@");
service(#{
    name: "app",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    env_file: ["./base.env", "./local.env"],
    env: #{ FROM_ENV: "the env field" },
    secrets: #{ password: #{ env: "APP_PASSWORD" } },
});
"#,
        )
        .file("base.env", "# defaults\nexport FROM_FILE=base\nFROM_ENV=loses\nQUOTED=\"a # b {x}\"\n")
        .file("local.env", "FROM_FILE='local'\n")
        .file("boss.env", "APP_PASSWORD=from-env-file\n");
    project.run(["start", "--env-file", "boss.env"]).success();
    let value = |name: &str| {
        let output = project.run(["exec", "app", "--", "sh", "-c", &format!("echo \"${name}\"")]);
        output.success();
        output.stdout.trim_end().to_string()
    };
    assert_eq!(value("FROM_FILE"), "local", "a later file beats an earlier one");
    assert_eq!(value("FROM_ENV"), "the env field", "`env` beats `env_file`");
    assert_eq!(value("QUOTED"), "a # b {x}", "values are literal");
    let secret = project.run(["exec", "app", "--", "cat", "/run/secrets/password"]);
    assert_eq!(secret.success().stdout, "from-env-file");

    project.file("bad.env", "A=1\nnot an assignment\n");
    project
        .run(["start", "--env-file", "bad.env"])
        .code(2)
        .stderr_contains("error: env file `bad.env` line 2 is not `NAME=value`, a comment or blank");
}

#[test]
fn reload_starts_no_service_of_an_inactive_profile() {
    let project = Project::new("subsets_reload_profiles");
    project
        .script(
            r#"group("@GROUP@");
service(#{ name: "api", image: "@GROUP@-api:dev", build_from: "./api", stop_signal: "SIGKILL" });
service(#{
    name: "debug",
    image: "@IMAGE@",
    profiles: ["debug"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#,
        )
        .file("api/Dockerfile", &project.expand("FROM @IMAGE@\nCMD [\"sleep\", \"3600\"]\n"));
    project.run(["start"]).success();
    project.run(["reload", "api"]).success();
    assert_eq!(container(project.group(), "api").map(|row| row.state).as_deref(), Some("running"));
    assert!(container(project.group(), "debug").is_none(), "a reload starts only what a start would");
}
