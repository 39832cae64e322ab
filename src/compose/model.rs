//! What a compose file declares, as read by `read.rs`: services with the compose fields boss
//! maps onto its own, top-level volumes and secrets, and the warnings about what is ignored.
//! Interpolated, with host paths resolved against the file's directory, and each entry with
//! the [`Span`] it was written at. Pure data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ComposePlace;
use crate::service::Protocol;
use crate::source::{SourceFile, Span};

use super::variables::Variables;

/// A value and where it is written in the compose file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComposeFile {
    pub(crate) source: Arc<SourceFile>,
    /// The top-level `name` (compose's project name).
    pub(crate) name: Option<Located<String>>,
    /// In the order written.
    pub(crate) services: Vec<ComposeService>,
    pub(crate) volumes: Vec<NamedVolume>,
    pub(crate) secrets: Vec<Secret>,
    /// What was read but is ignored, and variables that were not set.
    pub(crate) warnings: Vec<ComposeWarning>,
    /// What the file was interpolated with (the environment, then `.env`), for the values
    /// compose takes from there later: a secret's `environment`, a build arg given by name.
    pub(crate) variables: Variables,
}

impl ComposeFile {
    pub(crate) fn service(&self, name: &str) -> Option<&ComposeService> {
        self.services.iter().find(|service| service.name == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComposeService {
    pub(crate) name: String,
    /// Where the service's name is written.
    pub(crate) span: Span,
    pub(crate) image: Option<Located<String>>,
    pub(crate) build: Option<Located<Build>>,
    /// A string command is split into words as compose splits it (shell quoting, no shell).
    pub(crate) command: Option<Located<Vec<String>>>,
    /// `Some(vec![])` clears the image's entrypoint.
    pub(crate) entrypoint: Option<Located<Vec<String>>>,
    pub(crate) environment: Vec<Located<EnvEntry>>,
    pub(crate) env_files: Vec<Located<EnvFile>>,
    pub(crate) ports: Vec<Located<Port>>,
    /// `volumes` and `tmpfs`, in that order.
    pub(crate) volumes: Vec<Located<Mount>>,
    pub(crate) secrets: Vec<Located<SecretUse>>,
    pub(crate) depends_on: Vec<Located<Dependency>>,
    pub(crate) healthcheck: Option<Located<Healthcheck>>,
    pub(crate) user: Option<Located<String>>,
    pub(crate) working_dir: Option<Located<String>>,
    /// As written (`SIGTERM`, `TERM`); the service model validates it.
    pub(crate) stop_signal: Option<Located<String>>,
    pub(crate) stop_grace_period: Option<Duration>,
    pub(crate) extra_hosts: Vec<Located<(String, String)>>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) profiles: Vec<String>,
    pub(crate) restart: Option<Restart>,
    pub(crate) init: Option<bool>,
    pub(crate) mem_limit: Option<u64>,
    pub(crate) cpus: Option<f64>,
}

impl ComposeService {
    /// A service with nothing but its name.
    pub(crate) fn new(name: String, span: Span) -> ComposeService {
        ComposeService {
            name,
            span,
            image: None,
            build: None,
            command: None,
            entrypoint: None,
            environment: Vec::new(),
            env_files: Vec::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            secrets: Vec::new(),
            depends_on: Vec::new(),
            healthcheck: None,
            user: None,
            working_dir: None,
            stop_signal: None,
            stop_grace_period: None,
            extra_hosts: Vec::new(),
            labels: Vec::new(),
            profiles: Vec::new(),
            restart: None,
            init: None,
            mem_limit: None,
            cpus: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Build {
    /// Resolved against the compose file's directory.
    pub(crate) context: PathBuf,
    /// Relative to the context, as compose takes it.
    pub(crate) dockerfile: Option<String>,
    /// `None`: take the value from the environment when building (compose's `- NAME`).
    pub(crate) args: Vec<(String, Option<String>)>,
    pub(crate) target: Option<String>,
}

/// An environment entry; `value` is `None` for a bare `NAME` whose variable is not set, which
/// compose leaves out of the container's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvEntry {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvFile {
    /// Resolved against the compose file's directory.
    pub(crate) path: PathBuf,
    pub(crate) required: bool,
}

/// One published (or only exposed, when `published` is `None`) container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    pub(crate) target: u16,
    /// `None`: compose publishes the port on a free host port.
    pub(crate) published: Option<u16>,
    pub(crate) host_ip: Option<String>,
    pub(crate) protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mount {
    /// A host path (resolved against the compose file's directory, `~` against `HOME`).
    Bind {
        source: PathBuf,
        target: String,
        read_only: bool,
    },
    /// A named volume (declared at the top level), or an anonymous one when `source` is `None`.
    Volume {
        source: Option<String>,
        target: String,
        read_only: bool,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
        mode: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretUse {
    /// The top-level secret's key.
    pub(crate) source: String,
    /// The file in the container: `/run/secrets/<source>` unless the long syntax says.
    pub(crate) target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

impl Condition {
    pub(crate) const NAMES: &'static [&'static str] =
        &["service_started", "service_healthy", "service_completed_successfully"];

    pub(crate) fn from_name(name: &str) -> Option<Condition> {
        match name {
            "service_started" => Some(Condition::Started),
            "service_healthy" => Some(Condition::Healthy),
            "service_completed_successfully" => Some(Condition::CompletedSuccessfully),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub(crate) service: String,
    pub(crate) condition: Condition,
    /// `false`: compose only warns when the dependency is missing or fails to start.
    pub(crate) required: bool,
    /// Restart this service when compose restarts the dependency.
    pub(crate) restart: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthTest {
    /// `["CMD", ...]`: run without a shell.
    Exec(Vec<String>),
    /// A string, or `["CMD-SHELL", "..."]`: run with `/bin/sh -c`.
    Shell(String),
    /// `["NONE"]` or `disable: true`: the image's healthcheck is turned off.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Healthcheck {
    /// `None`: the image's own test with these timings.
    pub(crate) test: Option<HealthTest>,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) start_period: Option<Duration>,
    pub(crate) start_interval: Option<Duration>,
    pub(crate) retries: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    No,
    Always,
    OnFailure { max_retries: Option<u32> },
    UnlessStopped,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedVolume {
    pub(crate) key: String,
    pub(crate) span: Span,
    /// The engine's name for it when set (`name:`); otherwise boss names it.
    pub(crate) name: Option<String>,
    /// Created by someone else; boss must find it and never remove it.
    pub(crate) external: bool,
    pub(crate) labels: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Secret {
    pub(crate) key: String,
    pub(crate) span: Span,
    pub(crate) source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// Resolved against the compose file's directory.
    File(PathBuf),
    /// The name of a variable of the environment boss runs in.
    Environment(String),
}

/// Something in the file that boss reads but does not act on, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComposeWarning {
    pub(crate) kind: ComposeWarningKind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ComposeWarningKind {
    IgnoredKey {
        key: String,
        place: ComposePlace,
        reason: IgnoredReason,
    },
    /// `depends_on` with `required: false` names a service the file does not define; compose
    /// starts the dependant without it.
    OptionalDependencyMissing {
        service: String,
        dependency: String,
    },
    /// `$NAME` without a default and `NAME` not set: replaced by an empty string.
    UnsetVariable {
        name: String,
    },
}

/// Why a key can be ignored without changing what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IgnoredReason {
    /// `version`: compose ignores it too.
    Obsolete,
    /// `container_name`: boss names containers `<group>.<service>`.
    ContainerName,
    /// `networks`: every service is on the group's one network.
    Networks,
    /// `expose`, `links`: services reach each other's ports by name on the group network.
    SameNetwork,
    /// `hostname`, `domainname`: the container's hostname is its service name.
    Hostname,
    /// `tty`, `stdin_open`, `attach`: boss does not attach to services.
    NotAttached,
    /// `platform`, `pull_policy`: the engine's platform, pulled when missing.
    Images,
    /// `logging`: the engine's default log driver.
    Logging,
    /// `uid`, `gid`, `mode` of a secret: compose ignores them without Swarm too.
    SecretOwnership,
    /// `driver` of a volume, `develop`: only the local engine's defaults are used.
    EngineDefaults,
}
