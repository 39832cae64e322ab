//! `boss logs` on the real engine: two services interleaved by time, `--tail`, `--since`,
//! `--timestamps`, colours only on a terminal, `--save`, `start --save-logs` for a failing
//! service, and `-f` following a service across `boss reload` until Ctrl-C, which exits 0.
//!
//! Lines are written into the containers' logs with `boss exec` (to the main process's stdout
//! or stderr), one command after the other, so their order is known without any sleep.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::common::Project;

const SCRIPT: &str = r#"group("@GROUP@");

service(#{ name: "api", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });

service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#;

/// Writes `text` into the log of `service`, through its main process's stdout (`fd` 1) or
/// stderr (2).
#[track_caller]
fn say(project: &Project, service: &str, fd: u8, text: &str) {
    project.run(["exec", service, "--", "sh", "-c", &format!("echo {text} > /proc/1/fd/{fd}")]).success();
}

/// Writes api-1, db-1 (to stderr), api-2, db-2, one after the other.
#[track_caller]
fn alternate(project: &Project) {
    say(project, "api", 1, "api-1");
    say(project, "db", 2, "db-1");
    say(project, "api", 1, "api-2");
    say(project, "db", 1, "db-2");
}

#[test]
fn logs_interleave_services_by_time_under_their_names() {
    let project = Project::started("logs_interleave", SCRIPT);
    alternate(&project);
    let output = project.run(["logs"]);
    output.success();
    assert_eq!(output.stdout, "api | api-1\ndb  | db-1\napi | api-2\ndb  | db-2\n", "{output}");
    assert_eq!(output.stderr, "", "{output}");

    // Named services only, and the script named.
    let output = project.run(["logs", "services.rhai", "db"]);
    assert_eq!(output.stdout, "db | db-1\ndb | db-2\n", "{output}");

    project.run(["logs", "dv"]).code(2).stderr_contains("unknown service `dv`").stderr_contains("did you mean `db`?");
}

#[test]
fn logs_tail_since_and_timestamps() {
    let project = Project::started("logs_options", SCRIPT);
    alternate(&project);

    let output = project.run(["logs", "--tail", "1"]);
    assert_eq!(output.success().stdout, "api | api-2\ndb  | db-2\n", "the last line of each: {output}");

    let since = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
    say(&project, "db", 1, "db-3");
    let output = project.run(["logs", "--since", &since]);
    assert_eq!(output.success().stdout, "db  | db-3\n", "{output}");
    let output = project.run(["logs", "--since", "1h"]);
    assert_eq!(output.success().stdout.lines().count(), 5, "{output}");

    let output = project.run(["logs", "db", "--timestamps", "--tail", "1"]);
    output.success();
    let line = output.stdout.strip_prefix("db | ").unwrap_or_else(|| panic!("{output}"));
    let (stamp, text) = line.split_once(' ').unwrap_or_else(|| panic!("{output}"));
    assert_eq!(text, "db-3\n", "{output}");
    let written = humantime::parse_rfc3339(stamp).unwrap_or_else(|error| panic!("{error}: {output}"));
    assert!(written >= humantime::parse_rfc3339(&since).unwrap(), "{output}");
}

#[test]
fn logs_are_coloured_on_a_terminal_only() {
    let project = Project::started("logs_colour", SCRIPT);
    say(&project, "api", 1, "api-1");
    // Piped, with NO_COLOR unset (empty counts as unset): plain.
    let output = project.boss(["logs"]).env("NO_COLOR", "").run();
    assert_eq!(output.success().stdout, "api | api-1\n", "{output}");

    // On a terminal (util-linux `script` gives boss one): each name in its colour, unless
    // NO_COLOR is set.
    let on_terminal = |no_color: &str| {
        let boss = env!("CARGO_BIN_EXE_boss");
        let captured = Command::new("script")
            .args(["-qec", &format!("{boss} logs api"), "/dev/null"])
            .current_dir(project.dir())
            .env("NO_COLOR", no_color)
            .stdin(Stdio::null())
            .output()
            .expect("`script` (util-linux) runs");
        assert_eq!(captured.status.code(), Some(0));
        String::from_utf8_lossy(&captured.stdout).into_owned()
    };
    assert_eq!(on_terminal(""), "\x1b[36mapi |\x1b[0m api-1\r\n");
    assert_eq!(on_terminal("1"), "api | api-1\r\n");
}

#[test]
fn logs_save_writes_one_file_per_service() {
    let project = Project::started("logs_save", SCRIPT);
    alternate(&project);
    let output = project.run(["logs", "--save", "saved"]);
    output
        .success()
        .stderr_contains("api: saved 2 lines of its log to `saved/api.log`")
        .stderr_contains("db: saved 2 lines of its log to `saved/db.log`");
    assert_eq!(output.stdout, "", "{output}");
    assert_eq!(project.read("saved/api.log").as_deref(), Some("api-1\napi-2\n"));
    assert_eq!(project.read("saved/db.log").as_deref(), Some("db-1\ndb-2\n"));

    // A service without a container has no file, and says so.
    project.run(["stop", "--remove", "--exclude", "api"]).success();
    project.run(["logs", "--save", "again"]).success().stderr_contains("db: no container, so no log");
    assert_eq!(project.read("again/db.log"), None);
    assert_eq!(project.read("again/api.log").as_deref(), Some("api-1\napi-2\n"));
}

#[test]
fn start_save_logs_keeps_the_log_of_a_failing_service() {
    let project = Project::new("logs_start_save");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "broken",
    image: "@IMAGE@",
    // Both lines on stderr: Docker reads stdout and stderr through separate pipes, so lines
    // written microseconds apart on the two streams can be stamped in either order.
    cmd: ["sh", "-c", "echo starting up >&2; echo cannot find the config >&2; exit 3"],
    stop_signal: "SIGKILL",
});

