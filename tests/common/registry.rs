//! A real, private image registry on 127.0.0.1 for tests that pull: Debian's
//! `docker-registry` (the CNCF distribution registry v2) as a child process, with its storage
//! in a temporary directory. The Docker daemon treats registries on 127.0.0.0/8 as insecure
//! by default, so it pushes and pulls over plain HTTP without any daemon configuration.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::docker::{docker, try_docker};
use super::port::free_port;

/// Where Debian's `docker-registry` package installs the registry.
const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// How long the registry may take to answer `GET /v2/` after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often readiness is polled while the registry starts.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long one readiness request may take to connect or to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many ports [`Registry::start`] tries when the registry exits before it is ready, as it
/// does when another process took the free port first.
const START_ATTEMPTS: u32 = 3;

/// The registry's output file in its temporary directory, quoted when a start fails.
const LOG_FILE: &str = "registry.log";

/// A running registry on `127.0.0.1:<port>` with filesystem storage and no authentication;
/// killed and its storage removed when dropped, so a failing test leaves nothing behind.
#[derive(Debug)]
pub(crate) struct Registry {
    /// `None` once [`Registry::stop`] has killed it.
    child: Option<Child>,
    port: u16,
    /// Holds the config, the storage and the log; removed on drop, after the child is gone.
    directory: TempDir,
}

impl Registry {
    /// Starts a registry on a free port of 127.0.0.1 and returns once `GET /v2/` answers 200.
    ///
    /// Panics if the `docker-registry` binary is missing, or if the registry does not become
    /// ready within 30 s (quoting its output).
    #[track_caller]
    pub(crate) fn start() -> Self {
        if !Path::new(REGISTRY_BINARY).is_file() {
            panic!(
                "{REGISTRY_BINARY} is missing: this test needs Debian's `docker-registry` package \
                 (`apt-get install docker-registry`; .ci/run installs it)"
            );
        }
        for attempt in 1..=START_ATTEMPTS {
            let directory = tempfile::Builder::new()
                .prefix("boss-test-registry-")
                .tempdir()
                .unwrap_or_else(|error| panic!("cannot create a temporary directory for the registry: {error}"));
            let port = free_port();
            let child = spawn(directory.path(), port);
            let mut registry = Self { child: Some(child), port, directory };
            match registry.wait_until_ready() {
                Ok(()) => return registry,
                // Most likely another process took the port between free_port and the bind;
                // dropping the registry removes this attempt's directory.
                Err(problem) if problem.exited_early && attempt < START_ATTEMPTS => {}
                Err(problem) => {
                    registry.stop();
                    panic!(
                        "the registry on {} did not start: {}\nits output:\n{}",
                        registry.address(),
                        problem.message,
                        registry.log()
                    );
                }
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's port on 127.0.0.1; still known after [`Registry::stop`].
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Pushes `local_image` as `<address>/<repository>:<tag>` and returns that reference.
    ///
    /// The reference is tagged locally only for the push and removed again afterwards (the
    /// image itself stays under its other names), so the daemon does not have the image under
    /// the returned name and a later pull must really fetch it from the registry.
    #[track_caller]
    pub(crate) fn push(&self, local_image: &str, repository: &str, tag: &str) -> String {
        let reference = format!("{}/{repository}:{tag}", self.address());
        docker(["tag", local_image, &reference]);
        let pushed = try_docker(["push", "--quiet", &reference]);
        let untagged = try_docker(["rmi", &reference]);
        if let Err(message) = pushed {
            panic!("cannot push {local_image} as {reference}: {message}");
        }
        if let Err(message) = untagged {
            panic!("cannot remove the local tag {reference} after pushing it: {message}");
        }
        reference
    }

    /// Kills the registry and waits for it, so that pulls from [`Registry::address`] fail while
    /// the port stays known. Its storage is kept until drop; stopping twice does nothing.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Killing a process that already exited fails harmlessly; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything the registry printed so far (it logs only errors).
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.directory.path().join(LOG_FILE))
            .unwrap_or_else(|error| format!("(cannot read {LOG_FILE}: {error})"))
    }

    /// Polls `GET /v2/` until it answers 200, the child exits, or [`READY_TIMEOUT`] passes.
    fn wait_until_ready(&mut self) -> Result<(), NotReady> {
        let started = Instant::now();
        loop {
            let child = self.child.as_mut().expect("the registry is not stopped while starting");
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(NotReady { exited_early: true, message: format!("it exited ({status})") });
                }
                Ok(None) => {}
                Err(error) => {
                    return Err(NotReady { exited_early: false, message: format!("cannot poll it: {error}") });
                }
            }
            let last = match probe(self.port) {
                Ok(status_line) if status_line.split_whitespace().nth(1) == Some("200") => return Ok(()),
                Ok(status_line) => format!("`GET /v2/` answered {status_line:?}"),
                Err(error) => format!("`GET /v2/` failed: {error}"),
            };
            if started.elapsed() >= READY_TIMEOUT {
                return Err(NotReady {
                    exited_early: false,
                    message: format!("not ready within {} s; last: {last}", READY_TIMEOUT.as_secs()),
                });
            }
            thread::sleep(READY_POLL_INTERVAL);
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // The child goes first so that nothing writes to the directory TempDir removes next.
        self.stop();
    }
}

/// Why a start attempt failed.
struct NotReady {
    /// The registry exited by itself, so another port may work.
    exited_early: bool,
    message: String,
}

/// Writes the config for `port` into `directory` and starts `docker-registry serve` on it,
/// with its stdout and stderr in [`LOG_FILE`].
fn spawn(directory: &Path, port: u16) -> Child {
    let storage = directory.join("storage");
    let config = directory.join("config.yml");
    // JSON strings are valid YAML scalars and quote any path safely.
    let root = serde_json::to_string(&storage.to_string_lossy()).expect("a string serialises");
    let text = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n"
    );
    fs::write(&config, text).unwrap_or_else(|error| panic!("cannot write {}: {error}", config.display()));
    let log_path = directory.join(LOG_FILE);
    let log = File::create(&log_path).unwrap_or_else(|error| panic!("cannot create {}: {error}", log_path.display()));
    let log_copy = log.try_clone().unwrap_or_else(|error| panic!("cannot share {}: {error}", log_path.display()));
    Command::new(REGISTRY_BINARY)
        .arg("serve")
        .arg(&config)
        // Settings from the environment (`REGISTRY_*`) would override the config file.
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| !name.to_string_lossy().starts_with("REGISTRY_")))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_copy)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {REGISTRY_BINARY}: {error}"))
}

/// Sends `GET /v2/` to the registry and returns the status line of its answer.
fn probe(port: u16) -> std::io::Result<String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(stream, "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    Ok(answer.lines().next().unwrap_or("").to_owned())
}
