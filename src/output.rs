//! Human-readable output: one stderr line per event, and the end-of-run summary. This is the
//! only place that prints progress; debug logs go through `tracing` instead.

mod json;
mod live;
mod timings;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::error::Error;
use crate::event::{Event, EventSink, RecreateReason, ServiceChange};
use crate::gc::{Fate, Kind, Reason, Report};
use crate::interpolate::Site;
use crate::ownership::{Change, Changes};
use crate::plan::{ImageStep, KeySource, KeyUse, Plan, PlannedService, Runs, ServiceAction};
use crate::service::Service;
use crate::status::{State, Status};
use crate::text::{and_ticked, count};

/// A compose file's warning: `warning: ...`, the snippet, and why nothing is lost.
pub(crate) fn compose_warning(warning: &crate::compose::ComposeWarning) -> String {
    use crate::compose::{ComposeWarningKind, IgnoredReason};
    let mut out = String::new();
    let note = match &warning.kind {
        ComposeWarningKind::IgnoredKey { key, place, reason } => {
            let _ = writeln!(out, "warning: ignoring `{key}` {}", place.describe());
            match reason {
                IgnoredReason::Obsolete => "compose ignores it too",
                IgnoredReason::ContainerName => "boss names containers `<group>.<service>`",
                IgnoredReason::Networks => "every service of the group is on the group's one network",
                IgnoredReason::SameNetwork => {
                    "services reach every port of each other by service name on the group's network"
                }
                IgnoredReason::Hostname => "a container's hostname is its service name",
                IgnoredReason::NotAttached => "boss does not attach a terminal to services (see `boss exec`)",
                IgnoredReason::Images => "images are pulled for the engine's platform when missing",
                IgnoredReason::Logging => "containers log with the engine's default driver (see `boss logs`)",
                IgnoredReason::SecretOwnership => "compose ignores them without Swarm too; the file is readable by all",
                IgnoredReason::EngineDefaults => "boss uses the local engine's defaults",
            }
        }
        ComposeWarningKind::OptionalDependencyMissing { service, dependency } => {
            let _ = writeln!(out, "warning: service `{service}` depends on unknown service `{dependency}`");
            "the dependency has `required: false`, so the service starts without it"
        }
        ComposeWarningKind::UnsetVariable { name } => {
            let _ = writeln!(out, "warning: variable `{name}` is not set; using an empty string");
            "set it in the environment or in the `.env` file next to the compose file, or write `${NAME:-default}`"
        }
    };
    out.push_str(&warning.span.snippet());
    let _ = writeln!(out, "note: {note}");
    out
}

/// Formats an event as the lines shown to the user (without trailing newline), or `None` for
/// events that are not shown.
pub(crate) fn describe(event: &Event) -> Option<String> {
    let text = match event {
        Event::Network { name, created: true } => format!("created network `{name}`"),
        Event::Network { created: false, .. } | Event::ContextSaved => return None,
        Event::NetworkRemoved { name } => format!("removed network `{name}`"),
        Event::ContextRemoved => "removed the context file".to_string(),
        Event::ContextNotSaved { path, reason } => {
            format!("warning: cannot save the context to `{}` yet: {reason}", path.display())
        }
        Event::VolumeRemoved { name } => format!("removed volume `{name}`"),
        Event::ComposeWarning { rendered, .. } => rendered.trim_end().to_string(),
        Event::PullingImage { image, services } => format!("pulling image {image} for {}", and_ticked(services)),
        Event::ImagePulled { image, elapsed } => format!("pulled image {image} in {}", seconds(*elapsed)),
        Event::ImageNotPulled { image, reason } => format!("could not pull image {image}: {reason}"),
        Event::WaitingForLock { group, holder } => {
            format!("waiting for {} working on group `{group}`", crate::error::lock_holder(holder.as_ref()))
        }
        Event::Service { service, change } => {
            let body = match change {
                ServiceChange::AlreadyRunning { container, outdated: None, .. } => {
                    format!("already running ({container})")
                }
                ServiceChange::AlreadyRunning { container, outdated: Some(changes), reloadable } => {
                    let refresh = if *reloadable {
                        format!("`boss reload {service}`")
                    } else {
                        "`boss stop` then `boss start`".to_string()
                    };
                    let changes = describe_changes(changes);
                    format!("already running ({container}) but outdated: {changes}; run {refresh} to recreate it")
                }
                ServiceChange::Recreating { container, reason } => {
                    format!("recreating: {} (removing {container})", describe_recreate_reason(reason))
                }
                ServiceChange::Building { image, tag } => format!("building image {image} (also tagged {tag})"),
                ServiceChange::BuildOutput { line } => return Some(format!("{service} (build) | {line}")),
                ServiceChange::Pulling { image } => format!("pulling image {image}"),
                ServiceChange::Creating { container, image } => format!("creating container {container} from {image}"),
                ServiceChange::Restarting { container } => format!("restarting stopped container {container}"),
                ServiceChange::Resuming { container, post_start: false } => {
                    format!(
                        "container {container} runs but was never ready since boss last started it: checking it again"
                    )
                }
                ServiceChange::Resuming { container, post_start: true } => format!(
                    "container {container} runs but never became ready: checking it again, then running post_start"
                ),
                ServiceChange::Unpausing { container } => format!("unpausing paused container {container}"),
                ServiceChange::VolumeCreated { volume, path } => format!("created volume {volume} for {path}"),
                ServiceChange::Pinging => "pinging".to_string(),
                ServiceChange::RunningJob => "running the job to completion".to_string(),
                ServiceChange::AlreadyCompleted { container } => {
                    format!("already completed ({container}); not run again")
                }
                ServiceChange::External => "external: boss has nothing to stop".to_string(),
                // Steps without a line of their own; the live rows, JSON and timings show them.
                ServiceChange::Scheduled
                | ServiceChange::RunningHook { .. }
                | ServiceChange::StartingContainer { .. } => {
                    return None;
                }
                ServiceChange::Started { elapsed } => format!("started in {:.1} s", elapsed.as_secs_f64()),
                ServiceChange::Failed { failure } => indent_after_first(&format!("failed: {}", failure.render())),
                ServiceChange::Skipped { dependency } => format!("not started: dependency `{dependency}` failed"),
                ServiceChange::TearingDown { container, remove: true } => format!("stopping and removing {container}"),
                ServiceChange::TearingDown { container, remove: false } => {
                    format!("stopping {container} (kept: this run did not create it)")
                }
                ServiceChange::Stopping { container } => format!("stopping {container}"),
                ServiceChange::Stopped { container } => format!("stopped {container}"),
                ServiceChange::Removed { container } => format!("removed {container}"),
                ServiceChange::NoContainer => "no container".to_string(),
                ServiceChange::Orphan { container } => {
                    format!("{container} belongs to a service the script no longer declares; `boss stop` stops it")
                }
                ServiceChange::StopFailed { failure } => {
                    indent_after_first(&format!("failed to stop: {}", failure.render()))
                }
                ServiceChange::LogSaved { path, lines } => {
                    format!("saved {} of its log to `{}`", count(*lines, "line"), path.display())
                }
                ServiceChange::LogNotSaved { reason } => indent_after_first(&format!("log not saved: {reason}")),
                ServiceChange::Log { message } => {
                    let lines: Vec<String> = message.lines().map(|line| format!("{service} | {line}")).collect();
                    return Some(lines.join("\n"));
                }
            };
            format!("{service}: {body}")
        }
    };
    Some(text)
}

