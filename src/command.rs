//! Running a parsed command as a thin user of the library ([`crate::Group`]): what only a
//! command line does lives here (Ctrl-C, SIGTERM and SIGHUP, exiting on a second one, printing
//! summaries and plans); loading, checking and driving the lifecycle are the library's.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::arguments::{
    Command, EnvFormat, LockTimeout, PlanFormat, ProfileOption, Progress as ProgressArgument, StartArguments,
    StatusFormat, clean_names, exec_target, script_and_services,
};
use crate::context::Context;
use crate::error::{Error, UsageError, exit_code};
use crate::event::{Event, EventSink, ServiceChange};
use crate::group::{Group, Running};
use crate::output::{self, Mode, Progress, RunNotice};
use crate::service::Service;
use crate::start::StartReport;

/// How `--progress` shows a command's progress: `auto` is `tty` on a terminal, and `tty` is
/// `plain` when stderr is not a terminal (a live view needs one).
pub(crate) fn progress_mode(progress: Option<ProgressArgument>) -> Mode {
    match progress {
        Some(ProgressArgument::Json) => Mode::Json,
        Some(ProgressArgument::Auto | ProgressArgument::Tty) if output::stderr_is_terminal() => Mode::Tty,
        Some(ProgressArgument::Auto | ProgressArgument::Tty | ProgressArgument::Plain) | None => Mode::Plain,
    }
}

/// Runs `command`, with the variables of `--env-file` (read before any script is evaluated:
/// its top level may call `env_var()`).
pub(crate) async fn execute(command: Command, env_file: Option<PathBuf>) -> Result<(), Error> {
    if let Some(path) = &env_file {
        crate::secret::set_env_file(crate::secret::read_env_file(path)?);
    }
    let progress = Progress::new(progress_mode(command.progress())).with_timings(command.timings());
    let result = execute_with(command, &progress).await;
    // A live view that no summary ended (an error, say) is frozen before the error is shown.
    progress.end(None);
    result
}

