//! `--progress tty`: a live view with one row per service (its state, how long it has taken,
//! its last hook message or build step), drawn by indicatif's `MultiProgress`. Hooks' `log(...)`
//! lines, failures and other notices are printed above the rows; the summary is the last row
//! and stays on screen. Drawn only from events, like the plain lines.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::event::{Event, ServiceChange};

/// How often a row's spinner and time move.
const TICK: Duration = Duration::from_millis(100);

/// What a row's time column shows.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// The time since the row appeared, still running.
    Running,
    /// How long the service took.
    Took(Duration),
    /// Nothing (a service that was already running).
    Blank,
}

#[derive(Debug)]
struct Row {
    bar: ProgressBar,
    clock: Arc<Mutex<Clock>>,
    state: &'static str,
    /// The last hook message or build step.
    message: String,
}

/// The live view of one command.
#[derive(Debug)]
pub(crate) struct Live {
    multi: MultiProgress,
    rows: Mutex<IndexMap<String, Row>>,
    /// Spinners move on their own (off in tests, whose screens must not depend on timing).
    tick: bool,
}

impl Live {
    /// A live view on stderr.
    pub(crate) fn stderr() -> Live {
        Live::new(ProgressDrawTarget::stderr(), true)
    }

    pub(crate) fn new(target: ProgressDrawTarget, tick: bool) -> Live {
        Live { multi: MultiProgress::with_draw_target(target), rows: Mutex::default(), tick }
    }

    /// Shows an event: a service's change in its row, and what needs more than a row (a
    /// hook's `log(...)`, a failure, a notice) as lines above the rows.
    pub(crate) fn show(&self, event: &Event) {
        if let Event::Service { service, change } = event {
            self.update(service, change);
            if !printed_above(change) {
                return;
            }
        }
        if let Some(text) = super::describe(event) {
            self.println(&text);
        }
    }

    /// Prints `text` above the rows.
    pub(crate) fn println(&self, text: &str) {
        // One call per line: indicatif counts each as one text line above the rows.
        for line in text.lines() {
            let _ = self.multi.println(line);
        }
    }

    /// Freezes every row as it is and adds `summary` as the last line.
    pub(crate) fn finish(&self, summary: Option<&str>) {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        for row in rows.values() {
            if !row.bar.is_finished() {
                // The bar's own lock is taken first, as its drawing does (the time column locks
                // the clock while the bar is locked), so the two locks are never crossed.
                let elapsed = row.bar.elapsed();
                let mut clock = row.clock.lock().unwrap_or_else(PoisonError::into_inner);
                if let Clock::Running = *clock {
                    *clock = Clock::Took(elapsed);
                }
                drop(clock);
                row.bar.finish();
            }
        }
        if let Some(summary) = summary {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(summary.to_string());
        }
    }

    fn update(&self, service: &str, change: &ServiceChange) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if !rows.contains_key(service) {
            let row = self.row();
            rows.insert(service.to_string(), row);
            // Names are padded to the longest so far, so the columns line up.
            let width = rows.keys().map(String::len).max().unwrap_or(0);
            for (name, row) in rows.iter() {
                row.bar.set_prefix(format!("{name:<width$}"));
            }
        }
        let Some(row) = rows.get_mut(service) else { return };
        let step = step(change);
        if let Some(state) = step.state {
            row.state = state;
        }
        if let Some(clock) = step.clock {
            *row.clock.lock().unwrap_or_else(PoisonError::into_inner) = clock;
        }
        if let Some(message) = step.message {
            row.message = message;
        }
        row.bar.set_message(if row.message.is_empty() {
            row.state.to_string()
        } else {
            format!("{:<11} {}", row.state, row.message)
        });
    }

    fn row(&self) -> Row {
        let clock = Arc::new(Mutex::new(Clock::Running));
        let shown = Arc::clone(&clock);
        let time = move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let text = match *shown.lock().unwrap_or_else(PoisonError::into_inner) {
                Clock::Running => super::seconds(state.elapsed()),
                Clock::Took(took) => super::seconds(took),
                Clock::Blank => String::new(),
            };
            let _ = write!(out, "{text:>7}");
        };
        let style = ProgressStyle::with_template("{spinner} {prefix}  {time}  {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("time", time);
        let bar = self.multi.add(ProgressBar::new_spinner().with_style(style));
        if self.tick {
            bar.enable_steady_tick(TICK);
        }
        Row { bar, clock, state: "waiting", message: String::new() }
    }
}

