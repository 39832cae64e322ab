//! `boss status`: what the engine holds for a group now, one entry per declared service and
//! per orphan, from one container list (plus one image lookup per declared image, to say
//! whether a container is outdated). Read-only. [`crate::Group::status`] makes a [`Status`];
//! the CLI prints it as a table or as JSON.

use serde::Serialize;

use crate::backend::ContainerState;
use crate::backend::{Backend, ContainerInfo, Listed, label};
use crate::error::{Action, Error};
use crate::event::RecreateReason;
use crate::ownership::Changes;
use crate::plan::{ContainerRef, ObservedService, Readiness, ServiceAction, Target, plan_service};
use crate::project::Project;
use crate::service::{Protocol, ServiceKind};

/// The state of every declared service of a group, and of its orphans.
///
/// ```no_run
/// # async fn example() -> Result<(), boss::Error> {
/// let status = boss::Group::load("services.rhai")?.status().await?;
/// for service in &status.services {
///     println!("{}: {:?} {:?}", service.name, service.state, service.ports);
/// }
/// if !status.all_ready {
///     println!("`boss start` has something to do");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub group: String,
    /// Every declared service has a running container, is a completed job or is external
    /// (orphans do not count, nor services of a profile that have no container).
    pub all_running: bool,
    /// Every declared service has a running container that became ready as boss recorded it,
    /// is a completed job, or is external and started (what `boss status`'s exit status says).
    pub all_ready: bool,
    /// The declared services in script order, then the orphans.
    pub services: Vec<ServiceStatus>,
}

/// One service (or orphan) of a [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    /// The container belongs to a service the script no longer declares.
    pub orphan: bool,
    pub state: State,
    /// For an exited container: its exit code, as the engine reports it.
    pub exit_code: Option<i64>,
    /// The container shown (the running one, else the newest); `None` when missing.
    pub container: Option<ContainerRef>,
    /// The image the container was created from, or the declared one when it is missing.
    pub image: String,
    /// The ports the container publishes now.
    pub ports: Vec<Port>,
    /// `healthy`, `unhealthy` or `starting` for a running container with a HEALTHCHECK.
    pub health: Option<String>,
    /// How long a running container has been up, as the engine says it (`3 minutes`).
    pub uptime: Option<String>,
    /// What changed in the script since the container was created (for a declared service).
    pub outdated: Option<Changes>,
    /// For a running (or paused) container of a declared service: whether it passed its
    /// readiness check (and its `post_start` finished) as boss recorded it. `false` when boss
    /// was killed or interrupted before that; the next `start` checks it again.
    pub ready: Option<bool>,
}

/// A container's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Paused,
    Exited,
    /// Created, never started.
    Created,
    Restarting,
    Removing,
    Dead,
    /// The service has no container.
    Missing,
    /// A job whose container exited with status 0, as boss recorded it: done, and `start`
    /// does not run it again.
    Completed,
    /// A service boss does not create (`external: true`); `ready` says whether `start` ran
    /// its hooks since the last `stop`. Its `ping` is not called: `status` runs no script.
    External,
}

impl State {
    /// Whether the service is up as `start` leaves it: running, or a completed job, or external.
    pub fn is_up(self) -> bool {
        matches!(self, State::Running | State::Completed | State::External)
    }
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// The host address to reach it at (`127.0.0.1` for a port published on every interface).
    pub host: String,
    pub host_port: u16,
    /// `http://<host>:<host_port>` for a TCP port; `None` for UDP.
    pub url: Option<String>,
}

