//! Runs a child process with captured output and a hard deadline, so that no test can hang
//! on a child that never exits. Knows nothing about Docker or boss.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a running child is polled for its exit; this bounds the error in `elapsed`.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Everything a child process left behind.
#[derive(Debug)]
pub(crate) struct Captured {
    /// The exit code, or `None` when a signal ended the process (including our own kill).
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Wall-clock time from spawn to exit.
    pub(crate) elapsed: Duration,
}

/// Why a child did not produce a normal [`Captured`].
#[derive(Debug)]
pub(crate) enum RunError {
    /// The program could not be started or waited for.
    Io(io::Error),
    /// The child outlived its deadline and was killed; this holds what it printed until then.
    TimedOut(Captured),
}

/// Runs `command` with stdin closed and stdout and stderr captured, killing it if it is still
/// running after `timeout`.
///
/// Both pipes are drained on their own threads while the child runs, so a child that prints
/// more than a pipe buffer holds cannot block. A grandchild that inherits the pipes and
/// outlives the kill would keep the readers waiting; boss and the docker CLI spawn none.
pub(crate) fn run_captured(command: &mut Command, timeout: Duration) -> Result<Captured, RunError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().map_err(RunError::Io)?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_with_deadline(&mut child, start + timeout);
    let elapsed = start.elapsed();
    let captured = |status: Option<ExitStatus>| Captured {
        exit_code: status.and_then(|status| status.code()),
        stdout: join_reader(stdout),
        stderr: join_reader(stderr),
        elapsed,
    };
    match status {
        Ok(Some(status)) => Ok(captured(Some(status))),
        Ok(None) => Err(RunError::TimedOut(captured(None))),
        Err(error) => Err(RunError::Io(error)),
    }
}

/// [`run_captured`], also returning the child's peak resident set size in bytes.
///
/// The kernel reports it exactly when the child is reaped (`ru_maxrss` of `wait4`), so the
/// child is reaped here with `wait4` rather than by [`Child::wait`]; sampling `/proc` while it
/// runs could miss a short peak.
pub(crate) fn run_captured_with_peak_memory(
    command: &mut Command,
    timeout: Duration,
) -> Result<(Captured, u64), RunError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().map_err(RunError::Io)?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let pid = libc::pid_t::try_from(child.id()).map_err(|error| RunError::Io(io::Error::other(error)))?;
    let mut killed = false;
    let (status, usage) = loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data, for which all zeroes is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals of the right types; `pid` is our own child,
        // not yet reaped (std's `Child` never waited for it).
        let reaped =
            unsafe { libc::wait4(pid, &raw mut status, if killed { 0 } else { libc::WNOHANG }, &raw mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        if reaped < 0 {
            return Err(RunError::Io(io::Error::last_os_error()));
        }
        if !killed && Instant::now() >= start + timeout {
            // Not reaped yet, so the pid is still ours to signal.
            let _ = child.kill();
            killed = true;
            continue;
        }
        thread::sleep(POLL_INTERVAL);
    };
    let captured = Captured {
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: join_reader(stdout),
        stderr: join_reader(stderr),
        elapsed: start.elapsed(),
    };
    if killed {
        return Err(RunError::TimedOut(captured));
    }
    // Linux reports `ru_maxrss` in kibibytes.
    let peak_bytes = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    Ok((captured, peak_bytes))
}

/// Waits for `child` until `deadline`; returns `None` after killing a child that was still
/// running then.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            // The child may exit between the check and the kill; the error that causes is
            // harmless, and `wait` reaps the process either way.
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(POLL_INTERVAL);
    }
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error only truncates the output, which the caller shows anyway.
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join_reader(reader: JoinHandle<String>) -> String {
    reader.join().unwrap_or_else(|_| "<the thread reading this pipe panicked>".to_owned())
}
