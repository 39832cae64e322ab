//! Every state change of a run, as a value. The lifecycle engine emits events; output (human
//! lines today, NDJSON and live progress later) is drawn only from them.

use std::sync::Arc;
use std::time::Duration;

use crate::error::ServiceFailure;
use crate::ownership::Changes;

#[derive(Debug, Clone)]
pub enum Event {
    /// The group's network was created, or an existing one is used.
    Network {
        name: String,
        created: bool,
    },
    NetworkRemoved {
        name: String,
    },
    ContextSaved,
    ContextRemoved,
    /// The context could not be saved right after a hook; the run goes on and tries again at
    /// its end.
    ContextNotSaved {
        path: std::path::PathBuf,
        reason: String,
    },
    /// A compose file read by `compose()` has something boss reads but does not act on, or a
    /// variable that is not set; `rendered` is the warning with its snippet.
    ComposeWarning {
        path: std::path::PathBuf,
        line: usize,
        rendered: String,
    },
    /// A volume boss made for an image's `VOLUME` was removed (`stop --remove --volumes`).
    VolumeRemoved {
        name: String,
    },
    Service {
        service: String,
        change: ServiceChange,
    },
    /// A missing image that `services` need is being pulled, ahead of the services: every such
    /// pull begins when the start does.
    PullingImage {
        image: String,
        services: Vec<String>,
    },
    /// A pull that began with the start is done.
    ImagePulled {
        image: String,
        elapsed: std::time::Duration,
    },
    /// A pull that began with the start failed; the services that need the image fail when
    /// they get to it, with the engine's words.
    ImageNotPulled {
        image: String,
        reason: String,
    },
    /// Another boss (`holder`, when it says who it is) changes `group` right now; this one
    /// waits until it is done. Sent once, when the wait begins.
    WaitingForLock {
        group: String,
        holder: Option<LockHolder>,
    },
}

/// The boss process that holds a group's lock, as it recorded itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub operation: Operation,
}

/// What a boss holding a group's lock does with the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Start,
    Stop,
    Reload,
    /// `boss run`, while it starts the group or cleans up after its command.
    Run,
}

impl Operation {
    /// The command's name, as the lock file records it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Stop => "stop",
            Operation::Reload => "reload",
            Operation::Run => "run",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Operation> {
        [Operation::Start, Operation::Stop, Operation::Reload, Operation::Run]
            .into_iter()
            .find(|operation| operation.name() == name)
    }
}

#[derive(Debug, Clone)]
pub enum ServiceChange {
    /// Every dependency has started: boss begins with this service (looks at what the engine
    /// holds for it and decides what to do).
    Scheduled,
    /// A `pre_start` or `post_start` hook begins.
    RunningHook {
        hook: crate::hook::HookKind,
    },
    /// The container this run just created is being started.
    StartingContainer {
        container: String,
    },
    /// A running container was found and left alone; `outdated` says what changed since it
    /// was created, and `reloadable` whether `boss reload` can refresh it.
    AlreadyRunning {
        container: String,
        outdated: Option<Changes>,
        reloadable: bool,
    },
    /// The service's container no longer matches its definition and is replaced.
    Recreating {
        container: String,
        reason: RecreateReason,
    },
    /// An image is built from `build_from`, tagged `image` and `tag`.
    Building {
        image: String,
        tag: String,
    },
    /// One line of builder output.
    BuildOutput {
        line: String,
    },
    Pulling {
        image: String,
    },
    Creating {
        container: String,
        image: String,
    },
    /// A stopped container with the same definition is started again.
    Restarting {
        container: String,
    },
    /// A running container that never became ready (boss was killed or interrupted during its
    /// readiness check or `post_start`) is checked again; `post_start` says whether that hook
    /// runs after the check because it never finished.
    Resuming {
        container: String,
        post_start: bool,
    },
    /// A paused container is resumed as it was; it counts as running.
    Unpausing {
        container: String,
    },
    /// A volume was created for the image's `VOLUME` at `path`; it outlives the container.
    VolumeCreated {
        volume: String,
        path: String,
    },
    Pinging,
    /// A job's container runs; the job has started when it exits with status 0.
    RunningJob,
    /// A job whose container exited with status 0, with the same definition, is not run
    /// again.
    AlreadyCompleted {
        container: String,
    },
    Started {
        elapsed: Duration,
    },
    Failed {
        failure: ServiceFailure,
    },
    /// Not attempted because a dependency failed.
    Skipped {
        dependency: String,
    },
    /// A container that failed to start is stopped, and removed when this run created it.
    TearingDown {
        container: String,
        remove: bool,
    },
    Stopping {
        container: String,
    },
    Stopped {
        container: String,
    },
    Removed {
        container: String,
    },
    NoContainer,
    /// An external service: `stop` has no container of its to stop (its stop hooks may run).
    External,
    /// A container of the group whose service the script no longer declares.
    Orphan {
        container: String,
    },
    StopFailed {
        failure: ServiceFailure,
    },
    /// A message from the script's `log(...)`.
    Log {
        message: String,
    },
    /// The log of the service's failed container was written to `path` (`start --save-logs`).
    LogSaved {
        path: std::path::PathBuf,
        lines: usize,
    },
    /// The log of the service's failed container could not be saved; `reason` is the error as
    /// boss words it.
    LogNotSaved {
        reason: String,
    },
}

/// Why a service gets a new container in place of its old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecreateReason {
    AlwaysStartNew,
    /// `boss reload` of this service.
    Reloading,
    /// The stopped container no longer matches the definition.
    Changed(Changes),
    /// The old container is running, restarting or otherwise not one to start again.
    NotUsable,
}

/// Where events go. Cloning shares the destination.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&Event) + Send + Sync>);

impl EventSink {
    pub fn new(receiver: impl Fn(&Event) + Send + Sync + 'static) -> EventSink {
        EventSink(Arc::new(receiver))
    }

    pub fn emit(&self, event: Event) {
        (self.0)(&event);
    }

    /// Passes on an event received by another sink.
    pub(crate) fn deliver(&self, event: &Event) {
        (self.0)(event);
    }

    pub fn service(&self, service: &str, change: ServiceChange) {
        self.emit(Event::Service { service: service.to_string(), change });
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
