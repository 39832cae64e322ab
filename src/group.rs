//! The library's entry point: load a services script as a [`Group`], start it from Rust code
//! (a test suite, a tool), and get a [`Running`] handle that reports ports and context values
//! and stops the group again, explicitly or when it is dropped.
//!
//! Nothing here installs signal handlers, builds a runtime or exits the process: the caller's
//! tokio runtime runs everything, and cancellation comes from the caller's token.

use std::future::{Future, IntoFuture};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::context::Context;
use crate::docker::DockerBackend;
use crate::error::{Error, UsageError};
use crate::event::{Event, EventSink, Operation};
use crate::lock::{GroupLock, LockRequest};
use crate::plan::{Plan, PlanOptions};
use crate::project::Project;
use crate::reload::ReloadOptions;
use crate::service::ServiceKind;
use crate::start::{StartOptions, StartReport};
use crate::status::Status;
use crate::stop::{StopHooks, StopOptions, StopReport};

/// Grace before SIGKILL when a service that failed to start is torn down, and the default
/// grace of a stop.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// A services script, loaded and checked, ready to start.
///
/// ```no_run
/// # async fn example() -> Result<(), boss::Error> {
/// let group = boss::Group::load("tests/services.rhai")?.name("orders-test-42").exclude(["worker"]);
/// let running = group.start().await?;
/// let url = format!("http://127.0.0.1:{}/", running.port("api", 8080)?);
/// let admin = running.context().get("admin_id");
/// running.stop().remove().await?;
/// # let _ = (url, admin);
/// # Ok(())
/// # }
/// ```
pub struct Group {
    project: Project,
    excluded: Vec<String>,
    timeout: Duration,
    network: Option<String>,
    /// Where events go: the script's hooks were given [`Group::events`]'s relay when it loaded,
    /// so a receiver set later still gets their `log(...)` lines.
    receiver: Arc<std::sync::RwLock<EventSink>>,
    events: EventSink,
    cancel: CancellationToken,
    /// Loaded on first use, from the context file of the script and group name.
    context: Option<Context>,
    /// The values `context` was loaded with, to tell what the caller set since.
    loaded: Option<serde_json::Map<String, serde_json::Value>>,
    /// How long to wait for another boss working on the group; `None`: as long as it takes.
    lock_timeout: Option<Duration>,
    /// What a start says it does to a boss waiting for the group: `start`, or `run`.
    operation: Operation,
    /// Where a start writes the logs of failed services.
    save_logs: Option<std::path::PathBuf>,
    /// Services named and profiles activated ([`Group::only`], [`Group::profiles`]).
    selection: crate::select::Selection,
    /// [`Group::env`] shows secret values.
    show_secrets: bool,
}

/// A sink that passes every event on to whatever `receiver` holds at the time.
fn relay() -> (Arc<std::sync::RwLock<EventSink>>, EventSink) {
    let receiver = Arc::new(std::sync::RwLock::new(EventSink::new(|_| {})));
    let target = Arc::clone(&receiver);
    let relay = EventSink::new(move |event| {
        target.read().unwrap_or_else(std::sync::PoisonError::into_inner).deliver(event);
    });
    (receiver, relay)
}

