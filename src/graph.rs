//! The dependency graph of a group: checking it (unknown names, cycles), the exclusion rules of
//! `start` and `stop`, and transitive dependants. Pure; no I/O.

use std::collections::{HashMap, HashSet};

use indexmap::{IndexMap, IndexSet};

use crate::error::{Error, ScriptErrorKind, UsageError};
use crate::service::Service;
use crate::text::suggest;

/// Checks that every dependency names a declared service and that there is no cycle.
pub(crate) fn check(services: &IndexMap<String, Service>) -> Result<(), Error> {
    for service in services.values() {
        for dependency in &service.dependencies {
            if !services.contains_key(dependency) {
                let suggestion = suggest(dependency, services.keys().map(String::as_str)).map(String::from);
                return Err(Error::script(
                    ScriptErrorKind::UnknownDependency {
                        service: service.name.clone(),
                        dependency: dependency.clone(),
                        suggestion,
                    },
                    service.dependencies_span.clone(),
                ));
            }
        }
    }
    if let Some(path) = find_cycle(services) {
        let span = services[&path[0]].dependencies_span.clone();
        return Err(Error::script(ScriptErrorKind::Cycle { path }, span));
    }
    Ok(())
}

/// A dependency cycle as a path that starts and ends with the same service, if there is one.
/// A depth-first search with its own stack, not recursion, so that a chain of thousands of
/// services cannot overflow the thread's stack.
fn find_cycle(services: &IndexMap<String, Service>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = services.keys().map(|name| (name.as_str(), Mark::New)).collect();
    for root in services.keys() {
        if marks[root.as_str()] != Mark::New {
            continue;
        }
        // The path from `root`, each service with the index of its next dependency to visit.
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        marks.insert(root, Mark::OnStack);
        while let Some(&(name, next)) = stack.last() {
            let Some(dependency) = services[name].dependencies.get(next) else {
                marks.insert(name, Mark::Done);
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            // An unknown dependency has no dependencies of its own; `check` reports it first.
            match marks.get(dependency.as_str()).copied().unwrap_or(Mark::Done) {
                Mark::OnStack => {
                    let start = stack.iter().position(|(entry, _)| entry == dependency).unwrap_or(0);
                    let mut path: Vec<String> = stack[start..].iter().map(|(entry, _)| (*entry).to_string()).collect();
                    path.push(dependency.clone());
                    return Some(path);
                }
                Mark::New => {
                    marks.insert(dependency, Mark::OnStack);
                    stack.push((dependency, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}

/// Every service after all of its dependencies: a depth-first post-order taken in declaration
/// order, with its own stack rather than recursion, so that a chain of thousands of services
/// cannot overflow the thread's stack. Dependencies that are not services are left out; in a
/// cycle (which [`check`] refuses) the edge that closes it is ignored.
pub(crate) fn dependencies_first(services: &IndexMap<String, Service>) -> Vec<&str> {
    let mut order = Vec::with_capacity(services.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(services.len());
    for root in services.keys() {
        if !seen.insert(root) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(root.as_str(), 0)];
        while let Some(&(name, next)) = stack.last() {
            match services[name].dependencies.get(next) {
                Some(dependency) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if services.contains_key(dependency) && seen.insert(dependency) {
                        stack.push((dependency, 0));
                    }
                }
                None => {
                    order.push(name);
                    stack.pop();
                }
            }
        }
    }
    order
}

/// Every service that depends on `name`, directly or not, in declaration order.
pub(crate) fn transitive_dependants(services: &IndexMap<String, Service>, name: &str) -> IndexSet<String> {
    let mut found: IndexSet<String> = IndexSet::new();
    let mut frontier = vec![name.to_string()];
    while let Some(current) = frontier.pop() {
        for service in services.values() {
            if service.dependencies.contains(&current) && found.insert(service.name.clone()) {
                frontier.push(service.name.clone());
            }
        }
    }
    services.keys().filter(|candidate| found.contains(*candidate)).cloned().collect()
}

/// Checks that every excluded name is a service.
fn check_known(services: &IndexMap<String, Service>, excluded: &[String]) -> Result<(), Error> {
    let unknown: Vec<String> = excluded.iter().filter(|name| !services.contains_key(*name)).cloned().collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(UsageError::UnknownExclusion { unknown, known: services.keys().cloned().collect() }))
}

/// `start --exclude`: a service that is started needs all its dependencies started too.
pub(crate) fn check_start_exclusions(services: &IndexMap<String, Service>, excluded: &[String]) -> Result<(), Error> {
    check_known(services, excluded)?;
    for service in services.values().filter(|service| !excluded.contains(&service.name)) {
        if let Some(dependency) = service.dependencies.iter().find(|dependency| excluded.contains(dependency)) {
            return Err(Error::Usage(UsageError::ExcludedDependency {
                dependency: dependency.clone(),
                dependant: service.name.clone(),
            }));
        }
    }
    Ok(())
}

/// `stop --exclude`: a service that keeps running needs all its dependencies running too.
pub(crate) fn check_stop_exclusions(services: &IndexMap<String, Service>, excluded: &[String]) -> Result<(), Error> {
    check_known(services, excluded)?;
    for name in excluded {
        let service = &services[name.as_str()];
        if let Some(dependency) = service.dependencies.iter().find(|dependency| !excluded.contains(dependency)) {
            return Err(Error::Usage(UsageError::ExcludedDependant {
                service: name.clone(),
                dependency: dependency.clone(),
            }));
        }
    }
    Ok(())
}

/// The chain of dependencies whose summed start times is longest (the one that decided how long
/// the start took), dependencies first, each with its time. `times` holds the services this
/// run started; the others (already running, excluded, failed) count as no time and are left
/// out of the chain. Ties go to the service declared first. The graph must be acyclic
/// ([`check`]).
pub(crate) fn critical_path(
    services: &IndexMap<String, Service>,
    times: &std::collections::HashMap<String, std::time::Duration>,
) -> Vec<(String, std::time::Duration)> {
    use std::time::Duration;
    // For each service: the longest total of a chain ending with it, and the dependency that
    // chain comes through. Filled in dependencies first, so each service's dependencies are
    // known when it is reached, without recursion.
    let mut memo: HashMap<&str, (Duration, Option<&str>)> = HashMap::with_capacity(services.len());
    for name in dependencies_first(services) {
        let mut best: (Duration, Option<&str>) = (Duration::ZERO, None);
        for dependency in &services[name].dependencies {
            let total = memo.get(dependency.as_str()).map_or(Duration::ZERO, |(total, _)| *total);
            if best.1.is_none() || total > best.0 {
                best = (total, Some(dependency.as_str()));
            }
        }
        let total = best.0 + times.get(name).copied().unwrap_or_default();
        memo.insert(name, (total, best.1));
    }
    let mut end: Option<(&str, Duration)> = None;
    for name in services.keys() {
        let total = memo.get(name.as_str()).map_or(Duration::ZERO, |(total, _)| *total);
        if end.is_none_or(|(_, best)| total > best) {
            end = Some((name, total));
        }
    }
    let mut chain = Vec::new();
    let mut next = end.map(|(name, _)| name);
    while let Some(name) = next {
        if let Some(time) = times.get(name) {
            chain.push((name.to_string(), *time));
        }
        next = memo.get(name).and_then(|(_, via)| *via);
    }
    chain.reverse();
    chain
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::service::Hooks;
    use crate::source::{SourceFile, Span};
    use std::path::PathBuf;
    use std::sync::Arc;

    /// Services from a compact description: `"web -> api db, api -> db, db"`.
    pub(crate) fn services(description: &str) -> IndexMap<String, Service> {
        let file = Arc::new(SourceFile::new(PathBuf::from("services.rhai"), String::new()));
        description
            .split(',')
            .map(|entry| {
                let (name, dependencies) = entry.split_once("->").unwrap_or((entry, ""));
                let name = name.trim().to_string();
                let service = Service {
                    name: name.clone(),
                    kind: crate::service::ServiceKind::Container,
                    image: "img".into(),
                    dependencies: dependencies.split_whitespace().map(String::from).collect(),
                    env: Vec::new(),
                    ports: Vec::new(),
                    volumes: Vec::new(),
                    always_start_new: false,
                    stop_signal: crate::service::StopSignal::Term,
                    build_from: None,
                    dockerfile: "Dockerfile".into(),
                    entrypoint: None,
                    cmd: None,
                    user: None,
                    working_dir: None,
                    extra_hosts: Vec::new(),
                    labels: Vec::new(),
                    tmpfs: Vec::new(),
                    restart: crate::service::RestartPolicy::No,
                    resources: crate::service::Resources::default(),
                    init: false,
                    healthcheck: None,
                    build: crate::service::BuildOptions::default(),
                    secrets: Vec::new(),
                    profiles: Vec::new(),
                    hooks: Hooks::default(),
                    ping_interval: crate::service::DEFAULT_PING_INTERVAL,
                    limits: crate::service::Limits::default(),
                    span: Span::file_only(&file),
                    dependencies_span: Span::file_only(&file),
                };
                (name, service)
            })
            .collect()
    }

    fn message(result: Result<(), Error>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(Error::Script(error)) => error.kind.message(),
            Err(error) => error.render().trim_end().to_string(),
        }
    }

    #[test]
    fn unknown_dependency_names_both_services() {
        assert_eq!(message(check(&services("web -> apdb, appdb"))), "service `web` depends on unknown service `apdb`");
    }

    #[test]
    fn cycles_show_their_path() {
        assert_eq!(
            message(check(&services("a -> b, b -> c, c -> a"))),
            "circular dependency: `a` -> `b` -> `c` -> `a`"
        );
        assert_eq!(message(check(&services("a -> a"))), "circular dependency: `a` -> `a`");
        assert_eq!(message(check(&services("x, a -> b, b -> x a"))), "circular dependency: `a` -> `b` -> `a`");
        assert_eq!(message(check(&services("a -> b c, b -> c, c"))), "ok");
    }

    #[test]
    fn dependants_are_transitive_and_ordered() {
        let graph = services("db, api -> db, web -> api, worker -> db, other");
        let dependants: Vec<String> = transitive_dependants(&graph, "db").into_iter().collect();
        assert_eq!(dependants, ["api", "web", "worker"]);
        assert!(transitive_dependants(&graph, "web").is_empty());
    }

    #[test]
    fn start_exclusions() {
        let graph = services("db, api -> db, web -> api");
        let excluded = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(message(check_start_exclusions(&graph, &excluded(&["web"]))), "ok");
        assert_eq!(message(check_start_exclusions(&graph, &excluded(&["db", "api", "web"]))), "ok");
        assert_eq!(
            message(check_start_exclusions(&graph, &excluded(&["db"]))),
            "error: cannot exclude `db`: `api` depends on it and would be started\nhint: exclude `api` too"
        );
        assert_eq!(
            message(check_start_exclusions(&graph, &excluded(&["dbb"]))),
            "error: cannot exclude unknown service `dbb`\nhint: did you mean `db`?"
        );
    }

    #[test]
    fn stop_exclusions() {
        let graph = services("db, api -> db, web -> api");
        let excluded = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(message(check_stop_exclusions(&graph, &excluded(&["db"]))), "ok");
        assert_eq!(message(check_stop_exclusions(&graph, &excluded(&["db", "api"]))), "ok");
        assert_eq!(
            message(check_stop_exclusions(&graph, &excluded(&["api"]))),
            "error: cannot exclude `api`: it depends on `db`, which would be stopped\nhint: exclude `db` too"
        );
    }

    #[test]
    fn the_critical_path_is_the_chain_with_the_longest_summed_time() {
        use std::collections::HashMap;
        use std::time::Duration;
        let graph = services("a, b -> a, c, d -> c, e -> b d, f -> e, g -> a");
        let ms = Duration::from_millis;
        let times: HashMap<String, Duration> = [
            ("a", ms(900)),
            ("b", ms(800)),
            ("c", ms(1000)),
            ("d", ms(500)),
            ("e", ms(100)),
            ("f", ms(1100)),
            ("g", ms(1600)),
        ]
        .into_iter()
        .map(|(name, time)| (name.to_string(), time))
        .collect();
        // a b e f = 2.9 s beats c d e f = 2.7 s and a g = 2.5 s.
        let names = |chain: Vec<(String, Duration)>| chain.into_iter().map(|(name, _)| name).collect::<Vec<_>>();
        assert_eq!(names(critical_path(&graph, &times)), ["a", "b", "e", "f"]);
        assert_eq!(critical_path(&graph, &times)[3], ("f".to_string(), ms(1100)));
        // Services this run did not start are left out of the chain, which still runs through them.
        let mut partly = times.clone();
        partly.remove("b");
        partly.remove("e");
        assert_eq!(names(critical_path(&graph, &partly)), ["c", "d", "f"]);
        assert!(critical_path(&graph, &HashMap::new()).is_empty());
    }
}
