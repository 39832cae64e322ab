//! `--timings FILE`: a self-contained HTML timeline of one start, as `cargo build --timings`
//! writes: one row per service with its phases (waiting on dependencies, preparing, `pre_start`,
//! pull or build, create, start, ping, `post_start`), the slowest chain of dependencies
//! highlighted. Drawn from the same events as the progress lines, stamped as they arrive; the
//! page embeds its data as JSON (`<script id="boss-timings">`), which tests read back.

use std::fmt::Write as _;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::event::{Event, ServiceChange};
use crate::hook::HookKind;

/// One phase of a service's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    /// From the start of the run until boss begins with the service: connecting, the network,
    /// and above all its dependencies.
    Waiting,
    /// Looking at what the engine holds and deciding what to do.
    Preparing,
    PreStart,
    Pull,
    Build,
    /// Removing an old container and creating the new one.
    Create,
    /// Starting the container (a new one, or a stopped one again).
    Start,
    /// The readiness check (also of a container checked again).
    Ping,
    PostStart,
}

impl Phase {
    const ALL: [Phase; 9] = [
        Phase::Waiting,
        Phase::Preparing,
        Phase::PreStart,
        Phase::Pull,
        Phase::Build,
        Phase::Create,
        Phase::Start,
        Phase::Ping,
        Phase::PostStart,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting (on dependencies)",
            Phase::Preparing => "preparing",
            Phase::PreStart => "pre_start",
            Phase::Pull => "pull",
            Phase::Build => "build",
            Phase::Create => "create",
            Phase::Start => "start",
            Phase::Ping => "ping",
            Phase::PostStart => "post_start",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Phase::Waiting => "#e5e7eb",
            Phase::Preparing => "#9ca3af",
            Phase::PreStart => "#a78bfa",
            Phase::Pull => "#60a5fa",
            Phase::Build => "#2563eb",
            Phase::Create => "#f59e0b",
            Phase::Start => "#f97316",
            Phase::Ping => "#34d399",
            Phase::PostStart => "#059669",
        }
    }
}

/// A phase from `from` to `to`, in milliseconds since the run began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Span {
    pub phase: Phase,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// How a service's row ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Still going when the timeline was written (an interrupted run).
    Unfinished,
    Started,
    /// Already running; nothing was done.
    Kept,
    Failed,
    Skipped,
}

/// One service's row.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub service: String,
    pub spans: Vec<Span>,
    pub outcome: Outcome,
    /// On the slowest chain of dependencies.
    pub critical: bool,
    #[serde(skip)]
    open: Option<(Phase, u64)>,
}