/// The group's status from one list of its containers, checking first that they belong to
/// this script's directory.
pub(crate) async fn status<B: Backend>(
    backend: &B,
    project: &Project,
    context: &crate::context::Context,
    network: &str,
) -> Result<Status, Error> {
    let values = &context.snapshot();
    let group = &project.group;
    let project_dir = project.directory.display().to_string();
    let containers = crate::observe::group_containers(backend, group).await?;
    if let Some(container) =
        containers.iter().find(|container| crate::claim::made_elsewhere(&container.labels, &project_dir))
    {
        let directory = container.labels.get(label::PROJECT_DIR).cloned().unwrap_or_default();
        return Err(Error::GroupClaimed { group: group.clone(), directory, only_volumes: false });
    }
    let mut by_service = crate::observe::by_service(containers);
    // Only a service with a container can be outdated.
    let with_containers = project.services.values().filter(|service| by_service.contains_key(&service.name));
    let image_ids = crate::observe::image_ids(backend, with_containers.map(|service| service.image.as_str())).await?;
    let target = Target { group: group.clone(), project_dir, network: network.to_string() };
    let mut services = Vec::new();
    for service in project.services.values() {
        if service.kind == ServiceKind::External {
            let started = context.start_record(&service.name).is_some_and(|record| {
                record.container == crate::plan::EXTERNAL_RECORD && record.progress == crate::context::Progress::Ready
            });
            services.push(ServiceStatus { state: State::External, ready: Some(started), ..missing(&service.name, "") });
            continue;
        }
        let containers = by_service.shift_remove(&service.name).unwrap_or_default();
        let Some(shown) = shown(&containers) else {
            services.push(missing(&service.name, &service.image));
            continue;
        };
        let build_context = crate::image::observe_build_context(backend, service, &containers)
            .await
            .map_err(|error| Error::Backend { action: Action::LookUpImage { image: service.image.clone() }, error })?;
        let observed = ObservedService {
            image_id: image_ids.get(&service.image).cloned().flatten(),
            containers: containers.clone(),
            built: false,
            started: context.start_record(&service.name),
            build_context,
        };
        let live = matches!(shown.state, ContainerState::Running | ContainerState::Paused);
        let ready = live.then(|| Readiness::of(shown, observed.started.as_ref()) == Readiness::Ready);
        let action = plan_service(service, &observed, values, &[], &target, false);
        if let ServiceAction::Completed { .. } = action {
            let completed = of_container(&service.name, false, shown);
            services.push(ServiceStatus { state: State::Completed, ready: Some(true), ..completed });
            continue;
        }
        let outdated = match action {
            ServiceAction::Keep { outdated, .. } | ServiceAction::Resume { outdated, .. } => outdated,
            ServiceAction::Recreate { reason: RecreateReason::Changed(changes), .. } => Some(changes),
            _ => None,
        };
        services.push(ServiceStatus { outdated, ready, ..of_container(&service.name, false, shown) });
    }
    for (name, containers) in &by_service {
        for container in containers {
            services.push(of_container(name, true, container));
        }
    }
    // A service of a profile that has no container was not asked for: it does not count.
    let optional_and_absent = |service: &ServiceStatus| {
        service.state == State::Missing
            && project.services.get(&service.name).is_some_and(|declared| !declared.profiles.is_empty())
    };
    let expected = |service: &&ServiceStatus| !(service.orphan || optional_and_absent(service));
    let all_running = services.iter().filter(expected).all(|service| service.state.is_up());
    let all_ready = all_running && services.iter().filter(expected).all(|service| service.ready == Some(true));
    Ok(Status { group: group.clone(), all_running, all_ready, services })
}

/// The container a service's row shows: the running (or paused) one, else the newest.
fn shown(containers: &[ContainerInfo]) -> Option<&ContainerInfo> {
    containers
        .iter()
        .find(|container| matches!(container.state, ContainerState::Running | ContainerState::Paused))
        .or_else(|| containers.first())
}

fn missing(name: &str, image: &str) -> ServiceStatus {
    ServiceStatus {
        name: name.to_string(),
        orphan: false,
        state: State::Missing,
        exit_code: None,
        container: None,
        image: image.to_string(),
        ports: Vec::new(),
        health: None,
        uptime: None,
        outdated: None,
        ready: None,
    }
}

fn of_container(name: &str, orphan: bool, container: &ContainerInfo) -> ServiceStatus {
    let listed = &container.listed;
    let state = state(&listed.state);
    let (uptime, health) =
        if matches!(state, State::Running | State::Paused) { up(&listed.status) } else { (None, None) };
    ServiceStatus {
        name: name.to_string(),
        orphan,
        state,
        exit_code: if state == State::Exited { exit_code(&listed.status) } else { None },
        container: Some(container.into()),
        image: listed.image.clone(),
        ports: ports(listed),
        health,
        uptime,
        outdated: None,
        ready: None,
    }
}

