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

/// What boss does with a service's container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// A container that keeps running: started counts from its readiness check.
    #[default]
    Container,
    /// `job: true`: a container that runs to completion (a migration, a seed step); it has
    /// started when it exits with status 0.
    Job,
    /// `external: true`: something boss does not create (a database already running on the
    /// host); only its hooks run.
    External,
}

impl ServiceKind {
    /// The field that declares the kind, as the script writes it.
    pub fn field(self) -> &'static str {
        match self {
            ServiceKind::Container => "",
            ServiceKind::Job => "job",
            ServiceKind::External => "external",
        }
    }
}

/// One service of a group, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    /// Empty for an external service.
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
    /// `working_dir`: the directory the command runs in; may hold `{key}` placeholders.
    pub working_dir: Option<String>,
    /// `extra_hosts`: host names added to the container's `/etc/hosts`, with their address
    /// (which may hold `{key}` placeholders), in name order.
    pub extra_hosts: Vec<(String, String)>,
    /// `labels`: the user's container labels (never `boss.*`), in name order; values may hold
    /// `{key}` placeholders.
    pub labels: Vec<(String, String)>,
    /// `tmpfs`: in-memory file systems, by container path.
    pub tmpfs: Vec<Tmpfs>,
    pub restart: RestartPolicy,
    pub resources: Resources,
    /// `init`: run an init process as PID 1 that reaps zombies and forwards signals.
    pub init: bool,
    pub healthcheck: Option<Healthcheck>,
    pub build: BuildOptions,
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
    pub pre_stop: bool,
    pub post_stop: bool,
}

impl Hooks {
    /// Whether the service defines the hook `kind`.
    pub fn defines(&self, kind: crate::hook::HookKind) -> bool {
        use crate::hook::HookKind;
        match kind {
            HookKind::PreStart => self.pre_start,
            HookKind::Ping => self.ping,
            HookKind::PostStart => self.post_start,
            HookKind::PreStop => self.pre_stop,
            HookKind::PostStop => self.post_stop,
        }
    }

    /// Records that the service defines the hook `kind`.
    pub(crate) fn set(&mut self, kind: crate::hook::HookKind) {
        use crate::hook::HookKind;
        let flag = match kind {
            HookKind::PreStart => &mut self.pre_start,
            HookKind::Ping => &mut self.ping,
            HookKind::PostStart => &mut self.post_start,
            HookKind::PreStop => &mut self.pre_stop,
            HookKind::PostStop => &mut self.post_stop,
        };
        *flag = true;
    }
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

/// A mount in `volumes`: a host path, or a named volume of the group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Volume {
    pub source: MountSource,
    pub container: String,
    pub read_only: bool,
}

/// What a `volumes` entry mounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MountSource {
    /// A host path, absolute (resolved against the script's directory).
    Host(PathBuf),
    /// A named volume of the group (`data` in `"data:/var/lib/data"`), created by boss as
    /// [`crate::ownership::named_volume`] and shared by every service of the group that names it.
    Named(String),
}

impl Volume {
    /// The `source:container:mode` form Docker's `Binds` takes; `group` names a named volume.
    pub fn bind_string(&self, group: &str) -> String {
        let mode = if self.read_only { "ro" } else { "rw" };
        let source = match &self.source {
            MountSource::Host(path) => path.display().to_string(),
            MountSource::Named(name) => crate::ownership::named_volume(group, name),
        };
        format!("{source}:{}:{mode}", self.container)
    }

    /// The named volume this entry mounts, if it is one.
    pub fn named(&self) -> Option<&str> {
        match &self.source {
            MountSource::Named(name) => Some(name),
            MountSource::Host(_) => None,
        }
    }
}

/// A tmpfs mount: a container path and Docker's mount options (`size=64m,mode=1777`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tmpfs {
    pub path: String,
    pub options: String,
}

/// What Docker does when the container exits (`restart`). boss's `stop` stops the container
/// through the engine, which then never restarts it, whatever the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    /// Restart after a non-zero exit, at most `max_retries` times when given.
    OnFailure {
        max_retries: Option<u32>,
    },
    UnlessStopped,
}

impl RestartPolicy {
    /// The policy as the script, compose and `docker run --restart` write it.
    pub fn as_string(self) -> String {
        match self {
            RestartPolicy::No => "no".into(),
            RestartPolicy::Always => "always".into(),
            RestartPolicy::OnFailure { max_retries: None } => "on-failure".into(),
            RestartPolicy::OnFailure { max_retries: Some(count) } => format!("on-failure:{count}"),
            RestartPolicy::UnlessStopped => "unless-stopped".into(),
        }
    }

    /// The policy written `text`, or `None` when it is none of the four.
    pub fn parse(text: &str) -> Option<RestartPolicy> {
        match text {
            "no" => Some(RestartPolicy::No),
            "always" => Some(RestartPolicy::Always),
            "on-failure" => Some(RestartPolicy::OnFailure { max_retries: None }),
            "unless-stopped" => Some(RestartPolicy::UnlessStopped),
            _ => {
                let count = text.strip_prefix("on-failure:")?.parse::<u32>().ok()?;
                Some(RestartPolicy::OnFailure { max_retries: Some(count) })
            }
        }
    }
}

/// Memory and CPU limits (`mem_limit`, `cpus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    /// Bytes.
    pub memory: Option<u64>,
    /// Billionths of a CPU, as Docker's `NanoCpus` (`cpus: 1.5` is 1 500 000 000).
    pub nano_cpus: Option<u64>,
}

/// A healthcheck written in the script, replacing the image's `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", program, args...]`, `["CMD-SHELL", command]`, or `["NONE"]`
    /// to turn the image's healthcheck off.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

impl Healthcheck {
    /// No test and the engine's defaults.
    pub(crate) fn empty() -> Healthcheck {
        Healthcheck { test: Vec::new(), interval: None, timeout: None, retries: None, start_period: None }
    }
}

/// What a `build_from` build is given besides its context (`build_args`, `build_target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BuildOptions {
    /// `--build-arg`s, in name order.
    pub args: Vec<(String, String)>,
    /// The stage to build (`--target`).
    pub target: Option<String>,
}

impl BuildOptions {
    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.target.is_none()
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