/// The timeline as it is recorded.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    rows: IndexMap<String, Row>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Timeline {
    /// Records `event`, which arrived `at` after the run began.
    pub(crate) fn record(&mut self, at: Duration, event: &Event) {
        let Event::Service { service, change } = event else { return };
        let at = millis(at);
        let row = self.rows.entry(service.clone()).or_insert_with(|| Row {
            service: service.clone(),
            spans: Vec::new(),
            outcome: Outcome::Unfinished,
            critical: false,
            open: None,
        });
        let next = match change {
            ServiceChange::Scheduled => {
                if at > 0 {
                    row.spans.push(Span { phase: Phase::Waiting, from_ms: 0, to_ms: at });
                }
                Some(Phase::Preparing)
            }
            ServiceChange::RunningHook { hook: HookKind::PreStart } => Some(Phase::PreStart),
            ServiceChange::RunningHook { hook: HookKind::PostStart } => Some(Phase::PostStart),
            ServiceChange::RunningHook { hook: HookKind::Ping }
            | ServiceChange::Pinging
            | ServiceChange::RunningJob => Some(Phase::Ping),
            ServiceChange::Resuming { .. } => Some(Phase::Ping),
            ServiceChange::Pulling { .. } => Some(Phase::Pull),
            ServiceChange::Building { .. } => Some(Phase::Build),
            ServiceChange::Recreating { .. } | ServiceChange::Creating { .. } => Some(Phase::Create),
            ServiceChange::StartingContainer { .. } | ServiceChange::Restarting { .. } => Some(Phase::Start),
            ServiceChange::Started { .. } => return row.end(at, Outcome::Started),
            ServiceChange::AlreadyRunning { .. }
            | ServiceChange::AlreadyCompleted { .. }
            | ServiceChange::Unpausing { .. } => {
                return row.end(at, Outcome::Kept);
            }
            ServiceChange::Failed { .. } => return row.end(at, Outcome::Failed),
            ServiceChange::Skipped { .. } => return row.end(at, Outcome::Skipped),
            _ => None,
        };
        if let Some(phase) = next
            && row.open.map(|(open, _)| open) != Some(phase)
        {
            row.close(at);
            row.open = Some((phase, at));
        }
    }

    /// Marks the services of the slowest chain.
    pub(crate) fn mark_critical(&mut self, chain: &[String]) {
        for row in self.rows.values_mut() {
            row.critical = chain.contains(&row.service);
        }
    }

    /// The page: the rows drawn as SVG, a legend, a table of phase times, and the data as JSON.
    pub(crate) fn html(&self, group: &str, total: Duration) -> String {
        let total_ms = millis(total)
            .max(self.rows.values().flat_map(|row| &row.spans).map(|span| span.to_ms).max().unwrap_or(0))
            .max(1);
        let (label_width, chart_width, row_height) = (160u64, 900u64, 22u64);
        let height = 30 + row_height * self.rows.len() as u64 + 10;
        let x = |ms: u64| label_width + ms * chart_width / total_ms;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">"#,
            label_width + chart_width + 20
        );
        for tick in 0..=10 {
            let ms = total_ms * tick / 10;
            let _ = write!(
                svg,
                r##"<line x1="{0}" y1="20" x2="{0}" y2="{1}" stroke="#eee"/><text x="{0}" y="14" text-anchor="middle">{2:.1} s</text>"##,
                x(ms),
                height - 10,
                ms as f64 / 1000.0
            );
        }
        for (index, row) in self.rows.values().enumerate() {
            let y = 24 + row_height * index as u64;
            let weight = if row.critical { "bold" } else { "normal" };
            let _ = write!(
                svg,
                r#"<text x="4" y="{}" font-weight="{weight}">{}{}</text>"#,
                y + 14,
                escape(&row.service),
                if row.critical { " ★" } else { "" }
            );
            for span in &row.spans {
                let width = (x(span.to_ms) - x(span.from_ms)).max(1);
                let stroke = if row.critical && span.phase != Phase::Waiting {
                    r##" stroke="#b91c1c" stroke-width="2""##
                } else {
                    ""
                };
                let _ = write!(
                    svg,
                    r#"<rect x="{}" y="{y}" width="{width}" height="{}" fill="{}"{stroke}><title>{}: {} ({:.2} s)</title></rect>"#,
                    x(span.from_ms),
                    row_height - 6,
                    span.phase.colour(),
                    escape(&row.service),
                    span.phase.name(),
                    (span.to_ms - span.from_ms) as f64 / 1000.0
                );
            }
        }
        svg.push_str("</svg>");

        let mut legend = String::new();
        for phase in Phase::ALL {
            let _ = write!(
                legend,
                r#"<span class="key"><span class="swatch" style="background:{}"></span>{}</span>"#,
                phase.colour(),
                phase.name()
            );
        }
        let mut table = String::from("<table><tr><th>service</th><th>outcome</th>");
        for phase in Phase::ALL {
            let _ = write!(table, "<th>{}</th>", phase.name());
        }
        table.push_str("</tr>");
        for row in self.rows.values() {
            let outcome = serde_json::to_value(row.outcome).ok().and_then(|value| value.as_str().map(str::to_string));
            let _ = write!(
                table,
                "<tr{}><td>{}</td><td>{}</td>",
                if row.critical { r#" class="critical""# } else { "" },
                escape(&row.service),
                outcome.unwrap_or_default()
            );
            for phase in Phase::ALL {
                let spent: u64 =
                    row.spans.iter().filter(|span| span.phase == phase).map(|span| span.to_ms - span.from_ms).sum();
                let cell = if row.spans.iter().any(|span| span.phase == phase) {
                    format!("{:.2} s", spent as f64 / 1000.0)
                } else {
                    String::new()
                };
                let _ = write!(table, "<td>{cell}</td>");
            }
            table.push_str("</tr>");
        }
        table.push_str("</table>");

        let rows: Vec<&Row> = self.rows.values().collect();
        let data = serde_json::json!({ "group": group, "total_ms": millis(total), "services": rows });
        // A `<` can only be in a JSON string, where `\u003c` means the same and cannot end the
        // script element early.
        let data = data.to_string().replace('<', "\\u003c");
        format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>boss start timings: {group}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
.key {{ margin-right: 1em; white-space: nowrap; }}
.swatch {{ display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: middle; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.critical td {{ font-weight: bold; }}
</style></head><body>
<h1>boss start timings: {group}</h1>
<p>{total:.1} s in all. ★ and red outlines: the slowest chain of dependencies.</p>
<p>{legend}</p>
{svg}
{table}
<script type="application/json" id="boss-timings">{data}</script>
</body></html>
"#,
            group = escape(group),
            total = total.as_secs_f64(),
        )
    }
}

