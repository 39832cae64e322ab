//! The one dependency walker that `start` (dependencies first) and `stop` (dependants first)
//! share: it runs a task per service as soon as the services it waits for are settled,
//! independent ones in parallel, and ends when no task is running, so no shape of graph can
//! make it hang. It knows nothing of containers or events; callers pass the task and hear of
//! every outcome as it is settled.

use std::collections::HashMap;
use std::future::Future;

use indexmap::{IndexMap, IndexSet};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Which services a service waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// A service waits for its dependencies (`start`).
    DependenciesFirst,
    /// A service waits for the services that depend on it (`stop`).
    DependantsFirst,
}

/// What happens to the services that wait for one that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// They, and everything that waits for them, are skipped at once (`start`: a dependant
    /// cannot run without its dependency).
    Skip,
    /// They go on (`stop`: a dependency is stopped even when a dependant could not be).
    GoOn,
}

/// How one service's walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome<T, E> {
    Done(T),
    Failed(E),
    /// The task panicked; `reason` is the runtime's account of it.
    Panicked {
        reason: String,
    },
    /// Not run because `failed`, which it waits for (directly or not), failed.
    Skipped {
        failed: String,
    },
    /// Not run because the walk was cancelled first.
    NotStarted,
}

impl<T, E> Outcome<T, E> {
    /// The task's own error, when it failed.
    pub(crate) fn failure(&self) -> Option<&E> {
        match self {
            Outcome::Failed(error) => Some(error),
            _ => None,
        }
    }

    fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::Panicked { .. })
    }
}

/// Runs `task` for every service of `graph` (name to dependencies; dependencies outside the
/// graph are not waited for) in `direction`. Once `cancel` is cancelled no new task starts;
/// running ones are left to end on their own. `settled` hears of every outcome as soon as it
/// is known (skips at the moment their cause fails). Returns the outcomes in `graph`'s order.
pub(crate) async fn walk<T, E, Fut>(
    graph: &IndexMap<String, Vec<String>>,
    direction: Direction,
    after_failure: AfterFailure,
    cancel: &CancellationToken,
    mut task: impl FnMut(&str) -> Fut,
    mut settled: impl FnMut(&str, &Outcome<T, E>),
) -> IndexMap<String, Outcome<T, E>>
where
    T: Send + 'static,
    E: Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let waits_for = waits_for(graph, direction);
    let mut outcomes: HashMap<String, Outcome<T, E>> = HashMap::new();
    let mut launched: IndexSet<String> = IndexSet::new();
    let mut tasks = JoinSet::new();
    let mut task_names = HashMap::new();
    loop {
        if !cancel.is_cancelled() {
            for name in graph.keys() {
                if launched.contains(name) || outcomes.contains_key(name) {
                    continue;
                }
                let ready = waits_for[name].iter().all(|other| match outcomes.get(other) {
                    None => false,
                    Some(Outcome::Done(_)) => true,
                    Some(_) => after_failure == AfterFailure::GoOn,
                });
                if ready {
                    launched.insert(name.clone());
                    let handle = tasks.spawn(task(name));
                    task_names.insert(handle.id(), name.clone());
                }
            }
        }
        let Some(joined) = tasks.join_next_with_id().await else { break };
        let (name, outcome) = match joined {
            Ok((id, Ok(value))) => (task_names.remove(&id), Outcome::Done(value)),
            Ok((id, Err(error))) => (task_names.remove(&id), Outcome::Failed(error)),
            Err(error) => (task_names.remove(&error.id()), Outcome::Panicked { reason: error.to_string() }),
        };
        let Some(name) = name else { continue };
        settled(&name, &outcome);
        let failed = outcome.failed();
        outcomes.insert(name.clone(), outcome);
        if failed && after_failure == AfterFailure::Skip {
            for successor in successors(&waits_for, graph, &name) {
                if !launched.contains(&successor) && !outcomes.contains_key(&successor) {
                    let outcome = Outcome::Skipped { failed: name.clone() };
                    settled(&successor, &outcome);
                    outcomes.insert(successor, outcome);
                }
            }
        }
    }
    // Only a cancel leaves services unsettled: validation rules out cycles, and every other
    // service is launched once what it waits for is settled.
    graph
        .keys()
        .map(|name| {
            let outcome = outcomes.remove(name).unwrap_or_else(|| {
                let outcome = Outcome::NotStarted;
                settled(name, &outcome);
                outcome
            });
            (name.clone(), outcome)
        })
        .collect()
}

