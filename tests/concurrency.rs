//! Concurrent boss commands on one group (issue 10, item 1): they take the group's lock one at
//! a time, the ones that wait say for whom, a killed holder leaves no lock behind,
//! `--lock-timeout` gives up with exit 75, and no run's context values are lost.
//!
//! A service's `ping` waits for a TCP port on the host (the "gate") that the test opens when it
//! wants the holder to go on, so that every wait is proven by what the processes print, not by
//! timing.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boss::event::{LockHolder, Operation};

use crate::common::{Background, Project, containers, free_port, networks};

/// `services.rhai` with `a`, whose `ping` passes once the gate at `port` is open (its
/// `post_start` then says so), and `b`, which depends on it.
fn gated_script(port: u16) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || tcp_open("127.0.0.1", {port}), post_start: || log("through the gate") }});
service(#{{ name: "b", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", dependencies: ["a"] }});
"#
    )
}

/// Opens the gate: `ping`s waiting for `port` pass from now on, while the listener lives.
fn open_gate(port: u16) -> TcpListener {
    TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|error| panic!("cannot open the gate {port}: {error}"))
}

/// Writes [`gated_script`] and starts the group in the background; returns the gate's port
/// and the start once it holds the lock and waits at the gate.
fn start_at_the_gate(project: &Project) -> (u16, Background) {
    let port = free_port();
    project.script(&gated_script(port));
    let mut start = project.spawn(&["start", "--wait-timeout", "120"]);
    start.wait_for(&|line| line == "a: pinging");
    (port, start)
}

/// Opens the gate for `holder`, which then succeeds, and returns how `waiter` ended.
#[track_caller]
fn let_through(port: u16, holder: Background, waiter: Background) -> (Option<i32>, String) {
    let _gate = open_gate(port);
    let (code, output) = holder.finish();
    assert_eq!(code, Some(0), "the holder was not disturbed\n{output}");
    waiter.finish()
}

fn is_waiting(line: &str) -> bool {
    line.starts_with("waiting for boss (pid ")
}

