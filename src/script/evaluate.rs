//! Loading a services script: compile, evaluate its top level (which only records `group` and
//! `service` calls), validate every service and the graph, and keep the hooks for later.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use rhai::{Dynamic, Map, NativeCallContext, Position};

use super::call_state::{self, CallState};
use super::engine::engine_for;
use super::fields::{self, describe, is_valid_name};
use super::hooks::{ScriptHook, ScriptHooks, error_message};
use crate::error::{BadHookProblem, Error, ScriptErrorKind};
use crate::event::EventSink;
use crate::project::Project;
use crate::service::Service;
use crate::source::{SourceFile, Span};
use tokio_util::sync::CancellationToken;

/// How long a script's top level may run. It only declares services, so this is generous.
const EVALUATION_LIMIT: Duration = Duration::from_secs(10);

/// What the script's top level declared.
#[derive(Default)]
struct Registry {
    group: Option<(String, Span)>,
    /// Each declared map, where it was declared, and the script's state at that moment (its
    /// imports), which hooks are later called within.
    services: Vec<(Map, Span, Arc<super::hooks::CallContextStore>)>,
    /// Services declared by `compose()` whose dependants wait for their healthcheck.
    wait_healthy: Vec<String>,
    /// Where each service `compose()` declared is written in its compose file, so that
    /// mistakes in it point there rather than at the `compose()` call.
    compose_spans: HashMap<String, Span>,
    /// What the compose files read by `compose()` warned about.
    compose_warnings: Vec<crate::compose::ComposeWarning>,
    /// `hooks(name, #{...})` calls: the hooks added to a service declared elsewhere.
    added_hooks: Vec<(String, Map, Span)>,
    /// The first structured error a declaration raised; reported instead of Rhai's wrapper.
    failure: Option<Error>,
    /// Set after evaluation: hooks may not declare services.
    sealed: bool,
}

fn position_span(file: &Arc<SourceFile>, position: Position) -> Span {
    match position.line() {
        // Rhai puts errors at the end of the input on the line after the last one.
        Some(line) if line > file.line_count() => end_of(file),
        Some(line) => Span::new(file, line, position.position().unwrap_or(1)),
        None => Span::file_only(file),
    }
}

/// The position just after the last character of the file.
fn end_of(file: &Arc<SourceFile>) -> Span {
    let lines: Vec<&str> = file.text.lines().collect();
    match lines.last() {
        Some(last) => Span::new(file, lines.len(), last.chars().count() + 1),
        None => Span::file_only(file),
    }
}

/// Loads and validates the script at `path`. Never contacts Docker. `events` receives what
/// hooks `log` when they run later.
pub(crate) fn load(path: &Path, events: EventSink) -> Result<Project, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        let file = Arc::new(SourceFile::new(path.to_path_buf(), String::new()));
        Error::script(
            ScriptErrorKind::Unreadable { path: path.to_path_buf(), reason: error.to_string() },
            Span::file_only(&file),
        )
    })?;
    load_source(path, text, events)
}

/// Like [`load`], for a script given as text, as if it were the file at `path`.
pub(crate) fn load_text(path: &Path, text: String, events: EventSink) -> Result<Project, Error> {
    load_source(path, text, events)
}

