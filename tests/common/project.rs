//! The builder every boss test starts from: a temporary project directory with a
//! `services.rhai`, runs of the real `boss` binary in it, and assertions on their output.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::fixture::fixture_image;
use super::group::{GroupGuard, unique_group};
use super::process::{Captured, RunError, run_captured_with_input};

/// The binary under test, built by Cargo for this test target.
const BOSS: &str = env!("CARGO_BIN_EXE_boss");

/// How long one boss run may take before the test fails with "boss hung".
pub(crate) const DEFAULT_BOSS_TIMEOUT: Duration = Duration::from_secs(120);

/// The user id of `nobody`, for runs that file permissions must apply to.
const NOBODY: u32 = 65_534;

/// The Docker socket, whose group may use the daemon.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The script file boss reads when no FILE argument is given.
pub(crate) const SCRIPT_FILE: &str = "services.rhai";

/// The context file boss keeps beside the script.
pub(crate) const CONTEXT_FILE: &str = ".boss-context";

/// A test's project: a fresh temporary directory and a unique group, whose Docker resources
/// and directory are removed when the project is dropped, even if the test panics.
#[derive(Debug)]
pub(crate) struct Project {
    // Fields drop in declaration order: the containers go before the directory they mount.
    guard: GroupGuard,
    dir: TempDir,
}

impl Project {
    /// A project for the test `test_name`, with an empty directory and its own group (see
    /// [`unique_group`]). Does not touch Docker until something needs it.
    pub(crate) fn new(test_name: &str) -> Self {
        let group = unique_group(test_name);
        let dir = TempDir::new(&std::env::temp_dir().join(format!("boss-{group}")));
        Self { guard: GroupGuard::new(&group), dir }
    }

    /// A project for `test_name` with `script` as its `services.rhai`, started with
    /// `boss start`.
    #[track_caller]
    pub(crate) fn started(test_name: &str, script: &str) -> Self {
        let project = Self::new(test_name);
        project.script(script);
        project.run(["start"]).success();
        project
    }

    /// The group name the script must declare (`group("...")`) so that the guard cleans up
    /// what boss creates.
    pub(crate) fn group(&self) -> &str {
        self.guard.group()
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// `relative` resolved against the project directory.
    pub(crate) fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path.join(relative)
    }

    /// Replaces `@GROUP@` with the project's group and `@IMAGE@` with the fixture image
    /// (building it on first use), so that scripts can be raw strings without `format!`'s
    /// doubled braces. Nothing else changes, so line numbers are kept.
    pub(crate) fn expand(&self, text: &str) -> String {
        let text = text.replace("@GROUP@", self.group());
        if text.contains("@IMAGE@") { text.replace("@IMAGE@", &fixture_image()) } else { text }
    }

    /// Writes `services.rhai` from `text` after [`Project::expand`].
    pub(crate) fn script(&self, text: &str) -> &Self {
        self.file(SCRIPT_FILE, &self.expand(text))
    }

    /// Writes `contents` verbatim to `relative`, creating parent directories.
    pub(crate) fn file(&self, relative: impl AsRef<Path>, contents: &str) -> &Self {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
        }
        fs::write(&path, contents).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        self
    }

    /// The contents of `relative`, or `None` if it does not exist.
    pub(crate) fn read(&self, relative: impl AsRef<Path>) -> Option<String> {
        let path = self.path(relative);
        match fs::read_to_string(&path) {
            Ok(contents) => Some(contents),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => panic!("cannot read {}: {error}", path.display()),
        }
    }

    /// The contents of `.boss-context` beside `services.rhai`, or `None` if there is none.
    pub(crate) fn context(&self) -> Option<String> {
        self.read(CONTEXT_FILE)
    }

    /// A boss run with `args`, in the project directory, to adjust before [`BossRun::run`].
    pub(crate) fn boss<I, S>(&self, args: I) -> BossRun<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        BossRun {
            project: self,
            args: args.into_iter().map(|arg| arg.as_ref().to_owned()).collect(),
            envs: Vec::new(),
            current_dir: self.dir.path.clone(),
            timeout: DEFAULT_BOSS_TIMEOUT,
            unprivileged: false,
            input: None,
        }
    }

    /// Runs boss with `args` in the project directory; shorthand for `boss(args).run()`.
    #[track_caller]
    pub(crate) fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.boss(args).run()
    }
}

/// One boss invocation being prepared.
#[derive(Debug)]
#[must_use = "a boss run does nothing until `.run()`"]
pub(crate) struct BossRun<'project> {
    project: &'project Project,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: PathBuf,
    timeout: Duration,
    unprivileged: bool,
    /// Written to boss's stdin, which is otherwise `/dev/null`.
    input: Option<Vec<u8>>,
}

