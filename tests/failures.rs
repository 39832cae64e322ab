//! Services that fail while starting: a ping that never passes, a hook that throws, a
//! container that exits at once. The failed service's container is removed, its dependants
//! are not attempted, unrelated services carry on, and boss exits with 1.

use std::time::Duration;

use crate::common::{Project, container, containers};

#[test]
fn failing_ping_fails_the_service_and_its_dependants_only() {
    let project = Project::new("failing_ping");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "bad",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || false,
});

service(#{
    name: "dependant",
    image: "@IMAGE@",
    dependencies: ["bad"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});

service(#{
    name: "unrelated",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "1"]);
    output
        .code(1)
        .stderr_contains("bad: failed: `ping` did not return true within 1 s")
        .stderr_contains("dependant: not started: dependency `bad` failed")
        .stderr_contains("unrelated: started in")
        .stderr_contains("error: failed to start 2 services: `bad` and `dependant`")
        .stderr_lacks("dependant: creating container");

    let group = project.group();
    assert_eq!(container(group, "bad"), None, "the failed service's container is removed");
    assert_eq!(container(group, "dependant"), None, "the dependant is never created");
    let unrelated = container(group, "unrelated").expect("the unrelated service has a container");
    assert_eq!(unrelated.state, "running");
}

#[test]
fn throwing_hook_fails_the_service_and_points_at_the_line() {
    let project = Project::new("throwing_hook");
    // The `throw` is on line 9, column 9.
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "seeded",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| {
        throw "boom here";
    },
});
"#,
    );

    project
        .run(["start"])
        .code(1)
        .stderr_contains("seeded: failed: hook `post_start` failed: boom here")
        .stderr_contains("services.rhai:9:9")
        .stderr_contains("throw \"boom here\";")
        .stderr_lacks("seeded: started in");
    assert_eq!(containers(project.group()), [], "the container is removed");
}

/// A service whose container prints a marker and exits with 3 at once, with `ping_field`
/// added to its definition.
fn exiting_service(ping_field: &str) -> String {
    format!(
        r#"group("@GROUP@");

service(#{{
    name: "crasher",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "echo boom-marker-123; exit 3"],
    {ping_field}
}});

service(#{{
    name: "after",
    image: "@IMAGE@",
    dependencies: ["crasher"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
}});
"#
    )
}

/// Starts `project` with a long timeout and checks that the exited container was reported
/// with its log, well before the timeout, and removed.
fn assert_fails_fast_with_log(project: &Project) {
    let output = project.run(["start", "--wait-timeout", "60"]);
    output
        .code(1)
        .stderr_contains("crasher: failed: container exited with status 3 while starting")
        .stderr_contains("| boom-marker-123")
        .stderr_contains("after: not started: dependency `crasher` failed")
        .stderr_lacks("crasher: started in");
    assert!(output.elapsed < Duration::from_secs(20), "the exit was not noticed before the timeout\n{output}");
    assert_eq!(containers(project.group()), [], "the exited container is removed");
}

#[test]
fn container_exiting_while_pinged_fails_at_once_with_its_log() {
    let project = Project::new("exits_while_pinged");
    project.script(&exiting_service("ping: || false,"));
    assert_fails_fast_with_log(&project);
}

// Without `ping` a service counts as started as soon as its container starts, so its
// dependant starts too; the check at the end of the run still fails the service whose
// container exited, with its log, and removes that container.
#[test]
fn container_exiting_without_ping_fails_at_the_end_of_the_run_with_its_log() {
    let project = Project::new("exits_without_ping");
    project.script(&exiting_service(""));
    let output = project.run(["start", "--wait-timeout", "60"]);
    output
        .code(1)
        .stderr_contains("crasher: failed: container exited with status 3 while starting")
        .stderr_contains("| boom-marker-123")
        .lines_in_order("crasher: started in", "crasher: failed");
    let left: Vec<(String, String)> =
        containers(project.group()).into_iter().map(|row| (row.service, row.state)).collect();
    assert_eq!(left, [("after".to_string(), "running".to_string())], "only the crashed container is removed\n{output}");
}

// The exit is noticed from the engine's `die` event while the container runs, not from the
// wait Docker answers after its clean-up; the failure still has the exit code and exactly the
// last 20 lines, read from the log followed while it was pinged.
#[test]
fn container_exiting_later_while_pinged_fails_with_its_code_and_last_lines() {
    let project = Project::new("exits_later_pinged");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "crasher",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; for n in $(seq 1 30); do echo line-$n-end; done; exit 7"],
    ping: || false,
});
"#,
    );
    let output = project.run(["start", "--wait-timeout", "60"]);
    output
        .code(1)
        .stderr_contains("crasher: failed: container exited with status 7 while starting")
        .stderr_contains("| line-11-end")
        .stderr_contains("| line-30-end")
        .stderr_lacks("| line-10-end");
    let (first, last) = (output.stderr.find("| line-11-end"), output.stderr.find("| line-30-end"));
    assert!(first < last, "the lines in the order written\n{output}");
    assert!(output.elapsed < Duration::from_secs(20), "the exit was not noticed before the timeout\n{output}");
    assert_eq!(containers(project.group()), [], "the exited container is removed");
}

#[test]
fn container_exiting_silently_while_pinged_fails_with_its_code() {
    let project = Project::new("exits_silently_pinged");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "crasher",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; exit 5"],
    ping: || false,
});
"#,
    );
    let output = project.run(["start", "--wait-timeout", "60"]);
    output
        .code(1)
        .stderr_contains("crasher: failed: container exited with status 5 while starting")
        .stderr_contains("(the container printed nothing)");
    assert!(output.elapsed < Duration::from_secs(20), "the exit was not noticed before the timeout\n{output}");
    assert_eq!(containers(project.group()), [], "the exited container is removed");
}

// A stopped container is started again when its definition is unchanged. The `die` of its
// earlier run is in the engine's recent events, and must not be taken for an exit of this run.
#[test]
fn a_restarted_container_is_not_failed_by_the_exit_of_its_earlier_run() {
    let project = Project::new("restart_old_die");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || { sleep(1500); true },
});
"#,
    );
    project.run(["start"]).success();
    let first = container(project.group(), "web").expect("`web` runs");
    crate::common::docker(["kill", &first.id]);

    let output = project.run(["start"]);
    output.success().stderr_contains("web: started in").stderr_lacks("exited");
    let again = container(project.group(), "web").expect("`web` runs again");
    assert_eq!((again.id, again.state), (first.id, "running".to_string()), "the same container, restarted\n{output}");
}