/// Like [`load`], with the script's text already read.
pub(super) fn load_source(path: &Path, text: String, events: EventSink) -> Result<Project, Error> {
    let file = Arc::new(SourceFile::new(path.to_path_buf(), text));
    // The directory is canonical (no `..`, no symlinked directories): it identifies the
    // project in labels, so `../services.rhai` and `services.rhai` must name the same one.
    let directory = std::path::absolute(path)
        .ok()
        .and_then(|absolute| absolute.parent().map(Path::to_path_buf))
        .map(|parent| std::fs::canonicalize(&parent).unwrap_or(parent))
        .unwrap_or_else(|| PathBuf::from("."));

    let registry = Arc::new(Mutex::new(Registry::default()));
    let mut engine = engine_for(&directory);
    register_declarations(&mut engine, &registry, &file);

    let mut ast = engine.compile(&file.text).map_err(|error| {
        let kind = match error.err_type() {
            rhai::ParseErrorType::VariableUndefined(name) => ScriptErrorKind::UndefinedVariable { name: name.clone() },
            other => ScriptErrorKind::Syntax { message: other.to_string() },
        };
        // An error at the end of the input (an unclosed call, say) has no position.
        let span = if error.position().is_none() { end_of(&file) } else { position_span(&file, error.position()) };
        Error::script(kind, span)
    })?;
    ast.set_source(path.display().to_string());

    let state = CallState {
        access: None,
        directory: directory.clone(),
        deadline: Instant::now() + EVALUATION_LIMIT,
        cancel: CancellationToken::new(),
        service: None,
        events: None,
    };
    let evaluation = call_state::with_call(state, || engine.run_ast(&ast));
    let mut registry = {
        let mut shared = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken = std::mem::take(&mut *shared);
        shared.sealed = true;
        taken
    };
    if let Some(failure) = registry.failure.take() {
        return Err(failure);
    }
    if let Err(error) = evaluation {
        let hook_error = super::hooks::hook_error(&error, &file);
        let message = if matches!(error.unwrap_inner(), rhai::EvalAltResult::ErrorTerminated(..)) {
            format!("the script did not finish within {} s", EVALUATION_LIMIT.as_secs())
        } else {
            error_message(error.unwrap_inner())
        };
        let span = hook_error.span.unwrap_or_else(|| Span::file_only(&file));
        return Err(Error::script(ScriptErrorKind::Evaluation { message }, span));
    }

    add_hooks(&mut registry)?;
    let mut services = IndexMap::new();
    let mut hooks = HashMap::new();
    // Hostnames ignore case, so `Web` and `web` would be the same name on the network. Keyed
    // by the lowercase name, so that ten thousand services are not compared pairwise.
    let mut by_hostname: HashMap<String, String> = HashMap::new();
    for (map, span, call_context) in &registry.services {
        let name = map.get("name").and_then(|name| name.clone().into_string().ok()).unwrap_or_default();
        let declared = fields::service_from_map(map, registry.compose_spans.get(&name).unwrap_or(span), &directory)?;
        let name = declared.service.name.clone();
        if let Some(first) = by_hostname.get(&name.to_ascii_lowercase()).map(|first| &services[first]) {
            let first: &Service = first;
            let name_span = fields::locate_field(span, "name").unwrap_or_else(|| span.clone());
            return Err(Error::script(
                ScriptErrorKind::DuplicateService {
                    name,
                    first: fields::locate_field(&first.span, "name").unwrap_or_else(|| first.span.clone()),
                },
                name_span,
            ));
        }
        let mut declared = declared;
        if registry.wait_healthy.contains(&name) && !declared.service.hooks.ping {
            // compose's `service_healthy`: ready once the engine reports the container healthy.
            let function = rhai::FnPtr::new("wait_healthy").expect("a valid function name");
            declared.service.hooks.set(crate::hook::HookKind::Ping);
            let hook = ScriptHook {
                function,
                takes_context: false,
                span: span.clone(),
                call_context: Arc::clone(call_context),
            };
            hooks.insert((name.clone(), crate::hook::HookKind::Ping), hook);
        }
        for (kind, function) in declared.hooks {
            let takes_context = match declared_parameters(&ast, &function) {
                Some(0) => false,
                Some(1) => true,
                Some(_) => {
                    let hook_span = fields::locate_field(span, kind.name()).unwrap_or_else(|| span.clone());
                    return Err(Error::script(
                        ScriptErrorKind::BadHook { hook: kind, problem: BadHookProblem::TooManyParameters },
                        hook_span,
                    ));
                }
                None => {
                    let hook_span = fields::locate_field(span, kind.name()).unwrap_or_else(|| span.clone());
                    return Err(Error::script(
                        ScriptErrorKind::BadHook {
                            hook: kind,
                            problem: BadHookProblem::NotInScript {
                                function: (!function.is_anonymous()).then(|| function.fn_name().to_string()),
                            },
                        },
                        hook_span,
                    ));
                }
            };
            let span = fields::locate_field(span, kind.name()).unwrap_or_else(|| span.clone());
            hooks.insert(
                (name.clone(), kind),
                ScriptHook { function, takes_context, span, call_context: Arc::clone(call_context) },
            );
        }
        by_hostname.insert(name.to_ascii_lowercase(), name.clone());
        services.insert(name, declared.service);
    }
    if services.is_empty() {
        return Err(Error::script(ScriptErrorKind::NoServices, Span::file_only(&file)));
    }
    let warnings = std::mem::take(&mut registry.compose_warnings)
        .into_iter()
        .map(|warning| crate::event::Event::ComposeWarning {
            path: warning.span.file.path.clone(),
            line: warning.span.line,
            rendered: crate::output::compose_warning(&warning),
        })
        .collect();
    check_host_ports(&services)?;
    crate::graph::check(&services)?;

    let script_name =
        path.file_name().map_or_else(|| "services.rhai".into(), |name| name.to_string_lossy().into_owned());
    let group = match registry.group.take() {
        Some((group, _)) => group,
        None => default_group(&directory, &script_name),
    };
    let hooks = ScriptHooks { engine: Arc::new(engine), file, hooks, events, directory: directory.clone() };
    let context_file = directory.join(crate::context::file_name(&script_name));
    Ok(Project { group, directory, script_name, context_file, services, hooks: Arc::new(hooks), warnings })
}