/// The plan as `boss plan` shows it: one line per service (name, action, why, hooks), a line
/// under it for each `{key}` its env needs, then the excluded services and the orphans.
pub(crate) fn plan_text(plan: &Plan) -> String {
    let names = plan.services.iter().map(|service| service.name.as_str());
    let others =
        plan.excluded.iter().map(String::as_str).chain(plan.orphans.iter().map(|orphan| orphan.service.as_str()));
    let name_width = names.chain(others).map(str::len).max().unwrap_or(0);
    let rows: Vec<(&str, &str, String)> = plan
        .services
        .iter()
        .map(|service| (service.name.as_str(), action_word(&service.action), action_detail(service)))
        .collect();
    let detail_width = rows.iter().map(|(_, _, detail)| detail.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (service, (name, word, detail)) in plan.services.iter().zip(&rows) {
        let hooks = if service.hooks.is_empty() { "none".to_string() } else { service.hooks.join(", ") };
        let _ = writeln!(out, "{name:<name_width$}  {word:<8}  {detail:<detail_width$}  hooks: {hooks}");
        for key in &service.keys {
            let _ = writeln!(out, "{:name_width$}  {{{}}}: {}", "", key.key, key_sources(key, &service.action));
        }
    }
    for name in &plan.excluded {
        let _ = writeln!(out, "{name:<name_width$}  excluded  not started by this `start`");
    }
    for orphan in &plan.orphans {
        let _ = writeln!(
            out,
            "{:<name_width$}  orphan    {} belongs to a service the script no longer declares; `start` leaves it, `boss stop` stops it",
            orphan.service, orphan.container
        );
    }
    let changed: Vec<&str> = plan
        .services
        .iter()
        .filter(|service| service.action.changes_something())
        .map(|service| service.name.as_str())
        .collect();
    if changed.is_empty() {
        out.push_str("`start` would change nothing\n");
    } else {
        let _ = writeln!(out, "`start` would change {}: {}", count(changed.len(), "service"), and_ticked(&changed));
    }
    out
}

fn action_word(action: &ServiceAction) -> &'static str {
    match action {
        ServiceAction::Keep { .. } => "keep",
        ServiceAction::Resume { .. } => "resume",
        ServiceAction::Restart { .. } => "restart",
        ServiceAction::Create { .. } => "create",
        ServiceAction::Recreate { .. } => "recreate",
        ServiceAction::Build { .. } => "build",
        ServiceAction::Pending { .. } => "pending",
        // The column is eight wide.
        ServiceAction::Completed { .. } => "done",
        ServiceAction::External { .. } => "external",
        ServiceAction::Unusable { .. } | ServiceAction::Unfillable { .. } => "fail",
    }
}

