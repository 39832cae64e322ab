//! The start lifecycle: bring every selected service up in dependency order, independent
//! services in parallel, each through reuse-or-create, hooks and readiness. Talks to the
//! container engine only through [`Backend`] and to the script only through [`HookRunner`].

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::access::Access;
use crate::backend::ContainerState;
use crate::backend::{Backend, BackendError, BackendErrorKind, ContainerSpec, Exited, VolumeMount, label};
use crate::context::{Context, Progress};
use crate::error::{Action, Error, HookProblem, LostEngine, Resource, ServiceFailure};
use crate::event::{Event, EventSink, RecreateReason, ServiceChange};
use crate::hook::{CallLimits, ContainerAccess, HookError, HookErrorKind, HookKind, HookRunner, HookValue};
use crate::image;
use crate::ownership::{self, Definition};
use crate::ping::{PingOutcome, SystemClock, ping_until_ready};
use crate::plan::{self, ContainerRef, FillProblem, ImageStep, ObservedService, ServiceAction, Target, plan_service};
use crate::project::Project;
use crate::service::{Protocol, Service, ServiceKind, TimeLimit};
use crate::walk::{AfterFailure, Direction, Outcome, walk};
use tokio_util::sync::CancellationToken;

/// A service without `ping` counts as started as soon as its container starts. So that a
/// container that exits at once is still reported, the run ends with one check of every such
/// container, no sooner than this after the last of them started: one wait per run at most,
/// not one per service or per step of a chain.
const SETTLE_WITHOUT_PING: Duration = Duration::from_millis(500);
/// How many log lines a failure shows.
const LOG_LINES: usize = 20;

#[derive(Debug, Clone)]
pub(crate) struct StartOptions {
    /// How long each service's readiness check (and each other hook) may take.
    pub timeout: Duration,
    pub network: String,
    /// Services not to start (already checked against the exclusion rules).
    pub excluded: Vec<String>,
    /// Grace before SIGKILL when a failed service's container is stopped.
    pub stop_grace: Duration,
    /// Services that get a new container whatever they have (the target of `reload`, whose
    /// image was just built).
    pub fresh: Vec<String>,
    /// Set on Ctrl-C: no new service starts, hooks stop, starting services are torn down.
    pub cancel: CancellationToken,
    /// Where the log of each failed service's container is written, before it is removed.
    pub save_logs: Option<std::path::PathBuf>,
    /// Missing images to pull as the run begins (each once, with the services that need it),
    /// so pulls overlap the waits on dependencies instead of following them.
    pub pulls: Vec<(String, Vec<String>)>,
}

/// How many images are pulled at once.
const PULLS_AT_ONCE: usize = 4;

/// A pull begun with the run, which the services that need its image await.
type SharedPull = futures_util::future::Shared<futures_util::future::BoxFuture<'static, Result<(), BackendError>>>;

/// Which services ended up running and which did not.
#[derive(Debug, Default)]
pub(crate) struct StartReport {
    pub started: Vec<String>,
    pub failed: Vec<String>,
    /// The call that found the engine gone or stalled, if one did: the run's real error.
    pub engine_lost: Option<LostEngine>,
}

struct Run<B> {
    backend: Arc<B>,
    group: String,
    project_dir: String,
    hooks: Arc<dyn HookRunner>,
    context: Context,
    events: EventSink,
    options: StartOptions,
    cancel: CancellationToken,
    access: Arc<dyn ContainerAccess>,
    /// The containers of services without `ping` that this run started, for the final check.
    unpinged: std::sync::Mutex<Vec<Unpinged>>,
    /// The pulls begun with the run, by image.
    pulls: std::collections::HashMap<String, SharedPull>,
}

/// Begins every pull of `pulls` at once (at most [`PULLS_AT_ONCE`] running together), each
/// reporting its own progress; a cancel of the run abandons them.
fn begin_pulls<B: Backend + 'static>(
    backend: &Arc<B>,
    pulls: &[(String, Vec<String>)],
    events: &EventSink,
    cancel: &CancellationToken,
) -> std::collections::HashMap<String, SharedPull> {
    use futures_util::FutureExt as _;
    let slots = Arc::new(tokio::sync::Semaphore::new(PULLS_AT_ONCE));
    let mut begun = std::collections::HashMap::new();
    for (image, services) in pulls {
        let (backend, events, cancel, slots) =
            (Arc::clone(backend), events.clone(), cancel.clone(), Arc::clone(&slots));
        let (image, services) = (image.clone(), services.clone());
        let task = tokio::spawn({
            let image = image.clone();
            async move {
                let _slot = slots.acquire_owned().await;
                events.emit(Event::PullingImage { image: image.clone(), services });
                let began = Instant::now();
                let result = tokio::select! {
                    result = backend.pull_image(&image) => result,
                    () = cancel.cancelled() => Err(BackendError::other("the start was interrupted".to_string())),
                };
                events.emit(match &result {
                    Ok(()) => Event::ImagePulled { image, elapsed: began.elapsed() },
                    Err(error) => Event::ImageNotPulled { image, reason: error.message.clone() },
                });
                result
            }
        });
        let pull = async move { task.await.unwrap_or_else(|error| Err(BackendError::other(error.to_string()))) };
        begun.insert(image, pull.boxed().shared());
    }
    begun
}

/// A container of a service without `ping`, started by this run at `started`.
struct Unpinged {
    service: String,
    container: Touched,
    /// On tokio's clock, which tests can pause and advance.
    started: tokio::time::Instant,
}

/// Gets or creates the group's network. Only a network with boss's label for this group is
/// used; any other network with that name is an error.
pub(crate) async fn ensure_network<B: Backend>(
    backend: &B,
    group: &str,
    project_dir: &str,
    name: &str,
    events: &EventSink,
) -> Result<(), Error> {
    let existing = backend
        .networks_named(name)
        .await
        .map_err(|error| Error::Backend { action: Action::ListNetworksNamed { name: name.to_string() }, error })?;
    if !existing.is_empty() {
        if existing.iter().any(|network| network.labels.get(label::GROUP).map(String::as_str) == Some(group)) {
            events.emit(Event::Network { name: name.to_string(), created: false });
            return Ok(());
        }
        let owner = existing.iter().find_map(|network| network.labels.get(label::GROUP).cloned());
        return Err(Error::ForeignNetwork { name: name.to_string(), owner });
    }
    let mut labels = ownership::group_labels(group);
    labels.insert(label::PROJECT_DIR.to_string(), project_dir.to_string());
    backend
        .create_network(name, &labels)
        .await
        .map_err(|error| Error::Backend { action: Action::CreateNetwork { name: name.to_string() }, error })?;
    crate::crash::point(crate::crash::Point::NetworkCreated);
    events.emit(Event::Network { name: name.to_string(), created: true });
    Ok(())
}

/// Starts the project's services (minus exclusions). Returns which started and which failed;
/// a failed service never stops unrelated ones.
pub(crate) async fn start<B: Backend + 'static>(
    backend: Arc<B>,
    project: &Project,
    context: Context,
    options: StartOptions,
    events: EventSink,
) -> Result<StartReport, Error> {
    // Pulls nobody awaits any more are abandoned when the start returns.
    let pulls_cancel = options.cancel.child_token();
    let _abandon_pulls = pulls_cancel.clone().drop_guard();
    let pulls = begin_pulls(&backend, &options.pulls, &events, &pulls_cancel);
    let project_dir = project.directory.display().to_string();
    ensure_network(&*backend, &project.group, &project_dir, &options.network, &events).await?;
    for orphan in crate::stop::orphans(&*backend, &project.group, &project.services).await? {
        let service = orphan.labels.get(label::SERVICE).cloned().unwrap_or_default();
        events.service(&service, ServiceChange::Orphan { container: orphan.name });
    }
    let selected: IndexMap<String, Service> = project
        .services
        .iter()
        .filter(|(name, _)| !options.excluded.contains(name))
        .map(|(name, service)| (name.clone(), service.clone()))
        .collect();
    let access: Arc<dyn ContainerAccess> = Arc::new(Access::new(
        Arc::clone(&backend),
        tokio::runtime::Handle::current(),
        &project.group,
        &options.network,
    ));
    let run = Arc::new(Run {
        access,
        backend,
        group: project.group.clone(),
        project_dir,
        hooks: Arc::clone(&project.hooks),
        context,
        events,
        cancel: options.cancel.clone(),
        pulls,
        options,
        unpinged: std::sync::Mutex::default(),
    });
    let report = schedule(&run, &selected).await;
    Ok(check_unpinged(&run, report).await)
}

