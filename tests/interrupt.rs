//! Ctrl-C (SIGINT) during `start`: boss stops launching services, cancels running hooks,
//! tears down the services it was starting, saves the context and exits 130. Also the
//! containers of services a script no longer declares (orphans).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Project, containers, docker_required};

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

    let mut child = Command::new(env!("CARGO_BIN_EXE_boss"))
        .args(["start", "--timeout", "120"])
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
    while !seen.iter().any(|line: &String| line == "web: pinging") {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("boss never started pinging:\n{}", seen.join("\n"));
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
            panic!("boss did not exit after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.extend(lines.try_iter());
    let output = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{output}");
    // Hooks stop within a second; tearing down takes a little longer.
    assert!(interrupted.elapsed() < Duration::from_secs(10), "{output}");
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
