//! Talks to the Docker daemon through the `docker` CLI: the reachability check and exact,
//! label-based queries of what a test group owns. Never filters by name, because the
//! daemon's `name` filter matches substrings.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::fixture::fixture_image;
use super::process::{RunError, run_captured};

/// The label boss puts on every container and network of a group.
pub(crate) const GROUP_LABEL: &str = "boss.group";

/// The label the harness puts on resources a test creates itself (foreign to boss), so that
/// the group's guard removes them too.
pub(crate) const FOREIGN_LABEL: &str = "boss-test.group";

/// The longest a single `docker` CLI call may take; image builds are the slowest.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `docker info` may take before the daemon counts as unreachable.
const DOCKER_INFO_TIMEOUT: Duration = Duration::from_secs(30);

/// The daemon address the docker CLI and boss use when `DOCKER_HOST` is unset.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Panics with one clear line unless the Docker daemon answers.
///
/// The check runs once per process and its result is remembered. Tests that need Docker fail
/// when it is missing; they never skip.
#[track_caller]
pub(crate) fn docker_required() {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(message) = REACHABLE.get_or_init(|| check_docker(None)) {
        panic!("{message}");
    }
}

/// Asks the daemon at `docker_host` (or the one the environment selects, when `None`) for its
/// version, and on failure returns the message [`docker_required`] panics with.
pub(crate) fn check_docker(docker_host: Option<&str>) -> Result<(), String> {
    let mut command = Command::new("docker");
    command.args(["info", "--format", "{{.ServerVersion}}"]);
    if let Some(docker_host) = docker_host {
        command.env("DOCKER_HOST", docker_host);
    }
    let cause = match run_captured(&mut command, DOCKER_INFO_TIMEOUT) {
        Ok(captured) if captured.exit_code == Some(0) && !captured.stdout.trim().is_empty() => {
            return Ok(());
        }
        Ok(captured) => first_line(&captured.stderr).to_owned(),
        Err(RunError::Io(error)) => format!("cannot run the `docker` CLI: {error}"),
        Err(RunError::TimedOut(_)) => {
            format!("`docker info` did not answer within {} s", DOCKER_INFO_TIMEOUT.as_secs())
        }
    };
    let host = match docker_host {
        Some(host) => host.to_owned(),
        None => std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_DOCKER_HOST.to_owned()),
    };
    Err(format!(
        "cannot reach Docker at {host}: start the daemon (tests that need Docker fail rather \
         than skip)\ncaused by: {cause}"
    ))
}

/// Runs the docker CLI with `args` and returns its stdout, or a description of the failure
/// that includes the command and its stderr. Does not check that the daemon is reachable.
pub(crate) fn try_docker<I, S>(args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    try_docker_with_env(&[], args)
}

/// [`try_docker`] with extra environment variables for the CLI, such as `DOCKER_BUILDKIT=0`.
pub(crate) fn try_docker_with_env<I, S>(envs: &[(&str, &str)], args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new("docker");
    command.args(args).envs(envs.iter().copied());
    let shown = format!("{command:?}");
    match run_captured(&mut command, DOCKER_TIMEOUT) {
        Ok(captured) if captured.exit_code == Some(0) => Ok(captured.stdout),
        Ok(captured) => Err(format!(
            "{shown} failed ({}):\n{}",
            match captured.exit_code {
                Some(code) => format!("exit code {code}"),
                None => "ended by a signal".to_owned(),
            },
            captured.stderr.trim_end()
        )),
        Err(RunError::Io(error)) => Err(format!("{shown} could not run: {error}")),
        Err(RunError::TimedOut(captured)) => Err(format!(
            "{shown} did not finish within {} s and was killed:\n{}",
            DOCKER_TIMEOUT.as_secs(),
            captured.stderr.trim_end()
        )),
    }
}

/// Runs the docker CLI with `args` and returns its stdout; panics if the daemon is unreachable
/// or the command fails.
#[track_caller]
pub(crate) fn docker<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    docker_required();
    try_docker(args).unwrap_or_else(|message| panic!("{message}"))
}

