//! Calling a script's hook closures: [`ScriptHooks`] implements [`HookRunner`] on top of the
//! engine and AST kept from evaluation, and turns Rhai errors into messages that point at the
//! innermost script line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr};

/// The script's state captured at a `service(...)` call. Rhai marks this `internals` API as
/// volatile (with a deprecation attribute that says it is not deprecated); it is pinned by the
/// rhai version in Cargo.lock.
#[allow(deprecated, reason = "rhai marks this internals API volatile, not deprecated")]
pub(super) type CallContextStore = rhai::NativeCallContextStore;

use super::call_state::{self, CallState, Interruption};
use super::fields::describe;
use crate::context::Context;
use crate::event::EventSink;
use crate::hook::{CallLimits, ContainerAccess, HookError, HookErrorKind, HookKind, HookRunner, HookValue};
use crate::source::{SourceFile, Span};

pub(super) struct ScriptHook {
    pub(super) function: FnPtr,
    /// Whether the closure declares a parameter (the context).
    pub(super) takes_context: bool,
    /// Where the hook is written in the service map.
    pub(super) span: Span,
    /// The script's state when the service was declared, so the hook sees top-level imports.
    pub(super) call_context: Arc<CallContextStore>,
}

pub(super) struct ScriptHooks {
    pub(super) engine: Arc<Engine>,
    pub(super) file: Arc<SourceFile>,
    pub(super) hooks: HashMap<(String, HookKind), ScriptHook>,
    pub(super) events: EventSink,
    pub(super) directory: PathBuf,
}

impl HookRunner for ScriptHooks {
    fn call(
        &self,
        service: &str,
        kind: HookKind,
        context: &Context,
        limits: &CallLimits,
        access: &Arc<dyn ContainerAccess>,
    ) -> Result<HookValue, HookError> {
        let Some(hook) = self.hooks.get(&(service.to_string(), kind)) else {
            return Ok(HookValue::Bool(true));
        };
        let state = CallState {
            deadline: limits.deadline,
            cancel: limits.cancel.clone(),
            service: Some(service.to_string()),
            events: Some(self.events.clone()),
            access: Some(Arc::clone(access)),
            directory: self.directory.clone(),
        };
        let result = call_state::with_call(state, || {
            #[allow(deprecated, reason = "rhai marks this internals API volatile, not deprecated")]
            let call_context = hook.call_context.create_context(&self.engine);
            if hook.takes_context {
                hook.function.call_within_context::<Dynamic>(&call_context, (context.clone(),))
            } else {
                hook.function.call_within_context::<Dynamic>(&call_context, ())
            }
        });
        match result {
            Ok(value) => match value.as_bool() {
                Ok(flag) => Ok(HookValue::Bool(flag)),
                // Only `ping`'s value matters; say so where the hook is written.
                Err(_) if kind == HookKind::Ping => Err(HookError {
                    message: format!("`ping` must return `true` or `false`, got {}", describe(&value)),
                    span: Some(hook.span.clone()),
                    kind: HookErrorKind::Failed,
                }),
                Err(_) => Ok(HookValue::Other(describe(&value))),
            },
            Err(mut error) => {
                // Rhai gives errors such as a stack overflow or a too-large string the position
                // of the outermost call, which for a hook is the `service(...)` declaration;
                // without it they fall back to the hook's own line below.
                if error.is_system_exception() {
                    error.clear_position();
                }
                let mut error = hook_error(&error, &self.file);
                // A hook cut off by its time limit has no position of its own; point at it.
                if error.span.is_none() {
                    error.span = Some(hook.span.clone());
                }
                Err(error)
            }
        }
    }
}

/// The source name of the built-in library, so errors inside it point at the caller instead.
pub(super) const LIBRARY_SOURCE: &str = "<boss built-in library>";

