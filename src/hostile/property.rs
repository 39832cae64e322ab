//! The property test: generated service scripts (names that clash and differ only in case,
//! unknown and circular dependencies, bad images, ports and volumes, `{key}`s, hooks of every
//! arity, unknown fields), some with a character deleted or inserted or cut off, go through
//! loading, the graph checks and the planner. Whatever the input, the result is a plan or a
//! typed script error that renders: never a panic.
//!
//! The budget is [`DEFAULT_CASES`] scripts, a few seconds of a debug build on one core; set
//! `PROPTEST_CASES` for a longer session.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

use super::{load, plan_and_walk_graph};
use crate::error::Error;

/// Scripts per run unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 200;

/// The names services mostly get, by position, and ones that clash or are invalid.
const NAMES: [&str; 8] = ["db", "api", "web", "cache", "queue", "Web", "bad name", "-x"];

/// Characters that change how Rhai reads a script.
const SYNTAX: [char; 14] = ['"', '`', '{', '}', '(', ')', '[', ']', '#', ';', ',', ':', '\\', '|'];

/// Keys a `{key}` may name, some of them in the context.
const KEYS: [&str; 4] = ["token", "db_port_80", "api_port_53_udp", "missing"];

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(DEFAULT_CASES);
    // No regression files: a failure prints its minimal script, which belongs in a named test.
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Mostly one of `valid`, sometimes one of `invalid`, so that most generated scripts load and
/// reach the planner while every kind of mistake still comes up.
fn mostly(valid: &[&'static str], invalid: &[&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![40 => select(valid.to_vec()), 1 => select(invalid.to_vec())]
}

/// The `index`th `service(#{...});` call, and the service's name. It is mostly named
/// `NAMES[index]` and depends on services declared before it, so most scripts are valid.
fn service(index: usize) -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        60 => Just(NAMES[index].to_string()),
        1 => select(&NAMES[..]).prop_map(str::to_string),
        1 => "[a-z_-]{0,70}",
    ];
    let earlier = prop_oneof![40 => select(&NAMES[..index.max(1)]), 1 => select(vec!["ghost", "", "web", "cache"])];
    let dependencies = prop::collection::vec(earlier, 0..if index == 0 { 1 } else { 3 });
    let image = mostly(&["busybox:1.36", "localhost:5000/x", "img@sha256:12"], &["", "UPPER:case", "a:b:c"]);
    let env = prop::collection::vec((mostly(&["A", "B"], &["", "X=Y", "LINE\n"]), env_value()), 0..3);
    let ports = prop::collection::vec(
        (
            mostly(&["\"80\"", "\"53/udp\"", "\"81\""], &["\"0\"", "\"x\"", "\"70000\"", "80"]),
            mostly(&["0", "8080", "\"0.0.0.0:9\""], &["-1", "\"\""]),
        ),
        0..3,
    );
    let volumes = prop::collection::vec(
        mostly(
            &["\"./data:/data\"", "\"/a:/b:ro\"", "\"named:/n\""],
            &["\"bad\"", "\":/\"", "\"./x:/y/../z\"", "\"a b:/c\""],
        ),
        0..2,
    );
    let hooks = prop::collection::vec(
        (
            select(vec!["pre_start", "ping", "post_start"]),
            mostly(&["|| {}", "|| true", "|ctx| { ctx.token = \"t\"; }"], &["|a, b| 1", "42", "\"text\""]),
        ),
        0..3,
    );
    let extra = prop_oneof![
        8 => Just(None),
        1 => select(vec![
            "prots: 1",
            "always_start_new: \"yes\"",
            "ping_interval: 0",
            "stop_signal: \"SIGFOO\"",
            "cmd: [1]",
            "entrypoint: \"sh -c 'unterminated\"",
            "always_start_new: true",
            "stop_signal: \"SIGKILL\"",
            "cmd: [\"echo\", \"{token}\"]",
            "working_dir: \"/w/{token}\"",
            "labels: #{ \"boss.x\": \"1\" }",
            "labels: [\"team={token}\"]",
            "extra_hosts: #{ h: \"{nowhere}\" }",
            "tmpfs: [\"/t:size=1m\", \"rel\"]",
            "restart: \"on-failure:x\"",
            "mem_limit: \"64m\"",
            "cpus: 2000",
            "init: true",
            "healthcheck: #{ test: [] }",
            "healthcheck: #{ test: \"true\", interval: \"1s\" }",
            "build_target: \"x\"",
        ]).prop_map(Some),
    ];
    (name, image, dependencies, env, ports, volumes, hooks, extra).prop_map(
        |(name, image, dependencies, env, ports, volumes, hooks, extra)| {
            let mut fields = vec![format!("name: {name:?}"), format!("image: {image:?}")];
            fields.push(format!("dependencies: {dependencies:?}"));
            // A duplicated key is a syntax error; keep those rare by keeping the first of each.
            let env: Vec<String> = first_of_each(env).map(|(key, value)| format!("{key:?}: {value:?}")).collect();
            fields.push(format!("env: #{{ {} }}", env.join(", ")));
            let ports: Vec<String> =
                first_of_each(ports).map(|(container, host)| format!("{container}: {host}")).collect();
            fields.push(format!("ports: #{{ {} }}", ports.join(", ")));
            fields.push(format!("volumes: [{}]", volumes.join(", ")));
            fields.extend(first_of_each(hooks).map(|(hook, body)| format!("{hook}: {body}")));
            fields.extend(extra.map(str::to_string));
            (name, format!("service(#{{ {} }});", fields.join(", ")))
        },
    )
}