impl Group {
    /// Loads and checks the script at `path`: every mistake in it is an [`Error`] now, before
    /// the engine is contacted.
    ///
    /// ```no_run
    /// let group = boss::Group::load("services.rhai").expect("a valid script");
    /// assert!(!group.group_name().is_empty());
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Group, Error> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::Usage(UsageError::NoScript { path: path.to_path_buf() }));
        }
        let (receiver, events) = relay();
        Ok(Group::new(crate::script::load(path, events.clone())?, receiver, events))
    }

    /// Loads a script from its text, as if it were the file `services.rhai` in `directory`
    /// (relative paths, imports and the context file are resolved there).
    ///
    /// ```
    /// let directory = std::env::temp_dir();
    /// let group = boss::Group::from_source(
    ///     r#"service(#{ name: "web", image: "nginx:1.27" });"#,
    ///     &directory,
    /// )
    /// .unwrap()
    /// .name("docs-example");
    /// assert_eq!(group.group_name(), "docs-example");
    /// ```
    pub fn from_source(text: &str, directory: impl AsRef<Path>) -> Result<Group, Error> {
        let path = directory.as_ref().join("services.rhai");
        let (receiver, events) = relay();
        Ok(Group::new(crate::script::load_text(&path, text.to_string(), events.clone())?, receiver, events))
    }

    fn new(project: Project, receiver: Arc<std::sync::RwLock<EventSink>>, events: EventSink) -> Group {
        Group {
            project,
            excluded: Vec::new(),
            timeout: Duration::from_secs(300),
            network: None,
            receiver,
            events,
            cancel: CancellationToken::new(),
            context: None,
            loaded: None,
            lock_timeout: None,
            operation: Operation::Start,
            save_logs: None,
            selection: crate::select::Selection::default(),
            show_secrets: false,
        }
    }

    /// The context the run will start from: the saved context file of this script and group
    /// name, loaded on first use. Values set here before [`Group::start`] are visible to hooks
    /// and to `{key}` in env.
    pub fn context(&mut self) -> Result<&Context, Error> {
        if self.context.is_none() {
            let context = Context::load(&self.project.context_path())?;
            self.loaded = Some(context.snapshot());
            self.context = Some(context);
        }
        Ok(self.context.get_or_insert_with(Context::default))
    }

    /// The group's name: the script's `group(...)`, its default, or [`Group::name`].
    pub fn group_name(&self) -> &str {
        &self.project.group
    }

    /// Runs the script under another group name, so two runs of one script (two tests) never
    /// share containers, a network or a context file. The name is checked when the group
    /// starts.
    ///
    /// ```no_run
    /// let group = boss::Group::load("services.rhai").unwrap().name("orders-test-42");
    /// assert_eq!(group.group_name(), "orders-test-42");
    /// ```
    #[must_use]
    pub fn name(mut self, name: &str) -> Group {
        let script_name = self.project.script_name.clone();
        self.project.context_file =
            self.project.directory.join(crate::context::file_name_for_group(&script_name, name));
        self.project.group = name.to_string();
        self.context = None;
        self.loaded = None;
        self
    }

    /// Services not to start. A started service needs its dependencies, so excluding one that
    /// another started service depends on is an error when the group starts.
    #[must_use]
    pub fn exclude<I, S>(mut self, services: I) -> Group
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.excluded.extend(services.into_iter().map(|service| service.as_ref().trim().to_string()));
        self.excluded.retain(|service| !service.is_empty());
        self
    }

    /// How long each service's `ping` (and each other hook) may take; 300 s by default. A
    /// service's own `wait_timeout` and `hook_timeout` take precedence for it.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Group {
        self.timeout = timeout;
        self
    }

    /// How long a start, reload or stop waits while another boss (another process, or another
    /// call in this one) works on the same group, before it gives up with
    /// [`Error::LockTimeout`]; by default it waits as long as it takes. `Duration::ZERO` gives
    /// up at once. Also the limit of [`Running::stop`] and of the clean-up on drop.
    ///
    /// ```no_run
    /// let group = boss::Group::load("services.rhai").unwrap().lock_timeout(std::time::Duration::from_secs(30));
    /// # let _ = group;
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Group {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Says `run` instead of `start` to a boss waiting for the group (the CLI's `run`).
    pub(crate) fn for_run(mut self) -> Group {
        self.operation = Operation::Run;
        self
    }

    /// The network to use instead of `boss-<group>`.
    #[must_use]
    pub fn network_name(mut self, name: &str) -> Group {
        self.network = Some(name.to_string());
        self
    }

    /// Writes the log of every service that fails to start to `directory/<service>.log`
    /// (with timestamps), before its container is removed: what a CI job keeps.
    #[must_use]
    pub fn save_logs(mut self, directory: impl AsRef<Path>) -> Group {
        self.save_logs = Some(directory.as_ref().to_path_buf());
        self
    }

    /// Receives every [`Event`] of the run (containers created, hooks' `log(...)`, failures).
    #[must_use]
    pub fn events(self, receiver: impl Fn(&Event) + Send + Sync + 'static) -> Group {
        self.events_to(EventSink::new(receiver))
    }

    /// The script's services, with their dependencies.
    pub(crate) fn services(&self) -> &indexmap::IndexMap<String, crate::service::Service> {
        &self.project.services
    }

    pub(crate) fn events_to(mut self, sink: EventSink) -> Group {
        for warning in std::mem::take(&mut self.project.warnings) {
            sink.deliver(&warning);
        }
        *self.receiver.write().unwrap_or_else(std::sync::PoisonError::into_inner) = sink;
        self
    }

    /// Cancelling `token` stops a start as Ctrl-C does: no new service starts, running hooks
    /// stop, and the services that were starting are torn down.
    #[must_use]
    pub fn cancel_on(mut self, token: CancellationToken) -> Group {
        self.cancel = token;
        self
    }

    /// Starts the group: the network, then every service in dependency order. If a service
    /// fails, everything this call started is stopped and removed again before the error
    /// (typically [`Error::ServicesFailed`]) is returned, so a failed test leaves nothing behind.
    /// The exception is an engine that went away or stopped answering
    /// ([`Error::EngineLost`]): cleaning up would need it, so what started is left for the
    /// next start (or `boss stop --remove`) to find by its labels.
    pub async fn start(self) -> Result<Running, Error> {
        let (running, report) = self.run_start().await?;
        match report {
            Ok(report) => running.fail_on(report).await,
            // A lost engine cannot clean up; the next start finds what is left.
            Err(error @ Error::EngineLost { .. }) => {
                running.keep();
                Err(error)
            }
            Err(error) => {
                running.stop().remove().volumes().await.ok();
                Err(error)
            }
        }
    }

    /// Starts the group and returns what started and what failed, leaving both as they are
    /// (the CLI's `start`).
    pub(crate) async fn start_keeping_failures(self) -> Result<(Running, StartReport), Error> {
        let (running, report) = self.run_start().await?;
        keep_on_error(running, report)
    }

    /// Starts the group; the outer error is one that stopped it before anything changed.
    async fn run_start(self) -> Result<(Running, Result<StartReport, Error>), Error> {
        let operation = self.operation;
        let prepared = self.prepare(Some(operation)).await?;
        // A `{key}` that nothing provides would fail its service halfway through the run;
        // refuse it before anything starts.
        let plan = prepared.plan().await?;
        let missing = plan.missing_keys();
        if !missing.is_empty() {
            return Err(Error::MissingContextKeys { missing });
        }
        let cancel = prepared.cancel.clone();
        let options = StartOptions {
            timeout: prepared.timeout,
            network: prepared.network.clone(),
            excluded: prepared.excluded.clone(),
            stop_grace: STOP_GRACE,
            fresh: Vec::new(),
            cancel,
            save_logs: prepared.save_logs.clone(),
            pulls: plan.images_to_pull(),
        };
        let (backend, project, context, events) = prepared.engine();
        let address = backend.address();
        let report = crate::start::start(backend, project, context, options, events).await;
        prepared.finish(report.map_err(|error| error.at_engine("start", &address)))
    }

    /// Rebuilds `service`'s image from its `build_from`, then stops it and everything that
    /// depends on it and starts the group again: `service` gets a new container with all its
    /// hooks, its dependants are restarted, its dependencies are untouched. A broken build
    /// changes nothing. Unlike [`Group::start`], a failed or interrupted reload leaves the
    /// group as it is (it ran before this call) and returns the error.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), boss::Error> {
    /// let running = boss::Group::load("services.rhai")?.reload("api").await?;
    /// running.keep();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reload(self, service: &str) -> Result<Running, Error> {
        let (running, report) = self.reload_keeping_failures(service, false).await?;
        if running.cancel.is_cancelled() {
            running.keep();
            return Err(Error::Interrupted);
        }
        if let Some(lost) = report.engine_lost {
            running.keep();
            return Err(lost.into_error("reload"));
        }
        if !report.failed.is_empty() {
            running.keep();
            return Err(Error::ServicesFailed { verb: "reload", failed: report.failed });
        }
        Ok(running)
    }

    /// Reloads and returns what started and what failed, leaving both as they are (the CLI's
    /// `reload`); with `remove`, the stopped dependants are removed and so recreated.
    pub(crate) async fn reload_keeping_failures(
        self,
        service: &str,
        remove: bool,
    ) -> Result<(Running, StartReport), Error> {
        check_reloadable(&self.project, service)?;
        let (running, report) = self.run_reload(service, remove).await?;
        keep_on_error(running, report)
    }

    async fn run_reload(self, service: &str, remove: bool) -> Result<(Running, Result<StartReport, Error>), Error> {
        let prepared = self.prepare(Some(Operation::Reload)).await?;
        let options = ReloadOptions {
            service: service.to_string(),
            remove,
            timeout: prepared.timeout,
            stop_grace: STOP_GRACE,
            network: prepared.network.clone(),
            cancel: prepared.cancel.clone(),
            excluded: prepared.excluded.clone(),
        };
        let (backend, project, context, events) = prepared.engine();
        let address = backend.address();
        let report = crate::reload::reload(backend, project, context, options, events).await;
        prepared.finish(report.map_err(|error| error.at_engine("reload", &address)))
    }

    /// What [`Group::start`] would do, service by service, without changing anything: the
    /// action (keep, restart, create, recreate and why, build, pull), the hooks that would
    /// run, and where each `{key}` in env comes from. [`Plan::missing_keys`] lists the keys
    /// nothing provides, which `start` refuses.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), boss::Error> {
    /// let plan = boss::Group::load("services.rhai")?.plan().await?;
    /// if plan.changes {
    ///     println!("`boss start` would change something");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn plan(self) -> Result<Plan, Error> {
        self.prepare(None).await?.plan().await
    }

    /// The state of every declared service and of every orphan, as the engine holds them now:
    /// one container list, and one image lookup per declared image (to tell an outdated
    /// container). Changes nothing.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), boss::Error> {
    /// let status = boss::Group::load("services.rhai")?.status().await?;
    /// assert!(status.all_running, "run `boss start` first");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn status(self) -> Result<Status, Error> {
        Ok(self.observe().await?.0)
    }

    /// The variables `boss env` prints and `boss run` adds to its command's environment: every
    /// value of the saved context, and every port the group's containers publish now as
    /// `<SERVICE>_PORT_<port>` (`_UDP` added for UDP), names upper-cased with anything but
    /// letters and digits turned into `_`; sorted by name. A value that is not a string, number
    /// or boolean is its JSON text.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), boss::Error> {
    /// for (name, value) in boss::Group::load("services.rhai")?.env().await? {
    ///     println!("{name}={value}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Secret values (context keys marked with `ctx.secret(...)` or read by a service's
    /// `secrets`) are `***`, unless [`Group::show_secrets`] asked for them.
    pub async fn env(self) -> Result<Vec<(String, String)>, Error> {
        let show = self.show_secrets;
        let secret_keys = self.project.context_secret_keys();
        let (status, context) = self.observe_context().await?;
        let values = if show { context.snapshot() } else { context.masked_snapshot(&secret_keys) };
        Ok(crate::env::variables(&status, &values))
    }

    /// Makes [`Group::env`] show secret values instead of `***` (`boss env --show-secrets`).
    #[must_use]
    pub fn show_secrets(mut self) -> Group {
        self.show_secrets = true;
        self
    }

    /// The services named, with their dependencies, are what a start starts; none named: every
    /// service its profiles allow (`boss start FILE api`). A stop stops the named ones and their
    /// dependants (`boss stop FILE api`). Checked when the group starts or stops.
    #[must_use]
    pub fn only<I, S>(mut self, services: I) -> Group
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.selection.services.extend(services.into_iter().map(|service| service.as_ref().trim().to_string()));
        self.selection.services.retain(|service| !service.is_empty());
        self
    }

    /// Activates profiles: a service with `profiles` starts only when one of them is active
    /// (`boss start --profile NAME`).
    #[must_use]
    pub fn profiles<I, S>(mut self, profiles: I) -> Group
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.selection.profiles.extend(profiles.into_iter().map(|profile| profile.as_ref().trim().to_string()));
        self.selection.profiles.retain(|profile| !profile.is_empty());
        self
    }

    /// The status and the saved context's values.
    async fn observe(self) -> Result<(Status, serde_json::Map<String, serde_json::Value>), Error> {
        let (status, context) = self.observe_context().await?;
        Ok((status, context.snapshot()))
    }

    /// The status and the saved context.
    async fn observe_context(mut self) -> Result<(Status, Context), Error> {
        if !crate::script::is_valid_name(&self.project.group) {
            return Err(Error::BadGroupName { name: self.project.group });
        }
        let network = self.take_network()?;
        let context = self.context()?.clone();
        let backend = connect(STOP_GRACE).await?;
        let status = crate::status::status(&backend, &self.project, &context, &network).await?;
        Ok((status, context))
    }

    /// Stops this group as it runs on the engine (started earlier, by this process or another,
    /// or by the CLI), dependants first, leaving the services of [`Group::exclude`] running
    /// (and so their dependencies too). Configure with [`StopRequest::remove`] and
    /// [`StopRequest::volumes`], then `.await` it.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), boss::Error> {
    /// boss::Group::load("services.rhai")?.stop().remove().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stop(self) -> StopRequest {
        // Naming services stops them and their dependants and leaves the rest running; an
        // unknown name is refused when the stop runs, before the engine is touched.
        let (mut excluded, refused) =
            match crate::select::stop_excluded(&self.project.services, &self.selection.services) {
                Ok(excluded) => (excluded, None),
                Err(error) => (Vec::new(), Some(error)),
            };
        excluded.extend(self.excluded.into_iter().filter(|name| !excluded.contains(name)).collect::<Vec<_>>());
        // The stop hooks get the context as the file holds it once the lock is held.
        let hooks = StopHooks {
            hooks: Arc::clone(&self.project.hooks),
            context: Context::default(),
            network: self.network.unwrap_or_else(|| crate::ownership::default_network_name(&self.project.group)),
            timeout: self.timeout,
        };
        let options = StopOptions {
            grace: STOP_GRACE,
            remove: false,
            volumes: false,
            excluded,
            kept: Vec::new(),
            hooks: Some(hooks),
        };
        let lock = Locking::Acquire(LockRequest::new(&self.project.group, Operation::Stop, self.lock_timeout));
        StopRequest { project: Arc::new(self.project), backend: None, events: self.events, options, lock, refused }
    }

    /// The context as the context file holds it now, with what the caller set through
    /// [`Group::context`] since it was loaded kept on top.
    fn saved_context(&mut self) -> Result<Context, Error> {
        let saved = Context::load(&self.project.context_path())?;
        let context = match (self.context.take(), self.loaded.take()) {
            (Some(context), Some(loaded)) => {
                context.take_saved(&loaded, &saved);
                context
            }
            _ => saved,
        };
        Ok(self.context.insert(context).clone())
    }

    /// The network the group uses: [`Group::network_name`]'s, checked, or `boss-<group>`.
    fn take_network(&mut self) -> Result<String, Error> {
        match self.network.take() {
            Some(name) => check_network_name(name),
            None => Ok(crate::ownership::default_network_name(&self.project.group)),
        }
    }

    /// Runs `cmd` in the running container of `service` with this process's terminal attached
    /// (the CLI's `exec`), and returns the command's exit code when the engine says it.
    pub(crate) async fn exec(self, service: &str, cmd: Vec<String>) -> Result<Option<i64>, Error> {
        check_known(&self.project, service)?;
        let backend = self.connect_claimed().await?;
        crate::attach::exec(&backend, &self.project.group, service, cmd).await
    }

    /// Prints the logs of `services` (every service when empty) to stdout, interleaved by time;
    /// with `options.follow`, goes on with what they write, across new containers, until
    /// `cancel` (the CLI's `logs`).
    pub(crate) async fn logs(
        self,
        services: &[String],
        options: crate::logs::ShowOptions,
        cancel: CancellationToken,
    ) -> Result<(), Error> {
        let services = self.selected(services)?;
        let backend = Arc::new(self.connect_claimed().await?);
        let options = crate::logs::LogsOptions { services, show: options };
        crate::logs::show(backend, &self.project.group, &options, cancel).await
    }

    /// Writes the logs of `services` (every service when empty) to `directory/<service>.log`
    /// (the CLI's `logs --save`); returns what was written and the services without a
    /// container.
    pub(crate) async fn save_service_logs(
        self,
        services: &[String],
        options: crate::logs::ShowOptions,
        directory: &Path,
    ) -> Result<(Vec<crate::logs::SavedLog>, Vec<String>), Error> {
        let services: Vec<String> = self.selected(services)?.into_iter().map(|(name, _)| name).collect();
        let backend = self.connect_claimed().await?;
        let request = crate::backend::LogsRequest { follow: false, tail: options.tail, since: options.since };
        crate::logs::save(&backend, &self.project.group, &services, request, options.timestamps, directory).await
    }

    /// The named services (all when none is named), each with its place in the script, in
    /// the script's order; an unknown name is an error.
    fn selected(&self, names: &[String]) -> Result<Vec<(String, usize)>, Error> {
        for name in names {
            check_known(&self.project, name)?;
        }
        Ok(self
            .project
            .services
            .keys()
            .enumerate()
            .filter(|(_, name)| names.is_empty() || names.contains(name))
            .map(|(place, name)| (name.clone(), place))
            .collect())
    }

    /// A connection to the engine, once the group is known to belong to this script.
    async fn connect_claimed(&self) -> Result<DockerBackend, Error> {
        let backend = connect(STOP_GRACE).await?;
        crate::claim::check(&backend, &self.project.group, &self.project.directory.display().to_string()).await?;
        Ok(backend)
    }

    /// Everything a start needs that can be refused, refused before anything is created. With
    /// `lock`, the group's lock is taken for that operation once the checks that need no
    /// engine passed, and the context is read again under it, so another run's values are
    /// not lost.
    async fn prepare(mut self, lock: Option<Operation>) -> Result<Prepared, Error> {
        if !crate::script::is_valid_name(&self.project.group) {
            return Err(Error::BadGroupName { name: self.project.group });
        }
        crate::graph::check_start_exclusions(&self.project.services, &self.excluded)?;
        // Services named and profiles: what is not selected is left out like an exclusion.
        let unselected = crate::select::start_excluded(&self.project.services, &self.selection)?;
        self.excluded.extend(unselected.into_iter().filter(|name| !self.excluded.contains(name)).collect::<Vec<_>>());
        crate::graph::check_start_exclusions(&self.project.services, &self.excluded)?;
        crate::secret::check_sources(
            self.project.services.values().filter(|service| !self.excluded.contains(&service.name)),
        )?;
        let network = self.take_network()?;
        let lock = match lock {
            Some(operation) => {
                let request = LockRequest {
                    cancel: self.cancel.clone(),
                    ..LockRequest::new(&self.project.group, operation, self.lock_timeout)
                };
                Some(crate::lock::acquire(&request, &self.events).await?)
            }
            None => None,
        };
        let context = if lock.is_some() { self.saved_context()? } else { self.context()?.clone() };
        // Hooks' words pass through boss's output with secret values masked.
        let shown = self.receiver.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        *self.receiver.write().unwrap_or_else(std::sync::PoisonError::into_inner) = crate::secret::masking_sink(
            shown,
            context.clone(),
            self.project.context_secret_keys(),
            crate::secret::fixed_values(self.project.services.values()),
        );
        let backend = Arc::new(connect(STOP_GRACE).await?);
        crate::claim::check(&*backend, &self.project.group, &self.project.directory.display().to_string()).await?;
        Ok(Prepared {
            lock,
            lock_timeout: self.lock_timeout,
            save_logs: self.save_logs,
            project: self.project,
            excluded: self.excluded,
            timeout: self.timeout,
            network,
            events: self.events,
            cancel: self.cancel,
            context,
            backend,
        })
    }
}

