//! The stop lifecycle: stop services in reverse dependency order (dependants first,
//! independent services in parallel), optionally removing containers, the network and the
//! context file. Only containers and networks carrying this group's labels are touched.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::backend::{Backend, BackendError, ContainerInfo, ContainerState};
use crate::context::Context;
use crate::error::{Action, Error, LostEngine, ServiceFailure};
use crate::event::{Event, EventSink, ServiceChange};
use crate::hook::{HookKind, HookRunner};
use crate::ownership;
use crate::project::Project;
use crate::service::Service;
use crate::service::ServiceKind;
use crate::start::HookCaller;
use crate::walk::{AfterFailure, Direction, Outcome, walk};

#[derive(Debug, Clone)]
pub(crate) struct StopOptions {
    /// Grace before SIGKILL.
    pub grace: Duration,
    pub remove: bool,
    /// With `remove`: also remove the volumes boss made for the images' `VOLUME`s.
    pub volumes: bool,
    /// Services to leave running (already checked against the exclusion rules).
    pub excluded: Vec<String>,
    /// Services whose containers are stopped but never removed, even with `remove` (the
    /// stopped containers `boss run` restarted).
    pub kept: Vec<String>,
    /// What `pre_stop` and `post_stop` need; `None` runs no hook.
    pub hooks: Option<StopHooks>,
}

/// What the stop hooks of a group need: the script's hooks, the group's context (the values
/// they read and set), the network they reach containers on, and the run's time limit that a
/// service's `hook_timeout` (or `wait_timeout`) replaces.
#[derive(Clone)]
pub(crate) struct StopHooks {
    pub hooks: Arc<dyn HookRunner>,
    pub context: Context,
    pub network: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for StopHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHooks")
            .field("network", &self.network)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
pub(crate) struct StopReport {
    /// Services that had a container (now stopped, or removed).
    pub stopped: Vec<String>,
    /// Services that had no container.
    pub absent: Vec<String>,
    pub failed: Vec<String>,
    /// Those of `failed` whose containers were stopped, and only a stop hook failed.
    pub hook_failed: Vec<String>,
    /// The call that found the engine gone or stalled, if one did: the run's real error.
    pub engine_lost: Option<LostEngine>,
}

/// Stops the selected services of a group, dependants before their dependencies, from one
/// list of the group's containers.
pub(crate) async fn stop_services<B: Backend + 'static>(
    backend: Arc<B>,
    group: &str,
    services: &IndexMap<String, Service>,
    options: &StopOptions,
    events: &EventSink,
) -> Result<StopReport, Error> {
    let containers = crate::observe::group_containers(&*backend, group).await?;
    Ok(stop_listed(backend, group, containers, services, options, events).await)
}

/// Stops the selected services, dependants before their dependencies, each with its
/// containers among `containers` (the group's, listed once).
async fn stop_listed<B: Backend + 'static>(
    backend: Arc<B>,
    group: &str,
    containers: Vec<ContainerInfo>,
    services: &IndexMap<String, Service>,
    options: &StopOptions,
    events: &EventSink,
) -> StopReport {
    let by_service = crate::observe::by_service(containers);
    let graph: IndexMap<String, Vec<String>> = services
        .values()
        .filter(|service| !options.excluded.contains(&service.name))
        .map(|service| (service.name.clone(), service.dependencies.clone()))
        .collect();
    // Only a lost engine ends a stop early (Ctrl-C ends the process): each service left would
    // wait out the request timeout in turn, dependencies after their dependants.
    let engine_lost = CancellationToken::new();
    // A lost engine also ends the hooks that are running.
    let caller = options.hooks.as_ref().map(|hooks| HookCaller {
        hooks: Arc::clone(&hooks.hooks),
        context: hooks.context.clone(),
        access: Arc::new(Access::new(Arc::clone(&backend), tokio::runtime::Handle::current(), group, &hooks.network)),
        events: events.clone(),
        timeout: hooks.timeout,
        cancel: engine_lost.clone(),
    });
    let task = |name: &str| {
        let containers = by_service.get(name).cloned().unwrap_or_default();
        let (backend, events, service, options, engine_lost, caller) = (
            Arc::clone(&backend),
            events.clone(),
            services[name].clone(),
            options.clone(),
            engine_lost.clone(),
            caller.clone(),
        );
        async move {
            let result = stop_service(&*backend, &service, containers, &options, &events, caller.as_ref()).await;
            if result.as_ref().is_err_and(|failure| failure.lost_engine().is_some()) {
                engine_lost.cancel();
            }
            result
        }
    };
    // The summary lists services in the order they were stopped.
    let mut order = Vec::new();
    let settled = |name: &str, outcome: &Outcome<bool, ServiceFailure>| {
        if let Outcome::Panicked { reason } = outcome {
            let failure = ServiceFailure::TaskCrashed { reason: reason.clone() };
            events.service(name, ServiceChange::StopFailed { failure });
        }
        order.push(name.to_string());
    };
    let mut outcomes = walk(&graph, Direction::DependantsFirst, AfterFailure::GoOn, &engine_lost, task, settled).await;
    let engine_lost = LostEngine::first(&backend.address(), outcomes.values().filter_map(Outcome::failure));
    let mut report = StopReport { engine_lost, ..StopReport::default() };
    for name in order {
        match outcomes.swap_remove(&name) {
            Some(Outcome::Done(true)) => report.stopped.push(name),
            Some(Outcome::Done(false)) => report.absent.push(name),
            Some(Outcome::Failed(ServiceFailure::Hook { hook: HookKind::PreStop | HookKind::PostStop, .. })) => {
                report.hook_failed.push(name.clone());
                report.failed.push(name);
            }
            _ => report.failed.push(name),
        }
    }
    report
}