/// The message and innermost script position of a Rhai error. The position is in whichever
/// file the failing code lives in: the main script or an imported module. An error inside the
/// built-in library points at the user's call of it.
pub(super) fn hook_error(error: &EvalAltResult, file: &Arc<SourceFile>) -> HookError {
    let main = file.path.display().to_string();
    let mut source = main.clone();
    let mut call_site: Option<(String, rhai::Position)> = None;
    let mut current = error;
    loop {
        let (next_source, inner, position) = match current {
            EvalAltResult::ErrorInFunctionCall(_, next_source, inner, position) => {
                (next_source.as_str(), inner, *position)
            }
            EvalAltResult::ErrorInModule(path, inner, position) => (path.as_str(), inner, *position),
            _ => break,
        };
        if source != LIBRARY_SOURCE && !position.is_none() {
            call_site = Some((source.clone(), position));
        }
        if !next_source.is_empty() {
            source = next_source.to_string();
        }
        current = inner;
    }
    let inner = current;
    let mut position = match inner {
        // A cut-off carries no position of its own (Rhai reports the call site).
        EvalAltResult::ErrorTerminated(..) => rhai::Position::NONE,
        _ => inner.position(),
    };
    if source == LIBRARY_SOURCE {
        (source, position) = call_site.unwrap_or((main.clone(), rhai::Position::NONE));
    }
    let span = position.line().and_then(|line| {
        let file = if source == main { Arc::clone(file) } else { module_file(file, &source)? };
        Some(Span::new(&file, line, position.position().unwrap_or(1)))
    });
    let kind = match inner {
        EvalAltResult::ErrorTerminated(marker, _)
            if Interruption::from_marker(&marker.to_string()) == Some(Interruption::TimedOut) =>
        {
            HookErrorKind::TimedOut
        }
        _ => HookErrorKind::Failed,
    };
    HookError { message: error_message(inner), span, kind }
}

/// The text of a module named `source` in an error (a path, absolute or as imported).
fn module_file(main: &SourceFile, source: &str) -> Option<Arc<SourceFile>> {
    let directory = main.path.parent().unwrap_or(std::path::Path::new(""));
    let candidates = [PathBuf::from(source), directory.join(source), directory.join(format!("{source}.rhai"))];
    let path = candidates.into_iter().find(|candidate| candidate.is_file())?;
    let text = std::fs::read_to_string(&path).ok()?;
    // Show it relative to the main script's directory when it lies below it.
    let absolute_directory =
        std::fs::canonicalize(if directory.as_os_str().is_empty() { std::path::Path::new(".") } else { directory })
            .ok();
    let shown = match (absolute_directory, std::fs::canonicalize(&path).ok()) {
        (Some(base), Some(full)) => full.strip_prefix(&base).map(|relative| directory.join(relative)).unwrap_or(full),
        _ => path,
    };
    Some(Arc::new(SourceFile::new(shown, text)))
}

/// The text of one Rhai error, without Rhai's own position suffix.
pub(super) fn error_message(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.clone().into_string().unwrap_or_default(),
        EvalAltResult::ErrorRuntime(value, _) => format!("thrown: {value}"),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            let name = signature.split([' ', '(']).next().unwrap_or_default();
            let bare = name.rsplit("::").next().unwrap_or(name);
            if super::helpers::KNOWN_FUNCTIONS.contains(&bare) || name.starts_with("boss::") {
                // The function exists; the arguments do not fit any of its forms.
                return format!("`{name}` does not take these arguments: {signature}; see the helpers in the README");
            }
            let suggestion = crate::text::suggest(name, super::helpers::KNOWN_FUNCTIONS)
                .map(|suggestion| format!("; did you mean `{suggestion}`?"))
                .unwrap_or_default();
            format!("function not found: {signature}{suggestion}")
        }
        EvalAltResult::ErrorTerminated(marker, _) => match Interruption::from_marker(&marker.to_string()) {
            Some(Interruption::TimedOut) => "ran past its time limit and was cut off".to_string(),
            Some(Interruption::Cancelled) => "cancelled".to_string(),
            None => format!("terminated: {marker}"),
        },
        EvalAltResult::ErrorMismatchOutputType(..) => error.to_string(),
        other => {
            let text = other.to_string();
            // Rhai appends ` (line L, position C)`; the snippet shows that already.
            match text.rfind(" (line ") {
                Some(index) if text.ends_with(')') => text[..index].to_string(),
                _ => text,
            }
        }
    }
}