impl Prepared {
    /// What the lifecycle engine is run with: the connection, the project, the context and the
    /// event sink.
    fn engine(&self) -> (Arc<DockerBackend>, &Project, Context, EventSink) {
        (Arc::clone(&self.backend), &self.project, self.context.clone(), self.events.clone())
    }

    /// Saves the context (also after failures: what started stays usable) and hands the group
    /// over as [`Running`], with the outcome of the run; what to do with a failed run is the
    /// caller's decision.
    fn finish(self, report: Result<StartReport, Error>) -> Result<(Running, Result<StartReport, Error>), Error> {
        let saved = self.context.persist();
        let running = Running {
            lock: self.lock,
            lock_timeout: self.lock_timeout,
            network: self.network,
            project: Arc::new(self.project),
            backend: self.backend,
            context: self.context,
            events: self.events,
            cancel: self.cancel,
            timeout: self.timeout,
            keep: false,
            done: false,
        };
        if let Err(failure) = saved {
            running.keep();
            return Err(failure.into());
        }
        Ok((running, report))
    }

    async fn plan(&self) -> Result<Plan, Error> {
        let options = PlanOptions { network: self.network.clone(), excluded: self.excluded.clone() };
        crate::plan::plan(&*self.backend, &self.project, &self.context, &options).await
    }
}

