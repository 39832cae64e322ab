//! The service model: what one `service(#{...})` call in a script declares, after validation.
//!
//! Pure data. It knows nothing about Rhai (the script layer builds it) or Docker (the backend
//! turns it into a container). Hooks are represented only by which of them exist; calling them
//! goes through [`crate::hook::HookRunner`].

use std::path::PathBuf;
use std::time::Duration;

use crate::source::Span;

/// How long to wait between two calls of `ping` unless the service says otherwise.
pub(crate) const DEFAULT_PING_INTERVAL: Duration = Duration::from_millis(100);

/// A signal a container may be stopped with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StopSignal {
    Int,
    #[default]
    Term,
    Kill,
    Quit,
}

impl StopSignal {
    /// Every allowed signal, in the order the hint lists them.
    pub const ALL: [StopSignal; 4] = [StopSignal::Int, StopSignal::Term, StopSignal::Kill, StopSignal::Quit];

    /// The name as the script and Docker spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopSignal::Int => "SIGINT",
            StopSignal::Term => "SIGTERM",
            StopSignal::Kill => "SIGKILL",
            StopSignal::Quit => "SIGQUIT",
        }
    }

    /// The signal spelled exactly `name`, or `None` when it is not one of [`StopSignal::ALL`].
    pub fn from_name(name: &str) -> Option<StopSignal> {
        StopSignal::ALL.into_iter().find(|signal| signal.as_str() == name)
    }
}

/// One service of a group, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub image: String,
    pub dependencies: Vec<String>,
    /// Environment in declaration order; values are strings that may hold `{key}` placeholders.
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortMapping>,
    pub volumes: Vec<Volume>,
    pub always_start_new: bool,
    pub stop_signal: StopSignal,
    pub build_from: Option<PathBuf>,
    pub dockerfile: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    /// Files the container reads at `/run/secrets/<name>`, in declaration order.
    pub secrets: Vec<Secret>,
    /// The profiles the service belongs to; empty: it always runs (see [`crate::select`]).
    pub profiles: Vec<String>,
    pub hooks: Hooks,
    /// How long to wait between two calls of `ping`.
    pub ping_interval: Duration,
    /// The service's own time limits (`wait_timeout`, `hook_timeout`).
    pub limits: Limits,
    /// Where the `service(...)` call is, for messages about the service as a whole.
    pub span: Span,
    /// Where `dependencies` is written, for messages about one dependency.
    pub dependencies_span: Span,
}

/// The time limits a service sets for itself; `None` keeps the run's (`--wait-timeout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `wait_timeout`: how long readiness may take (`ping` called until it returns true).
    pub wait: Option<Duration>,
    /// `hook_timeout`: how long one call of `pre_start`, `post_start` or `ping` may take.
    pub hook: Option<Duration>,
}

impl Service {
    /// How long the service's readiness may take: its `wait_timeout`, else the run's limit.
    pub(crate) fn wait_limit(&self, run: Duration) -> TimeLimit {
        match self.limits.wait {
            Some(duration) => TimeLimit { duration, set_by: LimitSource::WaitTimeoutField },
            None => TimeLimit { duration: run, set_by: LimitSource::WaitTimeoutOption },
        }
    }

    /// How long one hook call of the service may take: its `hook_timeout`, else the limit of
    /// its readiness (so a service's `wait_timeout` replaces `--wait-timeout` for all of it).
    pub(crate) fn hook_limit(&self, run: Duration) -> TimeLimit {
        match self.limits.hook {
            Some(duration) => TimeLimit { duration, set_by: LimitSource::HookTimeoutField },
            None => self.wait_limit(run),
        }
    }
}

/// A time limit in force, and what set it (for the error that says it ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    pub duration: Duration,
    pub set_by: LimitSource,
}

/// What set a time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// The run's `--wait-timeout` (`Group::timeout` from Rust).
    WaitTimeoutOption,
    /// The service's `wait_timeout` field.
    WaitTimeoutField,
    /// The service's `hook_timeout` field.
    HookTimeoutField,
}

impl LimitSource {
    /// The option or field as the user writes it.
    pub fn name(self) -> &'static str {
        match self {
            LimitSource::WaitTimeoutOption => "--wait-timeout",
            LimitSource::WaitTimeoutField => "wait_timeout",
            LimitSource::HookTimeoutField => "hook_timeout",
        }
    }
}

