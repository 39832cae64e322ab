//! The planner: what `start` does for each service, decided from what the engine holds. Every
//! decision lives here; `start.rs` only performs the action [`plan_service`] returns, and
//! `boss plan` prints the [`Plan`] of all services from one snapshot. Pure, except [`plan`],
//! which gathers the snapshot through read-only engine calls.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::backend::{Backend, ContainerInfo, ContainerSpec, ContainerState, label};
use crate::context::{Progress, StartRecord};
use crate::error::{Action, Error};
use crate::event::RecreateReason;
use crate::hook::HookKind;
use crate::image;
use crate::interpolate::{InterpolationError, Site, interpolate};
use crate::ownership::{self, Change, Changes, Definition};
use crate::project::Project;
use crate::service::{SecretSource, Service, ServiceKind};

/// What the engine holds for one service, as observed right before a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ObservedService {
    /// The service's containers (found by its labels), newest first.
    pub containers: Vec<ContainerInfo>,
    /// The id of the service's image as present locally; `None` when it is missing.
    pub image_id: Option<String>,
    /// `image_id` is the result of this run's build of a `latest` tag, so the build that
    /// decides between restart and recreate has happened.
    pub built: bool,
    /// What the context file records of the service's container: how far boss got with it.
    pub started: Option<StartRecord>,
    /// For a running `build_from` service: the build context its image was built from and the
    /// one there is now ([`crate::image::observe_build_context`]).
    pub build_context: Option<ContextHashes>,
}

/// Hashes of a build context ([`crate::build_context::hash`]): the one recorded on the image
/// a container runs, and the one the `build_from` directory gives now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextHashes {
    pub built: String,
    pub now: String,
    /// [`crate::image::build_options_hash`] recorded on the image, and of the service now.
    pub options_built: Option<String>,
    pub options_now: Option<String>,
}

/// Whether a container became ready, as far as boss recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Its readiness check passed (and `post_start` ran) since boss last started it, or boss
    /// created it before it recorded readiness (it was ready then, or it would be gone).
    Ready,
    /// Its `post_start` ran, but since boss last started it the readiness check has not passed.
    PingPending,
    /// boss created it and died (or was stopped) before its readiness check passed and its
    /// `post_start` finished.
    NeverReady,
}

impl Readiness {
    /// How far boss got with `container`, from the context file's record for its service.
    pub(crate) fn of(container: &ContainerInfo, record: Option<&StartRecord>) -> Readiness {
        if !container.labels.contains_key(label::READINESS) {
            return Readiness::Ready;
        }
        match record {
            Some(record) if record.container == container.id => match record.progress {
                Progress::Ready => Readiness::Ready,
                Progress::Restarted => Readiness::PingPending,
            },
            _ => Readiness::NeverReady,
        }
    }

    /// Whether `post_start` still has to run for the container.
    pub(crate) fn needs_post_start(self) -> bool {
        self == Readiness::NeverReady
    }
}

/// Where the containers of a run go and what they are labelled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub group: String,
    pub project_dir: String,
    pub network: String,
}

/// A container named in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRef {
    pub name: String,
    pub id: String,
}

impl From<&ContainerInfo> for ContainerRef {
    fn from(container: &ContainerInfo) -> ContainerRef {
        ContainerRef { name: container.name.clone(), id: container.id.clone() }
    }
}

/// How a new container gets its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStep {
    /// The image is present and used as it is.
    Present,
    /// The image is missing and pulled (after `pre_start`).
    Pull,
    /// The image is missing and built from `build_from` (after `pre_start`).
    Build,
}

/// What `start` does with one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceAction {
    /// A running (or paused, which is unpaused) container is left alone; no hook runs.
    /// `outdated` says what changed since it was created.
    Keep { container: ContainerRef, unpause: bool, outdated: Option<Changes> },
    /// A running (or paused) container that never became ready (boss was killed or stopped
    /// during its readiness check or `post_start`) is checked again: `ping`, then `post_start`
    /// when it never finished.
    Resume { container: ContainerRef, unpause: bool, post_start: bool, outdated: Option<Changes> },
    /// A stopped container with the same definition is started again; `remove` are extra
    /// containers of the service, removed so they never pile up. `post_start` runs after the
    /// readiness check only when it never finished for this container.
    Restart { container: ContainerRef, remove: Vec<ContainerRef>, post_start: bool },
    /// The service has no container: a new one is created.
    Create { image: ImageStep },
    /// The old containers are removed (never their volumes) and a new one is created.
    Recreate { remove: Vec<ContainerRef>, reason: RecreateReason, image: ImageStep },
    /// The `latest` tag is built from `build_from` first; the image id it gives decides
    /// whether the stopped `container` (if any) is restarted or replaced.
    Build { container: Option<ContainerRef> },
    /// Whether the stopped `container` still matches depends on values that hooks set earlier
    /// in the same run (`keys`); only a plan made before the run has this action.
    Pending { container: ContainerRef, keys: Vec<String> },
    /// A job whose stopped container exited with status 0 with the same definition (and boss
    /// recorded that it completed): it is not run again; no hook runs.
    Completed { container: ContainerRef },
    /// An external service: boss creates nothing, only its hooks run. `first_start` when
    /// `start` has not started it since the last `stop` (or ever): `pre_start`, `ping` and
    /// `post_start` run; otherwise only `ping`, so its dependants still wait for it.
    External { first_start: bool },
    /// The container is restarting, dead or being removed: the service fails.
    Unusable { container: ContainerRef },
    /// A `{key}` (in env, cmd, labels, ...) or a secret read from the context cannot be filled
    /// in: the service fails.
    Unfillable {
        /// Serialised as `env` (for an env value), or `field` and `name`.
        #[serde(flatten)]
        site: Site,
        /// Serialised as `placeholder` and `reason`.
        #[serde(flatten)]
        error: InterpolationError,
    },
}