/// The final check of the containers of services without `ping` that this run started: once
/// [`SETTLE_WITHOUT_PING`] has passed since the last of them started, one list of the group's
/// containers; a service whose container is no longer running has failed (its dependants may
/// have started meanwhile). After Ctrl-C there is no check: the run is ending.
async fn check_unpinged<B: Backend>(run: &Arc<Run<B>>, mut report: StartReport) -> StartReport {
    let unpinged: Vec<Unpinged> = std::mem::take(&mut *run.unpinged.lock().unwrap_or_else(PoisonError::into_inner))
        .into_iter()
        .filter(|unpinged| report.started.contains(&unpinged.service))
        .collect();
    let Some(last) = unpinged.iter().map(|unpinged| unpinged.started).max() else { return report };
    tokio::select! {
        () = tokio::time::sleep_until(last + SETTLE_WITHOUT_PING) => {}
        () = run.cancel.cancelled() => return report,
    }
    let listed = match run.backend.containers_labelled(&ownership::group_labels(&run.group)).await {
        Ok(listed) => listed,
        Err(error) => {
            // The services did start; a failure to look again is no reason to fail them.
            tracing::warn!(%error, "listing the group's containers for the final check");
            return report;
        }
    };
    for Unpinged { service, container, .. } in unpinged {
        let running = listed.iter().any(|listed| {
            listed.id == container.id && matches!(listed.state, ContainerState::Running | ContainerState::Paused)
        });
        if running {
            continue;
        }
        // The container has stopped, so the engine answers at once; a container that is
        // restarting has no exit code to give.
        let exit_code =
            tokio::time::timeout(Duration::from_secs(1), run.backend.wait_for_exit(&container.id)).await.ok();
        let exit_code = exit_code.and_then(Result::ok).flatten();
        let logs = run.backend.logs_tail(&container.id, LOG_LINES).await.unwrap_or_default();
        let failure = ServiceFailure::ContainerExited { exit_code, logs };
        run.events.service(&service, ServiceChange::Failed { failure });
        tear_down(run, &service, &container).await;
        report.started.retain(|started| *started != service);
        report.failed.push(service);
    }
    report
}

/// Runs every service as soon as its dependencies have started. A failure marks the whole set
/// of transitive dependants skipped at once, so no shape of graph can leave a service waiting.
async fn schedule<B: Backend>(run: &Arc<Run<B>>, services: &IndexMap<String, Service>) -> StartReport {
    let graph: IndexMap<String, Vec<String>> =
        services.iter().map(|(name, service)| (name.clone(), service.dependencies.clone())).collect();
    let task = |name: &str| {
        let (run, service) = (Arc::clone(run), services[name].clone());
        async move { start_service(&run, &service).await }
    };
    let settled = |name: &str, outcome: &Outcome<(), ServiceFailure>| {
        let change = match outcome {
            Outcome::Skipped { failed } => ServiceChange::Skipped { dependency: failed.clone() },
            Outcome::Panicked { reason } => {
                ServiceChange::Failed { failure: ServiceFailure::TaskCrashed { reason: reason.clone() } }
            }
            Outcome::NotStarted => ServiceChange::Failed { failure: ServiceFailure::Cancelled },
            // `start_service` reported these itself.
            Outcome::Done(()) | Outcome::Failed(_) => return,
        };
        run.events.service(name, change);
    };
    let outcomes = walk(&graph, Direction::DependenciesFirst, AfterFailure::Skip, &run.cancel, task, settled).await;
    let engine_lost = LostEngine::first(&run.backend.address(), outcomes.values().filter_map(Outcome::failure));
    let mut report = StartReport { engine_lost, ..StartReport::default() };
    for (name, outcome) in outcomes {
        match outcome {
            Outcome::Done(()) => report.started.push(name),
            _ => report.failed.push(name),
        }
    }
    report
}

/// Where this run's containers go, for the planner.
fn target(run: &Run<impl Backend>) -> Target {
    Target { group: run.group.clone(), project_dir: run.project_dir.clone(), network: run.options.network.clone() }
}

fn interpolation_failure(problem: FillProblem) -> ServiceFailure {
    ServiceFailure::Interpolation { site: problem.site, error: problem.error }
}

/// Writes the files of the spec's secrets that come from a variable or the context.
fn write_secrets(run: &Run<impl Backend>, spec: &ContainerSpec) -> Result<(), ServiceFailure> {
    crate::secret::write(&spec.secret_files, std::path::Path::new(&run.project_dir)).map_err(|error| {
        ServiceFailure::SecretNotWritten { directory: run.project_dir.clone(), error: error.to_string() }
    })
}

/// Records the definition (with the image id) in the spec's labels and returns it.
fn label_definition(spec: &mut ContainerSpec, image_id: Option<&str>) -> Definition {
    let definition = Definition::of(spec, image_id);
    spec.labels.insert(label::CONFIG_HASH.to_string(), definition.hash());
    spec.labels.insert(label::DEFINITION.to_string(), definition.to_label());
    definition
}

fn backend_failure(action: Action) -> impl FnOnce(BackendError) -> ServiceFailure {
    move |error| ServiceFailure::Backend { action, error }
}

/// Brings one service up; reports every step as an event.
async fn start_service<B: Backend>(run: &Arc<Run<B>>, service: &Service) -> Result<(), ServiceFailure> {
    let began = Instant::now();
    run.events.service(&service.name, ServiceChange::Scheduled);
    match start_service_inner(run, service, began).await {
        Ok(()) => Ok(()),
        Err(Failed { failure, container }) => {
            run.events.service(&service.name, ServiceChange::Failed { failure: failure.clone() });
            // Without an engine a tear-down fails too, or waits out the request timeout twice
            // more; the container stays, labelled, for the next run to find.
            if let Some(container) = container
                && failure.lost_engine().is_none()
            {
                tear_down(run, &service.name, &container).await;
            }
            Err(failure)
        }
    }
}

/// A failed start, with the container to tear down if one was created or restarted.
struct Failed {
    failure: ServiceFailure,
    container: Option<Touched>,
}

/// A container this run started: one it created (removed again when the service fails) or a
/// stopped one it restarted (only stopped again: this run did not create it, and its
/// anonymous volumes may hold data).
#[derive(Clone)]
struct Touched {
    id: String,
    name: String,
    created: bool,
}

impl Touched {
    /// A container that existed before this run.
    fn kept(container: &ContainerRef) -> Touched {
        Touched { id: container.id.clone(), name: container.name.clone(), created: false }
    }
}

impl From<ServiceFailure> for Failed {
    fn from(failure: ServiceFailure) -> Failed {
        Failed { failure, container: None }
    }
}

impl ServiceFailure {
    fn with_container(self, id: &str, name: &str, created: bool) -> Failed {
        Failed { failure: self, container: Some(Touched { id: id.to_string(), name: name.to_string(), created }) }
    }
}

