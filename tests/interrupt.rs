//! Ctrl-C (SIGINT) during `start`: boss stops launching services, cancels running hooks,
//! tears down the services it was starting, saves the context and exits 130. Also the
//! containers of services a script no longer declares (orphans).

use std::time::Duration;

use crate::common::{Project, containers, docker_required, signal_when};

/// Like [`interrupt_when_matching`], for a stderr line equal to `line`.
fn interrupt_when(project: &Project, args: &[&str], line: &str) -> (Option<i32>, String, Duration) {
    interrupt_when_matching(project, args, &|seen| seen == line)
}

fn interrupt_when_matching(
    project: &Project,
    args: &[&str],
    matches: &dyn Fn(&str) -> bool,
) -> (Option<i32>, String, Duration) {
    signal_when(project, args, "INT", matches)
}

#[test]
fn ctrl_c_during_reloads_build_leaves_everything_running() {
    docker_required();
    let project = Project::new("ctrl_c_reload");
    let image = format!("{}-api:dev", project.group());
    project.file("api/Dockerfile", &project.expand("FROM @IMAGE@\nRUN sleep 4\nCMD [\"sleep\", \"3600\"]\n"));
    project.script(&format!(
        r#"group("@GROUP@");
service(#{{ name: "api", image: "{image}", build_from: "api", stop_signal: "SIGKILL" }});
service(#{{ name: "web", image: "@IMAGE@", dependencies: ["api"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
    ));
    project.run(["start", "--wait-timeout", "60"]).success();
    let before = containers(project.group());

    // Change the context so the build cannot come from the cache.
    project.file("api/Dockerfile", &project.expand("FROM @IMAGE@\nRUN sleep 5\nCMD [\"sleep\", \"3600\"]\n"));
    let building = format!("api: building image {image} (also tagged");
    let (code, output, _) = interrupt_when_prefix(&project, &["reload", "api"], &building);
    assert_eq!(code, Some(130), "{output}");
    assert!(
        !output.contains("api: stopping") && !output.contains("web: stopping"),
        "nothing is stopped during the build\n{output}"
    );
    assert!(!output.contains("Successfully tagged"), "the build is abandoned\n{output}");
    assert_eq!(containers(project.group()), before, "both containers still run, unchanged\n{output}");
}

/// Like [`interrupt_when`], for the first line that starts with `prefix`.
fn interrupt_when_prefix(project: &Project, args: &[&str], prefix: &str) -> (Option<i32>, String, Duration) {
    interrupt_when_matching(project, args, &|line| line.starts_with(prefix))
}

#[test]
fn ctrl_c_during_start_leaves_no_half_started_container() {
    docker_required();
    let project = Project::new("ctrl_c");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || false,
});

service(#{
    name: "slow",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    pre_start: || { sleep(60000); },
});

service(#{ name: "after", image: "@IMAGE@", dependencies: ["web"], cmd: ["sleep", "3600"] });
"#,
    );

    let (code, output, after_signal) = interrupt_when(&project, &["start", "--wait-timeout", "120"], "web: pinging");
    assert_eq!(code, Some(130), "{output}");
    // Hooks stop within a second; the containers that were starting are killed at once.
    assert!(after_signal < Duration::from_secs(5), "{output}");
    assert!(output.contains("slow: failed: hook `pre_start` failed: cancelled"), "{output}");
    assert!(output.contains("after: not started: dependency `web` failed"), "{output}");
    assert_eq!(containers(project.group()), Vec::new(), "no container is left behind\n{output}");
    assert!(project.context().is_some(), "the context is saved");
}

#[test]
fn containers_of_services_no_longer_declared_are_reported_and_stopped() {
    let project = Project::new("orphans");
    let script = |name: &str| {
        format!(
            r#"group("@GROUP@");
service(#{{ name: "{name}", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
        )
    };
    project.script(&script("api"));
    project.run(["start"]).success();

    project.script(&script("backend"));
    project
        .run(["start"])
        .success()
        .stderr_contains("api: ")
        .stderr_contains("belongs to a service the script no longer declares");

    project.run(["stop", "--remove"]).success().stderr_contains("api: removed");
    assert_eq!(containers(project.group()), Vec::new());
}