impl ServiceAction {
    /// The hooks this action runs, in order. A `latest` build may end in a restart (only
    /// `ping`) or a new container (every hook); the plan lists every hook that may run.
    pub fn hooks(&self, service: &Service) -> Vec<&'static str> {
        let kinds: &[HookKind] = match self {
            ServiceAction::Keep { .. }
            | ServiceAction::Completed { .. }
            | ServiceAction::Unusable { .. }
            | ServiceAction::Unfillable { .. } => &[],
            ServiceAction::Restart { post_start: false, .. }
            | ServiceAction::Resume { post_start: false, .. }
            | ServiceAction::External { first_start: false } => &[HookKind::Ping],
            ServiceAction::External { first_start: true } => &HookKind::START,
            ServiceAction::Restart { post_start: true, .. } | ServiceAction::Resume { post_start: true, .. } => {
                &[HookKind::Ping, HookKind::PostStart]
            }
            ServiceAction::Create { .. }
            | ServiceAction::Recreate { .. }
            | ServiceAction::Build { .. }
            | ServiceAction::Pending { .. } => &HookKind::START,
        };
        kinds.iter().filter(|kind| service.hooks.defines(**kind)).map(|kind| kind.name()).collect()
    }

    /// Whether `start` would change anything for the service (or fail it).
    pub fn changes_something(&self) -> bool {
        !matches!(
            self,
            ServiceAction::Keep { unpause: false, .. }
                | ServiceAction::Completed { .. }
                | ServiceAction::External { first_start: false }
        )
    }

    /// Whether `post_start` runs: `Runs::May` when a build or the values of the run decide.
    fn runs_post_start(&self) -> Runs {
        match self {
            ServiceAction::Create { .. }
            | ServiceAction::Recreate { .. }
            | ServiceAction::External { first_start: true } => Runs::Will,
            ServiceAction::Restart { post_start: true, .. } | ServiceAction::Resume { post_start: true, .. } => {
                Runs::Will
            }
            ServiceAction::Build { container: None, .. } => Runs::Will,
            ServiceAction::Build { .. } | ServiceAction::Pending { .. } => Runs::May,
            ServiceAction::Keep { .. }
            | ServiceAction::Completed { .. }
            | ServiceAction::External { first_start: false }
            | ServiceAction::Restart { post_start: false, .. }
            | ServiceAction::Resume { post_start: false, .. }
            | ServiceAction::Unusable { .. }
            | ServiceAction::Unfillable { .. } => Runs::WillNot,
        }
    }

    /// Whether the action creates or starts a container, and so needs the env filled in.
    fn needs_env(&self) -> bool {
        !matches!(
            self,
            ServiceAction::Keep { .. }
                | ServiceAction::Resume { .. }
                | ServiceAction::Unusable { .. }
                | ServiceAction::Completed { .. }
                | ServiceAction::External { .. }
        )
    }
}

/// Whether a hook runs in the planned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Runs {
    Will,
    /// It depends on what a build gives or on values set earlier in the run.
    May,
    WillNot,
}

/// Where the value of a `{key}` may come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum KeySource {
    /// The `post_start` of a dependency, which may set it (a closure cannot be read ahead).
    PostStart { service: String, runs: Runs },
    /// A port that a dependency publishes, put in the context as `<service>_port_<port>`.
    Port { service: String },
    /// `.boss-context` as saved holds it.
    Context,
}

impl KeySource {
    fn provides(&self) -> bool {
        match self {
            KeySource::PostStart { runs, .. } => *runs != Runs::WillNot,
            KeySource::Port { .. } | KeySource::Context => true,
        }
    }
}

/// One `{key}` a service's definition needs, and where its value may come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyUse {
    pub key: String,
    /// The env names whose values hold `{key}`.
    pub env: Vec<String>,
    /// The other places that hold it (`cmd`, a label, ...), in JSON `{"field", "name"}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Site>,
    pub sources: Vec<KeySource>,
    /// Some source provides it; when false and the service needs its env, `start` refuses.
    pub provided: bool,
}

/// The plan for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedService {
    pub name: String,
    /// The image reference the service declares.
    pub image: String,
    pub action: ServiceAction,
    pub hooks: Vec<&'static str>,
    pub keys: Vec<KeyUse>,
}

/// A container of the group whose service the script no longer declares. `start` leaves it
/// alone and points it out; `stop` stops (and with `--remove` removes) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub service: String,
    pub container: String,
}

/// A `{key}` that nothing provides, for a service that needs its definition filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKey {
    pub service: String,
    pub site: Site,
    pub key: String,
}

/// What `start` would do: every selected service in declaration order, the excluded ones and
/// the orphans. [`crate::Group::plan`] makes one; `boss plan --format json` prints it.
///
/// ```no_run
/// # async fn example() -> Result<(), boss::Error> {
/// let plan = boss::Group::load("services.rhai")?.plan().await?;
/// for service in &plan.services {
///     println!("{}: {:?} (hooks: {:?})", service.name, service.action, service.hooks);
/// }
/// assert!(plan.missing_keys().is_empty(), "every {{key}} has a source");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub group: String,
    /// Whether `start` would change anything (or fail a service); orphans do not count, as
    /// `start` leaves them alone.
    pub changes: bool,
    pub services: Vec<PlannedService>,
    pub excluded: Vec<String>,
    pub orphans: Vec<Orphan>,
}

impl Plan {
    /// The missing images the plan pulls, each once, with the services that need it: `start`
    /// pulls them all as it begins, instead of each when its service's turn comes.
    pub(crate) fn images_to_pull(&self) -> Vec<(String, Vec<String>)> {
        let mut images: IndexMap<String, Vec<String>> = IndexMap::new();
        for service in &self.services {
            if let ServiceAction::Create { image: ImageStep::Pull }
            | ServiceAction::Recreate { image: ImageStep::Pull, .. } = service.action
            {
                images.entry(service.image.clone()).or_default().push(service.name.clone());
            }
        }
        images.into_iter().collect()
    }

    /// The keys no source provides, for services whose action needs their env.
    pub fn missing_keys(&self) -> Vec<MissingKey> {
        let mut missing = Vec::new();
        for service in self.services.iter().filter(|service| service.action.needs_env()) {
            for key in service.keys.iter().filter(|key| !key.provided) {
                for site in key.sites() {
                    missing.push(MissingKey { service: service.name.clone(), site, key: key.key.clone() });
                }
            }
        }
        missing
    }
}

impl KeyUse {
    /// Every place that holds the key, env first.
    pub fn sites(&self) -> Vec<Site> {
        self.env.iter().map(|name| Site::Env(name.clone())).chain(self.fields.iter().cloned()).collect()
    }
}

/// Why a `{key}` of the definition cannot be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FillProblem {
    pub site: Site,
    pub error: InterpolationError,
}

