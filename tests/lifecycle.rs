//! Jobs (`job: true`), the stop hooks (`pre_stop`, `post_stop`) and external services
//! (`external: true`), through the `boss` binary on the real engine.

use crate::common::{Project, container, containers};

/// `migrate` appends a line to `./out/runs` and exits 0 a moment later; `web` waits for it.
const JOB_SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "migrate",
    image: "@IMAGE@",
    job: true,
    cmd: ["sh", "-c", "echo migrating; echo run >> /out/runs; sleep 1; echo migrated"],
    volumes: ["./out:/out"],
    post_start: |ctx| { ctx.migrated = true; log("after the job"); },
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["migrate"],
    cmd: ["sh", "-c", "cat /out/runs; exec sleep 3600"],
    volumes: ["./out:/out:ro"],
    stop_signal: "SIGKILL",
});
"#;

#[test]
fn a_job_runs_to_completion_before_its_dependants_and_is_not_run_again() {
    let project = Project::new("job_completes");
    project.script(JOB_SCRIPT).file("out/.keep", "");
    let group = project.group();

    project
        .run(["start", "--progress", "plain"])
        .success()
        .stderr_contains("migrate: running the job to completion")
        .lines_in_order("migrate: running the job to completion", "migrate | after the job")
        .lines_in_order("migrate | after the job", "migrate: started in")
        .lines_in_order("migrate: started in", "web: creating container");
    assert_eq!(project.read("out/runs").as_deref(), Some("run\n"), "the job ran once");
    assert_eq!(container(group, "migrate").map(|row| row.state).as_deref(), Some("exited"));
    assert_eq!(container(group, "web").map(|row| row.state).as_deref(), Some("running"));
    assert!(project.context().unwrap_or_default().contains("\"migrated\": true"), "post_start ran after the job");

    // Completed with the same definition: not run again, and no hook runs.
    project
        .run(["start", "--progress", "plain"])
        .success()
        .stderr_contains(&format!("migrate: already completed ({group}.migrate); not run again"))
        .stderr_lacks("after the job");
    assert_eq!(project.read("out/runs").as_deref(), Some("run\n"));
    project
        .run(["plan"])
        .success()
        .stdout_contains("migrate  done      job exited with status 0, unchanged; not run again");
    project.run(["status"]).success().stdout_contains("completed");

    // `always_start_new` runs it again.
    project.script(&JOB_SCRIPT.replace("job: true,", "job: true, always_start_new: true,"));
    project.run(["start", "--progress", "plain"]).success().stderr_contains("migrate: recreating");
    assert_eq!(project.read("out/runs").as_deref(), Some("run\nrun\n"));

    // `stop` has nothing to stop for a job that exited; `--remove` removes its container.
    project.run(["stop", "--remove"]).success();
    assert_eq!(containers(group), []);
}

#[test]
fn a_failing_job_fails_with_its_exit_status_and_log_and_its_dependants_do_not_start() {
    let project = Project::new("job_fails");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "migrate",
    image: "@IMAGE@",
    job: true,
    cmd: ["sh", "-c", "echo no such table; exit 3"],
    post_start: || log("never"),
});

service(#{ name: "web", image: "@IMAGE@", dependencies: ["migrate"], cmd: ["sleep", "3600"] });
"#,
    );
    let group = project.group();

    project
        .run(["start", "--progress", "plain"])
        .code(1)
        .stderr_contains("migrate: failed: job exited with status 3")
        .stderr_contains("| no such table")
        .stderr_contains("web: not started: dependency `migrate` failed")
        .stderr_lacks("never");
    assert_eq!(container(group, "web"), None);
    assert_eq!(container(group, "migrate"), None, "the failed job's container is removed, as for any service");
}

/// `db` dumps itself (through `exec`, so its container still runs) before it stops; `web`
/// depends on it; every stop hook logs.
const STOP_HOOKS_SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    volumes: ["./out:/out"],
    stop_signal: "SIGKILL",
    pre_stop: |ctx| {
        let dump = exec("db", ["sh", "-c", "echo dumped > /out/dump"]);
        log(`db pre_stop ok=${dump.ok}`);
        ctx.dumped = dump.ok;
    },
    post_stop: || log("db post_stop"),
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    pre_stop: || log("web pre_stop"),
    post_stop: || log("web post_stop"),
});
"#;

#[test]
fn stop_hooks_run_around_each_stop_dependants_first() {
    let project = Project::new("stop_hooks");
    project.script(STOP_HOOKS_SCRIPT).file("out/.keep", "");
    let group = project.group();
    project.run(["start"]).success().stderr_lacks("pre_stop");

    project
        .run(["stop", "--progress", "plain"])
        .success()
        .lines_in_order("web | web pre_stop", &format!("web: stopped {group}.web"))
        .lines_in_order(&format!("web: stopped {group}.web"), "web | web post_stop")
        .lines_in_order("web | web post_stop", "db | db pre_stop ok=true")
        .lines_in_order("db | db pre_stop ok=true", &format!("db: stopped {group}.db"))
        .lines_in_order(&format!("db: stopped {group}.db"), "db | db post_stop");
    assert_eq!(project.read("out/dump").as_deref(), Some("dumped\n"), "pre_stop reached the running container");
    assert!(project.context().unwrap_or_default().contains("\"dumped\": true"), "what pre_stop set is saved");

    // Nothing runs any more: no hook runs for a stopped container.
    project
        .run(["stop", "--remove", "--progress", "plain"])
        .success()
        .stderr_lacks("pre_stop")
        .stderr_lacks("post_stop");
    assert_eq!(containers(group), []);
}

