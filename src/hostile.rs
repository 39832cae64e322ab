//! Hostile input at scale (issue 10, item 7): scripts with ten thousand services, dependency
//! chains of five thousand and maps of a million entries go through loading, the graph checks
//! and the planner, and end with a result or a typed error: never a panic, a stack overflow or
//! a hang.
//!
//! Test-only. Nothing here needs Docker: the planner runs on an in-memory snapshot.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::event::EventSink;
use crate::plan::{ObservedService, Plan, Target};
use crate::project::Project;

mod property;

/// A guard against hangs, not a timing bound: a debug build on a loaded two-core machine
/// finishes every case here in a fraction of it.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// The stack test threads get by default. Running on it proves that nothing in the pipeline
/// recurses as deep as the input (the CLI evaluates on a far larger stack, a library caller
/// may not).
const TEST_STACK: usize = 2 << 20;

/// Runs `work` on a thread with a default-sized stack and returns its result; panics when it
/// panics, or when it is still running after [`HANG_GUARD`].
fn bounded<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(TEST_STACK)
        .spawn(move || {
            let _ = sender.send(work());
        })
        .expect("spawn the worker thread");
    match receiver.recv_timeout(HANG_GUARD) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what}: the worker ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {HANG_GUARD:?}"),
    }
}

/// Loads `text` as `services.rhai` in the current directory. Never contacts Docker.
fn load(text: String) -> Result<Project, Error> {
    crate::script::load_text(Path::new("services.rhai"), text, EventSink::new(|_| {}))
}

/// Plans `project` against an engine that holds nothing of it, with `values` as the context.
fn plan(project: &Project, values: &Map<String, Value>) -> Plan {
    let target = Target { group: project.group.clone(), project_dir: "/p".into(), network: "boss-g".into() };
    let observed: IndexMap<String, ObservedService> = IndexMap::new();
    crate::plan::plan_snapshot(&project.services, &observed, Vec::new(), values, &target, &[])
}

/// Everything after loading that works on the whole graph: the plan, and the slowest chain the
/// start summary names.
fn plan_and_walk_graph(project: &Project, values: &Map<String, Value>) -> Plan {
    let plan = plan(project, values);
    let times: HashMap<String, Duration> =
        project.services.keys().map(|name| (name.clone(), Duration::from_millis(1))).collect();
    let chain = crate::graph::critical_path(&project.services, &times);
    assert!(!chain.is_empty(), "a graph with services has a slowest chain");
    plan
}

/// Loads and plans `text`; the plan, or the rendered error.
fn load_and_plan(what: &'static str, text: String) -> Result<Plan, String> {
    bounded(what, move || match load(text) {
        Ok(project) => Ok(plan_and_walk_graph(&project, &Map::new())),
        Err(error) => Err(error.render()),
    })
}

/// `n` services declared one per line, in `order`, each depending on the one before it (or on
/// nothing, for `Chain::None`).
fn literal_services(n: usize, dependencies: Chain, order: Order) -> String {
    let mut text = String::from("group(\"scale\");\n");
    let indices: Vec<usize> = match order {
        Order::DependenciesFirst => (0..n).collect(),
        Order::DependantsFirst => (0..n).rev().collect(),
    };
    for index in indices {
        let depends = match dependencies {
            Chain::Linked if index > 0 => format!("[\"s{}\"]", index - 1),
            Chain::Cycle if index == 0 => format!("[\"s{}\"]", n - 1),
            Chain::Cycle => format!("[\"s{}\"]", index - 1),
            _ => "[]".to_string(),
        };
        text.push_str(&format!(
            "service(#{{ name: \"s{index}\", image: \"busybox:1.36\", dependencies: {depends}, env: #{{ N: \"{index}\" }} }});\n"
        ));
    }
    text
}

#[derive(Clone, Copy)]
enum Chain {
    None,
    Linked,
    Cycle,
}

#[derive(Clone, Copy)]
enum Order {
    DependenciesFirst,
    DependantsFirst,
}

/// The plan lists the services in declaration order; it plans them dependencies first, so
/// each service of a chain is planned knowing that its dependency's `post_start` runs first.
fn assert_chain_planned(plan: &Plan, n: usize) {
    assert_eq!(plan.services.len(), n);
    for service in plan.services.iter().filter(|service| service.name != "s0") {
        for key in &service.keys {
            assert!(key.provided, "`{}` of `{}` is not provided: {key:?}", key.key, service.name);
        }
    }
}