/// The engine's state word as a [`State`]; a word it may add later counts as `dead`: neither
/// running nor startable as far as boss knows.
fn state(word: &str) -> State {
    match word {
        "running" => State::Running,
        "paused" => State::Paused,
        "exited" => State::Exited,
        "created" => State::Created,
        "restarting" => State::Restarting,
        "removing" => State::Removing,
        _ => State::Dead,
    }
}

/// The exit code in `Exited (1) 3 minutes ago`.
fn exit_code(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

/// The uptime and health in `Up 3 minutes (healthy)`, `Up About a minute (health: starting)`
/// or `Up 5 seconds (Paused)`.
fn up(status: &str) -> (Option<String>, Option<String>) {
    let Some(rest) = status.strip_prefix("Up ") else { return (None, None) };
    let (uptime, note) = match rest.split_once(" (") {
        Some((uptime, note)) => (uptime, note.trim_end_matches(')')),
        None => (rest, ""),
    };
    let health = match note {
        "healthy" => Some("healthy"),
        "unhealthy" => Some("unhealthy"),
        "health: starting" => Some("starting"),
        _ => None,
    };
    (Some(uptime.to_string()), health.map(str::to_string))
}

/// The published ports, each once: Docker lists a port published on every interface once for
/// IPv4 (`0.0.0.0`) and once for IPv6 (`::`).
fn ports(listed: &Listed) -> Vec<Port> {
    let mut ports: Vec<Port> = Vec::new();
    for port in &listed.ports {
        let host = match port.host_ip.as_str() {
            "" | "0.0.0.0" | "::" => "127.0.0.1".to_string(),
            ip if ip.contains(':') => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let protocol = match port.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let known = ports.iter().any(|other| {
            (other.container_port, other.protocol, other.host_port) == (port.container_port, protocol, port.host_port)
        });
        if known {
            continue;
        }
        let url = (port.protocol == Protocol::Tcp).then(|| format!("http://{host}:{}", port.host_port));
        ports.push(Port { container_port: port.container_port, protocol, host, host_port: port.host_port, url });
    }
    ports.sort_by_key(|port| (port.container_port, port.protocol, port.host_port));
    ports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ListedPort;

    #[test]
    fn status_text_gives_exit_code_uptime_and_health() {
        assert_eq!(exit_code("Exited (1) 3 minutes ago"), Some(1));
        assert_eq!(exit_code("Exited (137) About a minute ago"), Some(137));
        assert_eq!(exit_code("Up 3 minutes"), None);
        assert_eq!(up("Up 3 minutes"), (Some("3 minutes".into()), None));
        assert_eq!(up("Up About a minute (healthy)"), (Some("About a minute".into()), Some("healthy".into())));
        assert_eq!(up("Up 2 seconds (health: starting)"), (Some("2 seconds".into()), Some("starting".into())));
        assert_eq!(up("Up 5 seconds (Paused)"), (Some("5 seconds".into()), None));
        assert_eq!(up("Created"), (None, None));
    }

    #[test]
    fn ports_are_listed_once_with_a_url_for_tcp() {
        let port = |container_port, protocol, host_ip: &str, host_port| ListedPort {
            container_port,
            protocol,
            host_ip: host_ip.to_string(),
            host_port,
        };
        let listed = Listed {
            ports: vec![
                port(80, Protocol::Tcp, "0.0.0.0", 8080),
                port(80, Protocol::Tcp, "::", 8080),
                port(53, Protocol::Udp, "127.0.0.1", 5353),
                port(5432, Protocol::Tcp, "127.0.0.1", 49153),
            ],
            ..Listed::default()
        };
        let shown: Vec<(u16, &str, String, Option<String>)> =
            ports(&listed).into_iter().map(|port| (port.container_port, port.protocol, port.host, port.url)).collect();
        assert_eq!(
            shown,
            [
                (53, "udp", "127.0.0.1".to_string(), None),
                (80, "tcp", "127.0.0.1".to_string(), Some("http://127.0.0.1:8080".to_string())),
                (5432, "tcp", "127.0.0.1".to_string(), Some("http://127.0.0.1:49153".to_string())),
            ]
        );
    }
}
