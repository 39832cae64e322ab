//! The lifecycle hooks as the engine sees them: which hook, the limits a call runs under, and
//! the [`HookRunner`] trait the script layer implements. Hooks are synchronous and may block;
//! callers run them on blocking threads.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::backend::{ExecOutput, ExecSpec, Health};
use crate::context::Context;
use crate::service::Protocol;
use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    PreStart,
    Ping,
    PostStart,
    PreStop,
    PostStop,
}

impl HookKind {
    /// Every hook a service may define, in the order of the field table.
    pub const ALL: [HookKind; 5] =
        [HookKind::PreStart, HookKind::Ping, HookKind::PostStart, HookKind::PreStop, HookKind::PostStop];
    /// The hooks `start` runs for a new container, in the order it runs them.
    pub const START: [HookKind; 3] = [HookKind::PreStart, HookKind::Ping, HookKind::PostStart];

    /// The field name in a service map.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::PreStart => "pre_start",
            HookKind::Ping => "ping",
            HookKind::PostStart => "post_start",
            HookKind::PreStop => "pre_stop",
            HookKind::PostStop => "post_stop",
        }
    }
}

/// The bounds of one hook call: a wall-clock deadline and a cancel token. Async code awaits
/// the token's `cancelled()`; blocking hook threads and Rhai's progress callback read
/// `is_cancelled()`.
#[derive(Debug, Clone)]
pub(crate) struct CallLimits {
    pub deadline: Instant,
    pub cancel: CancellationToken,
}

/// What a hook returned, reduced to what the engine cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HookValue {
    Bool(bool),
    /// Anything else, described by its type name.
    Other(String),
}

/// A hook that threw, timed out or was cancelled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HookError {
    pub message: String,
    /// The innermost script position the error came from.
    pub span: Option<Span>,
    pub kind: HookErrorKind,
}

/// Whether a hook failed on its own or was cut off at its deadline, which the engine words
/// with the limit that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookErrorKind {
    /// It threw, a helper failed, or it was cancelled.
    Failed,
    /// It ran past the deadline of its [`CallLimits`].
    TimedOut,
}

/// The most output `exec` keeps (stdout and stderr together) and `logs` returns. Half of
/// Rhai's 8 MiB string limit, so a script can still append to what it got.
pub(crate) const OUTPUT_LIMIT: usize = 4 << 20;

/// A container's log as `logs()` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogText {
    /// At most [`OUTPUT_LIMIT`] bytes, from the start of the log.
    pub text: String,
    /// The log went on past the limit.
    pub truncated: bool,
}

/// What hooks may ask about the group's running containers. Implemented by the engine on top
/// of the backend; called from hook threads, so every method blocks, and every one honours
/// `limits` (the engine may be slow to answer even a lookup). Errors are messages for the
/// script.
pub(crate) trait ContainerAccess: Send + Sync {
    /// The host port published for `container_port`.
    fn host_port(
        &self,
        service: &str,
        container_port: u16,
        protocol: Protocol,
        limits: &CallLimits,
    ) -> Result<u16, String>;
    /// The container's address on the group network.
    fn address(&self, service: &str, limits: &CallLimits) -> Result<String, String>;
    fn exec(&self, service: &str, exec: &ExecSpec, limits: &CallLimits) -> Result<ExecOutput, String>;
    /// What the container printed since it last started, up to [`OUTPUT_LIMIT`].
    fn logs(&self, service: &str, limits: &CallLimits) -> Result<LogText, String>;
    fn health(&self, service: &str, limits: &CallLimits) -> Result<Health, String>;
    /// Waits until the container's output (since it last started) contains `text`. Streams
    /// the output once; returns false at the deadline.
    fn wait_for_output(&self, service: &str, text: &str, limits: &CallLimits) -> Result<bool, String>;
    /// Waits until the container's HEALTHCHECK reports healthy; false at the deadline.
    fn wait_healthy(&self, service: &str, limits: &CallLimits) -> Result<bool, String>;
}

/// Access for when there are no containers to reach (unit tests of the script layer).
#[cfg(test)]
pub(crate) struct NoContainers;

#[cfg(test)]
impl NoContainers {
    fn refuse<T>(service: &str) -> Result<T, String> {
        Err(format!("service `{service}` has no running container"))
    }
}

#[cfg(test)]
impl ContainerAccess for NoContainers {
    fn host_port(&self, service: &str, _: u16, _: Protocol, _: &CallLimits) -> Result<u16, String> {
        NoContainers::refuse(service)
    }
    fn address(&self, service: &str, _: &CallLimits) -> Result<String, String> {
        NoContainers::refuse(service)
    }
    fn exec(&self, service: &str, _: &ExecSpec, _: &CallLimits) -> Result<ExecOutput, String> {
        NoContainers::refuse(service)
    }
    fn logs(&self, service: &str, _: &CallLimits) -> Result<LogText, String> {
        NoContainers::refuse(service)
    }
    fn health(&self, service: &str, _: &CallLimits) -> Result<Health, String> {
        NoContainers::refuse(service)
    }
    fn wait_for_output(&self, service: &str, _: &str, _: &CallLimits) -> Result<bool, String> {
        NoContainers::refuse(service)
    }
    fn wait_healthy(&self, service: &str, _: &CallLimits) -> Result<bool, String> {
        NoContainers::refuse(service)
    }
}

/// Calls the hooks a script defined. Implemented by the script layer.
pub(crate) trait HookRunner: Send + Sync + 'static {
    /// Calls `kind` of `service`. A service without that hook returns `Bool(true)`. Helpers
    /// that reach containers go through `access`.
    fn call(
        &self,
        service: &str,
        kind: HookKind,
        context: &Context,
        limits: &CallLimits,
        access: &Arc<dyn ContainerAccess>,
    ) -> Result<HookValue, HookError>;
}