fn action_detail(service: &PlannedService) -> String {
    let image_step = |step: &ImageStep| match step {
        ImageStep::Present => String::new(),
        ImageStep::Pull => format!("; pull `{}`", service.image),
        ImageStep::Build => format!("; build `{}` with build_from", service.image),
    };
    match &service.action {
        ServiceAction::Keep { unpause, outdated, .. } => {
            let state = if *unpause { "paused, unpause" } else { "running" };
            match outdated {
                None => format!("{state}, unchanged"),
                Some(changes) => format!("{state}, outdated: {}", describe_changes(changes)),
            }
        }
        ServiceAction::Resume { unpause, post_start, outdated, .. } => {
            let state = if *unpause { "paused, unpause" } else { "running" };
            let hooks = if *post_start { "ping and post_start again" } else { "ping again" };
            let outdated = outdated
                .as_ref()
                .map(|changes| format!("; outdated: {}", describe_changes(changes)))
                .unwrap_or_default();
            format!("{state} but never became ready; {hooks}{outdated}")
        }
        ServiceAction::Restart { remove, post_start, .. } => {
            let mut detail = "stopped, unchanged".to_string();
            if *post_start {
                detail.push_str("; post_start never finished, runs after ping");
            }
            if !remove.is_empty() {
                let _ = write!(detail, "; remove {}", count(remove.len(), "other container"));
            }
            detail
        }
        ServiceAction::Create { image } => format!("no container{}", image_step(image)),
        ServiceAction::Recreate { reason, image, .. } => {
            format!("{}{}", describe_recreate_reason(reason), image_step(image))
        }
        ServiceAction::Build { container: None } => "tag `latest` with build_from".to_string(),
        ServiceAction::Build { container: Some(_) } => {
            "tag `latest` with build_from; restart if the image is unchanged, else recreate".to_string()
        }
        ServiceAction::Pending { keys, .. } => {
            let placeholders: Vec<String> = keys.iter().map(|key| format!("{{{key}}}")).collect();
            format!("stopped; restart or recreate once {} is set", placeholders.join(", "))
        }
        ServiceAction::Completed { .. } => "job exited with status 0, unchanged; not run again".to_string(),
        ServiceAction::External { first_start: true } => "not boss's to create; run its hooks".to_string(),
        ServiceAction::External { first_start: false } => {
            "not boss's to create; started already, ping again".to_string()
        }
        ServiceAction::Unusable { container } => {
            format!("container {} is restarting, dead or being removed", container.name)
        }
        ServiceAction::Unfillable { site, error } => unfillable(site, error),
    }
}

/// Where a `{key}` is written: "env `DB_URL`", "`cmd`", "label `team`".
pub(crate) fn site(site: &Site) -> String {
    match site {
        Site::Env(name) => format!("env `{name}`"),
        Site::Label(name) => format!("label `{name}`"),
        Site::ExtraHost(name) => format!("extra host `{name}`"),
        Site::Secret(name) => format!("secret `{name}`"),
        Site::Cmd | Site::Entrypoint | Site::WorkingDir => format!("`{}`", site.field()),
    }
}

/// Why a `{key}` at `at` cannot be filled in: "cannot fill in `{token}` in env `TOKEN`: ...".
pub(crate) fn unfillable(at: &Site, error: &crate::interpolate::InterpolationError) -> String {
    match error.placeholder() {
        Some(placeholder) => format!("cannot fill in `{placeholder}` in {}: {}", site(at), error.describe()),
        None => format!("cannot fill in {}: {}", site(at), error.describe()),
    }
}

/// Where a key's value comes from: `from store.post_start, which will run; the saved context
/// has it`.
fn key_sources(key: &KeyUse, action: &ServiceAction) -> String {
    if key.sources.is_empty() {
        return if matches!(action, ServiceAction::Keep { .. }) {
            "nowhere; the running container keeps the env it was created with".to_string()
        } else {
            "nowhere: `start` refuses to start anything".to_string()
        };
    }
    let sources: Vec<String> = key
        .sources
        .iter()
        .map(|source| match source {
            KeySource::PostStart { service, runs } => {
                let runs = match runs {
                    Runs::Will => "will run",
                    Runs::May => "may run",
                    Runs::WillNot => "will not run",
                };
                format!("from {service}.post_start, which {runs}")
            }
            KeySource::Port { service } => format!("from a port {service} publishes"),
            KeySource::Context => "the saved context has it".to_string(),
        })
        .collect();
    sources.join("; ")
}

/// The plan as JSON (see "boss plan" in the README for its fields).
pub(crate) fn plan_json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// The status as `boss status` shows it: a header, then one row per service and orphan.
pub(crate) fn status_table(status: &Status) -> String {
    let header = ["SERVICE", "STATE", "READY", "CONTAINER", "IMAGE", "PORTS", "HEALTH", "UPTIME", "NOTE"];
    let mut rows = vec![header.map(str::to_string)];
    for service in &status.services {
        let state = match (service.state, service.exit_code) {
            (State::Exited, Some(code)) => format!("exited ({code})"),
            (state, _) => state_word(state).to_string(),
        };
        let ports: Vec<String> = service
            .ports
            .iter()
            .map(|port| match &port.url {
                Some(url) => url.clone(),
                None => format!("{}:{}/{}", port.host, port.host_port, port.protocol),
            })
            .collect();
        let note = if service.orphan {
            "orphan: the script no longer declares this service; `boss stop` stops it".to_string()
        } else {
            let mut notes = Vec::new();
            match (service.state, service.ready) {
                (State::External, Some(false)) => {
                    notes.push("external: `start` has not run its hooks since the last `stop`".to_string());
                }
                (_, Some(false)) => notes.push("never became ready: the next `start` checks it again".to_string()),
                _ => {}
            }
            if let Some(changes) = &service.outdated {
                notes.push(format!("outdated: {}", describe_changes(changes)));
            }
            notes.join("; ")
        };
        let ready = match service.ready {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let dash = |text: Option<&str>| text.filter(|text| !text.is_empty()).unwrap_or("-").to_string();
        rows.push([
            service.name.clone(),
            state,
            ready.to_string(),
            dash(service.container.as_ref().map(|container| container.name.as_str())),
            service.image.clone(),
            dash(Some(ports.join(", ").as_str())),
            dash(service.health.as_deref()),
            dash(service.uptime.as_deref()),
            note,
        ]);
    }
    table(&rows)
}

/// What `boss gc` found, and did or would do, as a table: one row per thing.
pub(crate) fn gc_table(report: &Report) -> String {
    let header = ["ACTION", "KIND", "NAME", "GROUP", "REASON"].map(str::to_string);
    let mut rows = vec![header];
    for found in &report.found {
        let action = match found.fate {
            Fate::WouldRemove => "remove",
            Fate::Removed => "removed",
            Fate::Failed => "failed",
            Fate::KeptData | Fate::KeptInUse => "keep",
        };
        let kind = match found.kind {
            Kind::Container => "container",
            Kind::Network => "network",
            Kind::Volume => "volume",
            Kind::BuildTag => "build tag",
            Kind::FailedBuild => "failed build",
        };
        let service = found.service.as_deref().unwrap_or_default();
        let mut reason = match found.reason {
            Reason::DirectoryGone => {
                format!("directory `{}` is gone", found.directory.as_deref().unwrap_or_default())
            }
            Reason::OldBuild => format!("older than the newest {} of `{service}`", count(report.keep_builds, "build")),
            Reason::FailedBuild => format!("left by a failed build of `{service}`"),
        };
        match found.fate {
            Fate::KeptData => reason.push_str("; holds data (`--volumes` removes it)"),
            Fate::KeptInUse => reason.push_str("; a container uses it"),
            Fate::WouldRemove | Fate::Removed | Fate::Failed => {}
        }
        rows.push([action.to_string(), kind.to_string(), found.name.clone(), found.group.clone(), reason]);
    }
    table(&rows)
}

/// Rows of cells in left-aligned columns two spaces apart, without trailing spaces.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What `boss gc` found as JSON (see "gc" in the README for its fields).
pub(crate) fn gc_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

/// How a state reads in the table and the JSON.
fn state_word(state: State) -> &'static str {
    match state {
        State::Running => "running",
        State::Paused => "paused",
        State::Exited => "exited",
        State::Created => "created",
        State::Restarting => "restarting",
        State::Removing => "removing",
        State::Dead => "dead",
        State::Missing => "missing",
        State::Completed => "completed",
        State::External => "external",
    }
}