service(#{ name: "fine", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    let output = project.run(["start", "--save-logs", "ci-logs"]);
    output.code(1).stderr_contains("broken: saved 2 lines of its log to `ci-logs/broken.log`");
    let saved = project.read("ci-logs/broken.log").unwrap_or_else(|| panic!("no log saved\n{output}"));
    let texts: Vec<&str> = saved.lines().map(|line| line.split_once(' ').map_or(line, |(_, text)| text)).collect();
    assert_eq!(texts, ["starting up", "cannot find the config"], "with timestamps: {saved}");
    assert_eq!(project.read("ci-logs/fine.log"), None, "only failed services: {output}");
    assert_eq!(crate::common::container(project.group(), "broken"), None, "the failed container is removed");
}

#[test]
fn logs_follow_a_service_across_a_reload_until_ctrl_c() {
    let project = Project::new("logs_follow");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "api",
    image: "@GROUP@-api:dev",
    build_from: "./api",
    stop_signal: "SIGKILL",
});
"#,
    );
    let dockerfile = "FROM @IMAGE@\nCOPY version.txt /version.txt\nCMD [\"sh\", \"-c\", \"echo version $(cat /version.txt); exec sleep 3600\"]\n";
    project.file("api/Dockerfile", &project.expand(dockerfile)).file("api/version.txt", "v1\n");
    project.run(["start"]).success();

    let mut child = Command::new(env!("CARGO_BIN_EXE_boss"))
        .args(["logs", "-f"])
        .current_dir(project.dir())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |wanted: &str, child: &mut std::process::Child| {
        while !seen.iter().any(|line: &String| line == wanted) {
            match lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("`boss logs -f` never printed {wanted:?}:\n{}", seen.join("\n"));
                }
            }
        }
    };
    wait_for("api | version v1", &mut child);

    project.file("api/version.txt", "v2\n");
    project.run(["reload", "api"]).success();
    wait_for("api | version v2", &mut child);

    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "Ctrl-C ends following with success: {stderr}");
    assert_eq!(seen.iter().filter(|line| *line == "api | version v1").count(), 1, "no line twice: {seen:?}");
}