/// Merges each `hooks(name, #{...})` call into the map of the service it names.
fn add_hooks(registry: &mut Registry) -> Result<(), Error> {
    for (name, added, span) in std::mem::take(&mut registry.added_hooks) {
        let names: Vec<String> = registry
            .services
            .iter()
            .filter_map(|(map, _, _)| map.get("name").and_then(|name| name.clone().into_string().ok()))
            .collect();
        let Some(index) = names.iter().position(|declared| *declared == name) else {
            let suggestion = crate::text::suggest(&name, names.iter().map(String::as_str)).map(String::from);
            return Err(Error::script(ScriptErrorKind::UnknownHookService { service: name, suggestion }, span));
        };
        for (key, value) in added {
            let known = crate::hook::HookKind::ALL.iter().any(|kind| kind.name() == key.as_str());
            let other = ["ping_interval", "wait_timeout", "hook_timeout"].contains(&key.as_str());
            if !known && !other {
                let choices: Vec<&str> = crate::hook::HookKind::ALL
                    .iter()
                    .map(|kind| kind.name())
                    .chain(["ping_interval", "wait_timeout", "hook_timeout"])
                    .collect();
                let suggestion = crate::text::suggest(&key, choices).map(String::from);
                return Err(Error::script(ScriptErrorKind::UnknownField { field: key.to_string(), suggestion }, span));
            }
            registry.services[index].0.insert(key, value);
        }
    }
    Ok(())
}

/// Two services (or two mappings of one) cannot publish the same fixed host port.
fn check_host_ports(services: &IndexMap<String, Service>) -> Result<(), Error> {
    let mut published: HashMap<(u16, crate::service::Protocol), &str> = HashMap::new();
    for service in services.values() {
        for port in service.ports.iter().filter(|port| port.host_port != 0) {
            if let Some(other) = published.get(&(port.host_port, port.protocol)) {
                let span = fields::locate_field(&service.span, "ports").unwrap_or_else(|| service.span.clone());
                let kind = ScriptErrorKind::PortTaken {
                    port: format!("{}/{}", port.host_port, port.protocol.as_str()),
                    service: service.name.clone(),
                    other: (*other).to_string(),
                };
                return Err(Error::script(kind, span));
            }
            published.insert((port.host_port, port.protocol), &service.name);
        }
    }
    Ok(())
}

