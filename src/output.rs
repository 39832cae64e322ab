//! Human-readable output: one stderr line per event, and the end-of-run summary. This is the
//! only place that prints progress; debug logs go through `tracing` instead.

use std::io::Write as _;

use crate::event::{Event, EventSink, RecreateReason, ServiceChange};
use crate::ownership::{Change, Changes};

/// Formats an event as the lines shown to the user (without trailing newline), or `None` for
/// events that are not shown.
pub fn describe(event: &Event) -> Option<String> {
    let text = match event {
        Event::Network { name, created: true } => format!("created network `{name}`"),
        Event::Network { created: false, .. } | Event::ContextSaved => return None,
        Event::NetworkRemoved { name } => format!("removed network `{name}`"),
        Event::ContextRemoved => "removed the context file".to_string(),
        Event::ContextNotSaved { path, reason } => {
            format!("warning: cannot save the context to `{}` yet: {reason}", path.display())
        }
        Event::VolumeRemoved { name } => format!("removed volume `{name}`"),
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
                    let reason = match reason {
                        RecreateReason::AlwaysStartNew => "`always_start_new` is set".to_string(),
                        RecreateReason::Reloading => "reloading".to_string(),
                        RecreateReason::Changed(changes) => describe_changes(changes),
                        RecreateReason::NotUsable => "the old container is not usable".to_string(),
                    };
                    format!("recreating: {reason} (removing {container})")
                }
                ServiceChange::Building { image, tag } => format!("building image {image} (also tagged {tag})"),
                ServiceChange::BuildOutput { line } => return Some(format!("{service} (build) | {line}")),
                ServiceChange::Pulling { image } => format!("pulling image {image}"),
                ServiceChange::Creating { container, image } => format!("creating container {container} from {image}"),
                ServiceChange::Restarting { container } => format!("restarting stopped container {container}"),
                ServiceChange::Unpausing { container } => format!("unpausing paused container {container}"),
                ServiceChange::VolumeCreated { volume, path } => format!("created volume {volume} for {path}"),
                ServiceChange::Pinging => "pinging".to_string(),
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

/// What changed in a container's definition, one phrase per change, e.g. "env `DB_URL` changed".
pub fn describe_changes(changes: &Changes) -> String {
    let phrases: Vec<String> = changes
        .0
        .iter()
        .map(|change| match change {
            Change::ImageReplaced { from, to } => format!("image changed from `{from}` to `{to}`"),
            Change::ImageRebuilt { image } => format!("image `{image}` was rebuilt or pulled again"),
            Change::EnvAdded(key) => format!("env `{key}` was added"),
            Change::EnvChanged(key) => format!("env `{key}` changed"),
            Change::EnvRemoved(key) => format!("env `{key}` was removed"),
            Change::Field(field) => format!("`{}` changed", field.name()),
            Change::NoRecordedDefinition => "it was created without a recorded definition".to_string(),
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
pub fn stderr_sink() -> EventSink {
    EventSink::new(|event| {
        if let Some(text) = describe(event) {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{text}");
        }
    })
}

/// Prints a line that is not an event (summaries).
pub fn line(text: &str) {
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
        ]);
        assert_eq!(
            describe_changes(&changes),
            "image changed from `a:1` to `a:2`, image `img:1` was rebuilt or pulled again, env `DB_URL` changed, env `NEW` was added, env `GONE` was removed, `cmd` changed, it was created without a recorded definition"
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
}