/// What one change does to a service's row: its new state, its time, and its message.
struct Step {
    state: Option<&'static str>,
    clock: Option<Clock>,
    message: Option<String>,
}

fn step(change: &ServiceChange) -> Step {
    // A new state keeps the last message: the last hook message or build step stays in view.
    let state = |state| Step { state: Some(state), clock: None, message: None };
    let done = |state, clock| Step { state: Some(state), clock: Some(clock), message: None };
    match change {
        ServiceChange::AlreadyRunning { .. } => done("running", Clock::Blank),
        ServiceChange::Recreating { .. } => state("recreating"),
        ServiceChange::Building { .. } => state("building"),
        ServiceChange::BuildOutput { line } => Step { state: None, clock: None, message: Some(line.clone()) },
        ServiceChange::Pulling { .. } => state("pulling"),
        ServiceChange::Creating { .. } => state("creating"),
        ServiceChange::Restarting { .. } => state("restarting"),
        ServiceChange::Resuming { .. } => state("checking again"),
        ServiceChange::Unpausing { .. } => done("running", Clock::Blank),
        ServiceChange::VolumeCreated { .. } | ServiceChange::Orphan { .. } | ServiceChange::LogSaved { .. } => {
            Step { state: None, clock: None, message: None }
        }
        ServiceChange::LogNotSaved { .. } => Step { state: None, clock: None, message: None },
        ServiceChange::Pinging => state("pinging"),
        ServiceChange::RunningJob => state("running job"),
        ServiceChange::AlreadyCompleted { .. } => done("completed", Clock::Blank),
        ServiceChange::External => done("external", Clock::Blank),
        ServiceChange::Scheduled => state("preparing"),
        ServiceChange::RunningHook { hook } => state(hook.name()),
        ServiceChange::StartingContainer { .. } => state("starting"),
        ServiceChange::Started { elapsed } => done("started", Clock::Took(*elapsed)),
        ServiceChange::Failed { failure } => {
            Step { state: Some("failed"), clock: Some(Clock::Running), message: Some(first_line(&failure.render())) }
        }
        ServiceChange::Skipped { dependency } => Step {
            state: Some("skipped"),
            clock: Some(Clock::Blank),
            message: Some(format!("dependency `{dependency}` failed")),
        },
        ServiceChange::TearingDown { .. } => Step { state: None, clock: None, message: None },
        ServiceChange::Stopping { .. } => state("stopping"),
        ServiceChange::Stopped { .. } => state("stopped"),
        ServiceChange::Removed { .. } => state("removed"),
        ServiceChange::NoContainer => done("no container", Clock::Blank),
        ServiceChange::StopFailed { failure } => {
            Step { state: Some("failed"), clock: None, message: Some(first_line(&failure.render())) }
        }
        ServiceChange::Log { message } => Step { state: None, clock: None, message: Some(first_line(message)) },
    }
}