impl BossRun<'_> {
    /// Pipes `input` into boss's stdin, then closes it.
    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(input.into());
        self
    }

    /// Sets an environment variable for this run only, e.g. `DOCKER_HOST`.
    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs boss in `relative` (to the project directory) instead of the project directory.
    pub(crate) fn current_dir(mut self, relative: impl AsRef<Path>) -> Self {
        self.current_dir = self.project.path(relative);
        self
    }

    /// Runs boss as an unprivileged user (`nobody`) in the group of the Docker socket when the
    /// tests run as root, so that file permissions apply to it; otherwise as the current user,
    /// to whom they apply already. The project files boss must read have to be readable by
    /// others, and the project directory writable if boss saves its context there.
    pub(crate) fn unprivileged(mut self) -> Self {
        self.unprivileged = true;
        self
    }

    /// Replaces [`DEFAULT_BOSS_TIMEOUT`] for this run.
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs boss to completion and returns what it did; panics with "boss hung" (and its output
    /// so far) if it is still running after the timeout.
    #[track_caller]
    pub(crate) fn run(self) -> Output {
        let (timeout, input) = (self.timeout, self.input.clone());
        self.finish(|command| run_captured_with_input(command, input, timeout))
    }

    /// Builds the command and runs it with `runner`, turning a failure to run or a hang into a
    /// panic that shows the output so far.
    #[track_caller]
    fn finish(self, runner: impl FnOnce(&mut Command) -> Result<Captured, RunError>) -> Output {
        let mut command = Command::new(BOSS);
        command
            .args(&self.args)
            .current_dir(&self.current_dir)
            // Plain output keeps substring assertions simple whatever the terminal is.
            .env("NO_COLOR", "1")
            .envs(self.envs.iter().map(|(key, value)| (key, value)));
        // SAFETY: `geteuid` has no preconditions and cannot fail.
        if self.unprivileged && unsafe { libc::geteuid() } == 0 {
            let socket = Path::new(DOCKER_SOCKET);
            let docker_group = fs::metadata(socket)
                .unwrap_or_else(|error| panic!("cannot find the group of {}: {error}", socket.display()))
                .gid();
            command.uid(NOBODY).gid(docker_group);
        }
        let shown = shown_command(&self.args);
        match runner(&mut command) {
            Ok(captured) => Output::new(shown, captured),
            Err(RunError::Io(error)) => panic!("cannot run {BOSS}: {error}"),
            Err(RunError::TimedOut(captured)) => panic!(
                "boss hung: `{shown}` did not exit within {} s and was killed\n{}",
                self.timeout.as_secs_f64(),
                Output::new(shown.clone(), captured)
            ),
        }
    }
}

/// `boss` followed by the arguments, for messages.
fn shown_command(args: &[OsString]) -> String {
    std::iter::once("boss".into()).chain(args.iter().map(|arg| arg.to_string_lossy())).collect::<Vec<_>>().join(" ")
}

/// What a boss run did. Assertions panic with the whole output, so a failing test shows
/// why boss did what it did.
#[derive(Debug)]
pub(crate) struct Output {
    /// The command line, for messages: `boss start --exclude web`.
    pub(crate) command: String,
    /// The exit code, or `None` if a signal ended boss.
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
    /// boss's peak resident memory in bytes.
    pub(crate) peak_memory: u64,
}

impl Output {
    fn new(command: String, captured: Captured) -> Self {
        Self {
            command,
            exit_code: captured.exit_code,
            stdout: captured.stdout,
            stderr: captured.stderr,
            elapsed: captured.elapsed,
            peak_memory: captured.peak_memory,
        }
    }

    /// Asserts that boss exited with 0.
    #[track_caller]
    pub(crate) fn success(&self) -> &Self {
        self.code(0)
    }

    /// Asserts that boss exited with `expected`.
    #[track_caller]
    pub(crate) fn code(&self, expected: i32) -> &Self {
        assert!(self.exit_code == Some(expected), "expected exit code {expected}\n{self}");
        self
    }

    /// Asserts that stderr contains `needle`.
    #[track_caller]
    pub(crate) fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "expected stderr to contain {needle:?}\n{self}");
        self
    }

    /// Asserts that stderr does not contain `needle`.
    #[track_caller]
    pub(crate) fn stderr_lacks(&self, needle: &str) -> &Self {
        assert!(!self.stderr.contains(needle), "expected stderr not to contain {needle:?}\n{self}");
        self
    }

    /// The index of the first stderr line that starts with `prefix`; panics (showing the
    /// output) if there is none. Comparing indices asserts on the order of events.
    #[track_caller]
    pub(crate) fn line_index(&self, prefix: &str) -> usize {
        self.stderr
            .lines()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("expected a stderr line starting with {prefix:?}\n{self}"))
    }

    /// Asserts that stderr's first line starting with `earlier` comes before its first line
    /// starting with `later`.
    #[track_caller]
    pub(crate) fn lines_in_order(&self, earlier: &str, later: &str) -> &Self {
        let (first, second) = (self.line_index(earlier), self.line_index(later));
        assert!(first < second, "expected a line starting with {earlier:?} before one starting with {later:?}\n{self}");
        self
    }

    /// Asserts that stdout contains `needle`.
    #[track_caller]
    pub(crate) fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "expected stdout to contain {needle:?}\n{self}");
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exit = match self.exit_code {
            Some(code) => format!("exited with {code}"),
            None => "was ended by a signal".to_owned(),
        };
        writeln!(formatter, "`{}` {exit} after {:.2} s", self.command, self.elapsed.as_secs_f64())?;
        writeln!(formatter, "--- stderr ---\n{}", self.stderr.trim_end())?;
        write!(formatter, "--- stdout ---\n{}", self.stdout.trim_end())
    }
}

/// A directory removed, with everything in it, on drop.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `path` empty, first removing what an earlier, killed test process with the
    /// same pid may have left there.
    fn new(path: &Path) -> Self {
        match fs::remove_dir_all(path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("cannot clear {}: {error}", path.display()),
        }
        fs::create_dir_all(path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self { path: path.to_owned() }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.path) {
            eprintln!("warning: cannot remove {}: {error}", self.path.display());
        }
    }
}
