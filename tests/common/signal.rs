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
    command.args(args).current_dir(project.dir()).stderr(Stdio::piped()).stdout(Stdio::null());
    if whole_group {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    let mut child = command.spawn().unwrap();
    let target = if whole_group { format!("-{}", child.id()) } else { child.id().to_string() };
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
                panic!("boss never printed the line to signal at:\n{}", seen.join("\n"));
            }
        }
    }
    let signalled = Instant::now();
    Command::new("kill").args([&format!("-{signal}"), "--", &target]).status().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("boss did not exit after SIG{signal}:\n{}", seen.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = signalled.elapsed();
    seen.extend(lines.try_iter());
    (status.code(), seen.join("\n"), elapsed)
}