impl Row {
    fn close(&mut self, at: u64) {
        if let Some((phase, from)) = self.open.take() {
            self.spans.push(Span { phase, from_ms: from, to_ms: at.max(from) });
        }
    }

    fn end(&mut self, at: u64, outcome: Outcome) {
        self.close(at);
        self.outcome = outcome;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(timeline: &mut Timeline, ms: u64, service: &str, change: ServiceChange) {
        timeline.record(Duration::from_millis(ms), &Event::Service { service: service.into(), change });
    }

    #[test]
    fn every_phase_of_a_new_container_and_the_waits_on_dependencies() {
        let mut timeline = Timeline::default();
        at(&mut timeline, 0, "db", ServiceChange::Scheduled);
        at(&mut timeline, 5, "db", ServiceChange::RunningHook { hook: HookKind::PreStart });
        at(&mut timeline, 50, "db", ServiceChange::Pulling { image: "pg".into() });
        at(&mut timeline, 900, "db", ServiceChange::Creating { container: "g.db".into(), image: "pg".into() });
        at(&mut timeline, 950, "db", ServiceChange::StartingContainer { container: "g.db".into() });
        at(&mut timeline, 1000, "db", ServiceChange::Pinging);
        at(&mut timeline, 1500, "db", ServiceChange::RunningHook { hook: HookKind::PostStart });
        at(&mut timeline, 1600, "db", ServiceChange::Started { elapsed: Duration::from_millis(1600) });
        at(&mut timeline, 1601, "api", ServiceChange::Scheduled);
        at(&mut timeline, 1610, "api", ServiceChange::Building { image: "api".into(), tag: "api:boss-1".into() });
        at(&mut timeline, 1700, "api", ServiceChange::Failed { failure: crate::error::ServiceFailure::Cancelled });
        let db: Vec<(Phase, u64, u64)> =
            timeline.rows["db"].spans.iter().map(|span| (span.phase, span.from_ms, span.to_ms)).collect();
        assert_eq!(
            db,
            [
                (Phase::Preparing, 0, 5),
                (Phase::PreStart, 5, 50),
                (Phase::Pull, 50, 900),
                (Phase::Create, 900, 950),
                (Phase::Start, 950, 1000),
                (Phase::Ping, 1000, 1500),
                (Phase::PostStart, 1500, 1600),
            ]
        );
        let api: Vec<(Phase, u64, u64)> =
            timeline.rows["api"].spans.iter().map(|span| (span.phase, span.from_ms, span.to_ms)).collect();
        assert_eq!(api, [(Phase::Waiting, 0, 1601), (Phase::Preparing, 1601, 1610), (Phase::Build, 1610, 1700)]);
        assert_eq!((timeline.rows["db"].outcome, timeline.rows["api"].outcome), (Outcome::Started, Outcome::Failed));
    }

    #[test]
    fn the_page_carries_its_data_and_marks_the_slowest_chain() {
        let mut timeline = Timeline::default();
        at(&mut timeline, 0, "a<b", ServiceChange::Scheduled);
        at(
            &mut timeline,
            10,
            "a<b",
            ServiceChange::AlreadyRunning { container: "c".into(), outdated: None, reloadable: false },
        );
        at(&mut timeline, 0, "x", ServiceChange::Scheduled);
        at(&mut timeline, 20, "x", ServiceChange::Started { elapsed: Duration::from_millis(20) });
        timeline.mark_critical(&["x".to_string()]);
        let page = timeline.html("shop", Duration::from_millis(30));
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"), "{page}");
        assert!(page.contains("a&lt;b") && !page.contains("a<b"), "names are escaped: {page}");
        let data = page.split(r#"<script type="application/json" id="boss-timings">"#).nth(1).unwrap();
        let data: serde_json::Value = serde_json::from_str(data.split("</script>").next().unwrap()).unwrap();
        assert_eq!(data["group"], "shop");
        assert_eq!((&data["services"][0]["service"], &data["services"][0]["outcome"]), (&"a<b".into(), &"kept".into()));
        assert_eq!(data["services"][1]["critical"], true);
        assert_eq!(data["services"][1]["spans"][0]["phase"], "preparing");
    }
}
