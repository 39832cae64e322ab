//! `boss exec [FILE] SERVICE [--] CMD...` on the real engine: the command's exit status,
//! stdout and stderr pass through, piped stdin reaches it, a terminal gets a TTY (through
//! util-linux `script`, which gives boss a pseudo-terminal), and an unknown or stopped service
//! is refused in words.

use std::process::{Command, Stdio};

use crate::common::Project;

const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

#[test]
fn exec_passes_the_exit_status_stdout_and_stderr_through() {
    let project = Project::started("exec_status", SCRIPT);
    let output = project.run(["exec", "app", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 7"]);
    output.code(7);
    assert_eq!(output.stdout, "to-out\n", "{output}");
    assert_eq!(output.stderr, "to-err\n", "only the command's own words: {output}");

    // Without `--`, and with the script named: the same command line a user types.
    let output = project.run(["exec", "services.rhai", "app", "sh", "-c", "echo plain"]);
    output.success();
    assert_eq!(output.stdout, "plain\n", "{output}");
}

#[test]
fn exec_passes_piped_stdin_to_the_command() {
    let project = Project::started("exec_stdin", SCRIPT);
    let output = project.boss(["exec", "app", "--", "cat"]).stdin("hi\nthere\n").run();
    output.success();
    assert_eq!(output.stdout, "hi\nthere\n", "{output}");

    // No TTY when stdin is a pipe, so output keeps its bytes as they are.
    let output =
        project.boss(["exec", "app", "--", "sh", "-c", "test -t 0 || echo no-tty; wc -c"]).stdin("12345").run();
    output.success();
    assert_eq!(output.stdout, "no-tty\n5\n", "{output}");
}

#[test]
fn exec_gives_a_terminal_a_tty() {
    let project = Project::started("exec_tty", SCRIPT);
    // `script` runs boss on a pseudo-terminal (stdin and stdout), as a user's shell would;
    // `-e` makes it exit with boss's status.
    let boss = env!("CARGO_BIN_EXE_boss");
    // The size arrives just after the command starts (engines before API 1.42 ignore it at
    // creation), as a resize, so the command waits for it as a full-screen program would.
    let command = "test -t 0 && test -t 1 && echo has-a-tty; until stty size 2>/dev/null | grep -q \"^[1-9]\"; do sleep 0.1; done; stty size; exit 3";
    let inner = format!("stty rows 31 cols 97; {boss} exec app -- sh -c '{command}'");
    // Its stdin stays open (as a user's terminal does) until it has exited.
    let mut child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .current_dir(project.dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs");
    let open_stdin = child.stdin.take();
    let captured = child.wait_with_output().expect("`script` ends");
    drop(open_stdin);
    let (stdout, stderr) = (String::from_utf8_lossy(&captured.stdout), String::from_utf8_lossy(&captured.stderr));
    let text = format!("exit {:?}\n{stdout}\n{stderr}", captured.status.code());
    assert_eq!(captured.status.code(), Some(3), "{text}");
    assert!(stdout.contains("has-a-tty\r\n"), "a TTY turns line ends into CRLF: {text}");
    assert!(stdout.contains("31 97\r\n"), "the TTY has the terminal's size: {text}");
}

#[test]
fn exec_refuses_an_unknown_service_with_a_suggestion() {
    let project = Project::new("exec_unknown");
    project.script(SCRIPT);
    project
        .run(["exec", "ap", "--", "true"])
        .code(2)
        .stderr_contains("error: unknown service `ap`")
        .stderr_contains("hint: did you mean `app`?");
}

#[test]
fn exec_refuses_a_service_without_a_running_container() {
    let project = Project::started("exec_stopped", SCRIPT);
    project.run(["stop"]).success();
    project
        .run(["exec", "app", "--", "true"])
        .code(1)
        .stderr_contains("error: service `app` has no running container")
        .stderr_contains("hint: start it with `boss start`");

    // Never started at all: the same.
    project.run(["stop", "--remove"]).success();
    project.run(["exec", "app", "--", "true"]).code(1).stderr_contains("has no running container");
}