#[test]
fn concurrent_starts_make_one_network_and_one_container_per_service() {
    let project = Project::new("lock_starts");
    let port = free_port();
    project.script(&gated_script(port));

    let mut starts: Vec<Background> = (0..4).map(|_| project.spawn(&["start", "--wait-timeout", "120"])).collect();
    // The first to take the lock waits at the gate; at least one other waits for it.
    let pids: Vec<u32> = starts.iter().map(Background::pid).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !starts.iter_mut().any(|start| start.has_printed(&is_waiting)) {
        assert!(std::time::Instant::now() < deadline, "no start waits for another: {starts:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _gate = open_gate(port);

    let outputs: Vec<(Option<i32>, String)> = starts.into_iter().map(Background::finish).collect();
    let all =
        outputs.iter().map(|(code, stderr)| format!("exit {code:?}:\n{stderr}")).collect::<Vec<_>>().join("\n---\n");
    assert!(outputs.iter().all(|(code, _)| *code == Some(0)), "every start succeeds\n{all}");
    let waiting_line = outputs.iter().flat_map(|(_, stderr)| stderr.lines()).find(|line| is_waiting(line)).unwrap();
    assert!(
        pids.iter()
            .any(|pid| waiting_line
                == format!("waiting for boss (pid {pid}, start) working on group `{}`", project.group())),
        "the waiter names one of the other starts\n{all}"
    );
    assert_eq!(outputs.iter().filter(|(_, stderr)| stderr.contains("a: creating container")).count(), 1, "{all}");
    // The later starts know from the context file that `a` became ready: no second `post_start`.
    assert_eq!(outputs.iter().filter(|(_, stderr)| stderr.contains("a | through the gate")).count(), 1, "{all}");
    assert_eq!(networks(project.group()).len(), 1, "one network\n{all}");
    let services: Vec<String> = containers(project.group()).into_iter().map(|row| row.service).collect();
    assert_eq!(services, ["a", "b"], "one container per service\n{all}");
}

#[test]
fn a_stop_waits_for_the_start_it_races() {
    let project = Project::new("lock_stop_start");
    let (port, start) = start_at_the_gate(&project);
    let mut stop = project.spawn(&["stop", "--remove"]);
    let holder = format!("waiting for boss (pid {}, start) working on group `{}`", start.pid(), project.group());
    stop.wait_for(&|line| line == holder);

    let (stop_code, stop_output) = let_through(port, start, stop);
    assert_eq!(stop_code, Some(0), "{stop_output}");
    assert!(stop_output.contains("stopped 2 services"), "the stop came after the start\n{stop_output}");
    assert_eq!(containers(project.group()), [], "{stop_output}");
    assert_eq!(networks(project.group()), Vec::<String>::new(), "{stop_output}");
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let project = Project::new("lock_killed");
    let (port, start) = start_at_the_gate(&project);
    let (code, output) = start.signal("KILL");
    assert_eq!(code, None, "{output}");

    // The next start gets the lock at once: with `--lock-timeout 0` it would give up otherwise.
    let _gate = open_gate(port);
    project.run(["start", "--lock-timeout", "0", "--wait-timeout", "120"]).success().stderr_lacks("waiting for");
}

#[test]
fn lock_timeout_gives_up_naming_the_holder() {
    let project = Project::new("lock_timeout");
    let (_, start) = start_at_the_gate(&project);
    let holder = format!("boss (pid {}, start)", start.pid());
    let group = project.group();
    project
        .run(["start", "--lock-timeout", "1"])
        .code(75)
        .stderr_contains(&format!("waiting for {holder} working on group `{group}`"))
        .stderr_contains(&format!("error: gave up after 1 s: {holder} is still working on group `{group}`"));
    project.run(["stop", "--lock-timeout", "0"]).code(75).stderr_contains("error: gave up after 0 s");
    // A reload too, from another script of the same directory and group (nothing is built).
    project.file("api/Dockerfile", "FROM scratch\n");
    project.file(
        "reload.rhai",
        &project.expand(r#"group("@GROUP@"); service(#{ name: "api", image: "@GROUP@-api:dev", build_from: "api" });"#),
    );
    project
        .run(["reload", "reload.rhai", "api", "--lock-timeout", "0"])
        .code(75)
        .stderr_contains(&format!("error: gave up after 0 s: {holder} is still working on group `{group}`"));

    // With `--progress json`, the wait is an event and the error the last line.
    let stop = project.spawn(&["stop", "--lock-timeout", "1", "--progress", "json"]);
    let (code, stderr, stdout) = stop.finish_with_stdout();
    assert_eq!(code, Some(75), "{stderr}\n{stdout}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let waiting = lines.iter().find(|line| line["kind"] == "waiting_for_lock").expect(&stdout);
    assert_eq!(waiting["group"], group);
    assert_eq!(waiting["pid"], start.pid());
    assert_eq!(waiting["command"], "start");
    assert_eq!(lines.last().unwrap()["exit_code"], 75, "{stdout}");

    let (code, output) = start.signal("KILL");
    assert_eq!(code, None, "{output}");
    assert_eq!(containers(project.group()).len(), 1, "nothing was changed by the runs that gave up");
}

#[test]
fn context_values_of_concurrent_runs_are_all_kept() {
    let project = Project::new("lock_context");
    let port = free_port();
    project.script(&format!(
        r#"group("@GROUP@");
service(#{{ name: "x", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || tcp_open("127.0.0.1", {port}), post_start: |ctx| {{ ctx.from_x = "x"; }} }});
service(#{{ name: "y", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {{ ctx.from_y = "y"; }} }});
"#
    ));

    // Both read the context before either saved anything; the second takes in the first's
    // values once it holds the lock.
    let mut first = project.spawn(&["start", "--exclude", "y", "--wait-timeout", "120"]);
    first.wait_for(&|line| line == "x: pinging");
    let mut second = project.spawn(&["start", "--exclude", "x"]);
    second.wait_for(&is_waiting);

    let (code, output) = let_through(port, first, second);
    assert_eq!(code, Some(0), "{output}");
    let context: serde_json::Value = serde_json::from_str(&project.context().unwrap()).unwrap();
    assert_eq!(context["from_x"], "x", "{context}");
    assert_eq!(context["from_y"], "y", "{context}");
}

#[test]
fn run_releases_the_lock_while_its_command_runs() {
    let project = Project::new("lock_run");
    let port = free_port();
    project.script(&gated_script(port));
    let _gate = open_gate(port);

    // The command starts the same group again; it would give up at once if `run` held the
    // lock, and the clean-up after it takes the lock again.
    let boss = env!("CARGO_BIN_EXE_boss");
    project
        .run(["run", "--", boss, "start", "--lock-timeout", "0"])
        .success()
        .stderr_contains("a: already running")
        .stderr_contains("cleaning up what this run started");
    assert_eq!(containers(project.group()), []);
}

#[test]
fn a_script_elsewhere_claiming_the_group_waits_then_is_refused() {
    let project = Project::new("lock_claim");
    let (port, start) = start_at_the_gate(&project);
    // The same group, from a script in another directory.
    project.file("elsewhere/services.rhai", &project.read("services.rhai").unwrap());
    let mut other = project.spawn(&["start", "elsewhere/services.rhai"]);
    other.wait_for(&is_waiting);

    let (code, output) = let_through(port, start, other);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains(&format!("error: group `{}` belongs to the script in", project.group())), "{output}");
    assert_eq!(containers(project.group()).len(), 2, "{output}");
}

#[tokio::test]
async fn library_calls_wait_for_each_other_and_give_up_after_their_lock_timeout() {
    let project = Project::new("lock_library");
    let (port, start) = start_at_the_gate(&project);
    let script = project.path("services.rhai");

    let error = boss::Group::load(&script).unwrap().lock_timeout(Duration::from_millis(300)).start().await.err();
    let Some(boss::Error::LockTimeout { holder: Some(holder), .. }) = error else { panic!("{error:?}") };
    assert_eq!(holder, LockHolder { pid: start.pid(), operation: Operation::Start });
    let _gate = open_gate(port);
    let (code, output) = start.finish();
    assert_eq!(code, Some(0), "{output}");

    // Two starts of one group in this process: the second waits for the first's lock.
    let waits = Arc::new(Mutex::new(Vec::new()));
    let group = |waits: &Arc<Mutex<Vec<Option<LockHolder>>>>| {
        let waits = Arc::clone(waits);
        boss::Group::load(&script).unwrap().events(move |event| {
            if let boss::event::Event::WaitingForLock { holder, .. } = event {
                waits.lock().unwrap().push(*holder);
            }
        })
    };
    let (first, second) = tokio::join!(group(&waits).start(), group(&waits).start());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(*waits.lock().unwrap(), [Some(LockHolder { pid: std::process::id(), operation: Operation::Start })]);
    first.keep();
    // Dropping one handle removes the group, under the lock; the other then finds nothing.
    drop(second);
    assert_eq!(containers(project.group()), []);
}

#[test]
fn ctrl_c_ends_the_wait_and_leaves_the_holder_alone() {
    let project = Project::new("lock_ctrl_c");
    let (port, start) = start_at_the_gate(&project);
    let mut waiter = project.spawn(&["start"]);
    waiter.wait_for(&is_waiting);
    let (code, output) = waiter.signal("INT");
    assert_eq!(code, Some(130), "{output}");
    assert!(output.contains("error: interrupted"), "{output}");
    assert!(output.contains("interrupted while waiting for the group's lock; nothing was changed"), "{output}");
    assert!(!output.contains("stopping the services that were starting"), "{output}");

    let _gate = open_gate(port);
    let (code, output) = start.finish();
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(containers(project.group()).len(), 2);
}

#[test]
fn locks_live_in_the_users_runtime_directory_while_held() {
    let project = Project::new("lock_runtime_dir");
    let port = free_port();
    project.script(&gated_script(port));
    let runtime = project.path("run");
    std::fs::create_dir(&runtime).unwrap();

    let mut start = project.spawn_with_env(&["start", "--wait-timeout", "120"], ("XDG_RUNTIME_DIR", &runtime));
    start.wait_for(&|line| line == "a: pinging");
    let locks = runtime.join("boss/locks");
    let files = || -> Vec<String> {
        std::fs::read_dir(&locks)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let held = files();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].starts_with(&format!("{}-", project.group())) && held[0].ends_with(".lock"), "{held:?}");
    let record = std::fs::read_to_string(locks.join(&held[0])).unwrap();
    assert_eq!(record, format!("{} start\n", start.pid()));
    for directory in [runtime.join("boss"), locks.clone()] {
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&directory).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700, "{}", directory.display());
    }

    let _gate = open_gate(port);
    let (code, output) = start.finish();
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(files(), Vec::<String>::new(), "a released lock leaves no file behind");
}
