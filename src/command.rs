//! Running a parsed command: load and check the script, connect to Docker, drive the lifecycle
//! and summarise. Everything that can be refused is refused before Docker is contacted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::arguments::{Command, PlanFormat, clean_names};
use crate::context::Context;
use crate::error::{Error, UsageError};
use crate::group::{Group, STOP_GRACE, connect};
use crate::project::Project;
use crate::reload::{ReloadOptions, reload};
use crate::start::StartReport;
use crate::text::{and_ticked, count};
use crate::{claim, output, ownership, script};

pub async fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Start { file, exclude, timeout, network_name } => {
            let mut group = Group::load(&file)?
                .events_to(output::stderr_sink())
                .exclude(clean_names(&exclude))
                .timeout(Duration::from_secs(timeout));
            if let Some(name) = network_name {
                group = group.network_name(&name);
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
        Command::Reload { first, second, remove, timeout, network_name } => {
            let (file, service) = match second {
                Some(service) => (PathBuf::from(first), service),
                // One argument that names a file is a script without its service.
                None if first.ends_with(".rhai") => {
                    return Err(Error::Usage(UsageError::ReloadWithoutService { file: first }));
                }
                None => (PathBuf::from("services.rhai"), first),
            };
            let project = load(&file).await?;
            check_reloadable(&project, &service)?;
            let network = network(&project, network_name)?;
            let context = Context::load(&project.context_path())?;
            let backend = Arc::new(connect(STOP_GRACE).await?);
            claim::check(&*backend, &project.group, &project_dir(&project)).await?;
            let cancel = watch_signals(&context);
            let options = ReloadOptions {
                service,
                remove,
                timeout: Duration::from_secs(timeout),
                stop_grace: STOP_GRACE,
                network,
                cancel: cancel.clone(),
            };
            let report = reload(backend, &project, context.clone(), options, output::stderr_sink()).await;
            // Saved also after failures: what succeeded stays usable.
            context.persist()?;
            summarise_start(report?, &cancel)
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
        std::process::exit(crate::error::exit_code::INTERRUPTED);
    });
    cancel
}

async fn load(file: &Path) -> Result<Project, Error> {
    if !file.exists() {
        return Err(Error::Usage(UsageError::NoScript { path: file.to_path_buf() }));
    }
    // Evaluating the script runs Rhai, which must not hold up an async worker. Blocking threads
    // get the runtime's large stack (`HOOK_STACK_SIZE` in lib.rs), which a script's top level
    // needs as much as a hook does when it nests values deeply.
    let file = file.to_path_buf();
    match tokio::task::spawn_blocking(move || script::load(&file, output::stderr_sink())).await {
        Ok(loaded) => loaded,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

fn project_dir(project: &Project) -> String {
    project.directory.display().to_string()
}

/// `reload` needs a known service with `build_from`.
fn check_reloadable(project: &Project, name: &str) -> Result<(), Error> {
    let Some(service) = project.services.get(name) else {
        let known = project.services.keys().cloned().collect();
        return Err(Error::Usage(UsageError::UnknownService { name: name.to_string(), known }));
    };
    if service.build_from.is_none() {
        return Err(Error::Usage(UsageError::NotReloadable { service: name.to_string() }));
    }
    Ok(())
}

fn network(project: &Project, network_name: Option<String>) -> Result<String, Error> {
    let Some(name) = network_name else { return Ok(ownership::default_network_name(&project.group)) };
    crate::group::check_network_name(name)
}