struct Prepared {
    /// The group's lock, for a start or reload; handed on to [`Running`] so a failed start
    /// cleans up before another boss gets the group.
    lock: Option<GroupLock>,
    lock_timeout: Option<Duration>,
    save_logs: Option<std::path::PathBuf>,
    project: Project,
    excluded: Vec<String>,
    timeout: Duration,
    network: String,
    events: EventSink,
    cancel: CancellationToken,
    context: Context,
    backend: Arc<DockerBackend>,
}

/// A started group. Dropping it stops and removes the group (containers, volumes, network and
/// context file), unless [`Running::keep`] was called.
///
/// ```no_run
/// # async fn example() -> Result<(), boss::Error> {
/// let running = boss::Group::load("services.rhai")?.start().await?;
/// let port = running.port("db", 5432)?;
/// running.keep(); // leave it running after this process
/// # let _ = port;
/// # Ok(())
/// # }
/// ```
pub struct Running {
    /// The lock of the start that made this handle, until the handle reaches the caller.
    lock: Option<GroupLock>,
    lock_timeout: Option<Duration>,
    network: String,
    project: Arc<Project>,
    backend: Arc<DockerBackend>,
    context: Context,
    events: EventSink,
    cancel: CancellationToken,
    /// The run's time limit, which the stop hooks also run under.
    timeout: Duration,
    keep: bool,
    done: bool,
}