#[test]
fn ten_thousand_services_declared_in_a_loop_load_and_plan() {
    // A binary tree of dependencies: service i depends on service (i - 1) / 2.
    let text = r#"group("scale");
for i in 0..10000 {
    let dependencies = if i == 0 { [] } else { [`s${(i - 1) / 2}`] };
    service(#{ name: `s${i}`, image: "busybox:1.36", dependencies: dependencies,
        env: #{ PARENT: `{s${(i - 1) / 2}_port_80}` }, ports: #{ "80": 0 } });
}
"#;
    let plan = load_and_plan("10 000 services in a loop", text.to_string()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(plan.services.len(), 10_000);
    // The root's port key has no source: nothing it depends on publishes port 80.
    let unprovided: Vec<String> = plan.missing_keys().into_iter().map(|missing| missing.service).collect();
    assert_eq!(unprovided, ["s0"]);
}

#[test]
fn ten_thousand_services_written_out_load_and_plan() {
    let text = literal_services(10_000, Chain::None, Order::DependenciesFirst);
    let plan = load_and_plan("10 000 literal services", text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(plan.services.len(), 10_000);
}

#[test]
fn a_chain_of_five_thousand_loads_and_plans_in_dependency_order() {
    for order in [Order::DependenciesFirst, Order::DependantsFirst] {
        let text = literal_services(5_000, Chain::Linked, order);
        let plan = load_and_plan("a chain of 5 000", text).unwrap_or_else(|error| panic!("{error}"));
        assert_chain_planned(&plan, 5_000);
    }
}

#[test]
fn a_chain_of_five_thousand_built_in_a_loop_loads_and_plans() {
    // Every service but the first uses a `{key}`, so each one's plan looks through all its
    // transitive dependencies for a `post_start` that may set it.
    let text = r#"group("scale");
for i in 0..5000 {
    let dependencies = if i == 0 { [] } else { [`s${i - 1}`] };
    let declared = #{ name: `s${i}`, image: "busybox:1.36", dependencies: dependencies };
    if i > 0 { declared.env = #{ TOKEN: "{token}" }; }
    if i % 1000 == 0 { declared.post_start = |ctx| { ctx.token = "t"; }; }
    service(declared);
}
"#;
    let plan = load_and_plan("a chain of 5 000 in a loop", text.to_string()).unwrap_or_else(|error| panic!("{error}"));
    assert_chain_planned(&plan, 5_000);
}

#[test]
fn a_cycle_through_five_thousand_services_is_an_error_naming_it() {
    let text = literal_services(5_000, Chain::Cycle, Order::DependenciesFirst);
    let error = load_and_plan("a cycle of 5 000", text).expect_err("a cycle is refused");
    assert!(error.starts_with("error: circular dependency: `s0` -> `s4999` -> `s4998`"), "{}", &error[..200]);
}

/// A script whose one service gets an env map of `n` entries, built in a loop.
fn env_map_of(n: usize) -> String {
    format!(
        r#"group("scale");
let env = #{{}};
for i in 0..{n} {{ env[`K${{i}}`] = "v"; }}
service(#{{ name: "a", image: "busybox:1.36", env: env }});
"#
    )
}

#[test]
fn a_map_of_a_million_entries_ends_with_a_result_or_an_error() {
    // Rhai's map limit is a million entries. Whether a million inserts finish within the top
    // level's time limit depends on the build and the machine, so either outcome is fine, as
    // long as there is one.
    match load_and_plan("a million env entries", env_map_of(1_000_000)) {
        Ok(plan) => assert_eq!(plan.services.len(), 1),
        Err(error) => assert!(error.starts_with("error: script failed: the script did not finish within"), "{error}"),
    }
}

#[test]
fn a_map_over_the_limit_is_a_script_error() {
    let error = load_and_plan("a million and one env entries", env_map_of(1_000_001)).expect_err("over the limit");
    assert!(error.starts_with("error: script failed: "), "{error}");
}

#[test]
fn an_array_doubled_past_a_million_items_is_a_script_error_at_once() {
    // Twenty-one doublings reach two million items in native code, far within the time limit.
    let text = r#"group("scale");
let items = [0];
for i in 0..21 { items += items; }
service(#{ name: "a", image: "busybox:1.36", cmd: items.map(|item| `${item}`) });
"#;
    let error = load_and_plan("an array of two million", text.to_string()).expect_err("over the limit");
    assert_eq!(error.lines().next(), Some("error: script failed: Size of array/BLOB too large"), "{error}");
}

#[test]
fn a_context_of_a_million_entries_plans() {
    let values: Map<String, Value> = (0..1_000_000).map(|index| (format!("k{index}"), Value::from(index))).collect();
    let planned = bounded("a context of a million entries", move || {
        let project = load(literal_services(3, Chain::Linked, Order::DependenciesFirst)).expect("loads");
        plan_and_walk_graph(&project, &values).services.len()
    });
    assert_eq!(planned, 3);
}
