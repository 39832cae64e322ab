//! Ctrl-C (SIGINT) during `start`: boss stops launching services, cancels running hooks,
//! tears down the services it was starting, saves the context and exits 130. Also the
//! containers of services a script no longer declares (orphans).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Project, containers, docker_required};

/// Like [`interrupt_when_matching`], for a stderr line equal to `line`.
fn interrupt_when(project: &Project, args: &[&str], line: &str) -> (Option<i32>, String, Duration) {
    interrupt_when_matching(project, args, &|seen| seen == line)
}

/// Runs boss with `args` in the project, sends it SIGINT once a stderr line `matches`, and
/// returns its exit code, its whole stderr, and how long it took to exit after the signal.
fn interrupt_when_matching(
    project: &Project,
    args: &[&str],
    matches: &dyn Fn(&str) -> bool,
) -> (Option<i32>, String, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_boss"))
        .args(args)
        .current_dir(project.dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_sender.send(line);
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|seen_line: &String| matches(seen_line)) {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(next) => seen.push(next),
            Err(_) => {
                let _ = child.kill();
                panic!("boss never printed the line to interrupt at:\n{}", seen.join("\n"));
            }
        }
    }
    let interrupted = Instant::now();
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if interrupted.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("boss did not exit after SIGINT:\n{}", seen.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = interrupted.elapsed();
    seen.extend(lines.try_iter());
    (status.code(), seen.join("\n"), elapsed)
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
    project.run(["start", "--timeout", "60"]).success();
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

    let (code, output, after_signal) = interrupt_when(&project, &["start", "--timeout", "120"], "web: pinging");
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
