//! boss runs in the background, several at once: each one's stderr lines arrive as it prints
//! them, so a test can act at a chosen moment of one run while others go on, and collect how
//! each one ended.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::project::{DEFAULT_BOSS_TIMEOUT, Project};

/// How long a test waits for a line it expects before it fails.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// A boss process running in the background; killed when dropped, so a failing test leaves
/// no boss behind.
#[derive(Debug)]
pub(crate) struct Background {
    child: Child,
    lines: Receiver<String>,
    /// The stderr lines received so far.
    seen: Vec<String>,
    /// stdout, read on its own thread.
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Project {
    /// Starts boss with `args` in the project directory, without waiting for it.
    pub(crate) fn spawn(&self, args: &[&str]) -> Background {
        self.spawn_with_env(args, ("NO_COLOR", std::path::Path::new("1")))
    }

    /// [`Project::spawn`] with one more environment variable.
    pub(crate) fn spawn_with_env(&self, args: &[&str], (name, value): (&str, &std::path::Path)) -> Background {
        let mut child = Command::new(env!("CARGO_BIN_EXE_boss"))
            .args(args)
            .current_dir(self.dir())
            .env(name, value)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run boss: {error}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            text
        });
        Background { child, lines, seen: Vec::new(), stdout: Some(stdout) }
    }
}

impl Background {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Takes in the lines printed since the last call; whether one of all seen so far matches.
    pub(crate) fn has_printed(&mut self, matches: &dyn Fn(&str) -> bool) -> bool {
        self.seen.extend(self.lines.try_iter());
        self.seen.iter().any(|line| matches(line))
    }

    /// Waits until a stderr line matches; panics with what it printed if none does in time or
    /// boss ends first.
    #[track_caller]
    pub(crate) fn wait_for(&mut self, matches: &dyn Fn(&str) -> bool) {
        let deadline = Instant::now() + LINE_TIMEOUT;
        while !self.has_printed(matches) {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!("boss never printed the line:\n{}", self.seen.join("\n")),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("boss ended without printing the line:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Sends `signal` (a `kill` name: `KILL`, `INT`) and waits for boss to end.
    pub(crate) fn signal(self, signal: &str) -> (Option<i32>, String) {
        Command::new("kill").args([&format!("-{signal}"), "--", &self.pid().to_string()]).status().unwrap();
        self.finish()
    }

    /// Waits for boss to end (killing it after the harness's usual limit) and returns its exit
    /// code (`None` when a signal ended it) and its whole stderr.
    pub(crate) fn finish(self) -> (Option<i32>, String) {
        let (code, stderr, _) = self.finish_with_stdout();
        (code, stderr)
    }

    /// [`Background::finish`], with stdout.
    pub(crate) fn finish_with_stdout(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + DEFAULT_BOSS_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("boss hung:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader ends once the pipe closes, which it did with the process.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stdout = self.stdout.take().and_then(|reader| reader.join().ok()).unwrap_or_default();
        (status.code(), self.seen.join("\n"), stdout)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