impl Running {
    /// The group, or, when the run was interrupted or a service failed, the error after
    /// removing everything again (so a failed test leaves nothing behind).
    async fn fail_on(self, report: StartReport) -> Result<Running, Error> {
        // Cleaning up needs the engine that was just lost; the next start finds what is left.
        if let Some(lost) = report.engine_lost {
            self.keep();
            return Err(lost.into_error("start"));
        }
        if self.cancel.is_cancelled() {
            self.stop().remove().volumes().await?;
            return Err(Error::Interrupted);
        }
        if !report.failed.is_empty() {
            self.stop().remove().volumes().await?;
            return Err(Error::ServicesFailed { verb: "start", failed: report.failed });
        }
        Ok(self.unlocked())
    }

    /// The handle without the start's lock: what the caller gets, so that another boss may
    /// work on the group while it runs.
    fn unlocked(mut self) -> Running {
        self.lock = None;
        self
    }

    /// The request for the group's lock of a stop or clean-up by this handle.
    fn lock_request(&self, operation: Operation) -> LockRequest {
        LockRequest::new(&self.project.group, operation, self.lock_timeout)
    }

    /// The group's name.
    pub fn group_name(&self) -> &str {
        &self.project.group
    }

    /// The host port published for `container_port` (TCP) of `service`, also when Docker
    /// picked it (`ports: #{ "8080": 0 }`).
    pub fn port(&self, service: &str, container_port: u16) -> Result<u16, Error> {
        let key = format!("{service}_port_{container_port}");
        self.context
            .get(&key)
            .and_then(|value| value.as_u64())
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| Error::NoPublishedPort { service: service.to_string(), container_port })
    }

    /// The context the hooks shared: values set by `post_start` hooks, and published ports as
    /// `<service>_port_<port>`.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The variables of [`Group::env`] as they are now: the context's values and the ports
    /// the group's containers publish. Secret values are shown, not masked: this is what
    /// `boss run` gives its command.
    pub async fn env(&self) -> Result<Vec<(String, String)>, Error> {
        let values = self.context.snapshot();
        let status = crate::status::status(&*self.backend, &self.project, &self.context, &self.network).await?;
        Ok(crate::env::variables(&status, &values))
    }

    /// Undoes what one run started (`boss run`), dependants first: stops and removes the
    /// containers of `created`, stops those of `restarted` (they existed before the run), and
    /// leaves every other service as it is; with `network`, removes the group's network (the
    /// run created it). Never removes a volume or the context file.
    pub(crate) async fn stop_started(
        mut self,
        created: &[String],
        restarted: &[String],
        network: bool,
    ) -> Result<(), Error> {
        self.done = true;
        let _lock = match self.lock.take() {
            Some(lock) => lock,
            None => crate::lock::acquire(&self.lock_request(Operation::Run), &self.events).await?,
        };
        let touched = |name: &String| created.contains(name) || restarted.contains(name);
        let excluded = self.project.services.keys().filter(|name| !touched(name)).cloned().collect();
        let options = StopOptions {
            grace: STOP_GRACE,
            remove: true,
            volumes: false,
            excluded,
            kept: restarted.to_vec(),
            hooks: Some(self.stop_hooks()),
        };
        let report = crate::stop::stop_services(
            Arc::clone(&self.backend),
            &self.project.group,
            &self.project.services,
            &options,
            &self.events,
        )
        .await?;
        if !report.failed.is_empty() {
            return Err(Error::ServicesFailed { verb: "stop", failed: report.failed });
        }
        if network {
            crate::stop::remove_networks(&*self.backend, &self.project.group, &self.events).await?;
        }
        Ok(())
    }

    /// What the stop hooks run with: this run's context, network and time limit.
    fn stop_hooks(&self) -> StopHooks {
        StopHooks {
            hooks: Arc::clone(&self.project.hooks),
            context: self.context.clone(),
            network: self.network.clone(),
            timeout: self.timeout,
        }
    }

    /// Leaves the group running when this handle is dropped (`boss stop` stops it later).
    pub fn keep(mut self) {
        self.keep = true;
    }

    /// Stops the group, dependants first. Configure with [`StopRequest::remove`] and
    /// [`StopRequest::volumes`], then `.await` it.
    pub fn stop(mut self) -> StopRequest {
        self.done = true;
        let lock = match self.lock.take() {
            Some(lock) => Locking::Held(lock),
            None => Locking::Acquire(self.lock_request(Operation::Stop)),
        };
        StopRequest {
            lock,
            project: Arc::clone(&self.project),
            backend: Some(Arc::clone(&self.backend)),
            events: self.events.clone(),
            options: StopOptions {
                grace: STOP_GRACE,
                remove: false,
                volumes: false,
                excluded: Vec::new(),
                kept: Vec::new(),
                hooks: Some(self.stop_hooks()),
            },
            refused: None,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.keep || self.done {
            return;
        }
        let project = Arc::clone(&self.project);
        let events = self.events.clone();
        let held = self.lock.take();
        let request = self.lock_request(Operation::Stop);
        let options = StopOptions {
            grace: Duration::ZERO,
            remove: true,
            volumes: true,
            excluded: Vec::new(),
            kept: Vec::new(),
            hooks: Some(self.stop_hooks()),
        };
        // Drop cannot await, and the caller's runtime may be single-threaded and busy right
        // here, so the clean-up runs on a thread of its own with a small runtime and its own
        // connection, and the drop waits for it.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let _lock = match held {
                    Some(lock) => lock,
                    None => crate::lock::acquire(&request, &events).await.ok()?,
                };
                let backend = Arc::new(connect(STOP_GRACE).await.ok()?);
                crate::stop::stop(backend, &project, &options, &events).await.ok()
            })
        });
        if cleanup.join().ok().flatten().is_none() {
            tracing::warn!("cleaning up a dropped group failed; `boss stop --remove --volumes` removes what is left");
        }
    }
}