/// Observes the service, asks the planner what to do and does it. When the planner asks for a
/// `latest` build first, the image id the build gives is observed and the planner asked again.
async fn start_service_inner<B: Backend>(run: &Arc<Run<B>>, service: &Service, began: Instant) -> Result<(), Failed> {
    let name = &service.name;
    if service.kind == ServiceKind::External {
        // Nothing of it is on the engine: only the record of whether it was started decides.
        let observed = ObservedService { started: run.context.start_record(name), ..ObservedService::default() };
        let values = run.context.snapshot();
        let action = plan_service(service, &observed, &values, &[], &target(run), false);
        let ServiceAction::External { first_start } = action else {
            return Err(ServiceFailure::DeferredDecision.into());
        };
        return start_external(run, service, first_start, began).await.map_err(Failed::from);
    }
    let containers = run
        .backend
        .containers_labelled(&ownership::service_labels(&run.group, name))
        .await
        .map_err(backend_failure(Action::ListServiceContainers { service: name.clone() }))?;
    let image_id = image_id(run, &service.image).await?;
    let build_context = image::observe_build_context(&*run.backend, service, &containers)
        .await
        .map_err(backend_failure(Action::LookUpImage { image: service.image.clone() }))?;
    let started = run.context.start_record(name);
    let mut observed = ObservedService { containers, image_id, built: false, started, build_context };
    let fresh = run.options.fresh.contains(name);
    let target = target(run);
    let mut values = run.context.snapshot();
    let mut action = plan_service(service, &observed, &values, &[], &target, fresh);
    if let ServiceAction::Build { .. } = action {
        observed.image_id =
            Some(image::build(&*run.backend, &run.group, &run.project_dir, service, &run.events).await?);
        observed.built = true;
        // A build can take long; an interrupt during it must not go on to replace containers.
        if run.cancel.is_cancelled() {
            return Err(ServiceFailure::Cancelled.into());
        }
        values = run.context.snapshot();
        action = plan_service(service, &observed, &values, &[], &target, fresh);
    }
    tracing::debug!(service = %name, action = ?action, image_id = ?observed.image_id, "planned");
    match action {
        ServiceAction::Keep { container, unpause, outdated } => {
            keep_running(run, service, &container, unpause, outdated).await.map_err(Failed::from)
        }
        ServiceAction::Completed { container } => {
            run.events.service(name, ServiceChange::AlreadyCompleted { container: container.name });
            Ok(())
        }
        ServiceAction::Unusable { container } => {
            Err(ServiceFailure::ContainerUnusable { container: container.name }.into())
        }
        ServiceAction::Unfillable { site, error } => Err(ServiceFailure::Interpolation { site, error }.into()),
        ServiceAction::Resume { container, unpause, post_start, .. } => {
            resume(run, service, &container, unpause, post_start, began).await
        }
        ServiceAction::Restart { container, remove, post_start } => {
            restart(run, service, &container, &remove, post_start, began).await
        }
        ServiceAction::Create { image } => {
            create(run, service, &observed, &values, Vec::new(), RecreateReason::NotUsable, image, began).await
        }
        ServiceAction::Recreate { remove, reason, image } => {
            create(run, service, &observed, &values, remove, reason, image, began).await
        }
        // The executor observes right before it acts and passes no keys to be set later, and
        // it has built already: the planner answers neither of these then; an external
        // service was dealt with above.
        ServiceAction::Build { .. } | ServiceAction::Pending { .. } | ServiceAction::External { .. } => {
            Err(ServiceFailure::DeferredDecision.into())
        }
    }
}

/// Removes the old containers (never their volumes), runs `pre_start`, gets the image as the
/// plan says, creates and starts the container, pings it and runs `post_start`.
#[expect(clippy::too_many_arguments, reason = "the parts of one planned action, taken apart by the caller")]
async fn create<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    observed: &ObservedService,
    values: &serde_json::Map<String, serde_json::Value>,
    remove: Vec<ContainerRef>,
    reason: RecreateReason,
    image: ImageStep,
    began: Instant,
) -> Result<(), Failed> {
    let name = &service.name;
    let mut spec = plan::container_spec(service, values, &target(run)).map_err(interpolation_failure)?;
    let definition = label_definition(&mut spec, observed.image_id.as_deref());
    tracing::debug!(service = %name, hash = %definition.hash(), "definition");
    for container in &remove {
        run.events
            .service(name, ServiceChange::Recreating { container: container.name.clone(), reason: reason.clone() });
        // The image's volumes are boss's own named volumes, which the new container mounts
        // again; removing the container never removes a volume.
        run.backend
            .remove_container(&container.id)
            .await
            .map_err(backend_failure(Action::RemoveOldContainer { container: container.name.clone() }))?;
    }
    if let Some(other) = run
        .backend
        .container_named(&spec.name)
        .await
        .map_err(backend_failure(Action::LookUpContainer { container: spec.name.clone() }))?
    {
        // Everything of ours for this service was just removed, so this one is not ours.
        let owner = other.labels.get(label::GROUP).cloned();
        return Err(ServiceFailure::NameTaken { resource: Resource::Container, name: other.name, owner }.into());
    }

    if run.cancel.is_cancelled() {
        return Err(ServiceFailure::Cancelled.into());
    }
    call_hook(run, service, HookKind::PreStart).await?;
    let new_id = match image {
        ImageStep::Present => None,
        ImageStep::Build => {
            Some(image::build(&*run.backend, &run.group, &run.project_dir, service, &run.events).await?)
        }
        ImageStep::Pull => {
            match run.pulls.get(&service.image) {
                // Begun with the run: this service waits for it, as the others that share it.
                Some(pull) => {
                    run.events.service(name, ServiceChange::Pulling { image: service.image.clone() });
                    pull.clone().await.map_err(|error| ServiceFailure::Pull { image: service.image.clone(), error })?;
                }
                None => image::pull(&*run.backend, service, &run.events).await?,
            }
            Some(self::image_id(run, &spec.image).await?.unwrap_or_default())
        }
    };
    if let Some(new_id) = new_id {
        label_definition(&mut spec, Some(&new_id));
        if run.cancel.is_cancelled() {
            return Err(ServiceFailure::Cancelled.into());
        }
    }
    let inherited: Vec<VolumeMount> =
        observed.containers.iter().flat_map(|container| container.volumes.clone()).collect();
    spec.volumes = image_volumes(run, service, &spec.image, &inherited).await?;
    for volume in &service.volumes {
        if let Some(named) = volume.named() {
            ensure_named_volume(run, service, named, &volume.container).await?;
        }
    }

    if run.cancel.is_cancelled() {
        return Err(ServiceFailure::Cancelled.into());
    }
    write_secrets(run, &spec)?;
    run.events.service(name, ServiceChange::Creating { container: spec.name.clone(), image: spec.image.clone() });
    let id = match run.backend.create_container(&spec).await {
        Ok(id) => id,
        Err(error) if error.kind == crate::backend::BackendErrorKind::Conflict => {
            // Someone took the name since the check above: say who, rather than guess.
            let holder = run.backend.container_named(&spec.name).await.ok().flatten();
            let owner = holder.and_then(|holder| holder.labels.get(label::GROUP).cloned());
            return Err(if owner.as_deref() == Some(run.group.as_str()) {
                ServiceFailure::CreatedConcurrently { container: spec.name.clone() }
            } else {
                ServiceFailure::NameTaken { resource: Resource::Container, name: spec.name.clone(), owner }
            }
            .into());
        }
        Err(error) => {
            return Err(ServiceFailure::Backend {
                action: Action::CreateContainer { container: spec.name.clone() },
                error,
            }
            .into());
        }
    };
    crate::crash::point(crate::crash::Point::ContainerCreated);
    let outcome = async {
        run.events.service(name, ServiceChange::StartingContainer { container: spec.name.clone() });
        run.backend
            .start_container(&id)
            .await
            .map_err(backend_failure(Action::StartContainer { container: spec.name.clone() }))?;
        crate::crash::point(crate::crash::Point::ContainerStarted);
        become_ready(run, service, &Touched { id: id.clone(), name: spec.name.clone(), created: true }, true).await
    }
    .await;
    outcome.map_err(|failure| failure.with_container(&id, &spec.name, true))?;
    run.events.service(name, ServiceChange::Started { elapsed: began.elapsed() });
    Ok(())
}

