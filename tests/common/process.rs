//! Runs a child process with captured output and a hard deadline, so that no test can hang
//! on a child that never exits, and can report its peak memory. Knows nothing about Docker or
//! boss.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Everything a child process left behind.
#[derive(Debug)]
pub(crate) struct Captured {
    /// The exit code, or `None` when a signal ended the process (including our own kill).
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Wall-clock time from spawn to exit.
    pub(crate) elapsed: Duration,
    /// The child's peak resident memory in bytes, as the kernel reports it to `wait4`.
    pub(crate) peak_memory: u64,
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
/// running after `timeout`. [`Captured::peak_memory`] says how much memory it used at most.
///
/// Both pipes are drained on their own threads while the child runs, so a child that prints
/// more than a pipe buffer holds cannot block. A grandchild that inherits the pipes and
/// outlives the kill would keep the readers waiting; boss and the docker CLI spawn none.
pub(crate) fn run_captured(command: &mut Command, timeout: Duration) -> Result<Captured, RunError> {
    run_captured_with_input(command, None, timeout)
}

/// [`run_captured`], with `input` written to the child's stdin (then closed) when it is given.
pub(crate) fn run_captured_with_input(
    command: &mut Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Captured, RunError> {
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().map_err(RunError::Io)?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // Written on a thread, so a child that does not read cannot block the test; dropping
        // the pipe at the end closes the child's stdin.
        thread::spawn(move || {
            use std::io::Write as _;
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_with_deadline(&mut child, start + timeout);
    let elapsed = start.elapsed();
    let captured = |status: Option<ExitStatus>, peak_memory: u64| Captured {
        exit_code: status.and_then(|status| status.code()),
        stdout: join_reader(stdout),
        stderr: join_reader(stderr),
        elapsed,
        peak_memory,
    };
    match status {
        Ok(Exit::Exited(status, peak_memory)) => Ok(captured(Some(status), peak_memory)),
        Ok(Exit::Killed(peak_memory)) => Err(RunError::TimedOut(captured(None, peak_memory))),
        Err(error) => Err(RunError::Io(error)),
    }
}

/// How a waited-for child ended, with its peak memory in bytes.
enum Exit {
    Exited(ExitStatus, u64),
    /// Still running at the deadline, so we killed it.
    Killed(u64),
}

/// Waits for `child` until `deadline`, killing it if it is still running then. Reaps it with
/// `wait4`, which, unlike `Child::wait`, also returns the child's resource usage.
///
/// The wait blocks (`waitid` with `WNOWAIT`), so `elapsed` is exact rather than rounded up to
/// a polling period: benches time whole boss runs of a few milliseconds with it. A watchdog
/// thread kills the child at the deadline; as the child is reaped only after the watchdog has
/// ended, its pid cannot have been reused by then.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> io::Result<Exit> {
    use std::os::unix::process::ExitStatusExt as _;
    use std::sync::mpsc;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let id = libc::id_t::try_from(pid).map_err(io::Error::other)?;
    let (exited, watch) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(left) {
            // SAFETY: `pid` is our child, not reaped until this thread has been joined.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let waited = loop {
        // SAFETY: `siginfo_t` is plain data that `waitid` fills in; a zeroed one is valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live local, and `id` is our own unreaped child.
        let result = unsafe { libc::waitid(libc::P_PID, id, &raw mut info, libc::WEXITED | libc::WNOWAIT) };
        if result == 0 {
            break Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            break Err(error);
        }
    };
    drop(exited);
    let killed = watchdog.join().unwrap_or(false);
    waited?;
    let mut status = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in; a zeroed one is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals, and `pid` is our own exited, unreaped child.
    let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    if reaped != pid {
        return Err(io::Error::last_os_error());
    }
    // Linux reports ru_maxrss in KiB.
    let peak_memory = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    let status = ExitStatus::from_raw(status);
    // A child that exited by itself just before the watchdog's kill still exited.
    Ok(if killed && status.signal() == Some(libc::SIGKILL) {
        Exit::Killed(peak_memory)
    } else {
        Exit::Exited(status, peak_memory)
    })
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
