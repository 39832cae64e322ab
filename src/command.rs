//! Running a parsed command as a thin user of the library ([`crate::Group`]): what only a
//! command line does lives here (Ctrl-C, SIGTERM and SIGHUP, exiting on a second one, printing
//! summaries and plans); loading, checking and driving the lifecycle are the library's.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::arguments::{Command, PlanFormat, clean_names, exec_target, script_and_services};
use crate::context::Context;
use crate::error::{Error, UsageError, exit_code};
use crate::group::Group;
use crate::output;
use crate::start::StartReport;
use crate::text::{and_ticked, count};

pub(crate) async fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Start { file, exclude, wait, network_name, save_logs } => {
            let mut group = Group::load(&file)?
                .events_to(output::stderr_sink())
                .exclude(clean_names(&exclude))
                .timeout(Duration::from_secs(wait.seconds));
            if let Some(name) = network_name {
                group = group.network_name(&name);
            }
            if let Some(directory) = save_logs {
                group = group.save_logs(directory);
            }
            let context = group.context()?.clone();
            let cancel = watch_signals(&context);
            let (running, report) = group.cancel_on(cancel.clone()).start_keeping_failures().await?;
            // The CLI leaves the group running; `boss stop` stops it.
            running.keep();
            summarise_start(report, &cancel)
        }
        Command::Stop { file, exclude, remove, volumes, timeout } => {
            let mut stop = Group::load(&file)?
                .events_to(output::stderr_sink())
                .exclude(clean_names(&exclude))
                .stop()
                .grace(Duration::from_secs(timeout));
            if remove {
                stop = stop.remove();
            }
            if volumes {
                stop = stop.volumes();
            }
            let report = stop.run_with_report().await?;
            if !report.stopped.is_empty() {
                output::line(&format!(
                    "stopped {}: {}",
                    count(report.stopped.len(), "service"),
                    and_ticked(&report.stopped)
                ));
            } else if report.failed.is_empty() {
                output::line("nothing was running");
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(Error::ServicesFailed { verb: "stop", failed: report.failed })
            }
        }
        Command::Plan { file, exclude, format, exit_code, network_name } => {
            let mut group = Group::load(&file)?.events_to(output::stderr_sink()).exclude(clean_names(&exclude));
            if let Some(name) = network_name {
                group = group.network_name(&name);
            }
            let planned = group.plan().await?;
            output::result(&match format {
                PlanFormat::Text => output::plan_text(&planned),
                PlanFormat::Json => output::plan_json(&planned),
            });
            let missing = planned.missing_keys();
            if !missing.is_empty() {
                Err(Error::MissingContextKeys { missing })
            } else if exit_code && planned.changes {
                Err(Error::PlanHasChanges)
            } else {
                Ok(())
            }
        }
        Command::Reload { first, second, remove, wait, network_name } => {
            let (file, service) = match second {
                Some(service) => (PathBuf::from(first), service),
                // One argument that names a file is a script without its service.
                None if first.ends_with(".rhai") => {
                    return Err(Error::Usage(UsageError::ReloadWithoutService { file: first }));
                }
                None => (PathBuf::from("services.rhai"), first),
            };
            let mut group =
                Group::load(&file)?.events_to(output::stderr_sink()).timeout(Duration::from_secs(wait.seconds));
            if let Some(name) = network_name {
                group = group.network_name(&name);
            }
            let context = group.context()?.clone();
            let cancel = watch_signals(&context);
            let (running, report) = group.cancel_on(cancel.clone()).reload_keeping_failures(&service, remove).await?;
            running.keep();
            summarise_start(report, &cancel)
        }
        Command::Logs { words, follow, tail, since, timestamps, save } => {
            let (file, services) = script_and_services(words);
            let group = Group::load(&file)?.events_to(output::stderr_sink());
            let options = crate::logs::ShowOptions { follow, tail, since, timestamps };
            if let Some(directory) = save {
                let (saved, missing) = group.save_service_logs(&services, options, &directory).await?;
                saved.iter().for_each(output::log_saved);
                missing.iter().for_each(|service| output::no_log(service));
                return Ok(());
            }
            // Ctrl-C ends following; that is how `logs -f` is meant to end, so it succeeds.
            let cancel = CancellationToken::new();
            let on_interrupt = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_interrupt.cancel();
                }
            });
            group.logs(&services, options, cancel).await
        }
        Command::Completions { shell } => {
            output::result(&crate::arguments::completion_script(shell));
            Ok(())
        }
        Command::Exec { first, rest } => {
            let target = exec_target(first, rest).ok_or(Error::Usage(UsageError::ExecWithoutCommand))?;
            let code = Group::load(&target.file)?.exec(&target.service, target.cmd).await?;
            match code {
                Some(0) => Ok(()),
                // A process exits with 0 to 255; a code that does not fit, or none, is a failure.
                Some(code) => Err(Error::CommandExited {
                    code: i32::try_from(code)
                        .ok()
                        .filter(|code| (1..=255).contains(code))
                        .unwrap_or(exit_code::FAILURE),
                }),
                None => Err(Error::CommandExited { code: exit_code::FAILURE }),
            }
        }
    }
}

/// Summarises a start (or reload) whose context is already saved.
fn summarise_start(report: StartReport, cancel: &CancellationToken) -> Result<(), Error> {
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    if report.started.is_empty() && report.failed.is_empty() {
        output::line("nothing to start: every service is excluded");
    } else if !report.started.is_empty() {
        output::line(&format!("{} up: {}", count(report.started.len(), "service"), and_ticked(&report.started)));
    }
    if report.failed.is_empty() { Ok(()) } else { Err(Error::ServicesFailed { verb: "start", failed: report.failed }) }
}

/// Turns the first Ctrl-C, SIGTERM or SIGHUP (a closed terminal) into a cancel request (no new
/// service starts, running hooks stop, starting services are torn down, the context is saved);
/// a second one saves the context and exits at once.
fn watch_signals(context: &Context) -> CancellationToken {
    use tokio::signal::unix::{SignalKind, signal};
    let cancel = CancellationToken::new();
    let flag = cancel.clone();
    let context = context.clone();
    tokio::spawn(async move {
        let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        flag.cancel();
        output::line("interrupted: stopping the services that were starting (press Ctrl-C again to quit at once)");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        // Every `post_start` already saved its values; this keeps the ports found since.
        if let Err(failure) = context.persist() {
            output::line(Error::from(failure).render().trim_end());
        }
        std::process::exit(exit_code::INTERRUPTED);
    });
    cancel
}