/// Takes a started container to ready: its ports into the context, its readiness check, then
/// `post_start` when it has not run for this container, and the record that it is ready,
/// saved with the values the hooks set.
///
/// The record is what makes a killed boss safe to run again: a container without it never
/// became ready, and the next `start` checks it again instead of calling it running.
async fn become_ready<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    container: &Touched,
    post_start: bool,
) -> Result<(), ServiceFailure> {
    let id = &container.id;
    // A job's container is meant to exit: the final check of containers without `ping` is
    // not for it.
    if !service.hooks.ping && service.kind != ServiceKind::Job {
        let unpinged = Unpinged {
            service: service.name.clone(),
            container: container.clone(),
            started: tokio::time::Instant::now(),
        };
        run.unpinged.lock().unwrap_or_else(PoisonError::into_inner).push(unpinged);
    }
    record_ports(run, service, id).await?;
    if service.kind == ServiceKind::Job {
        run_to_completion(run, service, id).await?;
    } else {
        wait_until_ready(run, service, id).await?;
    }
    crate::crash::point(crate::crash::Point::Pinged);
    if post_start {
        call_hook(run, service, HookKind::PostStart).await?;
    }
    run.context.record_start(&service.name, id, Progress::Ready);
    // Saved at once: a closed terminal, a second Ctrl-C or a crash later in the run must not
    // lose what a running container was started with. The service is up either way; the save
    // at the end of the run tries again.
    save_context(run);
    Ok(())
}

fn save_context<B: Backend>(run: &Run<B>) {
    if let Err(failure) = run.context.persist() {
        run.events.emit(Event::ContextNotSaved { path: failure.path, reason: failure.reason });
    }
}

/// A running (or paused) container that never became ready is checked again, and gets its
/// `post_start` if that never finished. When the check fails it is stopped, never removed:
/// this run did not create it.
async fn resume<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    container: &ContainerRef,
    unpause: bool,
    post_start: bool,
    began: Instant,
) -> Result<(), Failed> {
    let name = &service.name;
    run.events.service(name, ServiceChange::Resuming { container: container.name.clone(), post_start });
    if unpause {
        run.backend
            .unpause_container(&container.id)
            .await
            .map_err(backend_failure(Action::UnpauseContainer { container: container.name.clone() }))?;
    }
    become_ready(run, service, &Touched::kept(container), post_start)
        .await
        .map_err(|failure| failure.with_container(&container.id, &container.name, false))?;
    run.events.service(name, ServiceChange::Started { elapsed: began.elapsed() });
    Ok(())
}

/// A running (or paused, which is resumed) container is left as it is: no hook runs. The plan
/// said whether it is outdated.
async fn keep_running<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    container: &ContainerRef,
    unpause: bool,
    outdated: Option<crate::ownership::Changes>,
) -> Result<(), ServiceFailure> {
    let name = &service.name;
    if unpause {
        run.events.service(name, ServiceChange::Unpausing { container: container.name.clone() });
        run.backend
            .unpause_container(&container.id)
            .await
            .map_err(backend_failure(Action::UnpauseContainer { container: container.name.clone() }))?;
    }
    let reloadable = service.build_from.is_some();
    record_ports(run, service, &container.id).await?;
    run.events.service(name, ServiceChange::AlreadyRunning { container: container.name.clone(), outdated, reloadable });
    Ok(())
}

/// The volumes for the image's `VOLUME` paths, as [`ownership::plan_volumes`] decides: those
/// of the replaced container, else boss's own named volumes, created on first use. Docker
/// would make anonymous volumes that a new container does not get back; boss's are found again
/// by name and labels, so data survives a definition change, a reload and `stop --remove`,
/// and goes only with `--volumes`.
async fn image_volumes<B: Backend>(
    run: &Run<B>,
    service: &Service,
    image: &str,
    inherited: &[VolumeMount],
) -> Result<Vec<VolumeMount>, ServiceFailure> {
    let paths = run
        .backend
        .image_volumes(image)
        .await
        .map_err(backend_failure(Action::InspectImage { image: image.to_string() }))?;
    // A path the service mounts itself (a bind, a named volume or a tmpfs) gets no volume.
    let bound: Vec<&str> = service
        .volumes
        .iter()
        .map(|volume| volume.container.as_str())
        .chain(service.tmpfs.iter().map(|mount| mount.path.as_str()))
        .collect();
    let mut mounts = Vec::new();
    for (path, source) in ownership::plan_volumes(&run.group, &service.name, &paths, &bound, inherited) {
        let volume = match source {
            ownership::VolumeSource::Inherited(volume) => volume,
            ownership::VolumeSource::Own(volume) => {
                ensure_volume(run, service, &volume, &path).await?;
                volume
            }
        };
        mounts.push(VolumeMount { volume, path });
    }
    Ok(mounts)
}

/// Finds boss's volume `volume` for `path`, or creates it; a volume of that name that is not
/// this service's is refused.
async fn ensure_volume<B: Backend>(
    run: &Run<B>,
    service: &Service,
    volume: &str,
    path: &str,
) -> Result<(), ServiceFailure> {
    let owner = ownership::service_labels(&run.group, &service.name);
    let mut labels = owner.clone();
    labels.insert(label::VOLUME_PATH.to_string(), path.to_string());
    find_or_create_volume(run, &service.name, volume, path, &owner, labels).await
}

/// Finds the group's named volume `name` (`"name:/path"` in `volumes`), or creates it; a
/// volume of that name that boss did not create for this group is refused, never used.
async fn ensure_named_volume<B: Backend>(
    run: &Run<B>,
    service: &Service,
    name: &str,
    path: &str,
) -> Result<(), ServiceFailure> {
    let mut owner = ownership::group_labels(&run.group);
    owner.insert(label::VOLUME.to_string(), name.to_string());
    let volume = ownership::named_volume(&run.group, name);
    find_or_create_volume(run, &service.name, &volume, path, &owner, owner.clone()).await
}

/// Finds `volume` carrying every one of `owner`, or creates it with `labels` (and the project
/// directory); one of that name without them is someone else's and refused.
async fn find_or_create_volume<B: Backend>(
    run: &Run<B>,
    service: &str,
    volume: &str,
    path: &str,
    owner: &crate::backend::Labels,
    mut labels: crate::backend::Labels,
) -> Result<(), ServiceFailure> {
    let ours = |found: &crate::backend::VolumeInfo| {
        if owner.iter().all(|(key, value)| found.labels.get(key) == Some(value)) {
            return Ok(());
        }
        let owner = found.labels.get(label::GROUP).cloned();
        Err(ServiceFailure::NameTaken { resource: Resource::Volume, name: volume.to_string(), owner })
    };
    let existing = run
        .backend
        .volume_named(volume)
        .await
        .map_err(backend_failure(Action::LookUpVolume { volume: volume.to_string() }))?;
    if let Some(found) = existing {
        return ours(&found);
    }
    labels.insert(label::PROJECT_DIR.to_string(), run.project_dir.clone());
    let created = run
        .backend
        .create_volume(volume, &labels)
        .await
        .map_err(backend_failure(Action::CreateVolume { volume: volume.to_string() }))?;
    // Someone may have made one of that name since the look above (the engine then answers
    // with theirs, unchanged): only one with our labels is mounted.
    ours(&created)?;
    run.events.service(service, ServiceChange::VolumeCreated { volume: volume.to_string(), path: path.to_string() });
    Ok(())
}

