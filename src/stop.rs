//! The stop lifecycle: stop services in reverse dependency order (dependants first,
//! independent services in parallel), optionally removing containers, the network and the
//! context file. Only containers and networks carrying this group's labels are touched.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, ContainerInfo, ContainerState};
use crate::error::{Action, Error, LostEngine, ServiceFailure};
use crate::event::{Event, EventSink, ServiceChange};
use crate::ownership;
use crate::project::Project;
use crate::service::Service;
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
}

#[derive(Debug, Default)]
pub(crate) struct StopReport {
    /// Services that had a container (now stopped, or removed).
    pub stopped: Vec<String>,
    /// Services that had no container.
    pub absent: Vec<String>,
    pub failed: Vec<String>,
    /// The call that found the engine gone or stalled, if one did: the run's real error.
    pub engine_lost: Option<LostEngine>,
}

/// Stops the selected services of a group, dependants before their dependencies, from one
/// list of the group's containers.
pub(crate) async fn stop_services<B: Backend>(
    backend: Arc<B>,
    group: &str,
    services: &IndexMap<String, Service>,
    options: &StopOptions,
    events: &EventSink,
) -> Result<StopReport, Error> {
    let containers = crate::observe::group_containers(&*backend, group).await?;
    Ok(stop_listed(backend, containers, services, options, events).await)
}

/// Stops the selected services, dependants before their dependencies, each with its
/// containers among `containers` (the group's, listed once).
async fn stop_listed<B: Backend>(
    backend: Arc<B>,
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
    let task = |name: &str| {
        let containers = by_service.get(name).cloned().unwrap_or_default();
        let (backend, events, name, options, engine_lost) =
            (Arc::clone(&backend), events.clone(), name.to_string(), options.clone(), engine_lost.clone());
        async move {
            let result = stop_service(&*backend, &name, containers, &options, &events).await;
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
            _ => report.failed.push(name),
        }
    }
    report
}

async fn stop_service<B: Backend>(
    backend: &B,
    name: &str,
    containers: Vec<ContainerInfo>,
    options: &StopOptions,
    events: &EventSink,
) -> Result<bool, ServiceFailure> {
    let result = async {
        if containers.is_empty() {
            events.service(name, ServiceChange::NoContainer);
        }
        let found = !containers.is_empty();
        for container in containers {
            stop_container(backend, name, &container, options, events).await?;
        }
        Ok::<bool, ServiceFailure>(found)
    }
    .await;
    if let Err(failure) = &result {
        events.service(name, ServiceChange::StopFailed { failure: failure.clone() });
    }
    result
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
        // over from a container of an older boss, which carry no label to find them by.
        for mount in &container.volumes {
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
/// them); volumes of services the script no longer declares go too.
async fn remove_volumes<B: Backend>(
    backend: &B,
    group: &str,
    excluded: &[String],
    events: &EventSink,
) -> Result<(), Error> {
    let volumes = backend
        .volumes_labelled(&ownership::group_labels(group))
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupVolumes { group: group.to_string() }, error })?;
    for volume in volumes {
        if volume.labels.get(crate::backend::label::SERVICE).is_some_and(|service| excluded.contains(service)) {
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
pub(crate) async fn stop<B: Backend>(
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
    let mut report = stop_listed(Arc::clone(&backend), containers, &project.services, options, events).await;
    report.failed.extend(orphans_failed);
    if options.remove && options.volumes && report.failed.is_empty() {
        remove_volumes(&*backend, &project.group, &options.excluded, events).await?;
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