/// One container of a group, as `docker ps` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContainerRow {
    /// The short (12-digit) container id.
    pub(crate) id: String,
    pub(crate) name: String,
    /// The value of the `boss.service` label.
    pub(crate) service: String,
    /// Docker's state word: `created`, `running`, `exited`, ...
    pub(crate) state: String,
}

/// Every container, running or not, labelled `boss.group=<group>`, sorted by name.
#[track_caller]
pub(crate) fn containers(group: &str) -> Vec<ContainerRow> {
    let format = "{{.ID}}\t{{.Names}}\t{{.Label \"boss.service\"}}\t{{.State}}";
    let filter = format!("label={GROUP_LABEL}={group}");
    let stdout = docker(["ps", "--all", "--filter", &filter, "--format", format]);
    let mut rows: Vec<ContainerRow> = stdout
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [id, name, service, state] = fields[..] else {
                panic!("unexpected `docker ps` line {line:?}");
            };
            ContainerRow {
                id: id.to_owned(),
                name: name.to_owned(),
                service: service.to_owned(),
                state: state.to_owned(),
            }
        })
        .collect();
    rows.sort_by(|left, right| left.name.cmp(&right.name));
    rows
}

/// The container of `service` in `group`, or `None` if there is none; panics if there are
/// several, because boss must never let old containers pile up.
#[track_caller]
pub(crate) fn container(group: &str, service: &str) -> Option<ContainerRow> {
    let mut matching: Vec<ContainerRow> = containers(group).into_iter().filter(|row| row.service == service).collect();
    assert!(
        matching.len() <= 1,
        "group `{group}` has {} containers for service `{service}`: {matching:#?}",
        matching.len()
    );
    matching.pop()
}

/// Names of the networks labelled `boss.group=<group>`, sorted.
#[track_caller]
pub(crate) fn networks(group: &str) -> Vec<String> {
    let filter = format!("label={GROUP_LABEL}={group}");
    let stdout = docker(["network", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    let mut names: Vec<String> = stdout.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect();
    names.sort();
    names
}

/// Renders the Go `template` against `docker inspect` of `object` (a container or network id
/// or name), with the trailing newline removed.
#[track_caller]
pub(crate) fn inspect(object: &str, template: &str) -> String {
    let stdout = docker(["inspect", "--format", template, object]);
    stdout.strip_suffix('\n').unwrap_or(&stdout).to_owned()
}

/// The container's environment as `KEY=value` strings, in the order Docker stores them
/// (including variables the image sets, such as `PATH`).
#[track_caller]
pub(crate) fn container_env(id: &str) -> Vec<String> {
    // Entries are separated by NUL, which no value can contain, so values with newlines work.
    split_nul(&inspect(id, r#"{{range .Config.Env}}{{.}}{{"\x00"}}{{end}}"#))
}

/// The container's labels, including those inherited from its image.
#[track_caller]
pub(crate) fn container_labels(id: &str) -> BTreeMap<String, String> {
    let template = r#"{{range $key, $value := .Config.Labels}}{{$key}}={{$value}}{{"\x00"}}{{end}}"#;
    split_nul(&inspect(id, template))
        .into_iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (entry, String::new()),
        })
        .collect()
}

/// Starts a long-running container named `name` that boss does not own (no `boss.*` labels),
/// labelled so that the guard of `group` removes it. Returns its id.
#[track_caller]
pub(crate) fn foreign_container(group: &str, name: &str) -> String {
    let label = format!("{FOREIGN_LABEL}={group}");
    let image = fixture_image();
    let stdout = docker(["run", "--detach", "--name", name, "--label", &label, &image, "sleep", "3600"]);
    stdout.trim().to_owned()
}

/// Creates a bridge network named `name` that boss does not own, labelled so that the guard
/// of `group` removes it. Returns its id.
#[track_caller]
pub(crate) fn foreign_network(group: &str, name: &str) -> String {
    let label = format!("{FOREIGN_LABEL}={group}");
    docker(["network", "create", "--label", &label, name]).trim().to_owned()
}

fn split_nul(text: &str) -> Vec<String> {
    text.split('\0').filter(|entry| !entry.is_empty()).map(str::to_owned).collect()
}

fn first_line(text: &str) -> &str {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or("(no output)").trim()
}