async fn execute_with(command: Command, progress: &Progress) -> Result<(), Error> {
    match command {
        Command::Start { start } => {
            let mut group = start_group(start)?.events_to(progress.sink());
            let services = group.services().clone();
            let context = group.context()?.clone();
            let cancel = watch_signals(&context, &Arc::default(), progress);
            let (running, report) = group.cancel_on(cancel.clone()).start_keeping_failures().await?;
            // The CLI leaves the group running; `boss stop` stops it.
            running.keep();
            summarise_start("start", &services, report, &cancel, progress)
        }
        Command::Stop { words, exclude, remove, volumes, timeout, lock, progress: _ } => {
            let (file, services) = script_and_services(words);
            let mut stop = with_lock_timeout(Group::load(&file)?, lock)
                .events_to(progress.sink())
                .only(services)
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
            progress.stop_summary(&report.stopped, &report.failed);
            if let Some(lost) = report.engine_lost {
                Err(lost.into_error("stop"))
            } else if report.failed.is_empty() {
                Ok(())
            } else {
                Err(Error::ServicesFailed { verb: "stop", failed: report.failed })
            }
        }
        Command::Plan { words, profiles, exclude, format, exit_code, network_name } => {
            let (file, services) = script_and_services(words);
            let mut group = Group::load(&file)?
                .events_to(output::stderr_sink())
                .exclude(clean_names(&exclude))
                .only(services)
                .profiles(active_profiles(&profiles));
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
        Command::Status { file, format, network_name } => {
            let mut group = Group::load(&file)?.events_to(output::stderr_sink());
            if let Some(name) = network_name {
                group = group.network_name(&name);
            }
            let status = group.status().await?;
            output::result(&match format {
                StatusFormat::Table => output::status_table(&status),
                StatusFormat::Json => output::status_json(&status),
            });
            if status.all_ready { Ok(()) } else { Err(Error::NotAllRunning) }
        }
        Command::Env { file, format, show_secrets } => {
            let mut group = Group::load(&file)?.events_to(output::stderr_sink());
            if show_secrets {
                group = group.show_secrets();
            }
            let variables = group.env().await?;
            output::result(&match format {
                EnvFormat::Sh => output::env_sh(&variables),
                EnvFormat::Dotenv => output::env_dotenv(&variables),
                EnvFormat::Json => output::env_json(&variables),
            });
            Ok(())
        }
        Command::Run { start, keep, command } => run(start_group(start)?.for_run(), keep, &command, progress).await,
        Command::Reload { first, second, remove, wait, network_name, lock, progress: _, timings: _ } => {
            let (file, service) = match second {
                Some(service) => (PathBuf::from(first), service),
                // One argument that names a file is a script without its service.
                None if first.ends_with(".rhai") => {
                    return Err(Error::Usage(UsageError::ReloadWithoutService { file: first }));
                }
                None => (PathBuf::from("services.rhai"), first),
            };
            let mut group = with_lock_timeout(Group::load(&file)?, lock)
                .events_to(progress.sink())
                .timeout(Duration::from_secs(wait.seconds));
            if let Some(name) = network_name {
                group = group.network_name(&name);
            }
            let services = group.services().clone();
            let context = group.context()?.clone();
            let cancel = watch_signals(&context, &Arc::default(), progress);
            let (running, report) = group.cancel_on(cancel.clone()).reload_keeping_failures(&service, remove).await?;
            running.keep();
            summarise_start("reload", &services, report, &cancel, progress)
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
        Command::Gc { dry_run, group, keep_builds, volumes, format } => {
            let options = crate::gc::Options { group, keep_builds, volumes };
            let (report, failures) = crate::gc::run(&options, dry_run).await?;
            failures.iter().for_each(|failure| progress.problem(failure));
            output::result(&match format {
                StatusFormat::Table => output::gc_table(&report),
                StatusFormat::Json => output::gc_json(&report),
            });
            let tried = report.found.iter().filter(|found| found.fate != crate::gc::Fate::KeptData).count();
            if failures.is_empty() { Ok(()) } else { Err(Error::GcIncomplete { failed: failures.len(), tried }) }
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

/// The profiles `--profile` names, else those of `BOSS_PROFILES` (comma-separated).
fn active_profiles(option: &ProfileOption) -> Vec<String> {
    if !option.names.is_empty() {
        return clean_names(&option.names);
    }
    let from_environment = std::env::var("BOSS_PROFILES").unwrap_or_default();
    clean_names(&from_environment.split(',').map(String::from).collect::<Vec<_>>())
}

/// The group `start` and `run` start.
fn start_group(start: StartArguments) -> Result<Group, Error> {
    let (file, services) = script_and_services(start.words);
    let mut group = Group::load(&file)?
        .exclude(clean_names(&start.exclude))
        .only(services)
        .profiles(active_profiles(&start.profiles))
        .timeout(Duration::from_secs(start.wait.seconds));
    if let Some(name) = start.network_name {
        group = group.network_name(&name);
    }
    if let Some(directory) = start.save_logs {
        group = group.save_logs(directory);
    }
    Ok(with_lock_timeout(group, start.lock))
}

/// `group` with `--lock-timeout`, if given.
fn with_lock_timeout(group: Group, lock: LockTimeout) -> Group {
    match lock.seconds {
        Some(seconds) => group.lock_timeout(Duration::from_secs(seconds)),
        None => group,
    }
}

/// Summarises a start (or reload) whose context is already saved.
fn summarise_start(
    command: &'static str,
    services: &IndexMap<String, Service>,
    report: StartReport,
    cancel: &CancellationToken,
    progress: &Progress,
) -> Result<(), Error> {
    progress.write_timings(command, services);
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    progress.start_summary(command, services, &report.started, &report.failed);
    if let Some(lost) = report.engine_lost {
        return Err(lost.into_error(command));
    }
    if report.failed.is_empty() { Ok(()) } else { Err(Error::ServicesFailed { verb: "start", failed: report.failed }) }
}

/// What one `boss run` started, learnt from the events of its start.
#[derive(Debug, Default)]
struct Started {
    /// Services that got a new container.
    created: Vec<String>,
    /// Services whose stopped container was started again.
    restarted: Vec<String>,
    /// The run created the group's network.
    network: bool,
}

/// `boss run`: starts the group, runs `command` on the host with `boss env`'s variables, then
/// undoes what the start started (unless `keep`); boss's exit status is the command's.
async fn run(group: Group, keep: bool, command: &[OsString], progress: &Progress) -> Result<(), Error> {
    let started = Arc::new(Mutex::new(Started::default()));
    let mut group = group.events_to(recording_sink(progress.sink(), Arc::clone(&started)));
    let services = group.services().clone();
    let context = group.context()?.clone();
    let child = Arc::new(AtomicU32::new(0));
    let cancel = watch_signals(&context, &child, progress);
    let (running, report) = group.cancel_on(cancel.clone()).start_keeping_failures().await?;
    let started = std::mem::take(&mut *started.lock().unwrap_or_else(PoisonError::into_inner));
    let outcome = match summarise_start("run", &services, report, &cancel, progress) {
        Ok(()) => match running.env().await {
            Ok(variables) => run_on_host(command, &variables, &child, &cancel, progress).await,
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    // Undoing the start needs the engine; a lost one leaves that to the next command.
    if let Err(error @ Error::EngineLost { .. }) = outcome {
        running.keep();
        return Err(error);
    }
    let cleanup = clean_up(running, &started, keep, progress).await;
    match (outcome, cleanup) {
        (Ok(()), cleanup) => cleanup,
        (Err(error), Ok(())) => Err(error),
        (Err(error), Err(cleanup)) => {
            progress.problem(&cleanup);
            Err(error)
        }
    }
}

/// Shows every event through `shown` and records in `started` what the run creates or
/// restarts.
fn recording_sink(shown: EventSink, started: Arc<Mutex<Started>>) -> EventSink {
    EventSink::new(move |event| {
        shown.deliver(event);
        let mut started = started.lock().unwrap_or_else(PoisonError::into_inner);
        let list = match event {
            Event::Network { created: true, .. } => {
                started.network = true;
                return;
            }
            Event::Service { service, change: ServiceChange::Creating { .. } } => (&mut started.created, service),
            Event::Service { service, change: ServiceChange::Restarting { .. } } => (&mut started.restarted, service),
            _ => return,
        };
        if !list.0.contains(list.1) {
            list.0.push(list.1.clone());
        }
    })
}

/// What `child` holds once `boss run`'s command has exited (0: it has not started).
const COMMAND_DONE: u32 = u32::MAX;

/// Runs the command with `variables` added to boss's environment and waits for it; its pid is
/// in `child` meanwhile, for the signal watcher, then [`COMMAND_DONE`].
async fn run_on_host(
    command: &[OsString],
    variables: &[(String, String)],
    child: &AtomicU32,
    cancel: &CancellationToken,
    progress: &Progress,
) -> Result<(), Error> {
    // clap requires a command.
    let [program, arguments @ ..] = command else { return Ok(()) };
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    let program_name = program.to_string_lossy().into_owned();
    progress.notice(&RunNotice::Running { program: program_name.clone(), variables: variables.len() });
    let not_run = |error: std::io::Error| Error::CommandNotRun {
        program: program_name.clone(),
        not_found: error.kind() == std::io::ErrorKind::NotFound,
        error: error.to_string(),
    };
    let mut process = std::process::Command::new(program)
        .args(arguments)
        .envs(variables.iter().map(|(name, value)| (name, value)))
        .spawn()
        .map_err(not_run)?;
    child.store(process.id(), Ordering::SeqCst);
    let waited = tokio::task::spawn_blocking(move || process.wait()).await;
    child.store(COMMAND_DONE, Ordering::SeqCst);
    let status = match waited {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => return Err(not_run(error)),
        Err(error) => return Err(not_run(std::io::Error::other(error.to_string()))),
    };
    if cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    let code = std::os::unix::process::ExitStatusExt::signal(&status)
        .map(|signal| 128 + signal)
        .or(status.code())
        .unwrap_or(exit_code::FAILURE);
    if code == 0 { Ok(()) } else { Err(Error::CommandFailed { program: program_name, code }) }
}

/// Stops and removes the containers the run created, stops those it restarted, and removes the
/// network if the run created it and restarted nothing; with `keep`, leaves it all running.
async fn clean_up(running: Running, started: &Started, keep: bool, progress: &Progress) -> Result<(), Error> {
    if keep {
        progress.notice(&RunNotice::Kept);
        running.keep();
        return Ok(());
    }
    if started.created.is_empty() && started.restarted.is_empty() {
        progress.notice(&RunNotice::NothingToCleanUp);
        running.keep();
        return Ok(());
    }
    progress.notice(&RunNotice::CleaningUp);
    let network = started.network && started.restarted.is_empty();
    running.stop_started(&started.created, &started.restarted, network).await
}

/// Turns the first Ctrl-C, SIGTERM or SIGHUP (a closed terminal) into a cancel request (no new
/// service starts, running hooks stop, starting services are torn down, the context is saved);
/// a second one saves the context and exits at once. While `boss run`'s command runs (its pid
/// in `child`), the first signal only marks the run interrupted: a terminal's Ctrl-C or hang-up
/// reaches the command by itself (it is in boss's process group), and a SIGTERM is passed on.
fn watch_signals(context: &Context, child: &Arc<AtomicU32>, progress: &Progress) -> CancellationToken {
    use tokio::signal::unix::{SignalKind, signal};
    let cancel = CancellationToken::new();
    let flag = cancel.clone();
    let context = context.clone();
    let child = Arc::clone(child);
    let progress = progress.clone();
    tokio::spawn(async move {
        let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return;
        };
        let terminated = tokio::select! {
            _ = tokio::signal::ctrl_c() => false,
            _ = terminate.recv() => true,
            _ = hangup.recv() => false,
        };
        flag.cancel();
        match child.load(Ordering::SeqCst) {
            0 => progress.interrupted(),
            // The same Ctrl-C that ended the command may be seen only after boss reaped it.
            COMMAND_DONE => progress.notice(&RunNotice::Interrupted),
            pid => {
                progress.notice(&RunNotice::Interrupted);
                if let (true, Ok(pid)) = (terminated, i32::try_from(pid)) {
                    // SAFETY: `kill` has no memory-safety preconditions; the pid is the
                    // command's, which boss has not reaped yet (it clears `child` first).
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        // Every `post_start` already saved its values; this keeps the ports found since.
        if let Err(failure) = context.persist() {
            progress.problem(&Error::from(failure));
        }
        std::process::exit(exit_code::INTERRUPTED);
    });
    cancel
}
