//! The small interface the lifecycle engine needs from a container engine, in boss's own
//! types. The Docker implementation lives in `docker.rs`; tests and future backends (a remote
//! engine, Swarm) implement the same trait. Nothing here names bollard.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// Label keys boss puts on everything it creates. boss recognises its own resources only by
/// these labels, never by name.
pub(crate) mod label {
    pub(crate) const GROUP: &str = "boss.group";
    pub(crate) const SERVICE: &str = "boss.service";
    pub(crate) const CONFIG_HASH: &str = "boss.config-hash";
    /// The container's [`crate::ownership::Definition`] as JSON, to say what changed.
    pub(crate) const DEFINITION: &str = "boss.definition";
    pub(crate) const PROJECT_DIR: &str = "boss.project-dir";
    /// On a volume boss made for an image's `VOLUME`: the container path it is mounted at.
    pub(crate) const VOLUME_PATH: &str = "boss.volume-path";
    /// On the image that marks what a failed build left: [`FAILED_BUILD`].
    pub(crate) const BUILD: &str = "boss.build";
    /// The value of [`BUILD`] on a failed build's marker image.
    pub(crate) const FAILED_BUILD: &str = "failed";
    /// On a container: whether it became ready is recorded in the context file (see
    /// [`crate::plan::Readiness`]). Containers of older versions of boss have no such label and
    /// count as ready.
    pub(crate) const READINESS: &str = "boss.readiness";
    pub(crate) const READINESS_RECORDED: &str = "context-file";
    /// On an image boss built: the hash of the build context it was built from
    /// ([`crate::build_context::hash`]), to tell when the sources changed since.
    pub(crate) const BUILD_CONTEXT: &str = "boss.build-context";
    /// On an image boss built with `build_args` or `build_target`: their hash
    /// ([`crate::image::build_options_hash`]), to tell when they changed since.
    pub(crate) const BUILD_OPTIONS: &str = "boss.build-options";
    /// On a named volume (`"data:/path"` in `volumes`): its name in the script.
    pub(crate) const VOLUME: &str = "boss.volume";
}

pub(crate) type Labels = BTreeMap<String, String>;

/// A build context as it is produced: pieces of a tar, ending early with an error when the
/// context could not be read (the engine must then abort the build).
pub(crate) type ContextStream = futures_util::stream::BoxStream<'static, std::io::Result<Vec<u8>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// The engine cannot be reached: nothing listens at its address, or the connection broke.
    Unreachable,
    /// The engine took the connection but gave no answer within `after` (a stalled daemon).
    TimedOut {
        after: Duration,
    },
    /// The object (image, container, network) does not exist.
    NotFound,
    /// A name is taken.
    Conflict,
    Other,
}

/// A failed engine call, with the engine's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn other(message: impl Into<String>) -> BackendError {
        BackendError { kind: BackendErrorKind::Other, message: message.into() }
    }

    /// The engine went away or stopped answering: every further call would fail the same way,
    /// so the run reports the lost engine rather than each service's step.
    pub fn engine_lost(&self) -> bool {
        matches!(self.kind, BackendErrorKind::Unreachable | BackendErrorKind::TimedOut { .. })
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) type BackendResult<T> = Result<T, BackendError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    /// Frozen by `docker pause`: its processes and data are intact; unpausing resumes it.
    Paused,
    /// Created or exited: not running, can be started or removed.
    Stopped,
    /// Restarting, being removed or dead: neither usable as is nor cleanly startable.
    Other,
}

/// A container as listed by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub state: ContainerState,
    pub labels: Labels,
    /// The volumes it mounts (boss's own, or anonymous ones Docker made), by name and path.
    pub volumes: Vec<VolumeMount>,
    /// What else the engine's list says about it, for `boss status`.
    pub listed: Listed,
}

/// What a container list gives beside the container's identity, without a further call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    /// The image reference the container was created from, as the engine shows it.
    pub image: String,
    /// The engine's state word: `running`, `paused`, `exited`, `created`, `restarting`, ...
    pub state: String,
    /// The engine's status text: `Up 3 minutes (healthy)`, `Exited (1) 3 minutes ago`.
    pub status: String,
    /// When it was created, in seconds since the Unix epoch.
    pub created: i64,
    /// The id of the image it was created from (`sha256:...`).
    pub image_id: String,
    /// The ports it publishes now (a stopped container publishes none).
    pub ports: Vec<ListedPort>,
}