#[test]
fn a_failing_pre_stop_is_reported_and_everything_is_still_stopped() {
    let project = Project::new("pre_stop_fails");
    project.script(
        r#"group("@GROUP@");

service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", post_stop: || log("db post_stop") });

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    pre_stop: || {
        throw "the dump failed";
    },
    post_stop: || log("web post_stop"),
});
"#,
    );
    let group = project.group();
    project.run(["start"]).success();

    project
        .run(["stop", "--remove", "--progress", "plain"])
        .code(1)
        .stderr_contains("web: failed to stop: hook `pre_stop` failed: the dump failed")
        .stderr_contains("--> services.rhai:12:9")
        .stderr_contains(&format!("web: removed {group}.web"))
        .stderr_contains("web | web post_stop")
        .stderr_contains(&format!("db: removed {group}.db"))
        .stderr_contains("db | db post_stop");
    assert_eq!(containers(group), [], "the failing hook stopped nothing from being stopped and removed");
}

/// `host` stands for a database already running outside boss: its `ping` passes on the third
/// call, and its `post_start` gives `web` a value.
const EXTERNAL_SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "host",
    external: true,
    pre_start: || log("host pre_start"),
    ping: |ctx| {
        ctx.pings = if "pings" in ctx { ctx.pings + 1 } else { 1 };
        ctx.pings >= 3
    },
    post_start: |ctx| { ctx.host_url = "db.example:5432"; },
    pre_stop: || log("host pre_stop"),
    post_stop: || log("host post_stop"),
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["host"],
    env: #{ DB: "{host_url}" },
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

#[test]
fn an_external_service_runs_its_hooks_its_dependants_wait_and_boss_creates_nothing_for_it() {
    let project = Project::new("external");
    project.script(EXTERNAL_SCRIPT);
    let group = project.group();

    project
        .run(["start", "--progress", "plain"])
        .success()
        .lines_in_order("host | host pre_start", "host: started in")
        .lines_in_order("host: started in", "web: creating container");
    let rows = containers(group);
    assert_eq!(rows.iter().map(|row| row.service.as_str()).collect::<Vec<_>>(), ["web"], "no container for `host`");
    let context = project.context().unwrap_or_default();
    assert!(context.contains("\"pings\": 3"), "its dependants waited for its ping:\n{context}");
    let env = crate::common::container_env(&rows[0].id);
    assert!(env.contains(&"DB=db.example:5432".to_string()), "{env:?}");
    project.run(["status"]).success().stdout_contains("external");

    // Started already: only `ping` runs again.
    project.run(["start", "--progress", "plain"]).success().stderr_lacks("host pre_start");
    assert!(project.context().unwrap_or_default().contains("\"pings\": 4"));

    // `stop` runs its stop hooks but has nothing of it to stop.
    project
        .run(["stop", "--progress", "plain"])
        .success()
        .stderr_contains("host: external: boss has nothing to stop")
        .lines_in_order(&format!("web: stopped {group}.web"), "host | host pre_stop")
        .lines_in_order("host | host pre_stop", "host | host post_stop");

    // After a stop, the next start runs its start hooks again.
    project.run(["start", "--progress", "plain"]).success().stderr_contains("host | host pre_start");
    project.run(["stop", "--remove"]).success();
    assert_eq!(containers(group), []);
}

#[test]
fn reload_runs_the_stop_hooks_and_goes_on_when_pre_stop_fails() {
    let project = Project::new("reload_stop_hooks");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "api",
    image: "@GROUP@-api:dev",
    build_from: "./api",
    stop_signal: "SIGKILL",
    pre_stop: || { throw "cannot deregister"; },
    post_stop: || log("api post_stop"),
});
"#,
    );
    project.file("api/Dockerfile", &project.expand("FROM @IMAGE@\nCMD [\"sleep\", \"3600\"]\n"));
    let group = project.group();
    project.run(["start"]).success();
    let before = container(group, "api").expect("api runs").id;

    project
        .run(["reload", "api", "--progress", "plain"])
        .success()
        .stderr_contains("api: failed to stop: hook `pre_stop` failed: cannot deregister")
        .lines_in_order("api: failed to stop", &format!("api: stopped {group}.api"))
        .lines_in_order(&format!("api: stopped {group}.api"), "api | api post_stop")
        .lines_in_order("api | api post_stop", "api: started in");
    let after = container(group, "api").expect("api runs again");
    assert_ne!(after.id, before, "a new container");
    assert_eq!(after.state, "running");
}

#[test]
fn a_group_without_stop_hooks_stops_with_a_context_file_it_cannot_read() {
    let project = Project::new("stop_broken_context");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    let group = project.group();
    project.run(["start"]).success();
    project.file(crate::common::CONTEXT_FILE, "{ not json");

    project.run(["stop"]).success();
    assert_eq!(container(group, "db").map(|row| row.state).as_deref(), Some("exited"));
}
