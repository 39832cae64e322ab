//! Runs boss in the background and sends it a signal at a chosen moment of its output, the
//! way a user's Ctrl-C, a closed terminal or the OOM killer would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::project::Project;

/// Runs boss with `args` in the project, sends it `signal` (a `kill` name: `INT`, `HUP`,
/// `KILL`) once a stderr line `matches`, and returns its exit code (`None` when the signal
/// ended it), its whole stderr, and how long it took to exit after the signal.
pub(crate) fn signal_when(
    project: &Project,
    args: &[&str],
    signal: &str,
    matches: &dyn Fn(&str) -> bool,
) -> (Option<i32>, String, Duration) {
    signal_at(project, args, signal, matches, false)
}

/// Like [`signal_when`], but boss runs in a process group of its own and the signal goes to
/// the whole group, as a terminal's Ctrl-C goes to every process in the foreground (boss and
/// the command `boss run` started).
pub(crate) fn signal_group_when(
    project: &Project,
    args: &[&str],
    signal: &str,
    matches: &dyn Fn(&str) -> bool,
) -> (Option<i32>, String, Duration) {
    signal_at(project, args, signal, matches, true)
}

fn signal_at(
    project: &Project,
    args: &[&str],
    signal: &str,
    matches: &dyn Fn(&str) -> bool,
    whole_group: bool,
) -> (Option<i32>, String, Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_boss"));
    command.args(args).current_dir(project.dir());
    if whole_group {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let send = |pid: u32| {
        let target = if whole_group { format!("-{pid}") } else { pid.to_string() };
        Command::new("kill").args([&format!("-{signal}"), "--", &target]).status().unwrap();
    };
    act_when(command, matches, send)
}

/// Runs `command` (boss, with its arguments, directory and environment set), calls `action`
/// with its pid once a stderr line `matches`, and returns its exit code (`None` when a signal
/// ended it), its whole stderr, and how long it took to exit after the action.
pub(crate) fn act_when(
    mut command: Command,
    matches: &dyn Fn(&str) -> bool,
    action: impl FnOnce(u32),
) -> (Option<i32>, String, Duration) {
    command.stderr(Stdio::piped()).stdout(Stdio::null());
    let mut child = command.spawn().unwrap();
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
                panic!("boss never printed the line to act at:\n{}", seen.join("\n"));
            }
        }
    }
    let acted = Instant::now();
    action(child.id());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if acted.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("boss did not exit after the action:\n{}", seen.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = acted.elapsed();
    // The reader thread ends with the pipe, which a process boss started may still hold.
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(line);
    }
    (status.code(), seen.join("\n"), elapsed)
}