/// The status as JSON (see "boss status" in the README for its fields).
pub(crate) fn status_json(status: &Status) -> String {
    let mut text = serde_json::to_string_pretty(status).unwrap_or_default();
    text.push('\n');
    text
}

/// `export NAME='value'` lines, for `eval "$(boss env)"` in a POSIX shell.
pub(crate) fn env_sh(variables: &[(String, String)]) -> String {
    variables.iter().map(|(name, value)| format!("export {name}={}\n", sh_quote(value))).collect()
}

/// `NAME='value'` lines: a `.env` file that dotenv loaders and `set -a; . ./.env` both read.
pub(crate) fn env_dotenv(variables: &[(String, String)]) -> String {
    variables.iter().map(|(name, value)| format!("{name}={}\n", sh_quote(value))).collect()
}

/// One JSON object, name to value.
pub(crate) fn env_json(variables: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        variables.iter().map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone()))).collect();
    let mut text = serde_json::to_string_pretty(&object).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` in single quotes, each `'` in it written `'\''`: a POSIX shell reads it back as it
/// is, `$`, backslashes and line breaks included.
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// What `boss run` says between its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunNotice {
    /// The command starts, with this many variables added to its environment.
    Running { program: String, variables: usize },
    /// The command ended; what this run started is stopped and removed.
    CleaningUp,
    /// The command ended; `--keep` leaves the group running.
    Kept,
    /// Nothing was left to clean up: every service ran before the run.
    NothingToCleanUp,
    /// A signal arrived while the command runs; boss waits for it to end, then cleans up.
    Interrupted,
}

impl RunNotice {
    /// The notice as one word, for `--progress json`.
    fn name(&self) -> &'static str {
        match self {
            RunNotice::Running { .. } => "running",
            RunNotice::CleaningUp => "cleaning_up",
            RunNotice::Kept => "kept",
            RunNotice::NothingToCleanUp => "nothing_to_clean_up",
            RunNotice::Interrupted => "interrupted",
        }
    }
}

/// A [`RunNotice`] as the user reads it.
fn run_notice_text(notice: &RunNotice) -> String {
    match notice {
        RunNotice::Running { program, variables } => {
            format!("running `{program}` with {} from `boss env`", count(*variables, "variable"))
        }
        RunNotice::CleaningUp => "cleaning up what this run started".to_string(),
        RunNotice::Kept => "leaving the group running (--keep); `boss stop` stops it".to_string(),
        RunNotice::NothingToCleanUp => "nothing to clean up: every service was running before this run".to_string(),
        RunNotice::Interrupted => {
            "interrupted: waiting for the command to exit, then cleaning up (press Ctrl-C again to quit at once)"
                .to_string()
        }
    }
}

/// How a command that starts or stops services shows its progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A live view on stderr, one row per service; see [`live`].
    Tty,
    /// One line per shown event, and the summary, on stderr.
    Plain,
    /// One JSON object per event, summary and final error, on stdout; nothing on stderr.
    Json,
}

/// Shows the progress of one `start`, `stop`, `reload` or `run`, drawn from its events, and
/// its summary. Cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    mode: Mode,
    began: Instant,
    /// How long each service this run started took, from its `Started` event.
    times: Arc<Mutex<HashMap<String, Duration>>>,
    /// The live view (`Mode::Tty`) until its summary; after it, lines are plain.
    live: Arc<Mutex<Option<live::Live>>>,
    /// With `--timings FILE`: the file and the timeline recorded for it.
    timings: Option<Arc<Mutex<(std::path::PathBuf, timings::Timeline)>>>,
    /// The command waits for another boss's lock on the group and has changed nothing yet.
    waiting_for_lock: Arc<std::sync::atomic::AtomicBool>,
}

impl Progress {
    pub(crate) fn new(mode: Mode) -> Progress {
        let live = (mode == Mode::Tty).then(live::Live::stderr);
        Progress::with_live(mode, live)
    }

    fn with_live(mode: Mode, live: Option<live::Live>) -> Progress {
        Progress {
            mode,
            began: Instant::now(),
            times: Arc::default(),
            live: Arc::new(Mutex::new(live)),
            timings: None,
            waiting_for_lock: Arc::default(),
        }
    }

    /// Records a timeline for `--timings FILE`, written by [`Progress::write_timings`].
    pub(crate) fn with_timings(mut self, file: Option<std::path::PathBuf>) -> Progress {
        self.timings = file.map(|file| Arc::new(Mutex::new((file, timings::Timeline::default()))));
        self
    }

    /// Writes the `--timings` page, if asked for, and says where.
    pub(crate) fn write_timings(&self, command: &str, services: &IndexMap<String, Service>) {
        let Some(timings) = &self.timings else { return };
        let (file, page) = {
            let mut timings = timings.lock().unwrap_or_else(PoisonError::into_inner);
            let times = self.times.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let chain: Vec<String> =
                crate::graph::critical_path(services, &times).into_iter().map(|(service, _)| service).collect();
            timings.1.mark_critical(&chain);
            (timings.0.clone(), timings.1.html(&format!("boss {command}"), self.began.elapsed()))
        };
        match std::fs::write(&file, page) {
            Ok(()) => {
                let text = format!("timeline written to {}", file.display());
                match self.mode {
                    Mode::Tty | Mode::Plain => self.text(&text),
                    Mode::Json => json::write(json::Body::Notice { notice: "timings", text }),
                }
            }
            Err(error) => self.problem(&Error::SaveTimings { path: file, error: error.to_string() }),
        }
    }

    /// Runs `show` on the live view while there is one; `false` when there is none.
    fn on_live(&self, show: impl FnOnce(&live::Live)) -> bool {
        match self.live.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(live) => {
                show(live);
                true
            }
            None => false,
        }
    }

    /// Ends the live view, if any, with `summary` as its last line; later lines are plain.
    pub(crate) fn end(&self, summary: Option<&str>) {
        if let Some(live) = self.live.lock().unwrap_or_else(PoisonError::into_inner).take() {
            live.finish(summary);
        } else if let Some(summary) = summary {
            line(summary);
        }
    }

    /// The sink a command's group sends its events to.
    pub(crate) fn sink(&self) -> EventSink {
        let progress = self.clone();
        EventSink::new(move |event| progress.show(event))
    }

    fn show(&self, event: &Event) {
        // The wait ends with the first event of the work it waited for.
        self.waiting_for_lock.store(matches!(event, Event::WaitingForLock { .. }), std::sync::atomic::Ordering::SeqCst);
        if let Event::Service { service, change: ServiceChange::Started { elapsed } } = event {
            self.times.lock().unwrap_or_else(PoisonError::into_inner).insert(service.clone(), *elapsed);
        }
        if let Some(timings) = &self.timings {
            timings.lock().unwrap_or_else(PoisonError::into_inner).1.record(self.began.elapsed(), event);
        }
        match self.mode {
            Mode::Tty | Mode::Plain => {
                if !self.on_live(|live| live.show(event))
                    && let Some(text) = describe(event)
                {
                    line(&text);
                }
            }
            Mode::Json => json::write(json::event(event)),
        }
    }

    /// A line that is not an event: above the live rows, or on its own.
    fn text(&self, text: &str) {
        if !self.on_live(|live| live.println(text)) {
            line(text);
        }
    }

    /// Says what `boss run` does next.
    pub(crate) fn notice(&self, notice: &RunNotice) {
        let text = run_notice_text(notice);
        match self.mode {
            Mode::Tty | Mode::Plain => self.text(&text),
            Mode::Json => json::write(json::Body::Notice { notice: notice.name(), text }),
        }
    }

    /// Says that the first Ctrl-C (or SIGTERM, SIGHUP) arrived during a start.
    pub(crate) fn interrupted(&self) {
        let text = if self.waiting_for_lock.load(std::sync::atomic::Ordering::SeqCst) {
            "interrupted while waiting for the group's lock; nothing was changed".to_string()
        } else {
            "interrupted: stopping the services that were starting (press Ctrl-C again to quit at once)".to_string()
        };
        match self.mode {
            Mode::Tty | Mode::Plain => self.text(&text),
            Mode::Json => json::write(json::Body::Notice { notice: "interrupted", text }),
        }
    }

    /// Shows an error that is not the one the command ends with (a failed clean-up after a
    /// failed command, a context that cannot be saved on the way out).
    pub(crate) fn problem(&self, error: &Error) {
        let text = error.render().trim_end().to_string();
        match self.mode {
            Mode::Tty | Mode::Plain => self.text(&text),
            Mode::Json => json::write(json::Body::Notice { notice: "problem", text }),
        }
    }

    /// The summary of a start (`command` is `start`, `reload` or `run`) of `services`:
    /// how many came up, how long it took, and the slowest chain of dependencies.
    pub(crate) fn start_summary(
        &self,
        command: &'static str,
        services: &IndexMap<String, Service>,
        started: &[String],
        failed: &[String],
    ) {
        let times = self.times.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let chain = crate::graph::critical_path(services, &times);
        let elapsed = self.began.elapsed();
        let text = start_summary_text(started, failed, elapsed, &chain);
        match self.mode {
            Mode::Tty | Mode::Plain => self.end(text.as_deref()),
            Mode::Json => json::write(json::Body::Summary(json::Summary {
                command,
                services: started,
                failed,
                elapsed_ms: json::millis(elapsed),
                critical_path: chain
                    .iter()
                    .map(|(service, time)| json::ChainLink { service, elapsed_ms: json::millis(*time) })
                    .collect(),
                text,
            })),
        }
    }

    /// The summary of a stop.
    pub(crate) fn stop_summary(&self, stopped: &[String], failed: &[String]) {
        let text = if !stopped.is_empty() {
            Some(format!("stopped {}: {}", count(stopped.len(), "service"), and_ticked(stopped)))
        } else if failed.is_empty() {
            Some("nothing was running".to_string())
        } else {
            None
        };
        match self.mode {
            Mode::Tty | Mode::Plain => self.end(text.as_deref()),
            Mode::Json => json::write(json::Body::Summary(json::Summary {
                command: "stop",
                services: stopped,
                failed,
                elapsed_ms: json::millis(self.began.elapsed()),
                critical_path: Vec::new(),
                text,
            })),
        }
    }
}

/// What a start says at its end: `3 services up in 2.4 s: `a`, `b`, and `c`; slowest chain a
/// (0.9 s) → c (1.1 s)`, or that everything was excluded; `None` when nothing started and
/// something failed (the error says it).
fn start_summary_text(
    started: &[String],
    failed: &[String],
    elapsed: Duration,
    chain: &[(String, Duration)],
) -> Option<String> {
    if started.is_empty() {
        return failed.is_empty().then(|| "nothing to start: every service is excluded".to_string());
    }
    let mut text = format!("{} up in {}: {}", count(started.len(), "service"), seconds(elapsed), and_ticked(started));
    if !chain.is_empty() {
        let links: Vec<String> =
            chain.iter().map(|(service, time)| format!("{service} ({})", seconds(*time))).collect();
        let _ = write!(text, "; slowest chain {}", links.join(" → "));
    }
    Some(text)
}