/// Every string of the service's definition that may hold `{key}`s, with where it is.
pub(crate) fn templates(service: &Service) -> Vec<(Site, &str)> {
    let mut templates: Vec<(Site, &str)> =
        service.env.iter().map(|(name, value)| (Site::Env(name.clone()), value.as_str())).collect();
    for (site, words) in [(Site::Entrypoint, &service.entrypoint), (Site::Cmd, &service.cmd)] {
        templates.extend(words.iter().flatten().map(|word| (site.clone(), word.as_str())));
    }
    templates.extend(service.working_dir.iter().map(|directory| (Site::WorkingDir, directory.as_str())));
    templates.extend(service.labels.iter().map(|(name, value)| (Site::Label(name.clone()), value.as_str())));
    templates
        .extend(service.extra_hosts.iter().map(|(host, address)| (Site::ExtraHost(host.clone()), address.as_str())));
    templates
}

/// The container spec for a service, with every `{key}` filled in from `values`.
pub(crate) fn container_spec(
    service: &Service,
    values: &Map<String, Value>,
    target: &Target,
) -> Result<ContainerSpec, FillProblem> {
    let fill = |site: Site, text: &str| interpolate(text, values).map_err(|error| FillProblem { site, error });
    let mut env = Vec::with_capacity(service.env.len());
    for (key, value) in &service.env {
        let filled = fill(Site::Env(key.clone()), value)?;
        env.push(format!("{key}={filled}"));
    }
    let words = |site: Site, words: &Option<Vec<String>>| {
        words.as_ref().map(|words| words.iter().map(|word| fill(site.clone(), word)).collect()).transpose()
    };
    let mut labels = ownership::service_labels(&target.group, &service.name);
    for (name, value) in &service.labels {
        labels.insert(name.clone(), fill(Site::Label(name.clone()), value)?);
    }
    let mut extra_hosts = Vec::with_capacity(service.extra_hosts.len());
    for (host, address) in &service.extra_hosts {
        extra_hosts.push(format!("{host}:{}", fill(Site::ExtraHost(host.clone()), address)?));
    }
    let mut binds: Vec<String> = service.volumes.iter().map(|volume| volume.bind_string(&target.group)).collect();
    let mut secrets = Vec::with_capacity(service.secrets.len());
    let mut secret_files = Vec::new();
    for secret in &service.secrets {
        let unavailable = |key: &str| FillProblem {
            site: Site::Secret(secret.name.clone()),
            error: InterpolationError::UnknownKey {
                key: key.to_string(),
                existing: if matches!(secret.source, SecretSource::Context(_)) {
                    values.keys().cloned().collect()
                } else {
                    Vec::new()
                },
            },
        };
        let value = crate::secret::value(&secret.source, values).ok_or_else(|| {
            unavailable(match &secret.source {
                SecretSource::Env(key) | SecretSource::Context(key) => key,
                SecretSource::File(path) => path.to_str().unwrap_or_default(),
            })
        })?;
        let host = match &secret.source {
            SecretSource::File(path) => path.clone(),
            SecretSource::Env(_) | SecretSource::Context(_) => {
                let path = crate::secret::file_for(
                    std::path::Path::new(&target.project_dir),
                    &target.group,
                    &service.name,
                    &secret.name,
                );
                secret_files.push(crate::secret::SecretFile { path: path.clone(), value: value.clone() });
                path
            }
        };
        binds.push(format!("{}:{}:ro", host.display(), secret.target()));
        secrets.push((secret.name.clone(), crate::secret::hash(&target.group, &service.name, &secret.name, &value.0)));
    }
    let mut spec = ContainerSpec {
        name: ownership::container_name(&target.group, &service.name),
        image: service.image.clone(),
        env,
        ports: service.ports.clone(),
        binds,
        volumes: Vec::new(),
        stop_signal: service.stop_signal,
        entrypoint: words(Site::Entrypoint, &service.entrypoint)?,
        cmd: words(Site::Cmd, &service.cmd)?,
        user: service.user.clone(),
        labels,
        network: target.network.clone(),
        alias: service.name.clone(),
        working_dir: service.working_dir.as_deref().map(|directory| fill(Site::WorkingDir, directory)).transpose()?,
        extra_hosts,
        tmpfs: service.tmpfs.clone(),
        restart: service.restart,
        resources: service.resources,
        init: service.init,
        healthcheck: service.healthcheck.clone(),
        secrets,
        secret_files,
    };
    spec.labels.insert(label::PROJECT_DIR.to_string(), target.project_dir.clone());
    spec.labels.insert(label::READINESS.to_string(), label::READINESS_RECORDED.to_string());
    Ok(spec)
}

/// Why the container's recorded definition (label text) differs from `new`; `None` when it
/// matches. The planner's one question to `ownership.rs` about changes.
fn definition_changes(new: &Definition, recorded: &ContainerInfo) -> Option<Changes> {
    ownership::mismatch(new, recorded.labels.get(label::DEFINITION).map(String::as_str))
}

