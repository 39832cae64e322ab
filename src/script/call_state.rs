//! The state of the hook call running on this thread: its deadline, cancel token and service.
//! Rhai's progress callback and the helpers read it to cut off runaway or cancelled hooks.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::event::{EventSink, ServiceChange};
use crate::hook::{CallLimits, ContainerAccess};
use tokio_util::sync::CancellationToken;

pub(super) struct CallState {
    pub(super) deadline: Instant,
    pub(super) cancel: CancellationToken,
    /// The service whose hook runs; `None` while the script's top level is evaluated.
    pub(super) service: Option<String>,
    pub(super) events: Option<EventSink>,
    /// The group's containers, for helpers such as `exec` and `port`; `None` at the top level.
    pub(super) access: Option<Arc<dyn ContainerAccess>>,
    /// The script's directory, for relative paths in helpers.
    pub(super) directory: PathBuf,
}

thread_local! {
    static CURRENT: RefCell<Option<CallState>> = const { RefCell::new(None) };
}

/// Why a call must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interruption {
    TimedOut,
    Cancelled,
}

impl Interruption {
    /// The marker passed through Rhai's `ErrorTerminated`.
    pub(super) fn marker(self) -> &'static str {
        match self {
            Interruption::TimedOut => "boss:timed-out",
            Interruption::Cancelled => "boss:cancelled",
        }
    }

    pub(super) fn from_marker(marker: &str) -> Option<Interruption> {
        match marker {
            "boss:timed-out" => Some(Interruption::TimedOut),
            "boss:cancelled" => Some(Interruption::Cancelled),
            _ => None,
        }
    }
}

/// Runs `f` with `state` as this thread's current call, clearing it afterwards.
pub(super) fn with_call<R>(state: CallState, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|current| current.borrow_mut().take());
        }
    }
    CURRENT.with(|current| *current.borrow_mut() = Some(state));
    let _reset = Reset;
    f()
}

/// Whether the current call must stop now.
pub(super) fn interruption() -> Option<Interruption> {
    CURRENT.with(|current| {
        let current = current.borrow();
        let state = current.as_ref()?;
        if state.cancel.is_cancelled() {
            Some(Interruption::Cancelled)
        } else if Instant::now() >= state.deadline {
            Some(Interruption::TimedOut)
        } else {
            None
        }
    })
}

/// Time left before the current call's deadline (a minute when no call is running).
pub(super) fn remaining() -> Duration {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .map_or(Duration::from_secs(60), |state| state.deadline.saturating_duration_since(Instant::now()))
    })
}

/// Shows a script message under the current service's name.
pub(super) fn log(message: &str) {
    let shown = CURRENT.with(|current| {
        let current = current.borrow();
        match current.as_ref() {
            Some(CallState { service: Some(service), events: Some(events), .. }) => {
                events.service(service, ServiceChange::Log { message: message.to_string() });
                true
            }
            _ => false,
        }
    });
    if !shown {
        crate::output::line(&format!("script | {message}"));
    }
}

/// The container access of the running hook and the hook's own service.
pub(super) fn access() -> Result<(Arc<dyn ContainerAccess>, String), String> {
    CURRENT.with(|current| {
        let current = current.borrow();
        match current.as_ref() {
            Some(CallState { access: Some(access), service: Some(service), .. }) => {
                Ok((Arc::clone(access), service.clone()))
            }
            _ => Err("containers can only be reached from a hook, while boss runs the group".to_string()),
        }
    })
}

/// Limits for a helper: the hook's cancel token and the earlier of the hook's deadline and
/// `timeout` from now.
pub(super) fn limits(timeout: Duration) -> CallLimits {
    CURRENT.with(|current| {
        let current = current.borrow();
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let deadline = Instant::now().checked_add(timeout).unwrap_or(far);
        match current.as_ref() {
            Some(state) => CallLimits { deadline: deadline.min(state.deadline), cancel: state.cancel.clone() },
            None => CallLimits { deadline, cancel: CancellationToken::new() },
        }
    })
}

/// `path`, resolved against the script's directory when it is relative.
pub(super) fn resolve(path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    CURRENT.with(|current| {
        current.borrow().as_ref().map_or_else(|| path.to_path_buf(), |state| state.directory.join(path))
    })
}