/// A stop of a [`Running`] group (or of a loaded [`Group`]) being configured; `.await` it.
///
/// ```no_run
/// # async fn example(running: boss::Running) -> Result<(), boss::Error> {
/// running.stop().remove().volumes().grace(std::time::Duration::from_secs(2)).await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a stop does nothing until it is awaited"]
pub struct StopRequest {
    project: Arc<Project>,
    /// The connection of the run that started the group; a stop of a loaded [`Group`]
    /// connects (and checks the group's claim) when it runs.
    backend: Option<Arc<DockerBackend>>,
    events: EventSink,
    options: StopOptions,
    lock: Locking,
    /// Why the stop is refused before it touches anything (an unknown service named).
    refused: Option<Error>,
}

/// How a stop comes by the group's lock.
enum Locking {
    /// It holds it already: the clean-up of the failed start that took it.
    Held(GroupLock),
    /// It takes it first.
    Acquire(LockRequest),
}

impl StopRequest {
    /// Also remove the containers, the network and the context file.
    pub fn remove(mut self) -> StopRequest {
        self.options.remove = true;
        self
    }

    /// With [`StopRequest::remove`]: also delete the volumes boss made, and their data.
    pub fn volumes(mut self) -> StopRequest {
        self.options.volumes = true;
        self
    }

