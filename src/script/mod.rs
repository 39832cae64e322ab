//! The script layer: evaluates a services script with Rhai and calls its hooks. The only part
//! of boss that names Rhai types; everything it hands out is in boss's own terms
//! ([`crate::project::Project`], [`crate::service::Service`], [`crate::hook::HookRunner`]).
//! Evaluating a script never contacts Docker.

mod call_state;
mod compose;
mod convert;
mod engine;
mod evaluate;
mod fields;
mod helpers;
mod hooks;
mod readiness;

pub(crate) use evaluate::load;
pub(crate) use evaluate::load_text;
pub(crate) use fields::FIELDS;
pub(crate) use fields::is_valid_name;