/// What to do with one service, given what the engine holds now and the context's values.
/// `set_later` are keys that hooks of this run will (or may) set before the service starts;
/// the executor, deciding right before it acts, passes none. `fresh` asks for a new container
/// whatever the old one is (the target of `reload`, whose image was just built).
pub(crate) fn plan_service(
    service: &Service,
    observed: &ObservedService,
    values: &Map<String, Value>,
    set_later: &[String],
    target: &Target,
    fresh: bool,
) -> ServiceAction {
    if service.kind == ServiceKind::External {
        let started = observed
            .started
            .as_ref()
            .is_some_and(|record| record.container == EXTERNAL_RECORD && record.progress == Progress::Ready);
        return ServiceAction::External { first_start: !started };
    }
    let containers = &observed.containers;
    let spec = container_spec(service, values, target);
    let live =
        containers.iter().find(|container| matches!(container.state, ContainerState::Running | ContainerState::Paused));
    if let Some(running) = live {
        // A running container keeps the env it was created with, so a context that can no
        // longer fill that env in is no reason to fail it; the comparison only says whether
        // it is outdated, against the image as it is now (nothing is built or pulled for it).
        let mut outdated = spec
            .ok()
            .and_then(|spec| definition_changes(&Definition::of(&spec, observed.image_id.as_deref()), running));
        // Only a running container is told apart by its sources: `start` rebuilds no tag but
        // `latest` (whose build decides for a stopped container by the image id), and
        // recreating from the same image would change nothing.
        if observed.build_context.as_ref().is_some_and(|hashes| hashes.built != hashes.now) {
            outdated.get_or_insert_with(|| Changes(Vec::new())).0.push(Change::BuildContextChanged);
        }
        if observed.build_context.as_ref().is_some_and(|hashes| hashes.options_built != hashes.options_now) {
            outdated.get_or_insert_with(|| Changes(Vec::new())).0.push(Change::BuildOptionsChanged);
        }
        let unpause = running.state == ContainerState::Paused;
        return match Readiness::of(running, observed.started.as_ref()) {
            Readiness::Ready => ServiceAction::Keep { container: running.into(), unpause, outdated },
            readiness => ServiceAction::Resume {
                container: running.into(),
                unpause,
                post_start: readiness.needs_post_start(),
                outdated,
            },
        };
    }
    if let Some(busy) = containers.iter().find(|container| container.state == ContainerState::Other) {
        return ServiceAction::Unusable { container: busy.into() };
    }
    let pending: Vec<String> = match &spec {
        Err(FillProblem { error: InterpolationError::UnknownKey { key, .. }, .. }) if set_later.contains(key) => {
            let mut keys: Vec<String> = templates(service)
                .into_iter()
                .flat_map(|(_, text)| crate::interpolate::keys(text))
                .chain(context_secrets(service).map(|(_, key)| key.to_string()))
                .filter(|key| !values.contains_key(key))
                .collect();
            let mut seen = Vec::new();
            keys.retain(|key| {
                let first = !seen.contains(key);
                seen.push(key.clone());
                first
            });
            if keys.iter().any(|key| !set_later.contains(key)) { Vec::new() } else { keys }
        }
        _ => Vec::new(),
    };
    if let (Err(problem), true) = (&spec, pending.is_empty()) {
        return ServiceAction::Unfillable { site: problem.site.clone(), error: problem.error.clone() };
    }
    let stopped = containers.iter().find(|container| container.state == ContainerState::Stopped);
    if image::builds_on_every_start(service) && !fresh && !observed.built {
        // A `latest` build is part of the definition: the build decides whether a stopped
        // container still matches. Unchanged sources give the same image id from the cache.
        return ServiceAction::Build { container: stopped.map(ContainerRef::from) };
    }
    let image = match (&observed.image_id, service.build_from.is_some()) {
        (Some(_), _) => ImageStep::Present,
        (None, true) => ImageStep::Build,
        (None, false) => ImageStep::Pull,
    };
    let forced = if service.always_start_new {
        Some(RecreateReason::AlwaysStartNew)
    } else if fresh {
        Some(RecreateReason::Reloading)
    } else {
        None
    };
    let mut mismatch = None;
    if let (Some(container), None) = (stopped, &forced) {
        let Ok(spec) = spec else {
            return ServiceAction::Pending { container: container.into(), keys: pending };
        };
        mismatch = definition_changes(&Definition::of(&spec, observed.image_id.as_deref()), container);
        if mismatch.is_none() {
            let readiness = Readiness::of(container, observed.started.as_ref());
            if service.kind == ServiceKind::Job && readiness == Readiness::Ready && exited_successfully(container) {
                return ServiceAction::Completed { container: container.into() };
            }
            let remove = containers.iter().filter(|other| other.id != container.id).map(ContainerRef::from).collect();
            let post_start = readiness.needs_post_start();
            return ServiceAction::Restart { container: container.into(), remove, post_start };
        }
    }
    if containers.is_empty() {
        return ServiceAction::Create { image };
    }
    let reason = forced.or(mismatch.map(RecreateReason::Changed)).unwrap_or(RecreateReason::NotUsable);
    ServiceAction::Recreate { remove: containers.iter().map(ContainerRef::from).collect(), reason, image }
}

/// The container an external service's start record names: it has none.
pub(crate) const EXTERNAL_RECORD: &str = "external";

/// Whether the engine lists a stopped container as exited with status 0 (`Exited (0) ...`).
fn exited_successfully(container: &ContainerInfo) -> bool {
    container.listed.state == "exited" && container.listed.status.starts_with("Exited (0)")
}

/// What `plan` needs besides the project.
#[derive(Debug, Clone)]
pub(crate) struct PlanOptions {
    pub network: String,
    /// Services not to start (already checked against the exclusion rules).
    pub excluded: Vec<String>,
}

/// The plan for `start` from one snapshot of the engine, gathered with read-only calls:
/// nothing is created, pulled or built.
pub(crate) async fn plan<B: Backend>(
    backend: &B,
    project: &Project,
    context: &crate::context::Context,
    options: &PlanOptions,
) -> Result<Plan, Error> {
    let values = &context.snapshot();
    // One list of the group's containers and one lookup per image, however many services.
    let containers = crate::observe::group_containers(backend, &project.group).await?;
    let orphans: Vec<ContainerInfo> =
        containers.iter().filter(|container| crate::stop::is_orphan(container, &project.services)).cloned().collect();
    let mut by_service = crate::observe::by_service(containers);
    let selected: Vec<&Service> =
        project.services.values().filter(|service| !options.excluded.contains(&service.name)).collect();
    let images = selected.iter().filter(|service| service.kind != ServiceKind::External);
    let image_ids = crate::observe::image_ids(backend, images.map(|service| service.image.as_str())).await?;
    let mut observed = IndexMap::new();
    for service in selected {
        let name = &service.name;
        let containers = by_service.shift_remove(name).unwrap_or_default();
        let image_id = image_ids.get(&service.image).cloned().flatten();
        let look_up = |error| Error::Backend { action: Action::LookUpImage { image: service.image.clone() }, error };
        let build_context = image::observe_build_context(backend, service, &containers).await.map_err(look_up)?;
        let started = context.start_record(name);
        observed.insert(name.clone(), ObservedService { containers, image_id, built: false, started, build_context });
    }
    let orphans = orphans
        .into_iter()
        .map(|container| Orphan {
            service: container.labels.get(label::SERVICE).cloned().unwrap_or_default(),
            container: container.name,
        })
        .collect();
    let target = Target {
        group: project.group.clone(),
        project_dir: project.directory.display().to_string(),
        network: options.network.clone(),
    };
    Ok(plan_snapshot(&project.services, &observed, orphans, values, &target, &options.excluded))
}

