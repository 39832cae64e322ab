//! boss killed with SIGKILL (the OOM killer, a CI timeout, a closed laptop) at every phase of
//! a run: the next command converges. A container that never became ready is checked again
//! and gets its `post_start`, nothing is duplicated, and the context file is never
//! half-written. Phases too short to hit with a signal from outside are reached with the
//! crash points of `src/crash.rs` (`BOSS_CRASH_AT`), which make boss SIGKILL itself there.

use serde_json::Value;

use crate::common::{Project, containers, docker_required, networks, signal_when};

/// `db` counts its `post_start` runs in the context (`runs`); `api` depends on it. `ping` is
/// the body of db's ping.
fn script(ping: &str) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || {ping},
    post_start: |ctx| {{ let runs = ctx.get("runs"); ctx.runs = if runs == () {{ 1 }} else {{ runs + 1 }}; }},
}});
service(#{{ name: "api", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", dependencies: ["db"] }});
"#
    )
}

fn context(project: &Project) -> serde_json::Map<String, Value> {
    let text = project.context().expect("a context file");
    match serde_json::from_str(&text) {
        Ok(Value::Object(values)) => values,
        other => panic!("the context file is not a JSON object: {other:?}\n{text}"),
    }
}

fn post_start_runs(project: &Project) -> Value {
    context(project).get("runs").cloned().unwrap_or(Value::Null)
}

/// `boss status --format json`, with its exit code.
fn status(project: &Project) -> (Option<i32>, Value) {
    let output = project.run(["status", "--format", "json"]);
    (output.exit_code, serde_json::from_str(&output.stdout).unwrap_or_else(|error| panic!("{error}\n{output}")))
}

fn ready_of(status: &Value, service: &str) -> Value {
    let services = status["services"].as_array().unwrap();
    services.iter().find(|row| row["name"] == service).unwrap_or_else(|| panic!("no {service}: {status}"))["ready"]
        .clone()
}

/// Every container of the group is running, one per service.
#[track_caller]
fn assert_one_running_each(project: &Project, services: &[&str]) {
    let rows = containers(project.group());
    let found: Vec<(&str, &str)> = rows.iter().map(|row| (row.service.as_str(), row.state.as_str())).collect();
    let expected: Vec<(&str, &str)> = services.iter().map(|service| (*service, "running")).collect();
    let mut found_sorted = found.clone();
    found_sorted.sort_unstable();
    let mut expected_sorted = expected;
    expected_sorted.sort_unstable();
    assert_eq!(found_sorted, expected_sorted, "one running container per service");
    assert_eq!(networks(project.group()).len(), 1, "one network");
}

fn kill_at(project: &Project, args: &[&str], point: &str) {
    let output = project.boss(args.iter().copied()).env("BOSS_CRASH_AT", point).run();
    assert_eq!(output.exit_code, None, "boss was to kill itself at {point}\n{output}");
}

#[test]
fn killed_during_ping_the_container_is_checked_again_and_gets_its_post_start() {
    docker_required();
    let project = Project::new("crash_ping");
    project.script(&script("false"));
    let (code, output, _) =
        signal_when(&project, &["start", "--wait-timeout", "300"], "KILL", &|line| line == "db: pinging");
    assert_eq!(code, None, "{output}");
    let db = crate::common::container(project.group(), "db").expect("db's container is left running");
    assert_eq!(db.state, "running");
    assert!(crate::common::container(project.group(), "api").is_none(), "api never started\n{output}");

    let (code, before) = status(&project);
    assert_eq!(code, Some(1), "a service that never became ready is not `all ready`: {before}");
    assert_eq!(ready_of(&before, "db"), false, "{before}");
    assert_eq!(before["all_running"], false);
    assert_eq!(before["all_ready"], false);
    project.run(["status"]).code(1).stdout_contains("never became ready: the next `start` checks it again");

    project.script(&script("true"));
    project.run(["plan"]).success().stdout_contains("running but never became ready; ping and post_start again");
    let resumed = project.run(["start"]);
    resumed
        .success()
        .stderr_contains(&format!(
            "db: container {} runs but never became ready: checking it again, then running post_start",
            db.name
        ))
        .lines_in_order("db: container", "api: creating");
    assert_eq!(crate::common::container(project.group(), "db").unwrap().id, db.id, "the same container, resumed");
    assert_one_running_each(&project, &["api", "db"]);
    assert_eq!(post_start_runs(&project), 1, "post_start ran once\n{resumed}");

    let again = project.run(["start"]);
    again.success().stderr_contains("db: already running");
    assert_eq!(post_start_runs(&project), 1, "a ready container is not checked again\n{again}");
    let (code, after) = status(&project);
    assert_eq!(code, Some(0), "{after}");
    assert_eq!(ready_of(&after, "db"), true, "{after}");
    assert_eq!(after["all_ready"], true);
}

