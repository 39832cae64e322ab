//! Integration tests for `boss`: one module per feature area, all compiled into the single
//! `integration` test binary and sharing the harness in `common`. Tests that need Docker
//! run against the real daemon and fail, never skip, when it is unreachable.

mod architecture;
mod build;
mod build_context;
mod changes;
mod common;
mod completions;
mod compose;
mod concurrency;
mod container;
mod context;
mod crash;
mod data_safety;
mod engine;
mod env;
mod errors;
mod examples;
mod exclude;
mod exec;
mod failures;
mod fields;
mod gc;
mod interrupt;
mod isolation;
mod library;
mod lifecycle;
mod limits;
mod load;
mod logs;
mod ownership;
mod plan;
mod progress;
mod pull;
mod readiness;
mod registry;
mod reload;
mod reuse;
mod run;
mod safety;
mod smoke;
mod start;
mod status;
mod stop;
mod timings;
