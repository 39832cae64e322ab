//! The lifecycle hooks as the engine sees them: which hook, the limits a call runs under, and
//! the [`HookRunner`] trait the script layer implements. Hooks are synchronous and may block;
//! callers run them on blocking threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::context::Context;
use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    PreStart,
    Ping,
    PostStart,
}

impl HookKind {
    pub const ALL: [HookKind; 3] = [HookKind::PreStart, HookKind::Ping, HookKind::PostStart];

    /// The field name in a service map.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::PreStart => "pre_start",
            HookKind::Ping => "ping",
            HookKind::PostStart => "post_start",
        }
    }
}

/// A flag that asks running hooks and helpers to stop as soon as they can.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The bounds of one hook call: a wall-clock deadline and a cancel flag.
#[derive(Debug, Clone)]
pub struct CallLimits {
    pub deadline: Instant,
    pub cancel: CancelFlag,
}

/// What a hook returned, reduced to what the engine cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookValue {
    Bool(bool),
    /// Anything else, described by its type name.
    Other(String),
}

/// A hook that threw, timed out or was cancelled.
#[derive(Debug, Clone, PartialEq)]
pub struct HookError {
    pub message: String,
    /// The innermost script position the error came from.
    pub span: Option<Span>,
}

/// Calls the hooks a script defined. Implemented by the script layer.
pub trait HookRunner: Send + Sync + 'static {
    /// Calls `kind` of `service`. A service without that hook returns `Bool(true)`.
    fn call(
        &self,
        service: &str,
        kind: HookKind,
        context: &Context,
        limits: &CallLimits,
    ) -> Result<HookValue, HookError>;
}