/// Stops one service: its `pre_stop` when it has a running (or paused) container, its
/// containers, then its `post_stop`. A failing `pre_stop` is reported and the container is
/// stopped all the same (a stop that a script could veto would leave a group half up); the
/// service then counts as failed. An external service has no container: its stop hooks run
/// when `start` ran its start hooks since the last `stop`.
async fn stop_service<B: Backend>(
    backend: &B,
    service: &Service,
    containers: Vec<ContainerInfo>,
    options: &StopOptions,
    events: &EventSink,
    caller: Option<&HookCaller>,
) -> Result<bool, ServiceFailure> {
    let name = service.name.as_str();
    let mut failure = None;
    let mut report = |result: Result<(), ServiceFailure>| {
        if let Err(error) = result {
            events.service(name, ServiceChange::StopFailed { failure: error.clone() });
            failure.get_or_insert(error);
        }
    };
    let hooks_run = match caller {
        None => false,
        Some(caller) if service.kind == ServiceKind::External => {
            caller.context.start_record(name).is_some_and(|record| record.container == crate::plan::EXTERNAL_RECORD)
        }
        Some(_) => {
            (service.hooks.pre_stop || service.hooks.post_stop)
                && containers
                    .iter()
                    .any(|container| matches!(container.state, ContainerState::Running | ContainerState::Paused))
        }
    };
    if let (Some(caller), true) = (caller, hooks_run) {
        report(caller.call(service, HookKind::PreStop).await);
    }
    if service.kind == ServiceKind::External {
        events.service(name, ServiceChange::External);
    } else if containers.is_empty() {
        events.service(name, ServiceChange::NoContainer);
    }
    let found = !containers.is_empty();
    for container in containers {
        if let Err(error) = stop_container(backend, name, &container, options, events).await {
            // A container that cannot be stopped may still run: `post_stop` is not for it.
            events.service(name, ServiceChange::StopFailed { failure: error.clone() });
            return Err(error);
        }
    }
    if let (Some(caller), true) = (caller, hooks_run) {
        report(caller.call(service, HookKind::PostStop).await);
        if service.kind == ServiceKind::External {
            // The next `start` runs its `pre_start` and `post_start` again.
            caller.context.forget_start(name);
        }
        if let Err(error) = caller.context.persist() {
            events.emit(Event::ContextNotSaved { path: error.path, reason: error.reason });
        }
    }
    match failure {
        Some(failure) => Err(failure),
        None => Ok(found),
    }
}

/// Stops one container (unless it is stopped already) and, with `remove`, removes it.
async fn stop_container<B: Backend>(
    backend: &B,
    name: &str,
    container: &crate::backend::ContainerInfo,
    options: &StopOptions,
    events: &EventSink,
) -> Result<(), ServiceFailure> {
    if container.state != ContainerState::Stopped {
        events.service(name, ServiceChange::Stopping { container: container.name.clone() });
        backend.stop_container(&container.id, options.grace).await.map_err(|error| ServiceFailure::Backend {
            action: Action::StopContainer { container: container.name.clone() },
            error,
        })?;
        events.service(name, ServiceChange::Stopped { container: container.name.clone() });
        crate::crash::point(crate::crash::Point::ContainerStopped);
    }
    let remove = options.remove && !options.kept.iter().any(|kept| kept == name);
    if remove {
        backend.remove_container(&container.id).await.map_err(|error| ServiceFailure::Backend {
            action: Action::RemoveContainer { container: container.name.clone() },
            error,
        })?;
        events.service(name, ServiceChange::Removed { container: container.name.clone() });
    }
    if remove && options.volumes {
        // Its volumes are boss's own (also swept by label later) or anonymous ones carried
        // over from a container of an older boss, which carry no label to find them by. The
        // group's named volumes may be shared with services not removed yet: the sweep by
        // label removes them once every container is gone.
        let group = container.labels.get(crate::backend::label::GROUP).map_or("", String::as_str);
        for mount in container.volumes.iter().filter(|mount| !ownership::is_named_volume(group, &mount.volume)) {
            backend.remove_volume(&mount.volume).await.map_err(|error| ServiceFailure::Backend {
                action: Action::RemoveVolume { volume: mount.volume.clone() },
                error,
            })?;
            events.emit(Event::VolumeRemoved { name: mount.volume.clone() });
        }
    }
    Ok(())
}

