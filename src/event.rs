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
    /// A volume boss made for an image's `VOLUME` was removed (`stop --remove --volumes`).
    VolumeRemoved {
        name: String,
    },
    Service {
        service: String,
        change: ServiceChange,
    },
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