/// The number of parameters a hook declares (captured variables excluded), if it is a script
/// function.
fn declared_parameters(ast: &rhai::AST, function: &rhai::FnPtr) -> Option<usize> {
    let total = ast.iter_functions().find(|metadata| metadata.name == function.fn_name())?.params.len();
    Some(total.saturating_sub(function.curry().len()))
}

/// The default group: the script directory's name, slugified (`My App` → `my-app`); for a
/// script other than `services.rhai`, followed by its name (`my-app-dev` for `dev.rhai`), so
/// two scripts in one directory never share a group, and so its containers and volumes, by
/// accident.
pub(super) fn default_group(directory: &Path, script_name: &str) -> String {
    let directory_name = directory.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = script_name.strip_suffix(".rhai").unwrap_or(script_name);
    let stem = if stem == "services" { String::new() } else { slug(stem, 20) };
    let budget = if stem.is_empty() { 40 } else { 39 - stem.len() };
    let base = slug(&directory_name, budget);
    let base = if base.is_empty() { "default".to_string() } else { base };
    if stem.is_empty() { base } else { format!("{base}-{stem}") }
}

/// `text` lowercased, with every run of other characters than ASCII letters and digits made one
/// `-`, none at either end, at most `max` characters.
fn slug(text: &str, max: usize) -> String {
    let mut slug = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(max).collect();
    slug.trim_end_matches('-').to_string()
}

/// Reads the compose file `path` (relative to the script's directory) with `overrides`.
fn compose_declarations(
    path: &Dynamic,
    overrides: &Dynamic,
    span: &Span,
) -> Result<(Vec<super::compose::ComposeDeclaration>, Vec<crate::compose::ComposeWarning>), Error> {
    let bad = |expected: &'static str, got: String| {
        Error::script(ScriptErrorKind::BadArgument { function: "compose", expected, got }, span.clone())
    };
    if !path.is_string() {
        return Err(bad("a compose file's path like `compose(\"docker-compose.yml\")`", describe(path)));
    }
    if !overrides.is_map() {
        return Err(bad("a map of overrides like `#{ random_ports: true }`", describe(overrides)));
    }
    let path = call_state::resolve(&path.clone().into_string().unwrap_or_default());
    let file = crate::compose::ComposeFile::load(&path, &crate::compose::Variables::from_process())?;
    let script_directory = call_state::resolve(".");
    let compose_directory = path.parent().map_or_else(|| script_directory.clone(), Path::to_path_buf);
    let overrides =
        super::compose::Overrides::from_map(&overrides.clone().cast::<Map>(), &compose_directory, &script_directory)
            .map_err(|(expected, got)| bad(expected, got))?;
    let declarations = super::compose::declarations(&file, &overrides)?;
    Ok((declarations, file.warnings))
}