/// The group's containers whose service the script does not declare (renamed or removed).
pub(crate) async fn orphans<B: Backend>(
    backend: &B,
    group: &str,
    services: &IndexMap<String, Service>,
) -> Result<Vec<crate::backend::ContainerInfo>, Error> {
    let containers = crate::observe::group_containers(backend, group).await?;
    Ok(containers.into_iter().filter(|container| is_orphan(container, services)).collect())
}

/// A container of the group whose service the script does not declare.
pub(crate) fn is_orphan(container: &crate::backend::ContainerInfo, services: &IndexMap<String, Service>) -> bool {
    container.labels.get(crate::backend::label::SERVICE).is_none_or(|service| !services.contains_key(service))
}

/// Removes every network labelled for this group (whatever its name).
pub(crate) async fn remove_networks<B: Backend>(backend: &B, group: &str, events: &EventSink) -> Result<(), Error> {
    let networks = backend
        .networks_labelled(&ownership::group_labels(group))
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupNetworks { group: group.to_string() }, error })?;
    for network in networks {
        backend.remove_network(&network.id).await.map_err(|error: BackendError| Error::Backend {
            action: Action::RemoveNetwork { name: network.name.clone() },
            error,
        })?;
        events.emit(Event::NetworkRemoved { name: network.name });
    }
    Ok(())
}

/// Removes the group's volumes, except those of `excluded` services (which keep running on
/// them, named volumes included); volumes of services the script no longer declares go too.
async fn remove_volumes<B: Backend>(
    backend: &B,
    project: &Project,
    excluded: &[String],
    events: &EventSink,
) -> Result<(), Error> {
    let group = &project.group;
    let kept_named: Vec<&str> = project
        .services
        .values()
        .filter(|service| excluded.contains(&service.name))
        .flat_map(|service| service.volumes.iter().filter_map(crate::service::Volume::named))
        .collect();
    let volumes = backend
        .volumes_labelled(&ownership::group_labels(group))
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupVolumes { group: group.to_string() }, error })?;
    for volume in volumes {
        if volume.labels.get(crate::backend::label::SERVICE).is_some_and(|service| excluded.contains(service))
            || volume.labels.get(crate::backend::label::VOLUME).is_some_and(|name| kept_named.contains(&name.as_str()))
        {
            continue;
        }
        backend
            .remove_volume(&volume.name)
            .await
            .map_err(|error| Error::Backend { action: Action::RemoveVolume { volume: volume.name.clone() }, error })?;
        events.emit(Event::VolumeRemoved { name: volume.name });
    }
    Ok(())
}