    /// How long each container gets after its stop signal before SIGKILL (10 s by default).
    pub fn grace(mut self, grace: Duration) -> StopRequest {
        self.options.grace = grace;
        self
    }

    async fn run(self) -> Result<(), Error> {
        let report = self.run_with_report().await?;
        if let Some(lost) = report.engine_lost {
            return Err(lost.into_error("stop"));
        }
        if report.failed.is_empty() {
            Ok(())
        } else {
            Err(Error::ServicesFailed { verb: "stop", failed: report.failed })
        }
    }

    /// Stops and returns which services were stopped, had nothing to stop, or failed.
    pub(crate) async fn run_with_report(self) -> Result<StopReport, Error> {
        if let Some(error) = self.refused {
            return Err(error);
        }
        if self.backend.is_none() {
            crate::graph::check_stop_exclusions(&self.project.services, &self.options.excluded)?;
        }
        let _lock = match self.lock {
            Locking::Held(lock) => lock,
            Locking::Acquire(request) => crate::lock::acquire(&request, &self.events).await?,
        };
        let mut options = self.options;
        let backend = match self.backend {
            Some(backend) => backend,
            None => {
                // Only read when something uses it, so a group without stop hooks stops even
                // with a context file that cannot be read.
                let uses_context = self.project.services.values().any(|service| {
                    service.hooks.pre_stop || service.hooks.post_stop || service.kind == ServiceKind::External
                });
                if let (Some(hooks), true) = (&mut options.hooks, uses_context) {
                    hooks.context = Context::load(&self.project.context_path())?;
                }
                let backend = Arc::new(connect(options.grace).await?);
                let directory = self.project.directory.display().to_string();
                crate::claim::check(&*backend, &self.project.group, &directory).await?;
                backend
            }
        };
        let address = backend.address();
        crate::stop::stop(backend, &self.project, &options, &self.events)
            .await
            .map_err(|error| error.at_engine("stop", &address))
    }
}