/// For each service, the services of the graph it waits for.
fn waits_for(graph: &IndexMap<String, Vec<String>>, direction: Direction) -> HashMap<String, Vec<String>> {
    let mut waits: HashMap<String, Vec<String>> = graph.keys().map(|name| (name.clone(), Vec::new())).collect();
    for (name, dependencies) in graph {
        for dependency in dependencies.iter().filter(|dependency| graph.contains_key(*dependency)) {
            match direction {
                Direction::DependenciesFirst => waits.entry(name.clone()).or_default().push(dependency.clone()),
                Direction::DependantsFirst => waits.entry(dependency.clone()).or_default().push(name.clone()),
            }
        }
    }
    waits
}

/// Every service that waits for `name`, directly or not, in the graph's order.
fn successors(
    waits_for: &HashMap<String, Vec<String>>,
    graph: &IndexMap<String, Vec<String>>,
    name: &str,
) -> Vec<String> {
    let mut found: IndexSet<&str> = IndexSet::new();
    let mut frontier = vec![name];
    while let Some(current) = frontier.pop() {
        for (other, waits) in waits_for {
            if waits.iter().any(|waited| waited == current) && found.insert(other.as_str()) {
                frontier.push(other.as_str());
            }
        }
    }
    graph.keys().filter(|candidate| found.contains(candidate.as_str())).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A graph from a compact description: `"web -> api db, api -> db, db"`.
    fn graph(description: &str) -> IndexMap<String, Vec<String>> {
        crate::graph::tests::services(description)
            .into_iter()
            .map(|(name, service)| (name, service.dependencies))
            .collect()
    }

    type Log = Arc<Mutex<Vec<String>>>;

    /// A task that logs its start and end, fails for the names in `failing`, and panics for
    /// `panicking`.
    fn scripted(log: &Log, failing: &'static [&'static str], panicking: &'static str) -> impl FnMut(&str) -> BoxTask {
        let log = Arc::clone(log);
        move |name: &str| {
            let (log, name) = (Arc::clone(&log), name.to_string());
            Box::pin(async move {
                log.lock().unwrap().push(format!("start {name}"));
                tokio::task::yield_now().await;
                assert_ne!(name, panicking, "scripted panic");
                log.lock().unwrap().push(format!("end {name}"));
                if failing.contains(&name.as_str()) { Err(format!("{name} failed")) } else { Ok(name) }
            })
        }
    }

    type BoxTask = std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

    async fn run(
        description: &str,
        direction: Direction,
        after_failure: AfterFailure,
        task: impl FnMut(&str) -> BoxTask,
    ) -> (IndexMap<String, Outcome<String, String>>, Vec<String>) {
        let (graph, cancel) = (graph(description), CancellationToken::new());
        let mut settled = Vec::new();
        let walk = walk(&graph, direction, after_failure, &cancel, task, |name, outcome| {
            settled.push(format!("{name}: {outcome:?}"));
        });
        let outcomes = tokio::time::timeout(Duration::from_secs(10), walk).await.expect("the walk hung");
        (outcomes, settled)
    }

    fn position(log: &[String], entry: &str) -> usize {
        log.iter().position(|line| line == entry).unwrap_or_else(|| panic!("no `{entry}` in {log:?}"))
    }

    #[tokio::test]
    async fn independent_services_overlap_and_dependants_wait() {
        // `a` and `b` each wait at a barrier that only both together pass: the walk finishes
        // only if they run at the same time.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let log: Log = Arc::default();
        let task = {
            let log = Arc::clone(&log);
            move |name: &str| -> BoxTask {
                let (log, barrier, name) = (Arc::clone(&log), Arc::clone(&barrier), name.to_string());
                Box::pin(async move {
                    log.lock().unwrap().push(format!("start {name}"));
                    if name != "c" {
                        barrier.wait().await;
                    }
                    log.lock().unwrap().push(format!("end {name}"));
                    Ok(name)
                })
            }
        };
        let (outcomes, _) = run("c -> a b, a, b", Direction::DependenciesFirst, AfterFailure::Skip, task).await;
        assert!(outcomes.values().all(|outcome| matches!(outcome, Outcome::Done(_))), "{outcomes:?}");
        let log = log.lock().unwrap();
        assert!(position(&log, "start b") < position(&log, "end a"), "{log:?}");
        assert!(position(&log, "end a").max(position(&log, "end b")) < position(&log, "start c"), "{log:?}");
        assert_eq!(outcomes.keys().collect::<Vec<_>>(), ["c", "a", "b"], "outcomes in the graph's order");
    }

    #[tokio::test]
    async fn dependants_first_reverses_the_order() {
        let log: Log = Arc::default();
        run("db, api -> db, web -> api", Direction::DependantsFirst, AfterFailure::GoOn, scripted(&log, &[], "")).await;
        let log = log.lock().unwrap();
        assert!(position(&log, "end web") < position(&log, "start api"), "{log:?}");
        assert!(position(&log, "end api") < position(&log, "start db"), "{log:?}");
    }

    // The diamond that made miniboss hang: `a` fails, `b` depends on `a`, `d` on both.
    #[tokio::test]
    async fn a_failure_skips_every_successor_once() {
        let log: Log = Arc::default();
        let (outcomes, settled) = run(
            "a, b -> a, d -> a b, e -> d, x",
            Direction::DependenciesFirst,
            AfterFailure::Skip,
            scripted(&log, &["a"], ""),
        )
        .await;
        assert_eq!(outcomes["a"], Outcome::Failed("a failed".into()));
        for skipped in ["b", "d", "e"] {
            assert_eq!(outcomes[skipped], Outcome::Skipped { failed: "a".into() });
            assert_eq!(settled.iter().filter(|line| line.starts_with(&format!("{skipped}: "))).count(), 1);
        }
        assert_eq!(outcomes["x"], Outcome::Done("x".into()));
        assert!(!log.lock().unwrap().iter().any(|line| line == "start b"));
    }

    #[tokio::test]
    async fn stopping_goes_on_past_a_failure() {
        let log: Log = Arc::default();
        let (outcomes, _) = run(
            "db, api -> db, web -> api",
            Direction::DependantsFirst,
            AfterFailure::GoOn,
            scripted(&log, &["web"], ""),
        )
        .await;
        assert_eq!(outcomes["web"], Outcome::Failed("web failed".into()));
        assert_eq!((&outcomes["api"], &outcomes["db"]), (&Outcome::Done("api".into()), &Outcome::Done("db".into())));
    }

    #[tokio::test]
    async fn a_panic_is_a_failure_and_never_hangs() {
        let log: Log = Arc::default();
        let (outcomes, _) =
            run("a, b -> a", Direction::DependenciesFirst, AfterFailure::Skip, scripted(&log, &[], "a")).await;
        assert!(matches!(&outcomes["a"], Outcome::Panicked { reason } if reason.contains("panicked")), "{outcomes:?}");
        assert_eq!(outcomes["b"], Outcome::Skipped { failed: "a".into() });
    }

    #[tokio::test]
    async fn after_a_cancel_nothing_new_starts() {
        let cancel = CancellationToken::new();
        let log: Log = Arc::default();
        let task = {
            let (log, cancel) = (Arc::clone(&log), cancel.clone());
            move |name: &str| -> BoxTask {
                let (log, cancel, name) = (Arc::clone(&log), cancel.clone(), name.to_string());
                Box::pin(async move {
                    log.lock().unwrap().push(format!("start {name}"));
                    // Ctrl-C while the first service runs.
                    cancel.cancel();
                    Ok(name)
                })
            }
        };
        let graph = graph("a, b -> a");
        let mut not_started = Vec::new();
        let walk = walk(&graph, Direction::DependenciesFirst, AfterFailure::Skip, &cancel, task, |name, outcome| {
            if *outcome == Outcome::NotStarted {
                not_started.push(name.to_string());
            }
        });
        let outcomes = tokio::time::timeout(Duration::from_secs(10), walk).await.expect("the walk hung");
        assert_eq!(outcomes["a"], Outcome::Done("a".into()));
        assert_eq!(outcomes["b"], Outcome::NotStarted);
        assert_eq!(not_started, ["b"]);
        assert_eq!(*log.lock().unwrap(), ["start a"]);
    }

    #[tokio::test]
    async fn dependencies_outside_the_graph_are_not_waited_for() {
        // `api` is not selected (excluded, or not part of a reload): `web` does not wait for it.
        let log: Log = Arc::default();
        let (outcomes, _) =
            run("web -> api", Direction::DependenciesFirst, AfterFailure::Skip, scripted(&log, &[], "")).await;
        assert_eq!(outcomes["web"], Outcome::Done("web".into()));
    }
}