#[test]
fn killed_during_post_start_it_runs_again() {
    docker_required();
    let project = Project::new("crash_post_start");
    project.script(&script("true").replace(
        "post_start: |ctx| {",
        r#"post_start: |ctx| { if env_var("HANG") == "1" { log("in post_start"); sleep(600000); }"#,
    ));
    let (code, output, _) = with_env("HANG", "1", || {
        signal_when(&project, &["start", "--wait-timeout", "300"], "KILL", &|line| line == "db | in post_start")
    });
    assert_eq!(code, None, "{output}");
    let (_, before) = status(&project);
    assert_eq!(ready_of(&before, "db"), false, "{before}");

    project.run(["start"]).success().stderr_contains("then running post_start");
    assert_eq!(post_start_runs(&project), 1);
    assert_one_running_each(&project, &["api", "db"]);
}

/// Runs `body` with `key=value` in this process's environment, which `signal_when`'s boss
/// inherits. Only this test's boss reads `HANG`.
fn with_env<T>(key: &str, value: &str, body: impl FnOnce() -> T) -> T {
    // SAFETY: tests in this binary run each in its own process under nextest, so no other
    // thread reads the environment meanwhile.
    unsafe { std::env::set_var(key, value) };
    let result = body();
    unsafe { std::env::remove_var(key) };
    result
}

/// boss kills itself at `point` during a first `start`; a second `start` converges to one
/// running container per service, with `post_start` having run exactly once.
fn start_converges_after_a_crash_at(test: &str, point: &str) {
    docker_required();
    let project = Project::new(test);
    project.script(&script("true"));
    kill_at(&project, &["start"], point);
    if let Some(text) = project.context() {
        assert!(serde_json::from_str::<Value>(&text).is_ok(), "the context file is whole after a crash: {text}");
    }
    let output = project.run(["start"]);
    output.success();
    assert_one_running_each(&project, &["api", "db"]);
    assert_eq!(post_start_runs(&project), 1, "post_start ran exactly once\n{output}");
    let (code, status) = status(&project);
    assert_eq!(code, Some(0), "{status}");
}

#[test]
fn killed_after_creating_the_network() {
    start_converges_after_a_crash_at("crash_network", "network-created");
}

#[test]
fn killed_between_create_and_start() {
    start_converges_after_a_crash_at("crash_created", "container-created");
}

#[test]
fn killed_right_after_the_container_started() {
    start_converges_after_a_crash_at("crash_started", "container-started");
}

#[test]
fn killed_after_ping_before_post_start() {
    start_converges_after_a_crash_at("crash_pinged", "pinged");
}

#[test]
fn killed_while_saving_the_context_leaves_the_old_file_whole() {
    docker_required();
    let project = Project::new("crash_context");
    project.script(&script("true"));
    project.run(["start"]).success();
    project.run(["stop"]).success();
    let saved = project.context().expect("a context file");

    // The restart records, before it starts db, that db is not ready; boss dies before that
    // new file replaces the old one.
    kill_at(&project, &["start"], "context-written");
    assert_eq!(project.context().as_deref(), Some(saved.as_str()), "the old file, whole");

    let output = project.run(["start"]);
    output.success();
    assert_one_running_each(&project, &["api", "db"]);
    assert_eq!(post_start_runs(&project), 1, "a restart runs no post_start\n{output}");
}

#[test]
fn killed_during_a_restarts_ping_only_the_ping_runs_again() {
    docker_required();
    let project = Project::new("crash_restart");
    project.script(&script("true"));
    project.run(["start"]).success();
    project.run(["stop"]).success();

    project.script(&script("false"));
    let (code, output, _) =
        signal_when(&project, &["start", "--wait-timeout", "300"], "KILL", &|line| line == "db: pinging");
    assert_eq!(code, None, "{output}");
    let (_, before) = status(&project);
    assert_eq!(ready_of(&before, "db"), false, "{before}");

    project.script(&script("true"));
    project
        .run(["start"])
        .success()
        .stderr_contains("runs but was never ready since boss last started it: checking it again")
        .stderr_lacks("then running post_start");
    assert_eq!(post_start_runs(&project), 1, "post_start ran when db was created, not again");
    assert_one_running_each(&project, &["api", "db"]);
}

#[test]
fn killed_during_stop_remove_the_next_stop_finishes_it() {
    docker_required();
    let project = Project::new("crash_stop");
    project.script(&script("true"));
    project.run(["start"]).success();
    kill_at(&project, &["stop", "--remove"], "container-stopped");
    assert!(!containers(project.group()).is_empty(), "boss died before removing everything");

    project.run(["stop", "--remove"]).success();
    assert_eq!(containers(project.group()), Vec::new());
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(project.context(), None, "the context file is removed");
}

// The record of which containers became ready lives in the context file, with the values the
// hooks set. Without the file, boss checks the running containers again and runs their
// `post_start` again, which sets the lost values anew.
#[test]
fn without_the_context_file_running_containers_are_checked_again() {
    docker_required();
    let project = Project::new("crash_context_lost");
    project.script(&script("true"));
    project.run(["start"]).success();
    std::fs::remove_file(project.path(".boss-context")).unwrap();
    project.run(["status"]).code(1).stdout_contains("never became ready");
    project
        .run(["start"])
        .success()
        .stderr_contains("runs but never became ready: checking it again, then running post_start");
    assert_eq!(post_start_runs(&project), 1, "post_start set its value anew");
    project.run(["start"]).success().stderr_contains("db: already running");
}