/// `boss stop`: stop (and with `remove`, clean up) the project's services.
pub(crate) async fn stop<B: Backend + 'static>(
    backend: Arc<B>,
    project: &Project,
    options: &StopOptions,
    events: &EventSink,
) -> Result<StopReport, Error> {
    // Containers of services the script no longer declares go first: nothing can depend on them
    // any more, and leaving them would keep the network busy.
    let (orphans, containers): (Vec<ContainerInfo>, Vec<ContainerInfo>) =
        crate::observe::group_containers(&*backend, &project.group)
            .await?
            .into_iter()
            .partition(|container| is_orphan(container, &project.services));
    let mut orphans_failed = Vec::new();
    for orphan in orphans {
        let service = orphan.labels.get(crate::backend::label::SERVICE).cloned().unwrap_or_default();
        events.service(&service, ServiceChange::Orphan { container: orphan.name.clone() });
        if let Err(failure) = stop_container(&*backend, &service, &orphan, options, events).await {
            events.service(&service, ServiceChange::StopFailed { failure });
            orphans_failed.push(service);
        }
    }
    let mut report =
        stop_listed(Arc::clone(&backend), &project.group, containers, &project.services, options, events).await;
    report.failed.extend(orphans_failed);
    if options.remove && options.volumes && report.failed.is_empty() {
        remove_volumes(&*backend, project, &options.excluded, events).await?;
    }
    if options.remove && options.excluded.is_empty() && report.failed.is_empty() {
        remove_networks(&*backend, &project.group, events).await?;
        let path = project.context_path();
        match std::fs::remove_file(&path) {
            Ok(()) => events.emit(Event::ContextRemoved),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(Error::ContextDelete { path, error: error.to_string() }),
        }
        // The files of secrets go with the containers that read them.
        crate::secret::remove(&project.directory, &project.group).map_err(|error| Error::ContextDelete {
            path: crate::secret::group_directory(&project.directory, &project.group),
            error: error.to_string(),
        })?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::{HookError, HookErrorKind, HookValue};
    use crate::start::{StartOptions, start};
    use crate::testing::{FakeBackend, FakeHooks, project, recording_sink};

    /// A hook that records `<service> <hook>` among the fake engine's calls, so its order
    /// against the stops shows; `fail` makes it throw after recording.
    fn recording(
        backend: &FakeBackend,
        call: &'static str,
        fail: bool,
    ) -> impl Fn(&Context) -> Result<HookValue, HookError> + Send + Sync + 'static {
        let backend = backend.clone();
        move |_| {
            backend.state.lock().unwrap().calls.push(call.to_string());
            if fail {
                return Err(HookError { message: "dump failed".into(), span: None, kind: HookErrorKind::Failed });
            }
            Ok(HookValue::Bool(true))
        }
    }

    fn options(hooks: &Project, context: &Context) -> StopOptions {
        StopOptions {
            grace: Duration::ZERO,
            remove: false,
            volumes: false,
            excluded: Vec::new(),
            kept: Vec::new(),
            hooks: Some(StopHooks {
                hooks: Arc::clone(&hooks.hooks),
                context: context.clone(),
                network: "boss-g".into(),
                timeout: Duration::from_secs(5),
            }),
        }
    }

    async fn started(project: &Project, backend: &Arc<FakeBackend>, context: &Context) {
        let options = StartOptions {
            timeout: Duration::from_secs(5),
            network: "boss-g".into(),
            excluded: Vec::new(),
            stop_grace: Duration::ZERO,
            fresh: Vec::new(),
            cancel: CancellationToken::new(),
            save_logs: None,
            pulls: Vec::new(),
        };
        let (events, _) = recording_sink();
        let report = start(Arc::clone(backend), project, context.clone(), options, events).await.unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        backend.state.lock().unwrap().calls.clear();
    }

    #[tokio::test]
    async fn a_failing_pre_stop_still_stops_the_service_and_its_dependencies() {
        let backend = Arc::new(FakeBackend::default());
        let hooks = FakeHooks::default()
            .with("web", HookKind::PreStop, recording(&backend, "web pre_stop", true))
            .with("web", HookKind::PostStop, recording(&backend, "web post_stop", false))
            .with("db", HookKind::PreStop, recording(&backend, "db pre_stop", false))
            .with("db", HookKind::PostStop, recording(&backend, "db post_stop", false));
        let project = project("web -> db, db", hooks);
        let context = Context::default();
        started(&project, &backend, &context).await;

        let (events, _) = recording_sink();
        let report = stop(Arc::clone(&backend), &project, &options(&project, &context), &events).await.unwrap();
        assert_eq!(report.failed, ["web"]);
        assert_eq!(report.hook_failed, ["web"], "its container did stop");
        assert_eq!(report.stopped, ["db"]);
        assert_eq!(
            backend.calls(),
            ["web pre_stop", "stop web", "web post_stop", "db pre_stop", "stop db", "db post_stop"],
            "dependants first, each stop between its hooks, a failing pre_stop stops nothing from stopping"
        );

        // Nothing runs any more, so no hook runs.
        backend.state.lock().unwrap().calls.clear();
        let report = stop(Arc::clone(&backend), &project, &options(&project, &context), &events).await.unwrap();
        assert!(report.failed.is_empty());
        assert_eq!(backend.calls(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_external_service_is_not_stopped_but_its_stop_hooks_run_once_after_a_start() {
        let backend = Arc::new(FakeBackend::default());
        let hooks = FakeHooks::default()
            .with("ext", HookKind::PreStop, recording(&backend, "ext pre_stop", false))
            .with("ext", HookKind::PostStop, recording(&backend, "ext post_stop", false));
        let mut project = project("ext, web -> ext", hooks);
        project.services["ext"].kind = ServiceKind::External;
        project.services["ext"].image = String::new();
        let context = Context::default();
        started(&project, &backend, &context).await;

        let (events, _) = recording_sink();
        stop(Arc::clone(&backend), &project, &options(&project, &context), &events).await.unwrap();
        assert_eq!(backend.calls(), ["stop web", "ext pre_stop", "ext post_stop"]);
        assert_eq!(context.start_record("ext"), None, "the next start runs its start hooks again");

        backend.state.lock().unwrap().calls.clear();
        stop(Arc::clone(&backend), &project, &options(&project, &context), &events).await.unwrap();
        assert_eq!(backend.calls(), Vec::<String>::new(), "a second stop runs no hook");
    }
}