/// A duration as the summaries show it: `1.2 s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// Whether stderr, where progress goes, is a terminal (for `--progress auto`).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Writes the error a command ends with: its text on stderr, or, with `--progress json`, its
/// line on stdout.
pub(crate) fn final_error(mode: Mode, error: &Error) {
    match mode {
        // A closed stderr must not turn an error into a panic.
        Mode::Tty | Mode::Plain => {
            let _ = std::io::stderr().write_all(error.render().as_bytes());
        }
        Mode::Json => json::write(json::error(error)),
    }
}

/// Writes a command's result (a plan) to stdout, where it can be piped; progress and errors go
/// to stderr.
pub(crate) fn result(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes bytes a container printed to its stdout (`boss exec`) to ours, as they come.
pub(crate) fn raw_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

/// Writes bytes a container printed to its stderr (`boss exec`) to ours, as they come.
pub(crate) fn raw_stderr(bytes: &[u8]) {
    let _ = std::io::stderr().lock().write_all(bytes);
}

/// Prints log lines to stdout (they are `boss logs`'s output) under each service's name,
/// padded to the longest, in a colour of its own on a terminal unless `NO_COLOR` is set.
pub(crate) struct LogPrinter {
    /// Each service's prefix, ready to print.
    prefixes: Vec<String>,
    timestamps: bool,
}

/// The colours of service names, by the service's place in the script, so that a service keeps
/// its colour from one run to the next: cyan, yellow, green, magenta, blue, red.
const SERVICE_COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];

