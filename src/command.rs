//! Running a parsed command: load and check the script, connect to Docker, drive the lifecycle
//! and summarise. Everything that can be refused is refused before Docker is contacted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::arguments::{Command, clean_names};
use crate::backend::Backend;
use crate::context::Context;
use crate::docker::DockerBackend;
use crate::error::Error;
use crate::project::Project;
use crate::start::{StartOptions, start};
use crate::stop::{StopOptions, stop};
use crate::text::{and_ticked, count};
use crate::{graph, output, ownership, script};

/// Grace before SIGKILL when tearing down a service that failed to start.
const FAILED_SERVICE_GRACE: Duration = Duration::from_secs(10);

pub async fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Start { file, exclude, timeout, network_name } => {
            let project = load(&file)?;
            let excluded = clean_names(&exclude);
            graph::check_start_exclusions(&project.services, &excluded)?;
            if let Some(name) = &network_name {
                check_network_name(name)?;
            }
            let context = Context::load(&project.context_path())?;
            let backend = connect(FAILED_SERVICE_GRACE).await?;
            let options = StartOptions {
                timeout: Duration::from_secs(timeout),
                network: network_name.unwrap_or_else(|| ownership::default_network_name(&project.group)),
                excluded,
                stop_grace: FAILED_SERVICE_GRACE,
            };
            let events = output::stderr_sink();
            let report = start(Arc::new(backend), &project, context.clone(), options, events).await;
            // The context is saved even when services failed: what succeeded stays usable.
            context.save(&project.context_path())?;
            let report = report?;
            if !report.started.is_empty() {
                output::line(&format!(
                    "started {}: {}",
                    count(report.started.len(), "service"),
                    and_ticked(&report.started)
                ));
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(Error::ServicesFailed { verb: "start", failed: report.failed })
            }
        }
        Command::Stop { file, exclude, remove, timeout } => {
            let project = load(&file)?;
            let excluded = clean_names(&exclude);
            graph::check_stop_exclusions(&project.services, &excluded)?;
            let grace = Duration::from_secs(timeout);
            let backend = connect(grace).await?;
            let options = StopOptions { grace, remove, excluded };
            let report = stop(Arc::new(backend), &project, &options, &output::stderr_sink()).await?;
            if !report.stopped.is_empty() {
                output::line(&format!(
                    "stopped {}: {}",
                    count(report.stopped.len(), "service"),
                    and_ticked(&report.stopped)
                ));
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                Err(Error::ServicesFailed { verb: "stop", failed: report.failed })
            }
        }
    }
}

fn load(file: &Path) -> Result<Project, Error> {
    if !file.exists() {
        return Err(Error::Usage {
            message: format!("no services script at `{}`", file.display()),
            hint: Some("pass the script's path, e.g. `boss start examples/quickstart/services.rhai`".into()),
        });
    }
    script::load(file, output::stderr_sink())
}

fn check_network_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid { Ok(()) } else { Err(Error::usage(format!("`{name}` is not a valid network name"))) }
}

/// Connects to Docker and checks that it answers. `longest_stop` is the largest stop grace the
/// command will ask for: Docker answers a stop request only once the container has stopped.
async fn connect(longest_stop: Duration) -> Result<DockerBackend, Error> {
    let request_timeout = longest_stop + Duration::from_secs(60);
    let backend = DockerBackend::connect(request_timeout).map_err(|error| Error::DockerUnreachable {
        address: std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
        cause: error.message,
    })?;
    backend
        .ping()
        .await
        .map_err(|error| Error::DockerUnreachable { address: backend.address(), cause: error.message })?;
    Ok(backend)
}