/// Starts a stopped container that still matches its definition, then pings it. Other
/// containers of the service (there should be none) are removed so they never pile up.
async fn restart<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    container: &ContainerRef,
    remove: &[ContainerRef],
    post_start: bool,
    began: Instant,
) -> Result<(), Failed> {
    let name = &service.name;
    if !post_start {
        // Its `post_start` ran when it was created; until its readiness check passes again, it
        // is not ready. Saved before it starts, so a crash after the start is never taken for
        // a ready container.
        run.context.record_start(name, &container.id, Progress::Restarted);
        save_context(run);
    }
    for other in remove {
        run.backend
            .remove_container(&other.id)
            .await
            .map_err(backend_failure(Action::RemoveOldContainer { container: other.name.clone() }))?;
    }
    // The files of secrets from a variable or the context may be gone (a reboot, a
    // `.boss` removed by hand): the container's binds need them again.
    if service.secrets.iter().any(|secret| !matches!(secret.source, crate::service::SecretSource::File(_))) {
        let spec =
            plan::container_spec(service, &run.context.snapshot(), &target(run)).map_err(interpolation_failure)?;
        write_secrets(run, &spec)?;
    }
    run.events.service(name, ServiceChange::Restarting { container: container.name.clone() });
    run.backend
        .start_container(&container.id)
        .await
        .map_err(backend_failure(Action::StartContainer { container: container.name.clone() }))?;
    crate::crash::point(crate::crash::Point::ContainerStarted);
    become_ready(run, service, &Touched::kept(container), post_start)
        .await
        .map_err(|failure| failure.with_container(&container.id, &container.name, false))?;
    run.events.service(name, ServiceChange::Started { elapsed: began.elapsed() });
    Ok(())
}

/// Puts the host ports the container got into the context as `<service>_port_<port>` (and
/// `..._udp` for UDP), so that hooks and `{key}` in dependants' env can use ports Docker chose.
async fn record_ports<B: Backend>(run: &Run<B>, service: &Service, id: &str) -> Result<(), ServiceFailure> {
    if service.ports.is_empty() {
        return Ok(());
    }
    let details = run
        .backend
        .inspect_container(id)
        .await
        .map_err(backend_failure(Action::InspectServiceContainer { service: service.name.clone() }))?;
    for port in details.ports {
        let suffix = match port.protocol {
            Protocol::Udp => "_udp",
            Protocol::Tcp => "",
        };
        let key = format!("{}_port_{}{suffix}", service.name, port.container_port);
        run.context.set(&key, serde_json::Value::from(port.host_port));
    }
    Ok(())
}

async fn image_id<B: Backend>(run: &Run<B>, image: &str) -> Result<Option<String>, ServiceFailure> {
    run.backend.image_id(image).await.map_err(backend_failure(Action::LookUpImage { image: image.to_string() }))
}

/// Stops the container of a service that failed to start, and removes it when this run
/// created it. Errors are only logged: the service's own failure is what the user needs to see.
async fn tear_down<B: Backend>(run: &Run<B>, name: &str, container: &Touched) {
    run.events
        .service(name, ServiceChange::TearingDown { container: container.name.clone(), remove: container.created });
    // After Ctrl-C the user is waiting: a container that never became ready is killed at once.
    let grace = if run.cancel.is_cancelled() { Duration::ZERO } else { run.options.stop_grace };
    if let Err(error) = run.backend.stop_container(&container.id, grace).await {
        tracing::warn!(service = name, %error, "stopping a failed container");
    }
    // Stopped first, so the log is complete; saved before the container goes with it.
    if let Some(directory) = &run.options.save_logs {
        let change =
            match crate::logs::save_container(&*run.backend, &container.id, &container.name, name, directory).await {
                Ok(saved) => ServiceChange::LogSaved { path: saved.path, lines: saved.lines },
                Err(error) => ServiceChange::LogNotSaved { reason: error.render().trim_end().to_string() },
            };
        run.events.service(name, change);
    }
    if container.created
        && let Err(error) = run.backend.remove_container(&container.id).await
    {
        tracing::warn!(service = name, %error, "removing a failed container");
    }
}

/// Runs `pre_start` or `post_start` on a blocking thread.
async fn call_hook<B: Backend>(run: &Arc<Run<B>>, service: &Service, kind: HookKind) -> Result<(), ServiceFailure> {
    let caller = HookCaller {
        hooks: Arc::clone(&run.hooks),
        context: run.context.clone(),
        access: Arc::clone(&run.access),
        events: run.events.clone(),
        timeout: run.options.timeout,
        cancel: run.cancel.clone(),
    };
    caller.call(service, kind).await
}

/// What calling a hook outside the ping loop needs: `start`'s `pre_start` and `post_start`,
/// and `stop`'s `pre_stop` and `post_stop`.
#[derive(Clone)]
pub(crate) struct HookCaller {
    pub hooks: Arc<dyn HookRunner>,
    pub context: Context,
    pub access: Arc<dyn ContainerAccess>,
    pub events: EventSink,
    /// The run's limit, which the service's `hook_timeout` or `wait_timeout` replaces.
    pub timeout: Duration,
    pub cancel: CancellationToken,
}

impl HookCaller {
    /// Runs the service's hook `kind`, if it defines one, on a blocking thread, announced by
    /// an event.
    pub(crate) async fn call(&self, service: &Service, kind: HookKind) -> Result<(), ServiceFailure> {
        if !service.hooks.defines(kind) {
            return Ok(());
        }
        self.events.service(&service.name, ServiceChange::RunningHook { hook: kind });
        let (hooks, context, name) = (Arc::clone(&self.hooks), self.context.clone(), service.name.clone());
        let limit = service.hook_limit(self.timeout);
        let limits = CallLimits { deadline: Instant::now() + limit.duration, cancel: self.cancel.clone() };
        let access = Arc::clone(&self.access);
        let result = tokio::task::spawn_blocking(move || hooks.call(&name, kind, &context, &limits, &access)).await;
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(hook_failure(kind, error, limit)),
            Err(error) => Err(ServiceFailure::Hook {
                hook: kind,
                problem: HookProblem::Crashed { reason: error.to_string() },
                span: None,
            }),
        }
    }
}

/// The failure of a hook call that ran under `limit`.
fn hook_failure(hook: HookKind, error: HookError, limit: TimeLimit) -> ServiceFailure {
    let problem = match error.kind {
        HookErrorKind::TimedOut => HookProblem::TimedOut { limit },
        HookErrorKind::Failed => HookProblem::Script { message: error.message },
    };
    ServiceFailure::Hook { hook, problem, span: error.span }
}

/// Waits for a job's container to exit: with status 0 the job has started, with another it
/// has failed (with the last lines of its log), and still running at its `wait_timeout` (or
/// `--wait-timeout`) it has failed too.
async fn run_to_completion<B: Backend>(run: &Arc<Run<B>>, service: &Service, id: &str) -> Result<(), ServiceFailure> {
    run.events.service(&service.name, ServiceChange::RunningJob);
    let limit = service.wait_limit(run.options.timeout);
    let watch = |error| ServiceFailure::Backend {
        action: Action::WatchServiceContainer { service: service.name.clone() },
        error,
    };
    let exited = async {
        loop {
            match run.backend.wait_for_exit(id).await {
                // The engine's client gives up on a wait that outlasts its own timeout; a job
                // may run longer, so a stall is told apart by a call that answers at once.
                Err(error) if matches!(error.kind, BackendErrorKind::TimedOut { .. }) => {
                    run.backend.inspect_container(id).await.map_err(watch)?;
                }
                exited => return exited.map_err(watch),
            }
        }
    };
    let exit_code = tokio::select! {
        exited = tokio::time::timeout(limit.duration, exited) => match exited {
            Ok(exit_code) => exit_code?,
            Err(_) => return Err(ServiceFailure::JobTimeout { limit }),
        },
        () = run.cancel.cancelled() => return Err(ServiceFailure::Cancelled),
    };
    if exit_code == Some(0) {
        return Ok(());
    }
    let logs = run.backend.logs_tail(id, LOG_LINES).await.unwrap_or_default();
    Err(ServiceFailure::JobFailed { exit_code, logs })
}