/// A published port as a container list reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPort {
    pub container_port: u16,
    pub protocol: crate::service::Protocol,
    /// The host address it is bound to (`127.0.0.1`, `0.0.0.0`, `::`).
    pub host_ip: String,
    pub host_port: u16,
}

/// A volume as listed by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumeInfo {
    pub name: String,
    pub labels: Labels,
}

/// A local image as the engine lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
    /// `repository:tag` references; empty for an untagged image.
    pub tags: Vec<String>,
    pub labels: Labels,
}

/// A volume mounted into a container, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub volume: String,
    /// The absolute path inside the container.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: Labels,
}

/// Everything needed to create one service container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `KEY=value` lines.
    pub env: Vec<String>,
    pub ports: Vec<crate::service::PortMapping>,
    /// `host:container:mode` lines.
    pub binds: Vec<String>,
    /// boss's volumes for the image's `VOLUME` paths. They follow from the image, so they are
    /// not part of the recorded definition.
    pub volumes: Vec<VolumeMount>,
    pub stop_signal: crate::service::StopSignal,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub labels: Labels,
    pub network: String,
    /// The DNS name of the container on `network`.
    pub alias: String,
    pub working_dir: Option<String>,
    /// `host:address` lines for `/etc/hosts`.
    pub extra_hosts: Vec<String>,
    pub tmpfs: Vec<crate::service::Tmpfs>,
    pub restart: crate::service::RestartPolicy,
    pub resources: crate::service::Resources,
    pub init: bool,
    pub healthcheck: Option<crate::service::Healthcheck>,
    /// Each secret's name and the hash of its value, for the recorded definition; its bind is
    /// in `binds`.
    pub secrets: Vec<(String, String)>,
    /// The secret values boss writes to files before the container is created or started.
    pub secret_files: Vec<crate::secret::SecretFile>,
}

/// A command to run in a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecSpec {
    pub cmd: Vec<String>,
    /// `KEY=value` lines added to the container's environment for this command only, so that
    /// a password need not be an argument (arguments show in `ps` and in logs).
    pub env: Vec<String>,
    pub output: ExecOutputMode,
}

/// What to do with the output of an exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecOutputMode {
    /// Keep stdout and stderr, at most `limit` bytes together; past it, stop reading and
    /// return what was kept with `truncated` set.
    Keep { limit: usize },
    /// Read and drop everything; only the exit code matters.
    Discard,
}

/// What `exec` in a container returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExecOutput {
    /// `None` when the command was abandoned (output over the limit) or Docker did not say.
    pub code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
    /// The output went past the limit; the command was abandoned and `code` is unknown.
    pub truncated: bool,
}

/// A command run in a running container with the caller's terminal attached (`boss exec`):
/// stdin goes in, stdout and stderr come out as they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachedExecSpec {
    pub cmd: Vec<String>,
    /// A pseudo-terminal of this size for the command, or plain pipes when `None` (stdout and
    /// stderr then stay apart).
    pub tty: Option<TerminalSize>,
}

/// A terminal's size in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TerminalSize {
    pub rows: u16,
    pub columns: u16,
}

/// A piece of an attached command's output. With a TTY everything is `Stdout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExecChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A started attached command: its output until it exits, and its stdin.
pub(crate) struct AttachedExec {
    /// The engine's id of this exec, to resize its terminal and ask for its exit code.
    pub id: String,
    pub output: futures_util::stream::BoxStream<'static, BackendResult<ExecChunk>>,
    /// The command's stdin; shutting it down is the end of its input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Which part of a container's log to read (`boss logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LogsRequest {
    /// Keep reading what the container writes until it stops.
    pub follow: bool,
    /// Only the last lines of what is written now.
    pub tail: Option<usize>,
    /// Only lines written at or after this time (the engine counts whole seconds).
    pub since: Option<std::time::SystemTime>,
}

/// A container of a group that started, as the engine's event stream reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerStarted {
    pub id: String,
    pub labels: Labels,
}