impl LogPrinter {
    /// A printer for `services`, each with its place in the script.
    pub(crate) fn new(services: &[(String, usize)], timestamps: bool) -> LogPrinter {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let colour = !no_color && std::io::stdout().is_terminal();
        let width = services.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let prefixes = services
            .iter()
            .map(|(name, place)| {
                let padded = format!("{name:<width$} |");
                if colour {
                    format!("\x1b[{}m{padded}\x1b[0m", SERVICE_COLOURS[place % SERVICE_COLOURS.len()])
                } else {
                    padded
                }
            })
            .collect();
        LogPrinter { prefixes, timestamps }
    }

    /// Prints one line of the `service`-th service's log; `false` once stdout is closed (the
    /// reader, `head` say, is gone), so that following can end.
    pub(crate) fn print(&self, service: usize, line: &crate::logs::LogLine) -> bool {
        let prefix = self.prefixes.get(service).map_or("", String::as_str);
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{prefix} {}", line.file_line(self.timestamps)).and_then(|()| stdout.flush()).is_ok()
    }
}

/// Says where `boss logs --save` wrote a service's log.
pub(crate) fn log_saved(saved: &crate::logs::SavedLog) {
    line(&format!("{}: saved {} of its log to `{}`", saved.service, count(saved.lines, "line"), saved.path.display()));
}

/// Says that a service has no container, so no log.
pub(crate) fn no_log(service: &str) {
    line(&format!("{service}: no container, so no log"));
}

/// Why a service gets a new container.
pub(crate) fn describe_recreate_reason(reason: &RecreateReason) -> String {
    match reason {
        RecreateReason::AlwaysStartNew => "`always_start_new` is set".to_string(),
        RecreateReason::Reloading => "reloading".to_string(),
        RecreateReason::Changed(changes) => describe_changes(changes),
        RecreateReason::NotUsable => "the old container is not usable".to_string(),
    }
}

// The plan's JSON carries these as the phrases the text output shows (see "boss plan" in the
// README), so the wording stays in this file.
impl serde::Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&describe_changes(self))
    }
}

impl serde::Serialize for RecreateReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&describe_recreate_reason(self))
    }
}

impl serde::Serialize for crate::interpolate::InterpolationError {
    /// As `placeholder` (or null) and `reason`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("placeholder", &self.placeholder())?;
        map.serialize_entry("reason", &self.describe())?;
        map.end()
    }
}

