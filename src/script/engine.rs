//! The Rhai engine boss evaluates scripts with: limits that turn runaway scripts into errors,
//! the progress hook that enforces deadlines, the `Context` type, and the helpers.

use std::path::Path;

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection, StaticModuleResolver};
use rhai::{Dynamic, Engine, EvalAltResult, Module, Scope};

use super::call_state;
use super::convert;
use super::helpers;
use crate::context::Context;
use crate::text::and_ticked;

/// The built-in library (`scripts/boss.rhai`), available as `boss::...` in every script.
const LIBRARY: &str = include_str!("../../scripts/boss.rhai");

/// The built-in library as a module, compiled with `engine` (so it can call the helpers).
fn library(engine: &Engine) -> Module {
    let mut ast = engine.compile(LIBRARY).expect("the built-in library compiles (a unit test checks it)");
    ast.set_source(super::hooks::LIBRARY_SOURCE);
    Module::eval_ast_as_new(Scope::new(), &ast, engine).expect("the built-in library evaluates (a unit test checks it)")
}

/// An engine for the script at `directory`: `import "x"` loads `directory/x.rhai`, and
/// `boss::...` is the built-in library (also importable as `import "boss"`).
pub(super) fn engine_for(directory: &Path) -> Engine {
    let mut engine = new_engine();
    let library = library(&engine);
    let mut builtin = StaticModuleResolver::new();
    builtin.insert("boss", library.clone());
    let mut resolvers = ModuleResolversCollection::new();
    resolvers.push(builtin);
    resolvers.push(FileModuleResolver::new_with_path(directory));
    engine.set_module_resolver(resolvers);
    // A static module resolves through the engine at any time, so hooks called long after
    // evaluation can still use `boss::...`.
    engine.register_static_module("boss", library.into());
    engine
}

pub(super) fn new_engine() -> Engine {
    let mut engine = Engine::new();
    // Debug builds of Rhai default to lower limits than release builds; fix them so a script
    // behaves the same under `cargo test` and in the installed binary.
    engine
        .set_max_call_levels(64)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(8 << 20)
        .set_max_array_size(1_000_000)
        .set_max_map_size(1_000_000)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true);
    engine.disable_symbol("eval");
    engine.on_progress(|operations| {
        // Checking the clock on every operation would slow tight loops down for nothing.
        if operations % 256 != 0 {
            return None;
        }
        call_state::interruption().map(|interruption| Dynamic::from(interruption.marker()))
    });
    engine.on_print(call_state::log);
    engine.on_debug(|text, _, position| tracing::debug!(target: "script", "{position}: {text}"));
    register_context(&mut engine);
    helpers::register(&mut engine);
    super::readiness::register(&mut engine);
    engine
}

fn register_context(engine: &mut Engine) {
    engine
        .register_type_with_name::<Context>("Context")
        .register_indexer_get(|context: &mut Context, key: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            match context.get(key) {
                Some(value) => Ok(convert::to_dynamic(&value)),
                None => {
                    let keys = context.keys();
                    let existing = if keys.is_empty() {
                        "the context is empty".to_string()
                    } else {
                        format!("existing keys: {}", and_ticked(&keys))
                    };
                    Err(format!("the context has no key `{key}` ({existing}); use `\"{key}\" in ctx` to test for it")
                        .into())
                }
            }
        })
        .register_indexer_set(|context: &mut Context, key: &str, value: Dynamic| store(context, key, &value))
        // `ctx.secret("token", value)`: stores the value and marks it secret, so `boss env` and
        // boss's output mask it.
        .register_fn("secret", |context: &mut Context, key: &str, value: Dynamic| -> Result<(), Box<EvalAltResult>> {
            store(context, key, &value)?;
            context.mark_secret(key);
            Ok(())
        })
        .register_fn("contains", |context: &mut Context, key: &str| context.contains(key))
        .register_fn("get", |context: &mut Context, key: &str| {
            context.get(key).map_or(Dynamic::UNIT, |value| convert::to_dynamic(&value))
        })
        .register_fn("remove", |context: &mut Context, key: &str| {
            context.remove(key).map_or(Dynamic::UNIT, |value| convert::to_dynamic(&value))
        })
        .register_fn("keys", |context: &mut Context| {
            context.keys().into_iter().map(Dynamic::from).collect::<rhai::Array>()
        })
        .register_fn("to_string", |context: &mut Context| {
            serde_json::Value::Object(context.masked_snapshot(&Default::default())).to_string()
        })
        .register_fn("to_debug", |context: &mut Context| {
            serde_json::Value::Object(context.masked_snapshot(&Default::default())).to_string()
        });
}

/// `ctx.key = value`: only data can be stored.
fn store(context: &Context, key: &str, value: &Dynamic) -> Result<(), Box<EvalAltResult>> {
    let json = convert::to_json(value).map_err(|why| match why {
        convert::Unstorable::NotData(what) => format!("cannot store {what} in the context as `{key}`: only (), booleans, numbers, strings, arrays and maps can be saved"),
        convert::Unstorable::TooDeep => format!("cannot store `{key}` in the context: arrays and maps in it nest deeper than {} levels, which the context file could not be read back from", convert::MAX_DEPTH),
    })?;
    context.set(key, json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_compiles_and_is_reachable() {
        let engine = engine_for(Path::new("."));
        let text: String = engine.eval("boss::wait_until(|| true, 1, 10).to_string()").unwrap();
        assert_eq!(text, "true");
    }
}
