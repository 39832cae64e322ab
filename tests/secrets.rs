//! Secrets on the real engine: a file, a variable of boss's environment and a context key reach
//! the container read-only at `/run/secrets/<name>`; their values never show in boss's output
//! (plain or JSON), `plan`, `status` or `env`; a changed value recreates the container; `stop
//! --remove` removes the files boss wrote.

use std::os::unix::fs::PermissionsExt as _;

use crate::common::{Project, container, container_labels, containers};

const PASSWORD: &str = "pw-SECRET-4711";
const FILE_VALUE: &str = "file-SECRET-0815";
const TOKEN: &str = "tok-SECRET-123";

const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    secrets: #{
        password: #{ env: "BOSS_TEST_DB_PASSWORD" },
        key: #{ file: "./key.txt" },
    },
    post_start: |ctx| {
        ctx.secret("token", "tok-SECRET-123");
        log(`token is ${ctx.token}, password is ${env_var("BOSS_TEST_DB_PASSWORD")}`);
        print(ctx);
    },
});

service(#{
    name: "api",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    secrets: #{ token: #{ context: "token" } },
});
"#;

#[track_caller]
fn lacks_secrets(text: &str, what: &str) {
    for value in [PASSWORD, FILE_VALUE, TOKEN] {
        assert!(!text.contains(value), "{what} shows a secret value:\n{text}");
    }
}

#[test]
fn secrets_reach_the_container_read_only_and_never_show() {
    let project = Project::new("secrets_reach_container");
    project.script(SCRIPT).file("key.txt", FILE_VALUE);

    // A variable that is not set is refused before anything is created.
    project.boss(["start"]).run().code(2).stderr_contains(
        "error: secret `password` of service `db` reads the variable `BOSS_TEST_DB_PASSWORD`, which is not set",
    );
    assert_eq!(containers(project.group()), []);

    let started = project.boss(["start", "--progress", "json"]).env("BOSS_TEST_DB_PASSWORD", PASSWORD).run();
    started.success();
    lacks_secrets(&started.stdout, "start's JSON events");
    lacks_secrets(&started.stderr, "start's stderr");
    started.stdout_contains("token is ***, password is ***");
    started.stdout_contains(r#"{\"token\":\"***\"}"#);

    let read = |service: &str, name: &str| {
        let output = project.run(["exec", service, "--", "cat", &format!("/run/secrets/{name}")]);
        output.success();
        output.stdout.clone()
    };
    assert_eq!(read("db", "password"), PASSWORD);
    assert_eq!(read("db", "key"), FILE_VALUE);
    assert_eq!(read("api", "token"), TOKEN);
    project
        .run(["exec", "db", "--", "sh", "-c", "echo changed > /run/secrets/password"])
        .code(1)
        .stderr_contains("Read-only file system");

    // The value is in the definition only as a hash.
    let db = container(project.group(), "db").expect("db runs");
    let labels = container_labels(&db.id);
    lacks_secrets(&format!("{labels:?}"), "the container's labels");
    assert!(labels["boss.definition"].contains("\"password\""), "{labels:?}");

    // boss keeps the values it wrote in owner-only directories.
    let secrets = project.path(format!(".boss/secrets/{}", project.group()));
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&secrets), 0o700);
    assert_eq!(mode(&secrets.join("db")), 0o700);
    assert_eq!(mode(&secrets.join("db/password")), 0o444);
    assert!(!secrets.join("db/key").exists(), "a file secret is mounted as it is");

    for args in [&["plan"][..], &["plan", "--format", "json"], &["status"], &["status", "--format", "json"], &["env"]] {
        let output = project.boss(args).env("BOSS_TEST_DB_PASSWORD", PASSWORD).run();
        lacks_secrets(&output.stdout, &format!("{args:?}"));
        lacks_secrets(&output.stderr, &format!("{args:?}"));
    }
    project.run(["env"]).success().stdout_contains("TOKEN='***'");
    project.run(["env", "--show-secrets"]).success().stdout_contains(&format!("TOKEN='{TOKEN}'"));

    // A new value replaces the container (a running one is only called outdated, as for env).
    project
        .boss(["start"])
        .env("BOSS_TEST_DB_PASSWORD", "pw-NEW")
        .run()
        .success()
        .stderr_contains("secret `password` changed");
    project.run(["stop"]).success();
    let restarted = project.boss(["start"]).env("BOSS_TEST_DB_PASSWORD", "pw-NEW").run();
    restarted.success().stderr_contains("recreating: secret `password` changed");
    lacks_secrets(&restarted.stderr, "the recreating start");
    assert_eq!(read("db", "password"), "pw-NEW");

    project.run(["stop", "--remove"]).success();
    assert!(!secrets.exists(), "stop --remove removes the files boss wrote");
    assert!(project.path("key.txt").exists(), "never the user's own file");
}

#[test]
fn a_bad_secret_is_a_script_error_that_does_not_echo_it() {
    let project = Project::new("secrets_bad_entry");
    project.script(
        r#"group("@GROUP@");
let password = "pw-SECRET-4711";
service(#{ name: "db", image: "@IMAGE@", secrets: #{ password: password } });
"#,
    );
    let output = project.run(["plan"]);
    output.code(2).stderr_contains("error: invalid secret `password`: expected a map, got a string");
    lacks_secrets(&output.stderr, "the error");
}

#[test]
fn a_context_secret_that_nothing_provides_is_refused_before_anything_starts() {
    let project = Project::new("secrets_missing_context_key");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"] });
service(#{ name: "api", image: "@IMAGE@", dependencies: ["db"], secrets: #{ token: #{ context: "api_token" } } });
"#,
    );
    project.run(["start"]).code(2).stderr_contains(
        "error: service `api` needs `{api_token}` in secret `token`, but nothing provides key `api_token`",
    );
    assert_eq!(containers(project.group()), []);
}

#[test]
fn a_hook_that_throws_a_secret_fails_without_showing_it() {
    let project = Project::new("secrets_hook_error");
    project.script(
        r#"group("@GROUP@");
service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    secrets: #{ password: #{ env: "BOSS_TEST_DB_PASSWORD" } },
    ping: || throw `cannot log in with ${env_var("BOSS_TEST_DB_PASSWORD")}`,
});
"#,
    );
    let output = project.boss(["start", "--progress", "plain"]).env("BOSS_TEST_DB_PASSWORD", PASSWORD).run();
    output.code(1).stderr_contains("cannot log in with ***");
    lacks_secrets(&output.stderr, "the hook's error");
    lacks_secrets(&output.stdout, "stdout");
}