/// The hooks of an external service: on its first start since the last `stop`, `pre_start`,
/// `ping` and `post_start`; afterwards only `ping`, so its dependants still wait until it is
/// reachable. boss creates nothing for it.
async fn start_external<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    first_start: bool,
    began: Instant,
) -> Result<(), ServiceFailure> {
    if first_start {
        call_hook(run, service, HookKind::PreStart).await?;
    }
    if service.hooks.ping {
        let never_exits = std::future::pending::<Result<Exited, BackendError>>();
        ping_until(run, service, never_exits).await?;
    }
    if first_start {
        call_hook(run, service, HookKind::PostStart).await?;
        run.context.record_start(&service.name, plan::EXTERNAL_RECORD, Progress::Ready);
        save_context(run);
    }
    run.events.service(&service.name, ServiceChange::Started { elapsed: began.elapsed() });
    Ok(())
}

/// Pings until ready, failing at once if the container exits meanwhile. A service without
/// `ping` is ready at once; [`check_unpinged`] looks at its container at the end of the run.
async fn wait_until_ready<B: Backend>(run: &Arc<Run<B>>, service: &Service, id: &str) -> Result<(), ServiceFailure> {
    if !service.hooks.ping {
        return Ok(());
    }
    let exited = {
        let backend = Arc::clone(&run.backend);
        let id = id.to_string();
        async move {
            match backend.watch_exit(&id, LOG_LINES).await {
                Ok(exited) => Ok(exited),
                // An engine that went away cannot start the service; the ping would only wait
                // out its whole limit.
                Err(error) if error.engine_lost() => Err(error),
                // If the engine cannot tell us otherwise, rely on the ping loop alone.
                Err(_) => std::future::pending().await,
            }
        }
    };
    ping_until(run, service, exited).await
}