/// What changed in a container's definition, one phrase per change, e.g. "env `DB_URL` changed".
pub(crate) fn describe_changes(changes: &Changes) -> String {
    let phrases: Vec<String> = changes
        .0
        .iter()
        .map(|change| match change {
            Change::ImageReplaced { from, to } => format!("image changed from `{from}` to `{to}`"),
            Change::ImageRebuilt { image } => format!("image `{image}` was rebuilt or pulled again"),
            Change::EnvAdded(key) => format!("env `{key}` was added"),
            Change::EnvChanged(key) => format!("env `{key}` changed"),
            Change::EnvRemoved(key) => format!("env `{key}` was removed"),
            Change::SecretChanged(name) => format!("secret `{name}` changed"),
            Change::Field(field) => format!("`{}` changed", field.name()),
            Change::NoRecordedDefinition => "it was created without a recorded definition".to_string(),
            Change::BuildContextChanged => "build context changed since its image was built".to_string(),
            Change::BuildOptionsChanged => {
                "`build_args` or `build_target` changed since its image was built".to_string()
            }
        })
        .collect();
    phrases.join(", ")
}

/// Indents every line after the first by four spaces, so details stay under their service.
fn indent_after_first(text: &str) -> String {
    let mut lines = text.trim_end().lines();
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

/// A sink that prints every shown event to stderr.
pub(crate) fn stderr_sink() -> EventSink {
    EventSink::new(|event| {
        if let Some(text) = describe(event) {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{text}");
        }
    })
}

/// Prints a line that is not an event (summaries).
pub(crate) fn line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceFailure;
    use crate::ownership::DefinitionField;
    use std::time::Duration;

    fn service(change: ServiceChange) -> Option<String> {
        describe(&Event::Service { service: "web".into(), change })
    }

    #[test]
    fn changes_are_worded() {
        let changes = Changes(vec![
            Change::ImageReplaced { from: "a:1".into(), to: "a:2".into() },
            Change::ImageRebuilt { image: "img:1".into() },
            Change::EnvChanged("DB_URL".into()),
            Change::EnvAdded("NEW".into()),
            Change::EnvRemoved("GONE".into()),
            Change::Field(DefinitionField::Cmd),
            Change::NoRecordedDefinition,
            Change::BuildContextChanged,
            Change::BuildOptionsChanged,
        ]);
        assert_eq!(
            describe_changes(&changes),
            "image changed from `a:1` to `a:2`, image `img:1` was rebuilt or pulled again, env `DB_URL` changed, env `NEW` was added, env `GONE` was removed, `cmd` changed, it was created without a recorded definition, build context changed since its image was built, `build_args` or `build_target` changed since its image was built"
        );
        assert_eq!(
            service(ServiceChange::Recreating { container: "g.web".into(), reason: RecreateReason::Reloading })
                .unwrap(),
            "web: recreating: reloading (removing g.web)"
        );
    }

    #[test]
    fn service_lines() {
        assert_eq!(
            service(ServiceChange::Started { elapsed: Duration::from_millis(1234) }).unwrap(),
            "web: started in 1.2 s"
        );
        assert_eq!(service(ServiceChange::Log { message: "hi".into() }).unwrap(), "web | hi");
        assert_eq!(
            service(ServiceChange::Failed {
                failure: ServiceFailure::ContainerExited { exit_code: Some(3), logs: "boom\n".into() }
            })
            .unwrap(),
            "web: failed: container exited with status 3 while starting\n    last lines of its log:\n      | boom"
        );
    }

    #[test]
    fn gc_rows_say_what_happens_and_why() {
        use crate::gc::Found;
        let found = |kind, name: &str, service: Option<&str>, reason, fate| Found {
            kind,
            name: name.to_string(),
            reference: String::new(),
            group: "shop".to_string(),
            service: service.map(str::to_string),
            reason,
            directory: (reason == Reason::DirectoryGone).then(|| "/home/me/shop".to_string()),
            fate,
        };
        let report = Report {
            dry_run: true,
            keep_builds: 3,
            found: vec![
                found(Kind::Container, "shop.api", Some("api"), Reason::DirectoryGone, Fate::WouldRemove),
                found(Kind::Network, "boss-shop", None, Reason::DirectoryGone, Fate::Removed),
                found(Kind::Volume, "shop.db.1a2b", Some("db"), Reason::DirectoryGone, Fate::KeptData),
                found(Kind::Volume, "shop.db.3c4d", Some("db"), Reason::DirectoryGone, Fate::KeptInUse),
                found(Kind::BuildTag, "shop/api:boss-20261130-100000", Some("api"), Reason::OldBuild, Fate::Failed),
                found(
                    Kind::FailedBuild,
                    "shop/api:boss-failed-20261130-110000",
                    Some("api"),
                    Reason::FailedBuild,
                    Fate::WouldRemove,
                ),
            ],
        };
        assert_eq!(
            gc_table(&report),
            "\
ACTION   KIND          NAME                                  GROUP  REASON
remove   container     shop.api                              shop   directory `/home/me/shop` is gone
removed  network       boss-shop                             shop   directory `/home/me/shop` is gone
keep     volume        shop.db.1a2b                          shop   directory `/home/me/shop` is gone; holds data (`--volumes` removes it)
keep     volume        shop.db.3c4d                          shop   directory `/home/me/shop` is gone; a container uses it
failed   build tag     shop/api:boss-20261130-100000         shop   older than the newest 3 builds of `api`
remove   failed build  shop/api:boss-failed-20261130-110000  shop   left by a failed build of `api`
"
        );
        let json: serde_json::Value = serde_json::from_str(&gc_json(&report)).unwrap();
        assert_eq!(
            json["found"][2],
            serde_json::json!({
                "kind": "volume", "name": "shop.db.1a2b", "group": "shop", "service": "db",
                "reason": "directory_gone", "directory": "/home/me/shop", "fate": "kept_data"
            })
        );
        assert_eq!((json["dry_run"].as_bool(), json["keep_builds"].as_u64()), (Some(true), Some(3)));
    }

    #[test]
    fn the_start_summary_names_the_slowest_chain() {
        let names = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        let ms = Duration::from_millis;
        let chain = vec![("a".to_string(), ms(900)), ("b".to_string(), ms(800)), ("f".to_string(), ms(1100))];
        assert_eq!(
            start_summary_text(&names(&["a", "b", "f"]), &[], ms(5200), &chain).unwrap(),
            "3 services up in 5.2 s: `a`, `b`, and `f`; slowest chain a (0.9 s) → b (0.8 s) → f (1.1 s)"
        );
        // Nothing was started by this run: no chain.
        assert_eq!(start_summary_text(&names(&["a"]), &[], ms(300), &[]).unwrap(), "1 service up in 0.3 s: `a`");
        assert_eq!(start_summary_text(&[], &[], ms(0), &[]).unwrap(), "nothing to start: every service is excluded");
        assert_eq!(start_summary_text(&[], &names(&["a"]), ms(0), &[]), None);
    }

    fn planned(name: &str, action: ServiceAction, hooks: &[&'static str], keys: Vec<KeyUse>) -> PlannedService {
        PlannedService { name: name.into(), image: format!("shop/{name}"), action, hooks: hooks.to_vec(), keys }
    }

    fn container(name: &str) -> crate::plan::ContainerRef {
        crate::plan::ContainerRef { name: format!("shop.{name}"), id: format!("id-{name}") }
    }

    // The whole rendered text of a fixed plan, verbatim: any change to the layout shows here.
    // A plain string comparison is enough for one snapshot; it needs no snapshot crate.
    #[test]
    fn a_plan_renders_one_line_per_service_and_one_per_key() {
        let all = ["pre_start", "ping", "post_start"];
        let plan = Plan {
            group: "shop".into(),
            changes: true,
            services: vec![
                planned(
                    "store",
                    ServiceAction::Keep { container: container("store"), unpause: false, outdated: None },
                    &[],
                    vec![],
                ),
                planned(
                    "app",
                    ServiceAction::Recreate {
                        remove: vec![container("app")],
                        reason: RecreateReason::Changed(Changes(vec![Change::EnvChanged("ADMIN_ID".into())])),
                        image: ImageStep::Present,
                    },
                    &all,
                    vec![KeyUse {
                        key: "admin_id".into(),
                        env: vec!["ADMIN_ID".into()],
                        fields: vec![],
                        sources: vec![
                            KeySource::PostStart { service: "store".into(), runs: Runs::WillNot },
                            KeySource::Context,
                        ],
                        provided: true,
                    }],
                ),
                planned("api", ServiceAction::Build { container: None }, &all, vec![]),
                planned("db", ServiceAction::Create { image: ImageStep::Pull }, &["ping"], vec![]),
                planned(
                    "cache",
                    ServiceAction::Restart { container: container("cache"), remove: vec![], post_start: false },
                    &["ping"],
                    vec![],
                ),
                planned(
                    "queue",
                    ServiceAction::Resume {
                        container: container("queue"),
                        unpause: false,
                        post_start: true,
                        outdated: None,
                    },
                    &["ping", "post_start"],
                    vec![],
                ),
                planned(
                    "web",
                    ServiceAction::Keep {
                        container: container("web"),
                        unpause: true,
                        outdated: Some(Changes(vec![Change::Field(crate::ownership::DefinitionField::Ports)])),
                    },
                    &[],
                    vec![KeyUse {
                        key: "token".into(),
                        env: vec!["TOKEN".into()],
                        fields: vec![],
                        sources: vec![],
                        provided: false,
                    }],
                ),
            ],
            excluded: vec!["docs".into()],
            orphans: vec![crate::plan::Orphan { service: "old".into(), container: "shop.old".into() }],
        };
        assert_eq!(
            plan_text(&plan),
            "\
store  keep      running, unchanged                                         hooks: none
app    recreate  env `ADMIN_ID` changed                                     hooks: pre_start, ping, post_start
       {admin_id}: from store.post_start, which will not run; the saved context has it
api    build     tag `latest` with build_from                               hooks: pre_start, ping, post_start
db     create    no container; pull `shop/db`                               hooks: ping
cache  restart   stopped, unchanged                                         hooks: ping
queue  resume    running but never became ready; ping and post_start again  hooks: ping, post_start
web    keep      paused, unpause, outdated: `ports` changed                 hooks: none
       {token}: nowhere; the running container keeps the env it was created with
docs   excluded  not started by this `start`
old    orphan    shop.old belongs to a service the script no longer declares; `start` leaves it, `boss stop` stops it
`start` would change 6 services: `app`, `api`, `db`, `cache`, `queue`, and `web`
"
        );
    }

    #[test]
    fn a_plan_says_completed_jobs_and_external_services() {
        let plan = Plan {
            group: "shop".into(),
            changes: true,
            services: vec![
                planned("migrate", ServiceAction::Completed { container: container("migrate") }, &[], vec![]),
                planned("hostdb", ServiceAction::External { first_start: true }, &["pre_start", "ping"], vec![]),
                planned("cache", ServiceAction::External { first_start: false }, &["ping"], vec![]),
            ],
            excluded: vec![],
            orphans: vec![],
        };
        assert_eq!(
            plan_text(&plan),
            "\
migrate  done      job exited with status 0, unchanged; not run again  hooks: none
hostdb   external  not boss's to create; run its hooks                 hooks: pre_start, ping
cache    external  not boss's to create; started already, ping again   hooks: ping
`start` would change 1 service: `hostdb`
"
        );
    }
}