/// The pairs whose key was not seen before.
fn first_of_each<V>(pairs: Vec<(&'static str, V)>) -> impl Iterator<Item = (&'static str, V)> {
    let mut seen = std::collections::HashSet::new();
    pairs.into_iter().filter(move |(key, _)| seen.insert(*key))
}

/// An env value: text with `{key}`s, literal braces and broken ones.
fn env_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z ]{0,4}",
        select(&KEYS[..]).prop_map(|key| format!("{{{key}}}")),
        mostly(&["{{", "}}"], &["{", "}", "{}", "{a b}"]).prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat())
}

/// How a generated script is damaged, if at all.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    Delete(usize),
    Insert(usize, char),
    CutAt(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => Just(Mutation::None),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => (any::<usize>(), select(&SYNTAX[..])).prop_map(|(at, c)| Mutation::Insert(at, c)),
        1 => any::<usize>().prop_map(Mutation::CutAt),
    ]
}

fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |index: &usize| index % (chars.len() + 1);
    match mutation {
        Mutation::None => {}
        Mutation::Delete(index) => {
            let index = at(index);
            if index < chars.len() {
                chars.remove(index);
            }
        }
        Mutation::Insert(index, c) => chars.insert(at(index), *c),
        Mutation::CutAt(index) => chars.truncate(at(index)),
    }
    chars.into_iter().collect()
}

/// A whole script: maybe a group, then the services, then maybe damaged.
fn script() -> impl Strategy<Value = String> {
    let group = prop::option::of(mostly(&["\"shop\""], &["\"Bad Group\"", "42", "\"\""]));
    let services = (1..=5usize).prop_flat_map(|n_services| (0..n_services).map(service).collect::<Vec<_>>());
    (group, services, mutation()).prop_map(|(group, services, mutation)| {
        let mut text = group.map(|group| format!("group({group});\n")).unwrap_or_default();
        // Exact duplicates are rare; `Web` and `web` still clash.
        let mut seen = std::collections::HashSet::new();
        for (_, service) in services.into_iter().filter(|(name, _)| seen.insert(name.clone())) {
            text.push_str(&service);
            text.push('\n');
        }
        mutate(&text, &mutation)
    })
}

/// Context values for some of the keys.
fn values() -> impl Strategy<Value = Map<String, Value>> {
    prop::sample::subsequence(KEYS.to_vec(), 0..=KEYS.len())
        .prop_map(|keys| keys.into_iter().map(|key| (key.to_string(), Value::from("v"))).collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_script_loads_and_plans_or_is_a_script_error_that_renders(text in script(), values in values()) {
        match load(text) {
            Ok(project) => {
                let plan = plan_and_walk_graph(&project, &values);
                prop_assert_eq!(plan.services.len(), project.services.len());
                prop_assert!(serde_json::to_string(&plan).is_ok());
            }
            Err(error) => {
                prop_assert!(matches!(error, Error::Script(_)), "not a script error: {error:?}");
                let rendered = error.render();
                prop_assert!(rendered.starts_with("error: ") && rendered.len() > "error: ".len(), "{rendered}");
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}