/// Changes whose plain line is also printed above the rows: what a row cannot hold.
fn printed_above(change: &ServiceChange) -> bool {
    match change {
        ServiceChange::AlreadyRunning { outdated, .. } => outdated.is_some(),
        ServiceChange::Recreating { .. }
        | ServiceChange::Failed { .. }
        | ServiceChange::StopFailed { .. }
        | ServiceChange::Orphan { .. }
        | ServiceChange::Log { .. }
        | ServiceChange::LogSaved { .. }
        | ServiceChange::LogNotSaved { .. }
        | ServiceChange::TearingDown { .. } => true,
        ServiceChange::Building { .. }
        | ServiceChange::BuildOutput { .. }
        | ServiceChange::Pulling { .. }
        | ServiceChange::Creating { .. }
        | ServiceChange::Restarting { .. }
        | ServiceChange::Resuming { .. }
        | ServiceChange::Unpausing { .. }
        | ServiceChange::VolumeCreated { .. }
        | ServiceChange::Pinging
        | ServiceChange::RunningJob
        | ServiceChange::AlreadyCompleted { .. }
        | ServiceChange::External
        | ServiceChange::Scheduled
        | ServiceChange::RunningHook { .. }
        | ServiceChange::StartingContainer { .. }
        | ServiceChange::Started { .. }
        | ServiceChange::Skipped { .. }
        | ServiceChange::Stopping { .. }
        | ServiceChange::Stopped { .. }
        | ServiceChange::Removed { .. }
        | ServiceChange::NoContainer => false,
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use indicatif::InMemoryTerm;

    use super::*;
    use crate::error::ServiceFailure;

    /// A live view drawn on an in-memory vt100 screen of `rows` × `columns`.
    fn on_screen(rows: u16, columns: u16) -> (Live, InMemoryTerm) {
        let term = InMemoryTerm::new(rows, columns);
        (Live::new(ProgressDrawTarget::term_like(Box::new(term.clone())), false), term)
    }

    fn service(live: &Live, service: &str, change: ServiceChange) {
        live.show(&Event::Service { service: service.into(), change });
    }

    /// A start of five services, with a hook's log, a build, a failure and a skipped dependant.
    fn a_start(live: &Live) {
        let ms = Duration::from_millis;
        live.show(&Event::Network { name: "boss-shop".into(), created: true });
        service(live, "db", ServiceChange::Creating { container: "shop.db".into(), image: "postgres:16".into() });
        service(
            live,
            "cache",
            ServiceChange::AlreadyRunning { container: "shop.cache".into(), outdated: None, reloadable: false },
        );
        service(live, "db", ServiceChange::Pinging);
        service(
            live,
            "api",
            ServiceChange::Building { image: "shop/api:latest".into(), tag: "shop/api:boss-1".into() },
        );
        service(live, "db", ServiceChange::Log { message: "seeded 3 users".into() });
        service(live, "api", ServiceChange::BuildOutput { line: "Step 1/2 : FROM scratch".into() });
        service(live, "db", ServiceChange::Started { elapsed: ms(900) });
        service(live, "api", ServiceChange::Creating { container: "shop.api".into(), image: "shop/api:latest".into() });
        service(live, "api", ServiceChange::Started { elapsed: ms(800) });
        service(live, "web", ServiceChange::Creating { container: "shop.web".into(), image: "busybox:1.36".into() });
        service(
            live,
            "web",
            ServiceChange::Failed {
                failure: ServiceFailure::ContainerExited { exit_code: Some(3), logs: "no config\n".into() },
            },
        );
        service(live, "worker", ServiceChange::Skipped { dependency: "web".into() });
        live.finish(Some("3 services up in 2.1 s: `db`, `cache`, and `api`; slowest chain db (0.9 s) → api (0.8 s)"));
    }

    /// The screen with every time (`1.2 s`) redacted and trailing spaces dropped.
    fn redacted(term: &InMemoryTerm) -> String {
        let time = regex::Regex::new(r"\d+\.\d s").unwrap();
        time.replace_all(&term.contents(), "#.# s").lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
    }

    // The whole screen after a start, verbatim (times redacted): the lines printed above the
    // rows, one row per service, and the summary last.
    #[test]
    fn the_live_view_shows_a_row_per_service_and_the_summary_below() {
        let (live, term) = on_screen(40, 100);
        a_start(&live);
        assert_eq!(
            redacted(&term),
            "\
created network `boss-shop`
db | seeded 3 users
web: failed: container exited with status 3 while starting
    last lines of its log:
      | no config
  db        #.# s  started     seeded 3 users
  cache            running
  api       #.# s  started     Step 1/2 : FROM scratch
  web       #.# s  failed      container exited with status 3 while starting
  worker           skipped     dependency `web` failed
3 services up in #.# s: `db`, `cache`, and `api`; slowest chain db (#.# s) → api (#.# s)"
        );
    }

    // On a terminal narrower than the rows, indicatif counts the wrapped lines: no row is
    // drawn twice and the log lines stay whole above the rows.
    #[test]
    fn a_narrow_terminal_does_not_garble_the_view() {
        let (live, term) = on_screen(60, 24);
        a_start(&live);
        let screen = redacted(&term);
        assert!(screen.lines().all(|line| line.chars().count() <= 24), "{screen}");
        for name in ["db", "cache", "api", "web", "worker"] {
            let rows = screen.lines().filter(|line| line.starts_with(&format!("  {name} "))).count();
            assert_eq!(rows, 1, "one row for {name}:\n{screen}");
        }
        assert_eq!(screen.matches("db | seeded 3 users").count(), 1, "{screen}");
        let position = |prefix: &str| screen.lines().position(|line| line.starts_with(prefix)).unwrap();
        assert!(position("db | seeded") < position("  db "), "the log line is above the rows:\n{screen}");
    }
}