/// A published port as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublishedPort {
    pub container_port: u16,
    pub protocol: crate::service::Protocol,
    pub host_port: u16,
}

/// How a watched container ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Exited {
    /// Its exit code, when the engine tells.
    pub exit_code: Option<i64>,
    /// Its last lines of output.
    pub logs: String,
}

/// The live state of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ContainerDetails {
    pub running: bool,
    pub ports: Vec<PublishedPort>,
    /// Its address on each network it is attached to.
    pub addresses: Labels,
    pub health: Health,
}

/// A container's HEALTHCHECK status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Health {
    Healthy,
    Unhealthy,
    Starting,
    /// The container has no HEALTHCHECK.
    #[default]
    None,
}

impl Health {
    /// The status as Docker and the script's `health()` spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Starting => "starting",
            Health::None => "none",
        }
    }
}

/// How to build one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildSpec {
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// The first tag is the one the build is made under; the others are added after.
    pub tags: Vec<String>,
    pub labels: Labels,
    /// `--build-arg`s.
    pub args: Vec<(String, String)>,
    /// The stage to build (`--target`).
    pub target: Option<String>,
}

/// What the lifecycle engine asks of a container engine.
pub(crate) trait Backend: Send + Sync + 'static {
    /// A human-readable address, for messages ("unix:///var/run/docker.sock").
    fn address(&self) -> String;

    fn ping(&self) -> impl Future<Output = BackendResult<()>> + Send;

    /// Networks whose name is exactly `name`, whoever created them.
    fn networks_named(&self, name: &str) -> impl Future<Output = BackendResult<Vec<NetworkInfo>>> + Send;

    /// Networks carrying every one of `labels` (all of them for none).
    fn networks_labelled(&self, labels: &Labels) -> impl Future<Output = BackendResult<Vec<NetworkInfo>>> + Send;

    fn create_network(&self, name: &str, labels: &Labels) -> impl Future<Output = BackendResult<String>> + Send;

    fn remove_network(&self, id: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// boss's containers (running or not: those with a `boss.config-hash`) carrying every one
    /// of `labels`, newest first; every container of the engine for no labels.
    fn containers_labelled(&self, labels: &Labels) -> impl Future<Output = BackendResult<Vec<ContainerInfo>>> + Send;

    /// The container with exactly this name, whoever created it.
    fn container_named(&self, name: &str) -> impl Future<Output = BackendResult<Option<ContainerInfo>>> + Send;

    /// The id of the local image `image`, or `None` when it is not present.
    fn image_id(&self, image: &str) -> impl Future<Output = BackendResult<Option<String>>> + Send;

    /// The value of the label `key` of the local image `image` (a reference or an id), or
    /// `None` when the image is not present or has no such label.
    fn image_label(&self, image: &str, key: &str) -> impl Future<Output = BackendResult<Option<String>>> + Send;
    /// The local image `image` (a reference or an id), or `None` when it is not present.
    fn image_info(&self, image: &str) -> impl Future<Output = BackendResult<Option<ImageInfo>>> + Send;

    /// Local images carrying every one of `labels` (all of them for none), without the
    /// intermediate images of builds.
    fn images_labelled(&self, labels: &Labels) -> impl Future<Output = BackendResult<Vec<ImageInfo>>> + Send;

    /// Removes the tag `reference`; when it was the image's last one, the image goes too, with
    /// its untagged parents that nothing else uses. Never forced: an image a container uses
    /// stays. Removing what is already gone succeeds.
    fn remove_image(&self, reference: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// Builds an image from a tar build context, streamed as it is read, tags it with every one
    /// of `tags`, and returns its id. Each line of builder output goes to `output` as it
    /// arrives.
    fn build_image(
        &self,
        context: ContextStream,
        build: &BuildSpec,
        output: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = BackendResult<String>> + Send;

    fn pull_image(&self, image: &str) -> impl Future<Output = BackendResult<()>> + Send;

    fn create_container(&self, spec: &ContainerSpec) -> impl Future<Output = BackendResult<String>> + Send;

    fn start_container(&self, id: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// Sends the container's stop signal, then SIGKILL after `grace`. Stopping a stopped
    /// container succeeds.
    fn stop_container(&self, id: &str, grace: Duration) -> impl Future<Output = BackendResult<()>> + Send;

    /// Removes a container, never its volumes: data is deleted only when the user asks, by
    /// [`Backend::remove_volume`].
    fn remove_container(&self, id: &str) -> impl Future<Output = BackendResult<()>> + Send;

    fn unpause_container(&self, id: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// The container paths the image declares with `VOLUME`, sorted.
    fn image_volumes(&self, image: &str) -> impl Future<Output = BackendResult<Vec<String>>> + Send;

    /// The volume with exactly this name, whoever created it.
    fn volume_named(&self, name: &str) -> impl Future<Output = BackendResult<Option<VolumeInfo>>> + Send;

    /// Volumes carrying every one of `labels` (all of them for none).
    fn volumes_labelled(&self, labels: &Labels) -> impl Future<Output = BackendResult<Vec<VolumeInfo>>> + Send;

    /// Creates volume `name`, or, as the engine does when one of that name exists, returns that
    /// one unchanged: the answer's labels say whose it is.
    fn create_volume(&self, name: &str, labels: &Labels) -> impl Future<Output = BackendResult<VolumeInfo>> + Send;

    /// Removing a volume that is already gone succeeds.
    fn remove_volume(&self, name: &str) -> impl Future<Output = BackendResult<()>> + Send;

    /// Resolves when the container is no longer running, with its exit code when known.
    fn wait_for_exit(&self, id: &str) -> impl Future<Output = BackendResult<Option<i64>>> + Send;

    /// Watches a started container and resolves as soon as the engine says its process ended,
    /// with its exit code and the last `lines` lines of its output. Sooner than
    /// [`Backend::wait_for_exit`], which Docker answers only after the container's clean-up.
    fn watch_exit(&self, id: &str, lines: usize) -> impl Future<Output = BackendResult<Exited>> + Send;

    fn inspect_container(&self, id: &str) -> impl Future<Output = BackendResult<ContainerDetails>> + Send;

    /// Runs `exec.cmd` in the running container and waits for it to finish, or until its
    /// output passes the limit.
    fn exec(&self, id: &str, exec: &ExecSpec) -> impl Future<Output = BackendResult<ExecOutput>> + Send;

    /// Starts `exec.cmd` in the running container with its stdin, stdout and stderr attached.
    fn exec_attached(
        &self,
        id: &str,
        exec: &AttachedExecSpec,
    ) -> impl Future<Output = BackendResult<AttachedExec>> + Send;

    /// The exit code of an attached exec whose output ended, when the engine knows it.
    fn exec_exit_code(&self, exec_id: &str) -> impl Future<Output = BackendResult<Option<i64>>> + Send;

    /// Resizes the pseudo-terminal of an attached exec.
    fn resize_exec(&self, exec_id: &str, size: TerminalSize) -> impl Future<Output = BackendResult<()>> + Send;

    /// The container's output (stdout and stderr) since it last started, as it is written;
    /// the stream ends when the container stops.
    fn follow_logs(&self, id: &str) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>>;

    /// The container's output (stdout and stderr) since it last started, as far as it is
    /// written now; the stream ends there.
    fn logs_so_far(&self, id: &str) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>>;

    /// The container's output (stdout and stderr, in the order written), each line starting
    /// with the engine's RFC 3339 timestamp and a space.
    fn timestamped_logs(
        &self,
        id: &str,
        request: LogsRequest,
    ) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>>;

    /// Every start of a container carrying all of `labels`, from `since` on (earlier ones
    /// included, so nothing is missed between a look at the containers and this call), as
    /// they happen. The stream does not end by itself.
    fn container_starts(
        &self,
        labels: &Labels,
        since: std::time::SystemTime,
    ) -> futures_util::stream::BoxStream<'static, BackendResult<ContainerStarted>>;

    /// Resolves at the next health status change of the container, with the new status.
    /// `since` replays a change made after that moment, so a caller that looked at the health
    /// just after `since` misses none.
    fn next_health_change(
        &self,
        id: &str,
        since: std::time::SystemTime,
    ) -> impl Future<Output = BackendResult<Health>> + Send;

    /// The last `lines` lines of the container's output (stdout and stderr).
    fn logs_tail(&self, id: &str, lines: usize) -> impl Future<Output = BackendResult<String>> + Send;
}
