//! `reload SERVICE`: build the service's image, stop it and its transitive dependants
//! (dependants first), then start the whole group with a fresh container for the service.
//! Dependencies are untouched and the network is never removed.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::context::Context;
use crate::error::Error;
use crate::event::{EventSink, ServiceChange};
use crate::project::Project;
use crate::service::Service;
use crate::start::{StartOptions, StartReport, start};
use crate::stop::{StopHooks, StopOptions, stop_services};

#[derive(Debug, Clone)]
pub(crate) struct ReloadOptions {
    pub service: String,
    /// Remove the stopped containers, so dependants are recreated too.
    pub remove: bool,
    /// How long each readiness check and hook may take.
    pub timeout: Duration,
    pub stop_grace: Duration,
    pub network: String,
    pub cancel: CancellationToken,
    /// Services the start after the rebuild leaves out: those of inactive profiles, except
    /// the reloaded service and its dependants, which it stops and so starts again.
    pub excluded: Vec<String>,
}

/// Reloads `options.service` (which has `build_from`; the caller checked). The context is the
/// one loaded before the reload; the caller saves it after.
pub(crate) async fn reload<B: Backend>(
    backend: Arc<B>,
    project: &Project,
    context: Context,
    options: ReloadOptions,
    events: EventSink,
) -> Result<StartReport, Error> {
    let service = &project.services[&options.service];
    // Build first: a broken build leaves the running version alone.
    let project_dir = project.directory.display().to_string();
    // Ctrl-C during the build drops it (the engine then stops building) and stops nothing.
    let built = crate::image::build_unless_cancelled(
        &*backend,
        &project.group,
        &project_dir,
        service,
        &events,
        &options.cancel,
    )
    .await;
    match built {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Error::Interrupted),
        Err(failure) => {
            events.service(&service.name, ServiceChange::Failed { failure });
            return Err(Error::ServicesFailed { verb: "reload", failed: vec![service.name.clone()] });
        }
    }

    // Interrupted while building: nothing has been stopped yet, so leave everything running.
    if options.cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }

    let dependants = crate::graph::transitive_dependants(&project.services, &service.name);
    let to_stop: IndexMap<String, Service> = project
        .services
        .iter()
        .filter(|(name, _)| **name == service.name || dependants.contains(*name))
        .map(|(name, service)| (name.clone(), service.clone()))
        .collect();
    let stop_options = StopOptions {
        grace: options.stop_grace,
        remove: options.remove,
        volumes: false,
        excluded: Vec::new(),
        kept: Vec::new(),
        hooks: Some(StopHooks {
            hooks: Arc::clone(&project.hooks),
            context: context.clone(),
            network: options.network.clone(),
            timeout: options.timeout,
        }),
    };
    let stopped = stop_services(Arc::clone(&backend), &project.group, &to_stop, &stop_options, &events).await?;
    if let Some(lost) = stopped.engine_lost {
        return Err(lost.into_error("reload"));
    }
    // A failing stop hook was reported; its container stopped all the same, and the reload
    // goes on, since leaving the service down would be worse.
    let failed: Vec<String> = stopped.failed.into_iter().filter(|name| !stopped.hook_failed.contains(name)).collect();
    if !failed.is_empty() {
        return Err(Error::ServicesFailed { verb: "stop", failed });
    }

    let excluded =
        options.excluded.into_iter().filter(|name| *name != service.name && !dependants.contains(name)).collect();
    let start_options = StartOptions {
        timeout: options.timeout,
        network: options.network,
        excluded,
        stop_grace: options.stop_grace,
        fresh: vec![service.name.clone()],
        cancel: options.cancel,
        save_logs: None,
        pulls: Vec::new(),
    };
    start(backend, project, context, start_options, events).await
}