/// The plan from an observed snapshot. Services are planned in dependency order, so each one
/// knows which of its dependencies' hooks run before it.
pub(crate) fn plan_snapshot(
    services: &IndexMap<String, Service>,
    observed: &IndexMap<String, ObservedService>,
    orphans: Vec<Orphan>,
    values: &Map<String, Value>,
    target: &Target,
    excluded: &[String],
) -> Plan {
    let mut planned: IndexMap<String, PlannedService> = IndexMap::new();
    let selected: Vec<&Service> = services.values().filter(|service| !excluded.contains(&service.name)).collect();
    // One pass in an order computed once: repeated passes, each asking of every service
    // whether its dependencies were planned, were cubic in a long chain declared dependants first.
    let providers = providing_dependencies(services);
    for service in crate::graph::dependencies_first(services).into_iter().map(|name| &services[name]) {
        if excluded.contains(&service.name) {
            continue;
        }
        let providers = providers.get(service.name.as_str()).map_or(&[][..], Vec::as_slice);
        let keys = key_uses(service, services, providers, &planned, values);
        let set_later: Vec<String> = keys
            .iter()
            .filter(|key| !values.contains_key(&key.key) && key.sources.iter().any(|source| source.provides()))
            .map(|key| key.key.clone())
            .collect();
        let state = observed.get(&service.name).cloned().unwrap_or_default();
        let action = plan_service(service, &state, values, &set_later, target, false);
        let hooks = action.hooks(service);
        let image = service.image.clone();
        planned.insert(service.name.clone(), PlannedService { name: service.name.clone(), image, action, hooks, keys });
    }
    let services: Vec<PlannedService> =
        selected.iter().filter_map(|service| planned.swap_remove(&service.name)).collect();
    let changes = services.iter().any(|service| service.action.changes_something());
    Plan { group: target.group.clone(), changes, services, excluded: excluded.to_vec(), orphans }
}

/// Every `{key}` in the service's env and where its value may come from: the `post_start` of
/// a transitive dependency, a port a dependency publishes, or the saved context. `providers`
/// are the service's transitive dependencies that can provide one ([`providing_dependencies`]).
fn key_uses(
    service: &Service,
    services: &IndexMap<String, Service>,
    providers: &[usize],
    planned: &IndexMap<String, PlannedService>,
    values: &Map<String, Value>,
) -> Vec<KeyUse> {
    let mut uses: Vec<KeyUse> = Vec::new();
    for (site, text) in templates(service) {
        for key in crate::interpolate::keys(text) {
            let index = match uses.iter().position(|known| known.key == key) {
                Some(index) => index,
                None => {
                    let new = KeyUse { key, env: Vec::new(), fields: Vec::new(), sources: Vec::new(), provided: false };
                    uses.push(new);
                    uses.len() - 1
                }
            };
            let known = &mut uses[index];
            match &site {
                Site::Env(name) if !known.env.contains(name) => known.env.push(name.clone()),
                Site::Env(_) => {}
                other if !known.fields.contains(other) => known.fields.push(other.clone()),
                _ => {}
            }
        }
    }
    for (secret, key) in context_secrets(service) {
        let site = Site::Secret(secret.to_string());
        match uses.iter_mut().find(|known| known.key == key) {
            Some(known) => known.fields.push(site),
            None => uses.push(KeyUse {
                key: key.to_string(),
                env: Vec::new(),
                fields: vec![site],
                sources: Vec::new(),
                provided: false,
            }),
        }
    }
    if uses.is_empty() {
        return uses;
    }
    for key_use in &mut uses {
        for (dependency, dependency_service) in providers.iter().filter_map(|index| services.get_index(*index)) {
            // An excluded dependency is not started by this run: no hook of it runs and no
            // port of it is recorded.
            let Some(planned_dependency) = planned.get(dependency) else { continue };
            if dependency_service.hooks.post_start {
                let runs = planned_dependency.action.runs_post_start();
                key_use.sources.push(KeySource::PostStart { service: dependency.clone(), runs });
            }
            let publishes = dependency_service.ports.iter().any(|port| {
                let suffix = if port.protocol == crate::service::Protocol::Udp { "_udp" } else { "" };
                key_use.key == format!("{dependency}_port_{}{suffix}", port.container_port)
            });
            if publishes {
                key_use.sources.push(KeySource::Port { service: dependency.clone() });
            }
        }
        if values.contains_key(&key_use.key) {
            key_use.sources.push(KeySource::Context);
        }
        key_use.provided = key_use.sources.iter().any(KeySource::provides);
    }
    uses
}

/// The service's secrets read from the context, with their keys.
fn context_secrets(service: &Service) -> impl Iterator<Item = (&str, &str)> {
    service.secrets.iter().filter_map(|secret| match &secret.source {
        SecretSource::Context(key) => Some((secret.name.as_str(), key.as_str())),
        _ => None,
    })
}