/// Calls `ping` until it returns true, failing at once when `exited` resolves first (the
/// container exited; an external service has no container and passes a future that
/// never resolves).
async fn ping_until<B: Backend>(
    run: &Arc<Run<B>>,
    service: &Service,
    exited: impl std::future::Future<Output = Result<Exited, BackendError>>,
) -> Result<(), ServiceFailure> {
    // Cancelled when the readiness check must end early; a cancel of the whole run reaches it too.
    let cancel = run.cancel.child_token();
    tokio::pin!(exited);

    let readiness = async {
        run.events.service(&service.name, ServiceChange::Pinging);
        let (hooks, context, name, wait, per_call, interval) = (
            Arc::clone(&run.hooks),
            run.context.clone(),
            service.name.clone(),
            service.wait_limit(run.options.timeout),
            service.hook_limit(run.options.timeout),
            service.ping_interval,
        );
        let loop_cancel = cancel.clone();
        let access = Arc::clone(&run.access);
        let outcome = tokio::task::spawn_blocking(move || {
            ping_until_ready(&SystemClock, wait.duration, interval, &loop_cancel, |deadline| {
                // Each call ends at its own limit or at the end of readiness, whichever is first.
                let (deadline, limit) = match Instant::now().checked_add(per_call.duration) {
                    Some(call_end) if call_end < deadline => (call_end, per_call),
                    _ => (deadline, wait),
                };
                let limits = CallLimits { deadline, cancel: loop_cancel.clone() };
                match hooks.call(&name, HookKind::Ping, &context, &limits, &access) {
                    Ok(HookValue::Bool(ready)) => Ok(ready),
                    Ok(HookValue::Other(got)) => Err(ServiceFailure::Hook {
                        hook: HookKind::Ping,
                        problem: HookProblem::NotABool { got },
                        span: None,
                    }),
                    Err(error) => Err(hook_failure(HookKind::Ping, error, limit)),
                }
            })
        })
        .await;
        match outcome {
            Ok(Ok(PingOutcome::Ready { .. })) => Ok(()),
            Ok(Ok(PingOutcome::TimedOut { attempts })) => Err(ServiceFailure::PingTimeout { limit: wait, attempts }),
            Ok(Ok(PingOutcome::Cancelled)) => Err(ServiceFailure::Cancelled),
            Ok(Err(failure)) => Err(failure),
            Err(error) => Err(ServiceFailure::Hook {
                hook: HookKind::Ping,
                problem: HookProblem::Crashed { reason: error.to_string() },
                span: None,
            }),
        }
    };

    let interrupted = run.cancel.cancelled();
    tokio::select! {
        result = readiness => result,
        () = interrupted => {
            cancel.cancel();
            Err(ServiceFailure::Cancelled)
        }
        exited = &mut exited => {
            cancel.cancel();
            match exited {
                Ok(Exited { exit_code, logs }) => Err(ServiceFailure::ContainerExited { exit_code, logs }),
                Err(error) => {
                    Err(ServiceFailure::Backend { action: Action::WatchServiceContainer { service: service.name.clone() }, error })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ContainerState;
    use crate::hook::HookError;
    use crate::testing::{FakeBackend, FakeHooks, project, recording_sink, service_changes};

    fn options() -> StartOptions {
        StartOptions {
            timeout: Duration::from_secs(5),
            network: "boss-g".into(),
            excluded: Vec::new(),
            stop_grace: Duration::from_secs(1),
            fresh: Vec::new(),
            cancel: CancellationToken::new(),
            save_logs: None,
            pulls: Vec::new(),
        }
    }

    fn failing(_: &Context) -> Result<HookValue, HookError> {
        Err(HookError { message: "boom".into(), span: None, kind: crate::hook::HookErrorKind::Failed })
    }

    // The diamond that made miniboss hang: `a` fails, `b` depends on `a`, `d` on both.
    #[tokio::test]
    async fn a_failure_marks_every_dependant_once_and_never_hangs() {
        let hooks = FakeHooks::default().with("a", HookKind::PreStart, failing);
        let project = project("a, b -> a, d -> a b, e -> d, x", hooks);
        let (events, recorded) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        let run = start(Arc::clone(&backend), &project, Context::default(), options(), events);
        let report = tokio::time::timeout(Duration::from_secs(10), run).await.expect("start hung").unwrap();
        assert_eq!(report.started, ["x"]);
        assert_eq!(report.failed, ["a", "b", "d", "e"]);
        let changes = service_changes(&recorded);
        for skipped in ["b", "d", "e"] {
            assert_eq!(
                changes.iter().filter(|change| **change == format!("{skipped}: Skipped")).count(),
                1,
                "{changes:?}"
            );
        }
        assert!(backend.container_of("a").is_none() && backend.container_of("b").is_none());
    }

    #[tokio::test]
    async fn dependencies_start_first_and_the_context_flows_to_env() {
        let hooks = FakeHooks::default().with("db", HookKind::PostStart, |context| {
            context.set("token", serde_json::json!("t0k"));
            Ok(HookValue::Bool(true))
        });
        let mut project = project("web -> db, db", hooks);
        project.services["web"].env.push(("TOKEN".into(), "{token}".into()));
        let (events, _) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.started, ["web", "db"], "reported in declaration order");
        let calls = backend.calls();
        assert_eq!(calls, ["create db", "start db", "create web", "start web"]);
        let web =
            backend.state.lock().unwrap().containers.iter().find(|(_, spec)| spec.alias == "web").unwrap().1.clone();
        assert_eq!(web.env, ["TOKEN=t0k"]);
    }

    #[tokio::test]
    async fn an_unfillable_env_names_the_key_and_placeholder_but_not_the_value() {
        let mut project = project("web", FakeHooks::default());
        project.services["web"].env.push(("DB_URL".into(), "postgres://app:s3cret-pw@{db_host}/app".into()));
        let (events, recorded) = recording_sink();
        let report =
            start(Arc::new(FakeBackend::default()), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.failed, ["web"]);
        let failure = recorded
            .lock()
            .unwrap()
            .iter()
            .find_map(|event| match event {
                Event::Service { change: ServiceChange::Failed { failure }, .. } => Some(failure.render()),
                _ => None,
            })
            .expect("a failure event");
        assert_eq!(
            failure,
            "cannot fill in `{db_host}` in env `DB_URL`: the context has no key `db_host` (the context is empty)\n"
        );
    }

    #[tokio::test]
    async fn a_crashing_container_fails_at_once_and_is_removed() {
        // The ping would wait the whole timeout; the exit must cut it short.
        let hooks = FakeHooks::default().with("a", HookKind::Ping, |_| Ok(HookValue::Bool(false)));
        let mut project = project("a", hooks);
        project.services["a"].image = "crashing".into();
        let (events, recorded) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().crashing_images.insert("crashing".into());
        let began = Instant::now();
        let options = StartOptions { timeout: Duration::from_secs(60), ..options() };
        let report = start(Arc::clone(&backend), &project, Context::default(), options, events).await.unwrap();
        assert!(began.elapsed() < Duration::from_secs(5));
        assert_eq!(report.failed, ["a"]);
        assert!(backend.container_of("a").is_none());
        assert!(service_changes(&recorded).contains(&"a: Failed".to_string()));
    }

    // On a paused clock, time moves only when every task waits: the run's virtual duration is
    // the waits on its critical path. A chain of services without `ping` used to wait half a
    // second per step; now the run waits once, at its end.
    #[tokio::test(start_paused = true)]
    async fn services_without_ping_wait_once_per_run_not_once_per_step() {
        let project = project("a, b -> a, c -> b, d -> c, e -> d", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        let (events, _) = recording_sink();
        let began = tokio::time::Instant::now();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.started, ["a", "b", "c", "d", "e"]);
        assert_eq!(began.elapsed(), SETTLE_WITHOUT_PING, "one wait for the whole chain");
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_without_ping_whose_container_exits_fails_in_the_final_check() {
        let mut project = project("a, b -> a, x", FakeHooks::default());
        project.services["a"].image = "crashing".into();
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().crashing_images.insert("crashing".into());
        let (events, recorded) = recording_sink();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        // `b` started against `a` before the check: it counts as started, `a` as failed.
        assert_eq!((report.started, report.failed), (vec!["b".to_string(), "x".to_string()], vec!["a".to_string()]));
        let changes = service_changes(&recorded);
        let (started, failed) = (
            changes.iter().position(|change| change == "a: Started").unwrap(),
            changes.iter().position(|change| change == "a: Failed").unwrap(),
        );
        assert!(started < failed, "{changes:?}");
        assert!(backend.container_of("a").is_none(), "the container this run created is removed");
    }

    #[tokio::test(start_paused = true)]
    async fn after_ctrl_c_there_is_no_final_check() {
        let project = project("a", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        let (events, _) = recording_sink();
        let options = options();
        let cancel = options.cancel.clone();
        let run = tokio::spawn({
            let backend = Arc::clone(&backend);
            async move { start(backend, &project, Context::default(), options, events).await }
        });
        tokio::time::sleep(SETTLE_WITHOUT_PING / 2).await;
        cancel.cancel();
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.started, ["a"]);
    }

    // Every pull begins with the run, before any service is created, and an image two
    // services share is pulled once.
    #[tokio::test]
    async fn pulls_begin_with_the_run_once_per_image() {
        let project = project("a, b -> a, c -> a", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().pullable.insert("shared:1".into());
        let (events, recorded) = recording_sink();
        let options = StartOptions { pulls: vec![("shared:1".into(), vec!["b".into(), "c".into()])], ..options() };
        let report = start(Arc::clone(&backend), &project, Context::default(), options, events).await.unwrap();
        assert_eq!(report.failed, Vec::<String>::new());
        let calls = backend.calls();
        let pulls: Vec<&String> = calls.iter().filter(|call| call.starts_with("pull ")).collect();
        assert_eq!(pulls, ["pull shared:1"], "{calls:?}");
        let position = |wanted: &str| calls.iter().position(|call| call == wanted).unwrap();
        assert!(position("pull shared:1") < position("create a"), "{calls:?}");
        let recorded = recorded.lock().unwrap();
        assert!(recorded.iter().any(|event| matches!(event, Event::ImagePulled { image, .. } if image == "shared:1")));
    }

    #[tokio::test]
    async fn running_containers_are_left_alone_and_stopped_ones_reused() {
        let hooks = FakeHooks::default().with("a", HookKind::PostStart, |context| {
            let runs = context.get("runs").and_then(|value| value.as_i64()).unwrap_or(0);
            context.set("runs", serde_json::json!(runs + 1));
            Ok(HookValue::Bool(true))
        });
        let project = project("a", hooks);
        let backend = Arc::new(FakeBackend::default());
        let context = Context::default();
        let (events, _) = recording_sink();
        start(Arc::clone(&backend), &project, context.clone(), options(), events.clone()).await.unwrap();
        let first = backend.container_of("a").unwrap();
        start(Arc::clone(&backend), &project, context.clone(), options(), events.clone()).await.unwrap();
        backend.stop_container(&first.id, Duration::ZERO).await.unwrap();
        let report = start(Arc::clone(&backend), &project, context.clone(), options(), events).await.unwrap();
        assert_eq!(report.started, ["a"]);
        assert_eq!(backend.container_of("a").unwrap().id, first.id, "the stopped container is reused");
        assert_eq!(context.get("runs"), Some(serde_json::json!(1)), "post_start ran only for the new container");
    }

    // Issue 7: a stopped container that this run restarted is only stopped again when its
    // ping fails; removing it would delete the data in its anonymous volumes.
    #[tokio::test]
    async fn a_restarted_container_that_fails_is_stopped_not_removed() {
        let hooks = FakeHooks::default()
            .with("a", HookKind::Ping, |context| Ok(HookValue::Bool(context.get("fail").is_none())));
        let project = project("a", hooks);
        let backend = Arc::new(FakeBackend::default());
        let context = Context::default();
        let (events, _) = recording_sink();
        start(Arc::clone(&backend), &project, context.clone(), options(), events.clone()).await.unwrap();
        let first = backend.container_of("a").unwrap();
        backend.stop_container(&first.id, Duration::ZERO).await.unwrap();
        context.set("fail", serde_json::json!(true));
        let options = StartOptions { timeout: Duration::from_millis(300), ..options() };
        let report = start(Arc::clone(&backend), &project, context, options, events).await.unwrap();
        assert_eq!(report.failed, ["a"]);
        let kept = backend.container_of("a").expect("the restarted container is kept");
        assert_eq!((kept.id, kept.state), (first.id, ContainerState::Stopped));
    }

    #[tokio::test]
    async fn a_paused_container_is_unpaused_not_recreated() {
        let project = project("a, b -> a", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        let (events, recorded) = recording_sink();
        let context = Context::default();
        start(Arc::clone(&backend), &project, context.clone(), options(), events.clone()).await.unwrap();
        let first = backend.container_of("a").unwrap();
        backend.state.lock().unwrap().containers.iter_mut().for_each(|(info, spec)| {
            if spec.alias == "a" {
                info.state = ContainerState::Paused;
            }
        });
        let report = start(Arc::clone(&backend), &project, context, options(), events).await.unwrap();
        assert_eq!(report.started, ["a", "b"]);
        let now = backend.container_of("a").unwrap();
        assert_eq!((now.id, now.state), (first.id, ContainerState::Running));
        assert!(service_changes(&recorded).contains(&"a: Unpausing".to_string()));
        assert!(!backend.calls().iter().any(|call| call == "remove a"));
    }

    #[tokio::test]
    async fn image_volumes_are_boss_volumes_that_outlive_a_recreate() {
        let mut project = project("a", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().image_volumes.insert("a:1".into(), vec!["/data".into(), "/bound/".into()]);
        project.services["a"].image = "a:1".into();
        project.services["a"].volumes.push(crate::service::Volume {
            source: crate::service::MountSource::Host("/tmp".into()),
            container: "/bound".into(),
            read_only: false,
        });
        let (events, _) = recording_sink();
        start(Arc::clone(&backend), &project, Context::default(), options(), events.clone()).await.unwrap();
        let first = backend.container_of("a").unwrap();
        backend.stop_container(&first.id, Duration::ZERO).await.unwrap();
        project.services["a"].env.push(("NEW".into(), "1".into()));
        start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        let volume = ownership::volume_name("g", "a", "/data");
        let calls = backend.calls();
        assert_eq!(calls.iter().filter(|call| **call == format!("create volume {volume}")).count(), 1, "{calls:?}");
        let state = backend.state.lock().unwrap();
        let (info, spec) = state.containers.iter().find(|(info, _)| info.id != first.id).expect("a new container");
        assert_eq!(info.state, ContainerState::Running);
        assert_eq!(spec.volumes, [VolumeMount { volume, path: "/data".into() }], "a bind covers /bound");
    }

    #[tokio::test]
    async fn a_named_volume_is_the_groups_shared_and_a_foreign_one_refused() {
        let mut project = project("a, b", FakeHooks::default());
        for name in ["a", "b"] {
            project.services[name].volumes.push(crate::service::Volume {
                source: crate::service::MountSource::Named("data".into()),
                container: "/d".into(),
                read_only: false,
            });
        }
        let backend = Arc::new(FakeBackend::default());
        let (events, _) = recording_sink();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        {
            let state = backend.state.lock().unwrap();
            let volumes: Vec<_> = state.volumes.iter().filter(|volume| volume.name == "g.data").collect();
            assert_eq!(volumes.len(), 1);
            assert_eq!(volumes[0].labels.get(label::GROUP).map(String::as_str), Some("g"));
            assert_eq!(volumes[0].labels.get(label::VOLUME).map(String::as_str), Some("data"));
            assert!(!volumes[0].labels.contains_key(label::SERVICE), "it is the group's, not a service's");
            assert_eq!(state.containers.len(), 2);
            assert!(state.containers.iter().all(|(_, spec)| spec.binds == ["g.data:/d:rw"]));
        }

        let backend = Arc::new(FakeBackend::default());
        backend
            .state
            .lock()
            .unwrap()
            .volumes
            .push(crate::backend::VolumeInfo { name: "g.data".into(), labels: crate::backend::Labels::new() });
        let (events, recorded) = recording_sink();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.failed, ["a", "b"]);
        let failure = recorded.lock().unwrap().iter().find_map(|event| match event {
            Event::Service { change: ServiceChange::Failed { failure }, .. } => Some(failure.render()),
            _ => None,
        });
        assert!(failure.unwrap().contains("a volume named `g.data` exists but was not created by boss"));
        assert!(backend.state.lock().unwrap().containers.is_empty(), "nothing mounts it: {:?}", backend.calls());
    }

    #[tokio::test]
    async fn a_volume_of_another_group_is_refused() {
        let mut project = project("a", FakeHooks::default());
        project.services["a"].image = "a:1".into();
        let backend = Arc::new(FakeBackend::default());
        {
            let mut state = backend.state.lock().unwrap();
            state.image_volumes.insert("a:1".into(), vec!["/data".into()]);
            state.volumes.push(crate::backend::VolumeInfo {
                name: ownership::volume_name("g", "a", "/data"),
                labels: ownership::group_labels("other"),
            });
        }
        let (events, recorded) = recording_sink();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.failed, ["a"]);
        let failure = recorded.lock().unwrap().iter().find_map(|event| match event {
            Event::Service { change: ServiceChange::Failed { failure }, .. } => Some(failure.render()),
            _ => None,
        });
        assert!(failure.unwrap().contains("belongs to boss group `other`"));
    }

    #[tokio::test]
    async fn post_start_values_are_saved_before_the_run_ends() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(crate::context::FILE_NAME);
        let saved_path = path.clone();
        let hooks = FakeHooks::default()
            .with("a", HookKind::PostStart, |context| {
                context.set("token", serde_json::json!("t0k"));
                Ok(HookValue::Bool(true))
            })
            .with("b", HookKind::PreStart, move |_| {
                // `b` starts after `a`: by now `a`'s value must be on disk.
                let saved = Context::load(&saved_path).unwrap();
                assert_eq!(saved.get("token"), Some(serde_json::json!("t0k")));
                Ok(HookValue::Bool(true))
            });
        let project = project("a, b -> a", hooks);
        let (events, _) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        let context = Context::load(&path).unwrap();
        let report = start(backend, &project, context, options(), events).await.unwrap();
        assert_eq!(report.started, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_running_container_is_kept_when_its_env_cannot_be_filled_in() {
        let mut project = project("a", FakeHooks::default());
        let backend = Arc::new(FakeBackend::default());
        let context = Context::default();
        context.set("token", serde_json::json!("t"));
        project.services["a"].env.push(("TOKEN".into(), "{token}".into()));
        let (events, _) = recording_sink();
        start(Arc::clone(&backend), &project, context, options(), events.clone()).await.unwrap();
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.started, ["a"]);
    }

    fn failures(recorded: &std::sync::Mutex<Vec<Event>>) -> Vec<(String, ServiceFailure)> {
        recorded
            .lock()
            .unwrap()
            .iter()
            .filter_map(|event| match event {
                Event::Service { service, change: ServiceChange::Failed { failure } } => {
                    Some((service.clone(), failure.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_job_that_exits_otherwise_fails_and_its_dependants_are_skipped() {
        let hooks = FakeHooks::default().with("job", HookKind::PostStart, failing);
        let mut project = project("job, web -> job", hooks);
        project.services["job"].kind = ServiceKind::Job;
        project.services["job"].image = "crashing".into();
        let (events, recorded) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().crashing_images.insert("crashing".into());
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.failed, ["job", "web"]);
        let failures = failures(&recorded);
        assert!(
            matches!(&failures[..], [(job, ServiceFailure::JobFailed { exit_code: Some(1), .. })] if job == "job"),
            "the job's exit, not its post_start: {failures:?}"
        );
        assert!(service_changes(&recorded).contains(&"web: Skipped".to_string()));
        assert!(backend.container_of("web").is_none());
    }

    // The fake engine's containers never exit unless their image crashes: a job still
    // running at its `wait_timeout` fails, and says which limit ran out.
    #[tokio::test(start_paused = true)]
    async fn a_job_still_running_at_its_limit_fails() {
        let mut project = project("job", FakeHooks::default());
        project.services["job"].kind = ServiceKind::Job;
        project.services["job"].limits.wait = Some(Duration::from_secs(30));
        let (events, recorded) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        let report = start(Arc::clone(&backend), &project, Context::default(), options(), events).await.unwrap();
        assert_eq!(report.failed, ["job"]);
        let limit =
            TimeLimit { duration: Duration::from_secs(30), set_by: crate::service::LimitSource::WaitTimeoutField };
        assert!(
            matches!(&failures(&recorded)[..], [(_, ServiceFailure::JobTimeout { limit: got })] if *got == limit),
            "{:?}",
            failures(&recorded)
        );
        assert!(backend.container_of("job").is_none(), "the job's container is removed");
    }

    #[tokio::test]
    async fn an_external_service_gets_no_container_and_runs_its_start_hooks_once_until_a_stop() {
        let hooks = FakeHooks::default()
            .with("ext", HookKind::PreStart, |context| {
                let runs = context.get("pre_start_runs").and_then(|runs| runs.as_u64()).unwrap_or(0);
                context.set("pre_start_runs", serde_json::json!(runs + 1));
                Ok(HookValue::Bool(true))
            })
            .with("ext", HookKind::Ping, |_| Ok(HookValue::Bool(true)));
        let mut project = project("ext, web -> ext", hooks);
        project.services["ext"].kind = ServiceKind::External;
        project.services["ext"].image = String::new();
        let (events, _) = recording_sink();
        let backend = Arc::new(FakeBackend::default());
        let context = Context::default();
        for _ in 0..2 {
            let report =
                start(Arc::clone(&backend), &project, context.clone(), options(), events.clone()).await.unwrap();
            assert_eq!(report.started, ["ext", "web"]);
        }
        assert_eq!(context.get("pre_start_runs"), Some(serde_json::json!(1)), "only the first start runs pre_start");
        assert!(backend.container_of("ext").is_none());
        assert!(!backend.calls().iter().any(|call| call.contains("ext")), "{:?}", backend.calls());
    }
}
