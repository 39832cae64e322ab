//! `--progress json`: every event, the summary and the final error as one JSON object per line
//! (NDJSON) on stdout. The schema is versioned ([`VERSION`]) and documented in the README under
//! "Progress"; the texts in it are the ones the plain lines show, worded in `output.rs` and
//! `error.rs`.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::{Error, ServiceFailure};
use crate::event::{Event, ServiceChange};

/// The version of the schema, in every line as `v`. A field added keeps it; a field removed,
/// renamed or changed in meaning raises it.
pub(crate) const VERSION: u32 = 1;

/// One line: the fields every line has, then those of its kind.
#[derive(Debug, Serialize)]
pub(crate) struct Line<'a> {
    v: u32,
    /// When boss wrote the line, RFC 3339 in UTC with milliseconds.
    time: String,
    #[serde(flatten)]
    body: Body<'a>,
}

impl<'a> Line<'a> {
    pub(crate) fn new(body: Body<'a>) -> Line<'a> {
        Line { v: VERSION, time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(), body }
    }
}

/// What a line is about, by `kind`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Body<'a> {
    Network {
        name: &'a str,
        created: bool,
        text: Option<String>,
    },
    NetworkRemoved {
        name: &'a str,
        text: Option<String>,
    },
    ContextSaved {
        text: Option<String>,
    },
    ContextRemoved {
        text: Option<String>,
    },
    ContextNotSaved {
        path: String,
        reason: &'a str,
        text: Option<String>,
    },
    VolumeRemoved {
        name: &'a str,
        text: Option<String>,
    },
    ComposeWarning {
        path: String,
        line: usize,
        text: Option<String>,
    },
    PullingImage {
        image: &'a str,
        services: &'a [String],
        text: Option<String>,
    },
    ImagePulled {
        image: &'a str,
        elapsed_ms: u64,
        text: Option<String>,
    },
    ImageNotPulled {
        image: &'a str,
        reason: &'a str,
        text: Option<String>,
    },
    /// Another boss holds the group's lock; `pid` and `command` are null when it has not said
    /// who it is.
    WaitingForLock {
        group: &'a str,
        pid: Option<u32>,
        command: Option<&'static str>,
        text: Option<String>,
    },
    Service {
        service: &'a str,
        #[serde(flatten)]
        change: Change<'a>,
        text: Option<String>,
    },
    /// What `boss run` says between its steps, and other lines that are not events.
    Notice {
        notice: &'static str,
        text: String,
    },
    Summary(Summary<'a>),
    /// The error the command ends with; the last line.
    Error {
        exit_code: i32,
        message: String,
    },
}

/// A service's change, by `change`.
#[derive(Debug, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub(crate) enum Change<'a> {
    AlreadyRunning { container: &'a str, outdated: Option<String>, reloadable: bool },
    Recreating { container: &'a str, reason: String },
    Building { image: &'a str, tag: &'a str },
    BuildOutput { line: &'a str },
    Pulling { image: &'a str },
    Creating { container: &'a str, image: &'a str },
    Restarting { container: &'a str },
    Resuming { container: &'a str, post_start: bool },
    Unpausing { container: &'a str },
    VolumeCreated { volume: &'a str, path: &'a str },
    Pinging,
    RunningJob,
    AlreadyCompleted { container: &'a str },
    External,
    Scheduled,
    RunningHook { hook: &'static str },
    StartingContainer { container: &'a str },
    Started { elapsed_ms: u64 },
    Failed { error: Failure },
    Skipped { dependency: &'a str },
    TearingDown { container: &'a str, remove: bool },
    Stopping { container: &'a str },
    Stopped { container: &'a str },
    Removed { container: &'a str },
    NoContainer,
    Orphan { container: &'a str },
    StopFailed { error: Failure },
    Log { message: &'a str },
    LogSaved { path: String, lines: usize },
    LogNotSaved { reason: &'a str },
}

/// A service's failure: what kind it is, and its text as the plain output words it.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    fn of(failure: &ServiceFailure) -> Failure {
        Failure { kind: failure.kind(), message: failure.render().trim_end().to_string() }
    }
}

/// The end of a `start`, `reload`, `run` or `stop`.
#[derive(Debug, Serialize)]
pub(crate) struct Summary<'a> {
    /// `start`, `reload`, `run` or `stop`.
    pub command: &'static str,
    /// The services started (or, for `stop`, stopped).
    pub services: &'a [String],
    pub failed: &'a [String],
    /// From the command's start to the summary.
    pub elapsed_ms: u64,
    /// The slowest chain of dependencies, dependencies first (empty for `stop`).
    pub critical_path: Vec<ChainLink<'a>>,
    pub text: Option<String>,
}

/// One service of the critical path.
#[derive(Debug, Serialize)]
pub(crate) struct ChainLink<'a> {
    pub service: &'a str,
    pub elapsed_ms: u64,
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The line of an event, with `text` the plain line (`None` for events plain output hides).
pub(crate) fn event(event: &Event) -> Body<'_> {
    let text = super::describe(event);
    match event {
        Event::Network { name, created } => Body::Network { name, created: *created, text },
        Event::NetworkRemoved { name } => Body::NetworkRemoved { name, text },
        Event::ContextSaved => Body::ContextSaved { text },
        Event::ContextRemoved => Body::ContextRemoved { text },
        Event::ContextNotSaved { path, reason } => {
            Body::ContextNotSaved { path: path.display().to_string(), reason, text }
        }
        Event::VolumeRemoved { name } => Body::VolumeRemoved { name, text },
        Event::ComposeWarning { path, line, .. } => {
            Body::ComposeWarning { path: path.display().to_string(), line: *line, text }
        }
        Event::PullingImage { image, services } => Body::PullingImage { image, services, text },
        Event::ImagePulled { image, elapsed } => Body::ImagePulled { image, elapsed_ms: millis(*elapsed), text },
        Event::ImageNotPulled { image, reason } => Body::ImageNotPulled { image, reason, text },
        Event::WaitingForLock { group, holder } => Body::WaitingForLock {
            group,
            pid: holder.map(|holder| holder.pid),
            command: holder.map(|holder| holder.operation.name()),
            text,
        },
        Event::Service { service, change } => Body::Service { service, change: self::change(change), text },
    }
}

fn change(change: &ServiceChange) -> Change<'_> {
    match change {
        ServiceChange::AlreadyRunning { container, outdated, reloadable } => Change::AlreadyRunning {
            container,
            outdated: outdated.as_ref().map(super::describe_changes),
            reloadable: *reloadable,
        },
        ServiceChange::Recreating { container, reason } => {
            Change::Recreating { container, reason: super::describe_recreate_reason(reason) }
        }
        ServiceChange::Building { image, tag } => Change::Building { image, tag },
        ServiceChange::BuildOutput { line } => Change::BuildOutput { line },
        ServiceChange::Pulling { image } => Change::Pulling { image },
        ServiceChange::Creating { container, image } => Change::Creating { container, image },
        ServiceChange::Restarting { container } => Change::Restarting { container },
        ServiceChange::Resuming { container, post_start } => Change::Resuming { container, post_start: *post_start },
        ServiceChange::Unpausing { container } => Change::Unpausing { container },
        ServiceChange::VolumeCreated { volume, path } => Change::VolumeCreated { volume, path },
        ServiceChange::Pinging => Change::Pinging,
        ServiceChange::RunningJob => Change::RunningJob,
        ServiceChange::AlreadyCompleted { container } => Change::AlreadyCompleted { container },
        ServiceChange::External => Change::External,
        ServiceChange::Scheduled => Change::Scheduled,
        ServiceChange::RunningHook { hook } => Change::RunningHook { hook: hook.name() },
        ServiceChange::StartingContainer { container } => Change::StartingContainer { container },
        ServiceChange::Started { elapsed } => Change::Started { elapsed_ms: millis(*elapsed) },
        ServiceChange::Failed { failure } => Change::Failed { error: Failure::of(failure) },
        ServiceChange::Skipped { dependency } => Change::Skipped { dependency },
        ServiceChange::TearingDown { container, remove } => Change::TearingDown { container, remove: *remove },
        ServiceChange::Stopping { container } => Change::Stopping { container },
        ServiceChange::Stopped { container } => Change::Stopped { container },
        ServiceChange::Removed { container } => Change::Removed { container },
        ServiceChange::NoContainer => Change::NoContainer,
        ServiceChange::Orphan { container } => Change::Orphan { container },
        ServiceChange::StopFailed { failure } => Change::StopFailed { error: Failure::of(failure) },
        ServiceChange::Log { message } => Change::Log { message },
        ServiceChange::LogSaved { path, lines } => Change::LogSaved { path: path.display().to_string(), lines: *lines },
        ServiceChange::LogNotSaved { reason } => Change::LogNotSaved { reason },
    }
}

/// The line of the error a command ends with.
pub(crate) fn error(error: &Error) -> Body<'static> {
    Body::Error { exit_code: error.exit_code(), message: error.render().trim_end().to_string() }
}

/// The line as JSON text, without the line break.
pub(crate) fn to_text(body: Body<'_>) -> String {
    serde_json::to_string(&Line::new(body)).unwrap_or_default()
}

/// Writes one line to stdout, at once (a reader follows the run as it goes).
pub(crate) fn write(body: Body<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", to_text(body)).and_then(|()| stdout.flush());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::event::RecreateReason;
    use crate::ownership::{Change as DefinitionChange, Changes};

    /// The table "The JSON events" in the README: for each `kind` (and `change`), its fields
    /// and their types, besides `v`, `time` and `kind` (and a service's `service` and `change`).
    fn documented() -> BTreeMap<(String, String), Vec<(String, String)>> {
        let readme = include_str!("../../README.md");
        let start = readme.find("<!-- progress-json-schema").expect("the README's schema table");
        let end = readme.find("<!-- end of progress-json-schema").expect("the end of the schema table");
        let field =
            regex::Regex::new(r"`(\w+)` (string or null|string|boolean|number or null|number|object|array)").unwrap();
        readme[start..end]
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                let fields = field
                    .captures_iter(cells[2])
                    .map(|captures| (captures[1].to_string(), captures[2].to_string()))
                    .collect();
                ((cells[0].trim_matches('`').to_string(), cells[1].trim_matches('`').to_string()), fields)
            })
            .collect()
    }

    fn has_type(value: &Value, kind: &str) -> bool {
        match kind {
            "string" => value.is_string(),
            "string or null" => value.is_string() || value.is_null(),
            "boolean" => value.is_boolean(),
            "number" => value.is_u64() || value.is_i64(),
            "number or null" => value.is_u64() || value.is_i64() || value.is_null(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            _ => false,
        }
    }

    /// One of every event, with every service change, so a variant added without a line in
    /// the README's table fails here.
    fn one_of_each() -> Vec<Event> {
        let failure = ServiceFailure::ContainerExited { exit_code: Some(3), logs: "boom\n".into() };
        let changes = vec![
            ServiceChange::AlreadyRunning {
                container: "g.web".into(),
                outdated: Some(Changes(vec![DefinitionChange::EnvChanged("DB".into())])),
                reloadable: true,
            },
            ServiceChange::Recreating { container: "g.web".into(), reason: RecreateReason::AlwaysStartNew },
            ServiceChange::Building { image: "web:latest".into(), tag: "web:boss-x".into() },
            ServiceChange::BuildOutput { line: "Step 1/2".into() },
            ServiceChange::Pulling { image: "web:1".into() },
            ServiceChange::Creating { container: "g.web".into(), image: "web:1".into() },
            ServiceChange::Restarting { container: "g.web".into() },
            ServiceChange::Resuming { container: "g.web".into(), post_start: true },
            ServiceChange::Unpausing { container: "g.web".into() },
            ServiceChange::VolumeCreated { volume: "g.web.data".into(), path: "/data".into() },
            ServiceChange::Pinging,
            ServiceChange::RunningJob,
            ServiceChange::AlreadyCompleted { container: "g.web".into() },
            ServiceChange::External,
            ServiceChange::Scheduled,
            ServiceChange::RunningHook { hook: crate::hook::HookKind::PreStart },
            ServiceChange::StartingContainer { container: "g.web".into() },
            ServiceChange::Started { elapsed: Duration::from_millis(1234) },
            ServiceChange::Failed { failure: failure.clone() },
            ServiceChange::Skipped { dependency: "db".into() },
            ServiceChange::TearingDown { container: "g.web".into(), remove: true },
            ServiceChange::Stopping { container: "g.web".into() },
            ServiceChange::Stopped { container: "g.web".into() },
            ServiceChange::Removed { container: "g.web".into() },
            ServiceChange::NoContainer,
            ServiceChange::Orphan { container: "g.old".into() },
            ServiceChange::StopFailed { failure },
            ServiceChange::Log { message: "hello".into() },
            ServiceChange::LogSaved { path: PathBuf::from("logs/web.log"), lines: 2 },
            ServiceChange::LogNotSaved { reason: "disk full".into() },
        ];
        let mut events = vec![
            Event::Network { name: "boss-g".into(), created: true },
            Event::NetworkRemoved { name: "boss-g".into() },
            Event::ContextSaved,
            Event::ContextRemoved,
            Event::ContextNotSaved { path: PathBuf::from(".boss-context"), reason: "read-only".into() },
            Event::VolumeRemoved { name: "g.web.data".into() },
            Event::ComposeWarning { path: PathBuf::from("compose.yml"), line: 1, rendered: "warning: x".into() },
            Event::PullingImage { image: "db:1".into(), services: vec!["db".into(), "replica".into()] },
            Event::ImagePulled { image: "db:1".into(), elapsed: Duration::from_millis(1500) },
            Event::ImageNotPulled { image: "db:1".into(), reason: "manifest unknown".into() },
            Event::WaitingForLock {
                group: "g".into(),
                holder: Some(crate::event::LockHolder { pid: 4711, operation: crate::event::Operation::Start }),
            },
        ];
        events.extend(changes.into_iter().map(|change| Event::Service { service: "web".into(), change }));
        events
    }

    /// Every variant, by name, so that the list above cannot miss one: this match has no
    /// wildcard.
    fn variant(event: &Event) -> &'static str {
        match event {
            Event::Network { .. } => "network",
            Event::NetworkRemoved { .. } => "network_removed",
            Event::ContextSaved => "context_saved",
            Event::ContextRemoved => "context_removed",
            Event::ContextNotSaved { .. } => "context_not_saved",
            Event::VolumeRemoved { .. } => "volume_removed",
            Event::ComposeWarning { .. } => "compose_warning",
            Event::WaitingForLock { .. } => "waiting_for_lock",
            Event::PullingImage { .. } => "pulling_image",
            Event::ImagePulled { .. } => "image_pulled",
            Event::ImageNotPulled { .. } => "image_not_pulled",
            Event::Service { change, .. } => match change {
                ServiceChange::AlreadyRunning { .. } => "already_running",
                ServiceChange::Recreating { .. } => "recreating",
                ServiceChange::Building { .. } => "building",
                ServiceChange::BuildOutput { .. } => "build_output",
                ServiceChange::Pulling { .. } => "pulling",
                ServiceChange::Creating { .. } => "creating",
                ServiceChange::Restarting { .. } => "restarting",
                ServiceChange::Resuming { .. } => "resuming",
                ServiceChange::Unpausing { .. } => "unpausing",
                ServiceChange::VolumeCreated { .. } => "volume_created",
                ServiceChange::Pinging => "pinging",
                ServiceChange::RunningJob => "running_job",
                ServiceChange::AlreadyCompleted { .. } => "already_completed",
                ServiceChange::External => "external",
                ServiceChange::Scheduled => "scheduled",
                ServiceChange::RunningHook { .. } => "running_hook",
                ServiceChange::StartingContainer { .. } => "starting_container",
                ServiceChange::Started { .. } => "started",
                ServiceChange::Failed { .. } => "failed",
                ServiceChange::Skipped { .. } => "skipped",
                ServiceChange::TearingDown { .. } => "tearing_down",
                ServiceChange::Stopping { .. } => "stopping",
                ServiceChange::Stopped { .. } => "stopped",
                ServiceChange::Removed { .. } => "removed",
                ServiceChange::NoContainer => "no_container",
                ServiceChange::Orphan { .. } => "orphan",
                ServiceChange::StopFailed { .. } => "stop_failed",
                ServiceChange::Log { .. } => "log",
                ServiceChange::LogSaved { .. } => "log_saved",
                ServiceChange::LogNotSaved { .. } => "log_not_saved",
            },
        }
    }

    /// Checks one line against the table; returns its `(kind, change)`.
    fn check(text: &str, table: &BTreeMap<(String, String), Vec<(String, String)>>) -> (String, String) {
        let Value::Object(object) = serde_json::from_str::<Value>(text).unwrap() else {
            panic!("not an object: {text}")
        };
        assert_eq!(object["v"], 1, "{text}");
        let time = object["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "not RFC 3339: {time}");
        let kind = object["kind"].as_str().unwrap().to_string();
        let change = object.get("change").and_then(Value::as_str).unwrap_or_default().to_string();
        let fields = table.get(&(kind.clone(), change.clone())).unwrap_or_else(|| panic!("undocumented: {text}"));
        let mut expected: Vec<&str> = vec!["v", "time", "kind"];
        if kind == "service" {
            expected.extend(["service", "change", "text"]);
            assert!(object["service"].is_string() && has_type(&object["text"], "string or null"), "{text}");
        }
        for (name, kind) in fields {
            expected.push(name);
            assert!(has_type(&object[name], kind), "`{name}` is not {kind}: {text}");
        }
        let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
        expected.sort_unstable();
        found.sort_unstable();
        assert_eq!(found, expected, "{text}");
        (kind, change)
    }

    #[test]
    fn every_json_line_has_the_documented_fields() {
        let table = documented();
        let mut seen = std::collections::BTreeSet::new();
        let events = one_of_each();
        let names: std::collections::BTreeSet<&str> = events.iter().map(variant).collect();
        assert_eq!(names.len(), events.len(), "one event of each variant");
        for event in &events {
            seen.insert(check(&to_text(self::event(event)), &table));
        }
        // The failure is structured data with its text.
        let failed = events.iter().find(|event| variant(event) == "failed").unwrap();
        let failed = serde_json::from_str::<Value>(&to_text(self::event(failed))).unwrap();
        assert_eq!(failed["error"]["kind"], "container_exited");
        assert_eq!(
            failed["error"]["message"],
            "container exited with status 3 while starting\nlast lines of its log:\n  | boom"
        );
        assert_eq!(
            failed["text"].as_str().unwrap().lines().next(),
            Some("web: failed: container exited with status 3 while starting")
        );
        let others = [
            Body::Notice { notice: "running", text: "running `sh`".into() },
            Body::Summary(Summary {
                command: "start",
                services: &["db".to_string(), "api".to_string()],
                failed: &[],
                elapsed_ms: 2100,
                critical_path: vec![
                    ChainLink { service: "db", elapsed_ms: 1200 },
                    ChainLink { service: "api", elapsed_ms: 900 },
                ],
                text: Some("2 services up".into()),
            }),
            error(&Error::Interrupted),
        ];
        for body in others {
            seen.insert(check(&to_text(body), &table));
        }
        // Every row of the table is a line boss writes.
        let rows: std::collections::BTreeSet<(String, String)> = table.keys().cloned().collect();
        assert_eq!(seen, rows);
    }

    #[test]
    fn the_final_error_carries_its_exit_code_and_text() {
        let line = serde_json::from_str::<Value>(&to_text(error(&Error::Interrupted))).unwrap();
        assert_eq!(line["kind"], "error");
        assert_eq!(line["exit_code"], 130);
        assert_eq!(line["message"], Error::Interrupted.render().trim_end());
    }
}