fn register_declarations(engine: &mut rhai::Engine, registry: &Arc<Mutex<Registry>>, file: &Arc<SourceFile>) {
    let sealed_message = "`group` and `service` can only be called while the script is loaded, not from a hook";
    let (for_group, group_file) = (Arc::clone(registry), Arc::clone(file));
    engine.register_fn(
        "group",
        move |context: NativeCallContext, name: Dynamic| -> Result<(), Box<rhai::EvalAltResult>> {
            let mut registry = for_group.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if registry.sealed {
                return Err(sealed_message.into());
            }
            let span = position_span(&group_file, context.call_position());
            let failure = if !name.is_string() {
                Some(ScriptErrorKind::BadArgument {
                    function: "group",
                    expected: "a name like `group(\"shop\")`",
                    got: describe(&name),
                })
            } else if let Some((_, first)) = &registry.group {
                Some(ScriptErrorKind::GroupSetTwice { first: first.clone() })
            } else {
                let name = name.clone().into_string().unwrap_or_default();
                if is_valid_name(&name) {
                    registry.group = Some((name, span.clone()));
                    None
                } else {
                    Some(ScriptErrorKind::InvalidName { what: "group", name })
                }
            };
            match failure {
                None => Ok(()),
                Some(kind) => {
                    registry.failure.get_or_insert(Error::script(kind, span));
                    Err("invalid `group` call".into())
                }
            }
        },
    );
    for arity in [1, 2] {
        let (for_compose, compose_file) = (Arc::clone(registry), Arc::clone(file));
        let compose = move |context: NativeCallContext,
                            path: Dynamic,
                            overrides: Dynamic|
              -> Result<(), Box<rhai::EvalAltResult>> {
            let mut registry = for_compose.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if registry.sealed {
                return Err(sealed_message.into());
            }
            let span = position_span(&compose_file, context.call_position());
            #[allow(deprecated, reason = "rhai marks this internals API volatile, not deprecated")]
            let call_context = Arc::new(context.store_data());
            match compose_declarations(&path, &overrides, &span) {
                Ok((declarations, warnings)) => {
                    registry.compose_warnings.extend(warnings);
                    for declaration in declarations {
                        let name = declaration.map.get("name").and_then(|name| name.clone().into_string().ok());
                        if let Some(name) = name {
                            if declaration.wait_healthy {
                                registry.wait_healthy.push(name.clone());
                            }
                            registry.compose_spans.insert(name, declaration.span);
                        }
                        registry.services.push((declaration.map, span.clone(), Arc::clone(&call_context)));
                    }
                    Ok(())
                }
                Err(error) => {
                    registry.failure.get_or_insert(error);
                    Err("invalid `compose` call".into())
                }
            }
        };
        if arity == 1 {
            engine.register_fn("compose", move |context: NativeCallContext, path: Dynamic| {
                compose(context, path, Dynamic::from_map(Map::new()))
            });
        } else {
            engine.register_fn("compose", compose);
        }
    }
    let (for_hooks, hooks_file) = (Arc::clone(registry), Arc::clone(file));
    engine.register_fn(
        "hooks",
        move |context: NativeCallContext, name: Dynamic, map: Dynamic| -> Result<(), Box<rhai::EvalAltResult>> {
            let mut registry = for_hooks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if registry.sealed {
                return Err(sealed_message.into());
            }
            let span = position_span(&hooks_file, context.call_position());
            if !name.is_string() || !map.is_map() {
                let got = if name.is_string() { describe(&map) } else { describe(&name) };
                registry.failure.get_or_insert(Error::script(
                    ScriptErrorKind::BadArgument {
                        function: "hooks",
                        expected: "a service name and a map like `hooks(\"db\", #{ ping: || tcp_ready(5432) })`",
                        got,
                    },
                    span,
                ));
                return Err("invalid `hooks` call".into());
            }
            registry.added_hooks.push((name.into_string().unwrap_or_default(), map.cast::<Map>(), span));
            Ok(())
        },
    );
    let (for_service, service_file) = (Arc::clone(registry), Arc::clone(file));
    engine.register_fn(
        "service",
        move |context: NativeCallContext, map: Dynamic| -> Result<(), Box<rhai::EvalAltResult>> {
            let mut registry = for_service.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if registry.sealed {
                return Err(sealed_message.into());
            }
            let span = position_span(&service_file, context.call_position());
            if !map.is_map() {
                registry.failure.get_or_insert(Error::script(
                    ScriptErrorKind::BadArgument {
                        function: "service",
                        expected: "a map like `#{ name: \"web\", image: \"nginx\" }`",
                        got: describe(&map),
                    },
                    span,
                ));
                return Err("invalid `service` call".into());
            }
            // Keeping the caller's state lets hooks use the script's top-level `import`s.
            #[allow(deprecated, reason = "rhai marks this internals API volatile, not deprecated")]
            let call_context = Arc::new(context.store_data());
            registry.services.push((map.cast::<Map>(), span, call_context));
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests;