/// For each service, the services it depends on, directly or not, that can provide a `{key}`
/// (those with a `post_start` or published ports), as indices in declaration order. Built
/// dependencies first from each dependency's own list, so a service costs what its providers
/// number, not a walk through everything below it: that walk, for every service of a chain of
/// thousands, was quadratic.
fn providing_dependencies(services: &IndexMap<String, Service>) -> std::collections::HashMap<&str, Vec<usize>> {
    let mut providers = std::collections::HashMap::with_capacity(services.len());
    for name in crate::graph::dependencies_first(services) {
        let mut found = std::collections::BTreeSet::new();
        for dependency in &services[name].dependencies {
            let Some((index, _, dependency_service)) = services.get_full(dependency.as_str()) else { continue };
            if dependency_service.hooks.post_start || !dependency_service.ports.is_empty() {
                found.insert(index);
            }
            found.extend(providers.get(dependency.as_str()).into_iter().flatten().copied());
        }
        providers.insert(name, found.into_iter().collect());
    }
    providers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::VolumeMount;
    use serde_json::json;

    fn target() -> Target {
        Target { group: "g".into(), project_dir: "/p".into(), network: "boss-g".into() }
    }

    fn service(edit: impl FnOnce(&mut Service)) -> Service {
        let mut service = crate::graph::tests::services("a").swap_remove("a").unwrap();
        service.env.push(("A".into(), "{a}".into()));
        service.hooks =
            crate::service::Hooks { pre_start: true, ping: true, post_start: true, ..crate::service::Hooks::default() };
        edit(&mut service);
        service
    }

    fn values(a: &str) -> Map<String, Value> {
        json!({ "a": a }).as_object().unwrap().clone()
    }

    /// A container of `service` in `state`, created with the definition the service has under
    /// `created_with` and image `sha256:1`.
    fn container(
        id: &str,
        state: ContainerState,
        service: &Service,
        created_with: &Map<String, Value>,
    ) -> ContainerInfo {
        let spec = container_spec(service, created_with, &target()).unwrap();
        let mut labels = spec.labels.clone();
        labels.insert(label::DEFINITION.into(), Definition::of(&spec, Some("sha256:1")).to_label());
        ContainerInfo {
            id: id.into(),
            name: format!("g.a-{id}"),
            state,
            labels,
            volumes: vec![VolumeMount { volume: "v".into(), path: "/data".into() }],
            listed: Default::default(),
        }
    }

    /// The action in a few words, so that a table row fits on a line.
    fn summary(action: &ServiceAction) -> String {
        let image = |step: &ImageStep| format!("{step:?}").to_lowercase();
        match action {
            ServiceAction::Keep { container, unpause, outdated } => {
                format!(
                    "keep {}{}{}",
                    container.id,
                    if *unpause { " unpause" } else { "" },
                    match outdated {
                        Some(changes) => format!(" outdated: {}", crate::output::describe_changes(changes)),
                        None => String::new(),
                    }
                )
            }
            ServiceAction::Resume { container, unpause, post_start, outdated } => format!(
                "resume {}{}{}{}",
                container.id,
                if *unpause { " unpause" } else { "" },
                if *post_start { " post_start" } else { "" },
                if outdated.is_some() { " outdated" } else { "" }
            ),
            ServiceAction::Restart { container, remove, post_start } => {
                let removed: Vec<&str> = remove.iter().map(|other| other.id.as_str()).collect();
                let post_start = if *post_start { " post_start" } else { "" };
                format!("restart {} remove [{}]{post_start}", container.id, removed.join(" "))
            }
            ServiceAction::Create { image: step } => format!("create {}", image(step)),
            ServiceAction::Recreate { remove, reason, image: step } => {
                let removed: Vec<&str> = remove.iter().map(|other| other.id.as_str()).collect();
                let reason = crate::output::describe_recreate_reason(reason);
                format!("recreate [{}] {} ({reason})", removed.join(" "), image(step))
            }
            ServiceAction::Build { container } => {
                format!("build {}", container.as_ref().map_or("-", |container| container.id.as_str()))
            }
            ServiceAction::Pending { container, keys } => format!("pending {} {}", container.id, keys.join(" ")),
            ServiceAction::Completed { container } => format!("completed {}", container.id),
            ServiceAction::External { first_start } => format!("external{}", if *first_start { " first" } else { "" }),
            ServiceAction::Unusable { container } => format!("unusable {}", container.id),
            ServiceAction::Unfillable { site, error } => {
                format!("unfillable {} {}", crate::output::site(site), error.placeholder().as_deref().unwrap_or("-"))
            }
        }
    }

    struct Case {
        name: &'static str,
        service: Service,
        containers: Vec<(&'static str, ContainerState, Map<String, Value>)>,
        image_id: Option<&'static str>,
        built: bool,
        /// The build context hashes: recorded on the image, and now.
        build_context: Option<(&'static str, &'static str)>,
        values: Map<String, Value>,
        set_later: &'static [&'static str],
        fresh: bool,
        started: Option<StartRecord>,
        /// The engine's status text of the stopped containers.
        exited: &'static str,
        expected: &'static str,
    }

    fn record(container: &str, progress: Progress) -> Option<StartRecord> {
        Some(StartRecord { container: container.into(), progress })
    }

    fn case(name: &'static str, expected: &'static str) -> Case {
        Case {
            name,
            service: service(|_| {}),
            containers: Vec::new(),
            image_id: Some("sha256:1"),
            built: false,
            build_context: None,
            values: values("1"),
            set_later: &[],
            fresh: false,
            started: record("c1", Progress::Ready),
            exited: "Exited (0) 2 minutes ago",
            expected,
        }
    }

    fn job(edit: impl FnOnce(&mut Service)) -> Service {
        service(|service| {
            service.kind = ServiceKind::Job;
            service.hooks.ping = false;
            edit(service);
        })
    }

    fn external() -> Service {
        service(|service| {
            service.kind = ServiceKind::External;
            service.image = String::new();
            service.env.clear();
        })
    }

    use ContainerState::{Other, Paused, Running, Stopped};

    // Every action and every reason of the README's "Hooks" and "Change detection" tables.
    #[test]
    fn every_action_and_reason() {
        let cases = [
            case("no container, image present", "create present"),
            Case { image_id: None, ..case("no container, image missing", "create pull") },
            Case {
                image_id: None,
                service: service(|service| {
                    service.build_from = Some("/p/app".into());
                    service.image = "app:dev".into();
                }),
                ..case("no container, image missing, build_from", "create build")
            },
            Case { containers: vec![("c1", Running, values("1"))], ..case("running, unchanged", "keep c1") },
            Case {
                containers: vec![("c1", Running, values("0"))],
                ..case("running, changed", "keep c1 outdated: env `A` changed")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                image_id: Some("sha256:2"),
                ..case("running, image pulled again", "keep c1 outdated: image `img` was rebuilt or pulled again")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                values: Map::new(),
                ..case("running, env cannot be filled in", "keep c1")
            },
            Case { containers: vec![("c1", Paused, values("1"))], ..case("paused", "keep c1 unpause") },
            Case {
                containers: vec![("c1", Stopped, values("0")), ("c2", Running, values("1"))],
                started: record("c2", Progress::Ready),
                ..case("a running one wins over a stopped one", "keep c2")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                started: None,
                ..case("running, never became ready", "resume c1 post_start")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                started: record("c0", Progress::Ready),
                ..case("running, the record is of an older container", "resume c1 post_start")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                started: record("c1", Progress::Restarted),
                ..case("running, restarted and not ready since", "resume c1")
            },
            Case {
                containers: vec![("c1", Running, values("0"))],
                started: record("c1", Progress::Restarted),
                ..case("running, not ready, changed", "resume c1 outdated")
            },
            Case {
                containers: vec![("c1", Paused, values("1"))],
                started: None,
                ..case("paused, never became ready", "resume c1 unpause post_start")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                started: None,
                ..case("stopped, never became ready", "restart c1 remove [] post_start")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                started: record("c1", Progress::Restarted),
                ..case("stopped, restarted before and not ready since", "restart c1 remove []")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                ..case("stopped, unchanged", "restart c1 remove []")
            },
            Case {
                containers: vec![("c1", Stopped, values("1")), ("c2", Stopped, values("0"))],
                ..case("stopped, unchanged, with an extra one", "restart c1 remove [c2]")
            },
            Case {
                containers: vec![("c1", Stopped, values("0"))],
                ..case("stopped, env changed", "recreate [c1] present (env `A` changed)")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                image_id: None,
                ..case("stopped, image gone", "recreate [c1] pull (image `img` was rebuilt or pulled again)")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.always_start_new = true),
                ..case("stopped, always_start_new", "recreate [c1] present (`always_start_new` is set)")
            },
            Case {
                service: service(|service| service.always_start_new = true),
                ..case("always_start_new without a container", "create present")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                fresh: true,
                ..case("stopped, reloaded", "recreate [c1] present (reloading)")
            },
            Case { containers: vec![("c1", Other, values("1"))], ..case("dead", "unusable c1") },
            Case { values: Map::new(), ..case("env cannot be filled in", "unfillable env `A` {a}") },
            Case {
                values: Map::new(),
                set_later: &["a"],
                ..case("no container, env set later in the run", "create present")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                values: Map::new(),
                set_later: &["a"],
                ..case("stopped, env set later in the run", "pending c1 a")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.env.push(("B".into(), "{a}-{a}".into()))),
                values: Map::new(),
                set_later: &["a"],
                ..case("a key used twice is pending once", "pending c1 a")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                values: Map::new(),
                set_later: &["b"],
                ..case("stopped, another key set later", "unfillable env `A` {a}")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                ..case("stopped, latest build", "build c1")
            },
            Case {
                service: service(|service| service.build_from = Some("/p/app".into())),
                ..case("no container, latest build", "build -")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                built: true,
                ..case("stopped, latest build gave the same image", "restart c1 remove []")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                image_id: Some("sha256:2"),
                built: true,
                ..case(
                    "stopped, latest build gave a new image",
                    "recreate [c1] present (image `img` was rebuilt or pulled again)",
                )
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                fresh: true,
                ..case("reload builds before, not again", "recreate [c1] present (reloading)")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                ..case("a running service is never rebuilt", "keep c1")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                build_context: Some(("sha256:old", "sha256:new")),
                ..case(
                    "a running service whose sources changed is outdated",
                    "keep c1 outdated: build context changed since its image was built",
                )
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                build_context: Some(("sha256:same", "sha256:same")),
                ..case("a running service built from its sources as they are", "keep c1")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                service: service(|service| service.build_from = Some("/p/app".into())),
                image_id: Some("sha256:2"),
                build_context: Some(("sha256:old", "sha256:new")),
                ..case(
                    "sources changed and the image rebuilt since",
                    "keep c1 outdated: image `img` was rebuilt or pulled again, build context changed since its image was built",
                )
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: job(|_| {}),
                ..case("a job that completed, unchanged, is not run again", "completed c1")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: job(|_| {}),
                exited: "Exited (1) 2 minutes ago",
                ..case("a job whose container exited otherwise since is run again", "restart c1 remove []")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: job(|_| {}),
                started: None,
                ..case("a job that never completed is run again", "restart c1 remove [] post_start")
            },
            Case {
                containers: vec![("c1", Stopped, values("0"))],
                service: job(|_| {}),
                ..case("a completed job whose definition changed", "recreate [c1] present (env `A` changed)")
            },
            Case {
                containers: vec![("c1", Stopped, values("1"))],
                service: job(|service| service.always_start_new = true),
                ..case("a completed job with always_start_new", "recreate [c1] present (`always_start_new` is set)")
            },
            Case {
                containers: vec![("c1", Running, values("1"))],
                service: job(|_| {}),
                started: None,
                ..case("a job still running after boss was killed is waited for again", "resume c1 post_start")
            },
            Case { service: external(), started: None, ..case("an external service never started", "external first") },
            Case {
                service: external(),
                started: record(EXTERNAL_RECORD, Progress::Ready),
                ..case("an external service started since the last stop", "external")
            },
        ];
        for case in cases {
            let observed = ObservedService {
                containers: case
                    .containers
                    .iter()
                    .map(|(id, state, created_with)| {
                        let mut container = container(id, *state, &case.service, created_with);
                        if *state == Stopped {
                            container.listed.state = "exited".into();
                            container.listed.status = case.exited.into();
                        }
                        container
                    })
                    .collect(),
                image_id: case.image_id.map(String::from),
                built: case.built,
                started: case.started.clone(),
                build_context: case.build_context.map(|(built, now)| ContextHashes {
                    built: built.into(),
                    now: now.into(),
                    options_built: None,
                    options_now: None,
                }),
            };
            let set_later: Vec<String> = case.set_later.iter().map(|key| key.to_string()).collect();
            let action = plan_service(&case.service, &observed, &case.values, &set_later, &target(), case.fresh);
            assert_eq!(summary(&action), case.expected, "{}", case.name);
        }
    }

    #[test]
    fn a_container_without_a_recorded_definition_is_recreated() {
        let service = service(|_| {});
        let mut stopped = container("c1", Stopped, &service, &values("1"));
        stopped.labels.remove(label::DEFINITION);
        let observed = ObservedService {
            containers: vec![stopped],
            image_id: Some("sha256:1".into()),
            built: false,
            started: None,
            build_context: None,
        };
        let action = plan_service(&service, &observed, &values("1"), &[], &target(), false);
        assert_eq!(summary(&action), "recreate [c1] present (it was created without a recorded definition)");
    }

    #[test]
    fn a_container_of_an_older_boss_counts_as_ready() {
        let service = service(|_| {});
        let mut running = container("c1", Running, &service, &values("1"));
        running.labels.remove(label::READINESS);
        let observed = ObservedService {
            containers: vec![running],
            image_id: Some("sha256:1".into()),
            built: false,
            started: None,
            build_context: None,
        };
        let action = plan_service(&service, &observed, &values("1"), &[], &target(), false);
        assert_eq!(summary(&action), "keep c1");
    }

    #[test]
    fn hooks_follow_the_action() {
        let service = service(|service| service.hooks.pre_start = false);
        let keep = ServiceAction::Keep {
            container: ContainerRef { name: "n".into(), id: "c".into() },
            unpause: false,
            outdated: None,
        };
        assert_eq!(keep.hooks(&service), Vec::<&str>::new());
        let restart = ServiceAction::Restart {
            container: ContainerRef { name: "n".into(), id: "c".into() },
            remove: vec![],
            post_start: false,
        };
        assert_eq!(restart.hooks(&service), ["ping"]);
        assert_eq!(ServiceAction::Create { image: ImageStep::Pull }.hooks(&service), ["ping", "post_start"]);
        assert!(!keep.changes_something() && restart.changes_something());
    }

    /// `store` -> `app` -> `web`; `app` needs `{admin_id}`, `web` needs `app`'s port and
    /// `{token}`.
    fn chain() -> IndexMap<String, Service> {
        let mut services = crate::graph::tests::services("store, app -> store, web -> app");
        services["store"].hooks.post_start = true;
        services["app"].env.push(("ADMIN_ID".into(), "{admin_id}".into()));
        services["app"].ports.push(crate::service::PortMapping {
            container_port: 80,
            protocol: crate::service::Protocol::Tcp,
            host_ip: "127.0.0.1".into(),
            host_port: 0,
        });
        services["web"].env.push(("API".into(), "http://127.0.0.1:{app_port_80}/{token}".into()));
        services
    }

    fn snapshot(
        services: &IndexMap<String, Service>,
        running: &[&str],
        values: &Map<String, Value>,
        excluded: &[&str],
    ) -> Plan {
        let observed: IndexMap<String, ObservedService> = services
            .values()
            .map(|service| {
                let containers = if running.contains(&service.name.as_str()) {
                    let mut info = container("c", Running, &crate::graph::tests::services("a")["a"], &Map::new());
                    info.name = format!("g.{}", service.name);
                    vec![info]
                } else {
                    Vec::new()
                };
                (
                    service.name.clone(),
                    ObservedService {
                        containers,
                        image_id: Some("sha256:1".into()),
                        built: false,
                        started: record("c", Progress::Ready),
                        build_context: None,
                    },
                )
            })
            .collect();
        let excluded: Vec<String> = excluded.iter().map(|name| name.to_string()).collect();
        plan_snapshot(services, &observed, Vec::new(), values, &target(), &excluded)
    }

    fn sources(plan: &Plan, service: &str) -> Vec<(String, Vec<KeySource>, bool)> {
        let planned = plan.services.iter().find(|planned| planned.name == service).unwrap();
        planned.keys.iter().map(|key| (key.key.clone(), key.sources.clone(), key.provided)).collect()
    }

    #[test]
    fn keys_come_from_hooks_that_run_ports_or_the_saved_context() {
        let services = chain();
        let empty = Map::new();
        let plan = snapshot(&services, &[], &empty, &[]);
        let store_runs = KeySource::PostStart { service: "store".into(), runs: Runs::Will };
        assert_eq!(sources(&plan, "app"), [("admin_id".to_string(), vec![store_runs.clone()], true)]);
        assert_eq!(
            sources(&plan, "web"),
            [
                ("app_port_80".to_string(), vec![store_runs.clone(), KeySource::Port { service: "app".into() }], true),
                ("token".to_string(), vec![store_runs], true),
            ]
        );
        assert!(plan.missing_keys().is_empty());
        assert!(plan.changes);

        // `store` keeps running, so its `post_start` does not run: `{admin_id}` must be saved.
        let plan = snapshot(&services, &["store"], &empty, &[]);
        let store_idle = KeySource::PostStart { service: "store".into(), runs: Runs::WillNot };
        assert_eq!(sources(&plan, "app"), [("admin_id".to_string(), vec![store_idle.clone()], false)]);
        let missing = plan.missing_keys();
        assert_eq!(
            missing
                .iter()
                .map(|missing| format!("{} {} {}", missing.service, crate::output::site(&missing.site), missing.key))
                .collect::<Vec<_>>(),
            ["app env `ADMIN_ID` admin_id", "web env `API` token"]
        );
        let saved = json!({ "admin_id": 7, "token": "t" }).as_object().unwrap().clone();
        let plan = snapshot(&services, &["store"], &saved, &[]);
        assert_eq!(sources(&plan, "app"), [("admin_id".to_string(), vec![store_idle, KeySource::Context], true)]);
        assert!(plan.missing_keys().is_empty());

        // An excluded dependency runs no hook.
        let plan = snapshot(&services, &[], &empty, &["web"]);
        assert_eq!(plan.excluded, ["web"]);
        assert_eq!(plan.services.iter().map(|service| service.name.as_str()).collect::<Vec<_>>(), ["store", "app"]);
    }

    #[test]
    fn a_running_service_needs_no_key() {
        let services = chain();
        let plan = snapshot(&services, &["store", "app", "web"], &Map::new(), &[]);
        assert!(plan.missing_keys().is_empty());
        assert!(!plan.changes);
    }

    #[test]
    fn keys_outside_env_are_planned_and_filled_like_env() {
        let mut services = chain();
        let app = &mut services["app"];
        app.cmd = Some(vec!["serve".into(), "--id={admin_id}".into()]);
        app.working_dir = Some("/srv/{tenant}".into());
        app.labels.push(("owner".into(), "{tenant}".into()));
        app.extra_hosts.push(("store.local".into(), "{store_ip}".into()));
        let plan = snapshot(&services, &["store"], &Map::new(), &[]);
        let app_plan = plan.services.iter().find(|planned| planned.name == "app").unwrap();
        let keys: Vec<(&str, Vec<Site>)> = app_plan.keys.iter().map(|key| (key.key.as_str(), key.sites())).collect();
        assert_eq!(
            keys,
            [
                ("admin_id", vec![Site::Env("ADMIN_ID".into()), Site::Cmd]),
                ("tenant", vec![Site::WorkingDir, Site::Label("owner".into())]),
                ("store_ip", vec![Site::ExtraHost("store.local".into())]),
            ]
        );
        let missing: Vec<String> = plan
            .missing_keys()
            .iter()
            .filter(|missing| missing.service == "app")
            .map(|missing| format!("{} {}", crate::output::site(&missing.site), missing.key))
            .collect();
        assert_eq!(
            missing,
            [
                "env `ADMIN_ID` admin_id",
                "`cmd` admin_id",
                "`working_dir` tenant",
                "label `owner` tenant",
                "extra host `store.local` store_ip"
            ]
        );

        let values = json!({ "admin_id": 7, "tenant": "acme", "store_ip": "10.0.0.9" }).as_object().unwrap().clone();
        let spec = container_spec(&services["app"], &values, &target()).unwrap();
        assert_eq!(spec.cmd.unwrap(), ["serve", "--id=7"]);
        assert_eq!(spec.working_dir.as_deref(), Some("/srv/acme"));
        assert_eq!(spec.labels.get("owner").map(String::as_str), Some("acme"));
        assert_eq!(spec.extra_hosts, ["store.local:10.0.0.9"]);
        let without_ip = json!({ "admin_id": 7, "tenant": "acme" }).as_object().unwrap().clone();
        let problem = container_spec(&services["app"], &without_ip, &target()).unwrap_err();
        assert_eq!(problem.site, Site::ExtraHost("store.local".into()));
    }
}
