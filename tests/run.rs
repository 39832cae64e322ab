//! `boss run -- CMD`: start the group, run CMD on the host with `boss env`'s variables, then
//! stop and remove what this run started, and exit with CMD's status. On the real engine: a
//! passing and a failing command, a service that ran before the run, stopped containers it
//! restarts, `--keep`, a start that
//! fails (the command never runs), and Ctrl-C while the command runs.

use crate::common::{Project, container, containers, networks, signal_group_when};

const SCRIPT: &str = r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", ports: #{ "80": 0 },
    post_start: |ctx| { ctx.token = "it's $ecret"; } });
service(#{ name: "web", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#;

#[test]
fn run_passes_the_env_to_the_command_and_removes_what_it_started() {
    let project = Project::new("run_passes");
    let group = project.group().to_owned();
    project.script(SCRIPT);

    // The command sees the variables, and the group runs while it does.
    let check = format!(
        "printf '%s|%s' \"$DB_PORT_80\" \"$TOKEN\" > seen.txt && docker ps --filter label=boss.group={group} --format x | wc -l > running.txt"
    );
    project
        .run(["run", "--", "sh", "-c", &check])
        .success()
        .stderr_contains("running `sh` with 2 variables from `boss env`")
        .stderr_contains("cleaning up what this run started")
        .stderr_contains(&format!("db: removed {group}.db"));
    let seen = project.read("seen.txt").unwrap();
    let (port, token) = seen.split_once('|').unwrap();
    assert!(port.parse::<u16>().is_ok_and(|port| port > 0), "{seen}");
    assert_eq!(token, "it's $ecret");
    assert_eq!(project.read("running.txt").unwrap().trim(), "2");
    assert_eq!(containers(&group), [], "the run removed its containers");
    assert_eq!(networks(&group), Vec::<String>::new(), "and the network it created");

    // A failing command's status is boss's; what it started is removed all the same.
    project.run(["run", "--", "sh", "-c", "exit 7"]).code(7).stderr_contains("error: `sh` exited with status 7");
    assert_eq!(containers(&group), []);

    // A service that ran before the run is left running, with its network.
    project.run(["start", "--exclude", "web"]).success();
    let db = container(&group, "db").unwrap();
    project
        .run(["run", "--", "true"])
        .success()
        .stderr_contains(&format!("web: removed {group}.web"))
        .stderr_lacks("db: stopping");
    assert_eq!(containers(&group), [db], "db runs on, web is gone");
    assert_eq!(networks(&group).len(), 1);

    // Only services already running: nothing to clean up.
    project.run(["start"]).success();
    let before = containers(&group);
    project.run(["run", "--", "true"]).success().stderr_contains("nothing to clean up");
    assert_eq!(containers(&group), before);
}

#[test]
fn run_stops_again_the_stopped_containers_it_restarted() {
    let project = Project::new("run_restarted");
    let group = project.group().to_owned();
    project.script(SCRIPT);
    project.run(["start"]).success();
    project.run(["stop"]).success();
    let stopped = containers(&group);
    let ids: Vec<&str> = stopped.iter().map(|row| row.id.as_str()).collect();
    project
        .run(["run", "--", "true"])
        .success()
        .stderr_contains(&format!("db: restarting stopped container {group}.db"))
        .stderr_contains(&format!("db: stopped {group}.db"))
        .stderr_lacks("removed");
    let after = containers(&group);
    assert_eq!(after.iter().map(|row| row.id.as_str()).collect::<Vec<_>>(), ids, "the same containers");
    assert!(after.iter().all(|row| row.state == "exited"), "stopped again: {after:#?}");
    assert_eq!(networks(&group).len(), 1, "the network the stopped containers use is kept");
}

#[test]
fn run_keep_leaves_the_group_running() {
    let project = Project::new("run_keep");
    project.script(SCRIPT);
    project.run(["run", "--keep", "--", "sh", "-c", "exit 3"]).code(3).stderr_contains("leaving the group running");
    let states: Vec<String> = containers(project.group()).into_iter().map(|row| row.state).collect();
    assert_eq!(states, ["running", "running"]);
}

#[test]
fn a_failed_start_never_runs_the_command() {
    let project = Project::new("run_failed_start");
    let group = project.group().to_owned();
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "web", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || throw "not today" });
"#,
    );
    project
        .run(["run", "--", "touch", "ran"])
        .code(1)
        .stderr_contains("error: failed to start 1 service: `web`")
        .stderr_lacks("running `touch`");
    assert_eq!(project.read("ran"), None, "the command never ran");
    assert_eq!(containers(&group), [], "db, started by this run, is removed too");
}

#[test]
fn ctrl_c_reaches_the_command_then_boss_cleans_up() {
    let project = Project::new("run_ctrl_c");
    project.script(SCRIPT);
    // The command says when its trap is set, then waits for SIGINT.
    let command =
        "trap 'echo interrupted > trapped.txt; exit 130' INT; echo command-ready >&2; while :; do sleep 1; done";
    let (code, stderr, _) =
        signal_group_when(&project, &["run", "--", "sh", "-c", command], "INT", &|line| line == "command-ready");
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(project.read("trapped.txt").as_deref(), Some("interrupted\n"), "the command got SIGINT\n{stderr}");
    assert!(stderr.contains("interrupted: waiting for the command to exit, then cleaning up"), "{stderr}");
    assert!(stderr.contains("cleaning up what this run started"), "{stderr}");
    assert_eq!(containers(project.group()), [], "{stderr}");
}