/// Which lifecycle hooks a service defines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hooks {
    pub pre_start: bool,
    pub ping: bool,
    pub post_start: bool,
}

/// A published port: container port (with protocol) to a host address and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortMapping {
    pub container_port: u16,
    pub protocol: Protocol,
    pub host_ip: String,
    /// 0 lets Docker choose a free port.
    pub host_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    /// The protocol spelled `name` (`tcp` or `udp`); `None` for others, such as Docker's `sctp`.
    pub fn from_name(name: &str) -> Option<Protocol> {
        [Protocol::Tcp, Protocol::Udp].into_iter().find(|protocol| protocol.as_str() == name)
    }
}

impl PortMapping {
    /// The key Docker uses for the container side, e.g. `8080/tcp`.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

/// Where the container finds its secrets: `/run/secrets/<name>`, as docker compose puts them.
pub(crate) const SECRETS_DIRECTORY: &str = "/run/secrets";

/// A secret of a service: a value the container reads, read-only, at
/// `/run/secrets/<name>`, and that boss never shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The file's name under `/run/secrets`.
    pub name: String,
    pub source: SecretSource,
}

impl Secret {
    /// The path in the container.
    pub fn target(&self) -> String {
        format!("{SECRETS_DIRECTORY}/{}", self.name)
    }
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host (absolute, resolved against the script's directory), bind-mounted
    /// read-only as it is.
    File(PathBuf),
    /// A variable of boss's environment (or of `--env-file`), written to a file boss keeps.
    Env(String),
    /// A context key (set by a `post_start`, often with `ctx.secret(...)`), written to a file
    /// boss keeps.
    Context(String),
}

/// A bind mount of a host path (absolute, resolved against the script's directory).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Volume {
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
}

impl Volume {
    /// The `host:container:mode` form Docker's `Binds` takes.
    pub fn bind_string(&self) -> String {
        let mode = if self.read_only { "ro" } else { "rw" };
        format!("{}:{}:{mode}", self.host.display(), self.container)
    }
}

/// Why `name` cannot be an environment variable name, or `None` when it can. Docker takes env
/// as `NAME=value` lines, so a name with `=` would be split wrongly, and a line break or a NUL
/// character cannot pass through at all.
pub(crate) fn env_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('=') {
        Some("it contains `=`")
    } else if name.contains(['\n', '\r']) {
        Some("it contains a line break")
    } else if name.contains('\0') {
        Some("it contains a NUL character")
    } else {
        None
    }
}

/// An absolute container path in its normal form: no `.`, `..` or empty components, and no
/// trailing `/` (except for `/` itself).
pub(crate) fn normalise_container_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_limit_overrides_the_run_limit() {
        let mut service = crate::graph::tests::services("a").swap_remove("a").unwrap();
        let run = Duration::from_secs(300);
        let limit = |duration, set_by| TimeLimit { duration, set_by };
        assert_eq!(service.wait_limit(run), limit(run, LimitSource::WaitTimeoutOption));
        assert_eq!(service.hook_limit(run), limit(run, LimitSource::WaitTimeoutOption));

        service.limits.wait = Some(Duration::from_secs(600));
        assert_eq!(service.wait_limit(run), limit(Duration::from_secs(600), LimitSource::WaitTimeoutField));
        assert_eq!(service.hook_limit(run), limit(Duration::from_secs(600), LimitSource::WaitTimeoutField));

        service.limits.hook = Some(Duration::from_secs(2));
        assert_eq!(service.wait_limit(run), limit(Duration::from_secs(600), LimitSource::WaitTimeoutField));
        assert_eq!(service.hook_limit(run), limit(Duration::from_secs(2), LimitSource::HookTimeoutField));
    }

    #[test]
    fn names_parse_back_to_their_values() {
        for signal in StopSignal::ALL {
            assert_eq!(StopSignal::from_name(signal.as_str()), Some(signal));
        }
        assert_eq!(StopSignal::from_name("SIGHUP"), None);
        assert_eq!(StopSignal::from_name("sigterm"), None, "names are exact");
        assert_eq!(StopSignal::default(), StopSignal::Term);
        assert_eq!(Protocol::from_name("udp"), Some(Protocol::Udp));
        assert_eq!(Protocol::from_name("sctp"), None);
    }
}