impl IntoFuture for StopRequest {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// The group and the report of a run, or the error that ended the run, leaving the group as it
/// is (a run of the CLI never removes what it did not decide to remove).
fn keep_on_error(running: Running, report: Result<StartReport, Error>) -> Result<(Running, StartReport), Error> {
    match report {
        Ok(report) => Ok((running.unlocked(), report)),
        Err(error) => {
            running.keep();
            Err(error)
        }
    }
}

/// A service the script declares.
fn check_known(project: &Project, name: &str) -> Result<(), Error> {
    if project.services.contains_key(name) {
        Ok(())
    } else {
        let known = project.services.keys().cloned().collect();
        Err(Error::Usage(UsageError::UnknownService { name: name.to_string(), known }))
    }
}

/// `reload` needs a known service with `build_from`.
fn check_reloadable(project: &Project, name: &str) -> Result<(), Error> {
    check_known(project, name)?;
    if project.services[name].build_from.is_none() {
        return Err(Error::Usage(UsageError::NotReloadable { service: name.to_string() }));
    }
    Ok(())
}

/// A `--network-name` Docker accepts.
pub(crate) fn check_network_name(name: String) -> Result<String, Error> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid { Ok(name) } else { Err(Error::Usage(UsageError::BadNetworkName { name })) }
}

/// How long boss waits for the engine's answer to one call when `BOSS_REQUEST_TIMEOUT` is unset.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The environment variable that sets the request timeout, in whole seconds.
pub(crate) const REQUEST_TIMEOUT_VARIABLE: &str = "BOSS_REQUEST_TIMEOUT";

/// The request timeout `value` of `BOSS_REQUEST_TIMEOUT` asks for (unset or empty: the default).
fn request_timeout(value: Option<&str>) -> Result<Duration, Error> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        return Ok(DEFAULT_REQUEST_TIMEOUT);
    };
    match value.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => Err(Error::Usage(UsageError::BadRequestTimeout { value: value.to_string() })),
    }
}

/// Connects to Docker and checks that it answers. Each call must be answered within the
/// request timeout (`BOSS_REQUEST_TIMEOUT`); `longest_stop` is the largest stop grace the
/// command will ask for, added for stops: Docker answers a stop request only once the
/// container has stopped.
pub(crate) async fn connect(longest_stop: Duration) -> Result<DockerBackend, Error> {
    let request_timeout = request_timeout(std::env::var(REQUEST_TIMEOUT_VARIABLE).ok().as_deref())?;
    let backend = DockerBackend::connect(request_timeout, longest_stop)
        .map_err(|error| Error::DockerUnreachable { address: crate::docker::address(), cause: error.describe() })?;
    backend
        .ping()
        .await
        .map_err(|error| Error::DockerUnreachable { address: backend.address(), cause: error.describe() })?;
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_timeout_is_whole_seconds_above_zero() {
        assert_eq!(request_timeout(None).unwrap(), DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(request_timeout(Some(" ")).unwrap(), DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(request_timeout(Some("5")).unwrap(), Duration::from_secs(5));
        for bad in ["0", "-1", "1.5", "5s"] {
            let error = request_timeout(Some(bad)).unwrap_err();
            assert_eq!(error.exit_code(), crate::error::exit_code::INVALID_INPUT);
            assert_eq!(
                error.to_string(),
                format!("error: `BOSS_REQUEST_TIMEOUT` must be a whole number of seconds above 0, got `{bad}`")
            );
        }
    }
}
