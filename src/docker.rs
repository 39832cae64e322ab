//! The Docker Engine backend: implements [`Backend`] with bollard. This is the only file that
//! names bollard types; everything it returns is in `backend.rs` terms.

use std::collections::HashMap;
use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, EndpointSettings, ExecConfig, HealthConfig, HostConfig, ImageId,
    NetworkCreateRequest, NetworkingConfig, PortBinding, PortSummaryTypeEnum, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, ResizeExecOptionsBuilder,
    StopContainerOptionsBuilder, TagImageOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::backend::{
    AttachedExec, AttachedExecSpec, Backend, BackendError, BackendErrorKind, BackendResult, BuildSpec,
    ContainerDetails, ContainerInfo, ContainerSpec, ContainerStarted, ContainerState, ContextStream, ExecChunk,
    ExecOutput, ExecOutputMode, ExecSpec, Exited, Health, ImageInfo, Labels, Listed, ListedPort, LogsRequest,
    NetworkInfo, PublishedPort, TerminalSize, VolumeInfo, VolumeMount,
};
use crate::image::split_reference;
use crate::service::Protocol;

/// A connection to one Docker daemon.
#[derive(Clone)]
pub(crate) struct DockerBackend {
    docker: Docker,
    address: String,
    /// How long a call that answers once (a list, an inspect, a create) may take in all.
    request_timeout: Duration,
}

impl DockerBackend {
    /// Connects to `$DOCKER_HOST` (or the default socket). A call that answers once must have
    /// its whole answer within `request_timeout`; a stop gets its grace on top, because Docker
    /// answers `POST /stop` only once the container has stopped. A stream (a build, a pull, a
    /// log or event stream, a wait, an exec's output) must begin within `request_timeout` plus
    /// `longest_stop` (bollard's own timeout, which ends when the response's headers arrive)
    /// and then runs as long as it needs.
    pub(crate) fn connect(request_timeout: Duration, longest_stop: Duration) -> Result<DockerBackend, BackendError> {
        let address = address();
        let docker = Docker::connect_with_host(&address)
            .map_err(|error| convert(&error, request_timeout))?
            .with_timeout(request_timeout + longest_stop);
        Ok(DockerBackend { docker, address, request_timeout })
    }

    /// How long the engine may take to begin answering a stream.
    fn stream_limit(&self) -> Duration {
        self.docker.timeout()
    }

    /// A call that answers once, bounded by the request timeout.
    async fn answer<T>(&self, call: impl Future<Output = Result<T, BollardError>>) -> BackendResult<T> {
        self.within(self.request_timeout, call).await
    }

    /// A call that answers once, bounded by `limit`: a stalled engine is an error, not a hang.
    async fn within<T>(
        &self,
        limit: Duration,
        call: impl Future<Output = Result<T, BollardError>>,
    ) -> BackendResult<T> {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result.map_err(|error| convert(&error, limit)),
            Err(_) => Err(timed_out(limit)),
        }
    }
}

fn timed_out(after: Duration) -> BackendError {
    BackendError { kind: BackendErrorKind::TimedOut { after }, message: String::new() }
}

/// `$DOCKER_HOST`, or the default socket when it is unset or empty (as the docker CLI does).
pub(crate) fn address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.trim().is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// A filter for every one of `labels`; none filters nothing.
fn label_filter(labels: &Labels) -> HashMap<String, Vec<String>> {
    if labels.is_empty() {
        return HashMap::new();
    }
    let values = labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
    HashMap::from([("label".to_string(), values)])
}

/// Turns a bollard error into boss's terms, keeping the innermost useful message; `limit` is
/// the time bollard's own timeout allowed.
fn convert(error: &BollardError, limit: Duration) -> BackendError {
    match error {
        BollardError::DockerResponseServerError { status_code, message } => {
            let kind = match status_code {
                404 => BackendErrorKind::NotFound,
                409 => BackendErrorKind::Conflict,
                _ => BackendErrorKind::Other,
            };
            BackendError { kind, message: message.clone() }
        }
        BollardError::DockerStreamError { error } => BackendError::other(error.clone()),
        BollardError::SocketNotFoundError(path) => {
            BackendError { kind: BackendErrorKind::Unreachable, message: format!("socket `{path}` does not exist") }
        }
        // A connection that breaks mid-answer (the daemon restarted, the socket closed) is an
        // unreachable engine too.
        BollardError::HyperLegacyError { .. }
        | BollardError::IOError { .. }
        | BollardError::HyperResponseError { .. } => {
            // The top-level text is only "client error (Connect)"; the cause is deeper.
            let mut message = error.to_string();
            let mut source = error.source();
            while let Some(inner) = source {
                let text = inner.to_string();
                if !text.trim().is_empty() {
                    message = text;
                }
                source = inner.source();
            }
            BackendError { kind: BackendErrorKind::Unreachable, message }
        }
        BollardError::UnsupportedURISchemeError { uri } => BackendError {
            kind: BackendErrorKind::Unreachable,
            message: format!("`{uri}` is not an address boss can use (expected unix://, tcp:// or http://)"),
        },
        BollardError::RequestTimeoutError => timed_out(limit),
        other => BackendError::other(other.to_string()),
    }
}

/// A call's answer, `None` when the engine says the object does not exist (404).
fn unless_missing<T>(result: BackendResult<T>) -> BackendResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.kind == BackendErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn container_info(summary: bollard::models::ContainerSummary) -> ContainerInfo {
    let state = match summary.state {
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        // A dead container cannot be started again; it only waits to be removed.
        Some(ContainerSummaryStateEnum::CREATED | ContainerSummaryStateEnum::EXITED) => ContainerState::Stopped,
        _ => ContainerState::Other,
    };
    let name = summary
        .names
        .unwrap_or_default()
        .first()
        .map(|name| name.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let volumes = summary
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|mount| mount.typ.as_deref() == Some("volume"))
        .filter_map(|mount| Some(VolumeMount { volume: mount.name?, path: mount.destination? }))
        .collect();
    let ports = summary
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|port| {
            let protocol = match port.typ {
                Some(PortSummaryTypeEnum::UDP) => Protocol::Udp,
                Some(PortSummaryTypeEnum::TCP) => Protocol::Tcp,
                // boss publishes only TCP and UDP; another protocol (`sctp`) is none of its ports.
                _ => return None,
            };
            Some(ListedPort {
                container_port: port.private_port,
                protocol,
                host_ip: port.ip.unwrap_or_default(),
                host_port: port.public_port?,
            })
        })
        .collect();
    let listed = Listed {
        image: summary.image.unwrap_or_default(),
        state: summary.state.map(|state| state.to_string()).unwrap_or_default(),
        status: summary.status.unwrap_or_default(),
        created: summary.created.unwrap_or_default(),
        image_id: summary.image_id.unwrap_or_default(),
        ports,
    };
    ContainerInfo {
        id: summary.id.unwrap_or_default(),
        name,
        state,
        labels: summary.labels.unwrap_or_default().into_iter().collect(),
        volumes,
        listed,
    }
}

/// The lines of timestamped log text written at or after `since`, without their timestamps.
fn lines_since(text: &str, since: Option<std::time::SystemTime>) -> String {
    let mut kept = String::new();
    for line in text.split_inclusive('\n') {
        let (stamp, rest) = line.split_once(' ').unwrap_or(("", line));
        let written = humantime::parse_rfc3339(stamp).ok();
        if let (Some(written), Some(since)) = (written, since)
            && written < since
        {
            continue;
        }
        kept.push_str(if written.is_some() { rest } else { line });
    }
    kept
}

/// Docker's health status word (`healthy`, `unhealthy`, `starting`, `none`, or empty without a
/// HEALTHCHECK). A word Docker may add later counts as `starting`: not healthy yet, and not a
/// reason to give up waiting.
fn parse_health(status: &str) -> Health {
    match status.trim().trim_end_matches(':').to_lowercase().as_str() {
        "healthy" => Health::Healthy,
        "unhealthy" => Health::Unhealthy,
        "" | "none" => Health::None,
        _ => Health::Starting,
    }
}

/// `<none>:<none>` is how older engines list an untagged image's tags.
fn real_tags(tags: Vec<String>) -> Vec<String> {
    tags.into_iter().filter(|tag| tag != "<none>:<none>").collect()
}

fn volume_info(volume: bollard::models::Volume) -> VolumeInfo {
    VolumeInfo { name: volume.name, labels: volume.labels.into_iter().collect() }
}

fn network_info(network: bollard::models::Network) -> NetworkInfo {
    NetworkInfo {
        id: network.id.unwrap_or_default(),
        name: network.name.unwrap_or_default(),
        labels: network.labels.unwrap_or_default().into_iter().collect(),
    }
}

impl Backend for DockerBackend {
    fn address(&self) -> String {
        self.address.clone()
    }

    async fn ping(&self) -> BackendResult<()> {
        self.answer(self.docker.ping()).await.map(|_| ()).map_err(|mut error| {
            // Any answer but "OK" means there is no usable engine at the address.
            if !error.engine_lost() {
                error.kind = BackendErrorKind::Unreachable;
            }
            error
        })
    }

    async fn networks_named(&self, name: &str) -> BackendResult<Vec<NetworkInfo>> {
        // Docker's name filter matches substrings, so compare exactly here.
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let networks = self.answer(self.docker.list_networks(Some(options))).await?;
        Ok(networks.into_iter().map(network_info).filter(|network| network.name == name).collect())
    }

    async fn networks_labelled(&self, labels: &Labels) -> BackendResult<Vec<NetworkInfo>> {
        let options = ListNetworksOptionsBuilder::new().filters(&label_filter(labels)).build();
        let networks = self.answer(self.docker.list_networks(Some(options))).await?;
        Ok(networks.into_iter().map(network_info).collect())
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> BackendResult<String> {
        tracing::debug!(name, ?labels, "creating network");
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let response = self.answer(self.docker.create_network(request)).await?;
        Ok(response.id)
    }

    async fn remove_network(&self, id: &str) -> BackendResult<()> {
        tracing::debug!(id, "removing network");
        self.answer(self.docker.remove_network(id)).await
    }

    async fn containers_labelled(&self, labels: &Labels) -> BackendResult<Vec<ContainerInfo>> {
        tracing::debug!(?labels, "listing containers");
        // A container someone made from an image boss built inherits the image's group and
        // service labels; only the containers boss made carry their definition's hash. (No
        // labels at all asks for every container, as `gc` does to see which images are used.)
        let mut filters = label_filter(labels);
        if !labels.is_empty() {
            filters.entry("label".to_string()).or_default().push(crate::backend::label::CONFIG_HASH.to_string());
        }
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let containers = self.answer(self.docker.list_containers(Some(options))).await?;
        Ok(containers.into_iter().map(container_info).collect())
    }

    async fn container_named(&self, name: &str) -> BackendResult<Option<ContainerInfo>> {
        let filters = HashMap::from([("name".to_string(), vec![format!("^/{name}$")])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let containers = self.answer(self.docker.list_containers(Some(options))).await?;
        Ok(containers.into_iter().map(container_info).find(|container| container.name == name))
    }

    async fn image_id(&self, image: &str) -> BackendResult<Option<String>> {
        Ok(self.inspect_present_image(image).await?.and_then(|inspect| inspect.id))
    }

    async fn image_label(&self, image: &str, key: &str) -> BackendResult<Option<String>> {
        let inspect = self.inspect_present_image(image).await?;
        Ok(inspect.and_then(|inspect| inspect.config?.labels?.remove(key)))
    }

    async fn image_info(&self, image: &str) -> BackendResult<Option<ImageInfo>> {
        Ok(self.inspect_present_image(image).await?.map(|inspect| ImageInfo {
            id: inspect.id.unwrap_or_default(),
            tags: real_tags(inspect.repo_tags.unwrap_or_default()),
            labels: inspect.config.and_then(|config| config.labels).unwrap_or_default().into_iter().collect(),
        }))
    }

    async fn images_labelled(&self, labels: &Labels) -> BackendResult<Vec<ImageInfo>> {
        let options = ListImagesOptionsBuilder::new().filters(&label_filter(labels)).build();
        let images = self.answer(self.docker.list_images(Some(options))).await?;
        Ok(images
            .into_iter()
            .map(|image| ImageInfo {
                id: image.id,
                tags: real_tags(image.repo_tags),
                labels: image.labels.into_iter().collect(),
            })
            .collect())
    }

    async fn remove_image(&self, reference: &str) -> BackendResult<()> {
        tracing::debug!(reference, "removing image");
        // Not forced: the engine refuses to remove an image a container uses, and prunes only
        // untagged parents that nothing else needs.
        let options = RemoveImageOptionsBuilder::new().force(false).noprune(false).build();
        unless_missing(self.answer(self.docker.remove_image(reference, Some(options), None)).await).map(|_| ())
    }

    async fn build_image(
        &self,
        context: ContextStream,
        build: &BuildSpec,
        output: &(dyn Fn(&str) + Send + Sync),
    ) -> BackendResult<String> {
        tracing::debug!(?build, "building image");
        let (first, others) = build.tags.split_first().ok_or_else(|| BackendError::other("a build needs a tag"))?;
        let labels: HashMap<String, String> = build.labels.clone().into_iter().collect();
        // The classic builder (the default on engines before 23) needs no BuildKit session.
        let args: HashMap<String, String> = build.args.iter().cloned().collect();
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(&build.dockerfile)
            .t(first)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .buildargs(&args);
        if let Some(target) = &build.target {
            options = options.target(target);
        }
        let options = options.build();
        // The context is streamed as the request body, so its size costs no memory here.
        let body = bollard::body_try_stream(context.map(|chunk| chunk.map(Into::into)));
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut image_id = None;
        let mut pending = String::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| convert(&e, self.stream_limit()))?;
            if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
                return Err(BackendError::other(message.trim_end().to_string()));
            }
            if let Some(text) = info.stream {
                pending.push_str(&text);
                while let Some(newline) = pending.find('\n') {
                    let line: String = pending.drain(..=newline).collect();
                    let line = line.trim_end();
                    if !line.is_empty() {
                        output(line);
                    }
                }
            }
            if let Some(ImageId { id: Some(id) }) = info.aux {
                image_id = Some(id);
            }
        }
        if !pending.trim().is_empty() {
            output(pending.trim_end());
        }
        let id = match image_id {
            Some(id) => id,
            None => self.image_id(first).await?.ok_or_else(|| BackendError::other("the build produced no image"))?,
        };
        for tag in others {
            let (repository, tag) = split_reference(tag);
            let options = TagImageOptionsBuilder::new().repo(repository).tag(tag).build();
            self.answer(self.docker.tag_image(&id, Some(options))).await?;
        }
        Ok(id)
    }

    async fn pull_image(&self, image: &str) -> BackendResult<()> {
        tracing::debug!(image, "pulling image");
        let (repository, tag) = split_reference(image);
        let options = CreateImageOptionsBuilder::new().from_image(repository).tag(tag).build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(item) = progress.next().await {
            let info = item.map_err(|e| convert(&e, self.stream_limit()))?;
            if let Some(detail) = info.error_detail.and_then(|detail| detail.message) {
                return Err(BackendError::other(detail));
            }
        }
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> BackendResult<String> {
        // Env values and command arguments often hold passwords: log names and counts only.
        tracing::debug!(
            name = %spec.name,
            image = %spec.image,
            env = ?env_names(&spec.env),
            cmd = ?spec.cmd.as_deref().map(program_and_count),
            entrypoint = ?spec.entrypoint.as_deref().map(program_and_count),
            ports = ?spec.ports,
            binds = ?spec.binds,
            "creating container"
        );
        let port_bindings = spec
            .ports
            .iter()
            .map(|port| {
                let binding =
                    PortBinding { host_ip: Some(port.host_ip.clone()), host_port: Some(port.host_port.to_string()) };
                (port.container_key(), Some(vec![binding]))
            })
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(spec.env.clone()),
            cmd: spec.cmd.clone(),
            entrypoint: spec.entrypoint.clone(),
            user: spec.user.clone(),
            labels: Some(spec.labels.clone().into_iter().collect()),
            exposed_ports: Some(spec.ports.iter().map(|port| port.container_key()).collect()),
            stop_signal: Some(spec.stop_signal.as_str().to_string()),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                // A volume name where a bind's host path would be mounts that named volume.
                binds: Some(
                    spec.binds
                        .iter()
                        .cloned()
                        .chain(spec.volumes.iter().map(|mount| format!("{}:{}", mount.volume, mount.path)))
                        .collect(),
                ),
                network_mode: Some(spec.network.clone()),
                tmpfs: (!spec.tmpfs.is_empty())
                    .then(|| spec.tmpfs.iter().map(|mount| (mount.path.clone(), mount.options.clone())).collect()),
                extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
                restart_policy: Some(restart_policy(spec.restart)),
                memory: spec.resources.memory.map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX)),
                nano_cpus: spec.resources.nano_cpus.map(|nanos| i64::try_from(nanos).unwrap_or(i64::MAX)),
                init: spec.init.then_some(true),
                ..Default::default()
            }),
            working_dir: spec.working_dir.clone(),
            healthcheck: spec.healthcheck.as_ref().map(health_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings { aliases: Some(vec![spec.alias.clone()]), ..Default::default() },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&spec.name).build();
        let response = self.answer(self.docker.create_container(Some(options), body)).await?;
        Ok(response.id)
    }

    async fn start_container(&self, id: &str) -> BackendResult<()> {
        tracing::debug!(id, "starting container");
        self.answer(self.docker.start_container(id, None)).await
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> BackendResult<()> {
        tracing::debug!(id, ?grace, "stopping container");
        let seconds = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(seconds).build();
        self.within(self.request_timeout + grace, self.docker.stop_container(id, Some(options))).await
    }

    async fn remove_container(&self, id: &str) -> BackendResult<()> {
        tracing::debug!(id, "removing container");
        // `v` stays false: anonymous volumes hold data, and deleting data is the user's call.
        let options = RemoveContainerOptionsBuilder::new().force(true).v(false).build();
        // Already gone is what we wanted.
        unless_missing(self.answer(self.docker.remove_container(id, Some(options))).await).map(|_| ())
    }

    async fn unpause_container(&self, id: &str) -> BackendResult<()> {
        tracing::debug!(id, "unpausing container");
        self.answer(self.docker.unpause_container(id)).await
    }

    async fn image_volumes(&self, image: &str) -> BackendResult<Vec<String>> {
        let inspect = self.answer(self.docker.inspect_image(image)).await?;
        let mut volumes = inspect.config.and_then(|config| config.volumes).unwrap_or_default();
        volumes.sort();
        Ok(volumes)
    }

    async fn volume_named(&self, name: &str) -> BackendResult<Option<VolumeInfo>> {
        Ok(unless_missing(self.answer(self.docker.inspect_volume(name)).await)?.map(volume_info))
    }

    async fn volumes_labelled(&self, labels: &Labels) -> BackendResult<Vec<VolumeInfo>> {
        let options = ListVolumesOptionsBuilder::new().filters(&label_filter(labels)).build();
        let response = self.answer(self.docker.list_volumes(Some(options))).await?;
        Ok(response.volumes.unwrap_or_default().into_iter().map(volume_info).collect())
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> BackendResult<VolumeInfo> {
        tracing::debug!(name, ?labels, "creating volume");
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        self.answer(self.docker.create_volume(request)).await.map(volume_info)
    }

    async fn remove_volume(&self, name: &str) -> BackendResult<()> {
        tracing::debug!(name, "removing volume");
        let options = None::<bollard::query_parameters::RemoveVolumeOptions>;
        unless_missing(self.answer(self.docker.remove_volume(name, options)).await).map(|_| ())
    }

    async fn wait_for_exit(&self, id: &str) -> BackendResult<Option<i64>> {
        tracing::debug!(id, "waiting for the container to exit");
        let options = WaitContainerOptionsBuilder::new().condition("not-running").build();
        let mut stream = self.docker.wait_container(id, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(Some(response.status_code)),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(Some(code)),
            Some(Err(error)) => Err(convert(&error, self.stream_limit())),
            None => Ok(None),
        }
    }

    /// Docker announces an exit in three ways, in this order (moby 20.10,
    /// `daemon/monitor.go`): the container's log is closed, so a followed log ends; the `die`
    /// event, with the exit code; and, only after the container's clean-up (unmounts, network)
    /// has released its lock, the answer to a wait. An inspect or a log request made after the
    /// exit waits for that lock too. So the exit is the `die` event, the wait is the fallback
    /// should the event be missed, and the last lines come from the followed log, which has
    /// ended by then (or from the log afterwards, whichever comes first).
    async fn watch_exit(&self, id: &str, lines: usize) -> BackendResult<Exited> {
        tracing::debug!(id, "watching the container for its exit");
        let state = self.answer(self.docker.inspect_container(id, None)).await?.state.unwrap_or_default();
        if state.running != Some(true) {
            let logs = self.logs_tail(id, lines).await.unwrap_or_default();
            return Ok(Exited { exit_code: state.exit_code, logs });
        }
        // Events from this run of the container on: a `die` between the inspect and the
        // subscription is replayed, and one of an earlier run is not. Both times are the engine's.
        let started = state.started_at.as_deref().and_then(|text| humantime::parse_rfc3339(text).ok());
        let mut filters = HashMap::from([
            ("container".to_string(), vec![id.to_string()]),
            ("event".to_string(), vec!["die".to_string()]),
        ]);
        filters.insert("type".to_string(), vec!["container".to_string()]);
        let mut options = EventsOptionsBuilder::new().filters(&filters);
        let since = started.map(event_time);
        if let Some(since) = &since {
            options = options.since(since);
        }
        let mut deaths = self.docker.events(Some(options.build()));
        let mut log = self.logs_after(id, log_cut(started, finished_at(&state)), true);
        let mut tail = Tail::new(lines);
        let waited = self.wait_for_exit(id);
        tokio::pin!(waited);
        let (mut log_open, mut log_usable, mut deaths_open) = (true, true, true);
        let exit_code = loop {
            tokio::select! {
                chunk = log.next(), if log_open => match chunk {
                    Some(Ok(chunk)) => tail.push(&chunk),
                    Some(Err(_)) => (log_open, log_usable) = (false, false),
                    None => {
                        tracing::debug!(id, "the followed log ended");
                        log_open = false;
                    }
                },
                event = deaths.next(), if deaths_open => match event {
                    // The attribute reads `exitCode: "3"`.
                    Some(Ok(event)) => {
                        tracing::debug!(id, "the engine says the container died");
                        let attributes = event.actor.and_then(|actor| actor.attributes).unwrap_or_default();
                        break attributes.get("exitCode").and_then(|code| code.parse().ok());
                    }
                    // Without events the wait still tells, later.
                    Some(Err(_)) | None => deaths_open = false,
                },
                waited = &mut waited => break waited?,
            }
        };
        if log_usable {
            let rest = async {
                while let Some(chunk) = log.next().await {
                    tail.push(&chunk.ok()?);
                }
                Some(())
            };
            tokio::select! {
                ended = rest => if ended.is_some() {
                    tracing::debug!(id, "the followed log ended after the exit");
                    return Ok(Exited { exit_code, logs: tail.text() });
                },
                logs = self.logs_tail(id, lines) => return Ok(Exited { exit_code, logs: logs.unwrap_or_default() }),
            }
        }
        Ok(Exited { exit_code, logs: self.logs_tail(id, lines).await.unwrap_or_default() })
    }

    async fn inspect_container(&self, id: &str) -> BackendResult<ContainerDetails> {
        let inspect = self.answer(self.docker.inspect_container(id, None)).await?;
        let state = inspect.state.unwrap_or_default();
        let health =
            state.health.and_then(|health| health.status).map_or_else(String::new, |status| status.to_string());
        let settings = inspect.network_settings.unwrap_or_default();
        let mut ports = Vec::new();
        for (key, bindings) in settings.ports.unwrap_or_default() {
            let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
            // boss publishes only TCP and UDP; another protocol (`sctp`) is none of its ports.
            let Some(protocol) = Protocol::from_name(protocol) else { continue };
            let Ok(container_port) = port.parse::<u16>() else { continue };
            for binding in bindings.unwrap_or_default() {
                if let Some(host_port) = binding.host_port.and_then(|port| port.parse::<u16>().ok()) {
                    ports.push(PublishedPort { container_port, protocol, host_port });
                }
            }
        }
        let addresses = settings
            .networks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(network, endpoint)| endpoint.ip_address.filter(|ip| !ip.is_empty()).map(|ip| (network, ip)))
            .collect();
        Ok(ContainerDetails { running: state.running == Some(true), ports, addresses, health: parse_health(&health) })
    }

    async fn exec(&self, id: &str, exec: &ExecSpec) -> BackendResult<ExecOutput> {
        let (program, n_args) = program_and_count(&exec.cmd);
        tracing::debug!(id, program, n_args, env = ?env_names(&exec.env), "exec");
        let config = ExecConfig {
            cmd: Some(exec.cmd.clone()),
            env: Some(exec.env.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self.answer(self.docker.create_exec(id, config)).await?;
        let mut output = ExecOutput::default();
        if let StartExecResults::Attached { output: mut stream, .. } =
            self.answer(self.docker.start_exec(&created.id, None)).await?
        {
            // Drain the whole stream before asking for the exit code, keeping no more than the
            // limit: a command that prints without end must not fill boss's memory.
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| convert(&e, self.stream_limit()))?;
                let ExecOutputMode::Keep { limit } = exec.output else { continue };
                let n_kept = stdout.len() + stderr.len();
                let (kept, bytes) = match item {
                    LogOutput::StdErr { message } => (&mut stderr, message),
                    other => (&mut stdout, other.into_bytes()),
                };
                if n_kept + bytes.len() > limit {
                    // Dropping the stream closes the connection; Docker stops copying output
                    // and the command gets a broken pipe.
                    let room = limit.saturating_sub(n_kept);
                    kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
                    output.truncated = true;
                    break;
                }
                kept.extend_from_slice(&bytes);
            }
            output.stdout = String::from_utf8_lossy(&stdout).into_owned();
            output.stderr = String::from_utf8_lossy(&stderr).into_owned();
            if output.truncated {
                return Ok(output);
            }
        }
        output.code = self.answer(self.docker.inspect_exec(&created.id)).await?.exit_code;
        Ok(output)
    }

    async fn exec_attached(&self, id: &str, exec: &AttachedExecSpec) -> BackendResult<AttachedExec> {
        let (program, n_args) = program_and_count(&exec.cmd);
        tracing::debug!(id, program, n_args, tty = exec.tty.is_some(), "attached exec");
        let config = ExecConfig {
            cmd: Some(exec.cmd.clone()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(exec.tty.is_some()),
            console_size: exec.tty.map(|size| vec![usize::from(size.rows), usize::from(size.columns)]),
            ..Default::default()
        };
        let created = self.answer(self.docker.create_exec(id, config)).await?;
        let options = StartExecOptions { detach: false, tty: exec.tty.is_some(), output_capacity: None };
        let limit = self.stream_limit();
        match self.answer(self.docker.start_exec(&created.id, Some(options))).await? {
            StartExecResults::Attached { output, input } => {
                let output = output
                    .map(move |item| match item.map_err(|e| convert(&e, limit))? {
                        LogOutput::StdErr { message } => Ok(ExecChunk::Stderr(message.to_vec())),
                        other => Ok(ExecChunk::Stdout(other.into_bytes().to_vec())),
                    })
                    .boxed();
                Ok(AttachedExec { id: created.id, output, input })
            }
            StartExecResults::Detached => Err(BackendError::other("the engine detached the command")),
        }
    }

    async fn exec_exit_code(&self, exec_id: &str) -> BackendResult<Option<i64>> {
        Ok(self.answer(self.docker.inspect_exec(exec_id)).await?.exit_code)
    }

    async fn resize_exec(&self, exec_id: &str, size: TerminalSize) -> BackendResult<()> {
        let options = ResizeExecOptionsBuilder::new().h(i32::from(size.rows)).w(i32::from(size.columns)).build();
        self.answer(self.docker.resize_exec(exec_id, options)).await
    }

    fn follow_logs(&self, id: &str) -> BoxStream<'static, BackendResult<Vec<u8>>> {
        self.logs_since_start(id, true)
    }

    fn logs_so_far(&self, id: &str) -> BoxStream<'static, BackendResult<Vec<u8>>> {
        self.logs_since_start(id, false)
    }

    fn timestamped_logs(&self, id: &str, request: LogsRequest) -> BoxStream<'static, BackendResult<Vec<u8>>> {
        let tail = request.tail.map_or_else(|| "all".to_string(), |lines| lines.to_string());
        let mut options =
            LogsOptionsBuilder::new().follow(request.follow).stdout(true).stderr(true).timestamps(true).tail(&tail);
        if let Some(since) = request.since {
            let seconds = since.duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
            options = options.since(i32::try_from(seconds).unwrap_or(i32::MAX));
        }
        let limit = self.stream_limit();
        self.docker
            .logs(id, Some(options.build()))
            .map(move |item| item.map(|chunk| chunk.into_bytes().to_vec()).map_err(|e| convert(&e, limit)))
            .boxed()
    }

    fn container_starts(
        &self,
        labels: &Labels,
        since: std::time::SystemTime,
    ) -> BoxStream<'static, BackendResult<ContainerStarted>> {
        let mut filters = label_filter(labels);
        // Only boss's own containers, as in `containers_labelled`.
        filters.entry("label".to_string()).or_default().push(crate::backend::label::CONFIG_HASH.to_string());
        filters.insert("type".to_string(), vec!["container".to_string()]);
        filters.insert("event".to_string(), vec!["start".to_string()]);
        let since = since.duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs()).to_string();
        let options = EventsOptionsBuilder::new().since(&since).filters(&filters).build();
        let limit = self.stream_limit();
        self.docker
            .events(Some(options))
            .filter_map(move |item| async move {
                match item {
                    Ok(event) => {
                        let actor = event.actor?;
                        Some(Ok(ContainerStarted {
                            id: actor.id?,
                            labels: actor.attributes.unwrap_or_default().into_iter().collect(),
                        }))
                    }
                    Err(error) => Some(Err(convert(&error, limit))),
                }
            })
            .boxed()
    }

    async fn next_health_change(&self, id: &str, since: std::time::SystemTime) -> BackendResult<Health> {
        let filters = HashMap::from([
            ("container".to_string(), vec![id.to_string()]),
            ("event".to_string(), vec!["health_status".to_string()]),
        ]);
        let options = EventsOptionsBuilder::new().since(&event_time(since)).filters(&filters).build();
        let mut events = self.docker.events(Some(options));
        match events.next().await {
            // The action reads `health_status: healthy`.
            Some(Ok(event)) => {
                Ok(parse_health(event.action.unwrap_or_default().rsplit(' ').next().unwrap_or_default()))
            }
            Some(Err(error)) => Err(convert(&error, self.stream_limit())),
            None => Err(BackendError::other("the event stream ended")),
        }
    }

    async fn logs_tail(&self, id: &str, lines: usize) -> BackendResult<String> {
        let tail = lines.to_string();
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&tail).build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| convert(&e, self.stream_limit()))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(text)
    }
}

impl DockerBackend {
    /// The local image `image`, or `None` when it is not present.
    async fn inspect_present_image(&self, image: &str) -> BackendResult<Option<bollard::models::ImageInspect>> {
        unless_missing(self.answer(self.docker.inspect_image(image)).await)
    }

    /// The container's output since it last started; `follow` keeps the stream open until
    /// the container stops.
    fn logs_since_start(&self, id: &str, follow: bool) -> BoxStream<'static, BackendResult<Vec<u8>>> {
        let this = self.clone();
        let id = id.to_string();
        futures_util::stream::once(async move {
            let state = this.docker.inspect_container(&id, None).await.ok().and_then(|inspect| inspect.state);
            let started = state.as_ref().and_then(|state| state.started_at.as_deref());
            let started = started.and_then(|text| humantime::parse_rfc3339(text).ok());
            let cut = log_cut(started, state.as_ref().and_then(finished_at));
            this.logs_after(&id, cut, follow)
        })
        .flatten()
        .boxed()
    }

    /// The container's output written from `cut` on, without Docker's timestamps.
    fn logs_after(
        &self,
        id: &str,
        cut: Option<std::time::SystemTime>,
        follow: bool,
    ) -> BoxStream<'static, BackendResult<Vec<u8>>> {
        let limit = self.stream_limit();
        let options = LogsOptionsBuilder::new().follow(follow).stdout(true).stderr(true).timestamps(true).build();
        self.docker
            .logs(id, Some(options))
            .map(move |item| {
                let chunk = item.map_err(|e| convert(&e, limit))?.into_bytes();
                Ok(lines_since(&String::from_utf8_lossy(&chunk), cut).into_bytes())
            })
            .boxed()
    }
}

/// When the container's previous run ended, if it has ended once.
fn finished_at(state: &bollard::models::ContainerState) -> Option<std::time::SystemTime> {
    state.finished_at.as_deref().and_then(|text| humantime::parse_rfc3339(text).ok())
}

/// Where the output of a container's current run begins in its log, from when it last started
/// and when its previous run finished. Only output since the container last started counts: a
/// restarted container's log still holds what earlier runs printed. Docker stamps every line.
/// The cut is the end of the previous run rather than this run's start, because a process can
/// print before Docker records that it started.
fn log_cut(
    started: Option<std::time::SystemTime>,
    finished: Option<std::time::SystemTime>,
) -> Option<std::time::SystemTime> {
    match (started, finished) {
        (Some(started), Some(finished)) if finished < started => Some(finished),
        (Some(started), _) => started.checked_sub(std::time::Duration::from_secs(1)),
        (None, _) => None,
    }
}

/// A moment as the engine's event filters take it: `seconds.nanoseconds`.
fn event_time(time: std::time::SystemTime) -> String {
    let since = time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", since.as_secs(), since.subsec_nanos())
}

/// The last lines of a stream of output.
struct Tail {
    text: String,
    lines: usize,
}

impl Tail {
    fn new(lines: usize) -> Tail {
        Tail { text: String::new(), lines }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.text.push_str(&String::from_utf8_lossy(chunk));
        // Trimmed now and then, so a chatty container costs little memory.
        if self.text.len() > 64 << 10 {
            self.text = self.text();
        }
    }

    /// The last lines, each ending with its newline as written.
    fn text(&self) -> String {
        let start = self
            .text
            .trim_end_matches('\n')
            .match_indices('\n')
            .nth_back(self.lines.saturating_sub(1))
            .map_or(0, |(index, _)| index + 1);
        if self.lines == 0 { String::new() } else { self.text[start..].to_string() }
    }
}

/// The names of `KEY=value` env lines, for logs that must not show the values.
fn env_names(env: &[String]) -> Vec<&str> {
    env.iter().map(|line| line.split_once('=').map_or(line.as_str(), |(name, _)| name)).collect()
}

/// A command's program and its number of arguments, for logs that must not show the
/// arguments (`mysqladmin -p<password>`).
fn restart_policy(policy: crate::service::RestartPolicy) -> RestartPolicy {
    use crate::service::RestartPolicy as Policy;
    let (name, count) = match policy {
        Policy::No => (RestartPolicyNameEnum::NO, None),
        Policy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        Policy::OnFailure { max_retries } => (RestartPolicyNameEnum::ON_FAILURE, max_retries.map(i64::from)),
        Policy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
    };
    RestartPolicy { name: Some(name), maximum_retry_count: count }
}

/// The engine's healthcheck: durations in nanoseconds, unset ones left to the engine's defaults.
fn health_config(check: &crate::service::Healthcheck) -> HealthConfig {
    let nanos =
        |duration: Option<Duration>| duration.map(|duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX));
    HealthConfig {
        test: Some(check.test.clone()),
        interval: nanos(check.interval),
        timeout: nanos(check.timeout),
        retries: check.retries.map(i64::from),
        start_period: nanos(check.start_period),
        start_interval: None,
    }
}

fn program_and_count(cmd: &[String]) -> (&str, usize) {
    (cmd.first().map_or("", String::as_str), cmd.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::{Health, Tail, lines_since, parse_health};
    use std::time::{Duration, SystemTime};

    #[test]
    fn health_words_become_states() {
        assert_eq!(parse_health("healthy"), Health::Healthy);
        assert_eq!(parse_health(" Unhealthy:"), Health::Unhealthy);
        assert_eq!(parse_health(""), Health::None);
        assert_eq!(parse_health("starting"), Health::Starting);
        assert_eq!(parse_health("reticulating"), Health::Starting, "an unknown word is not healthy yet");
    }

    #[test]
    fn a_tail_keeps_the_last_lines_across_chunks() {
        let mut tail = Tail::new(2);
        assert_eq!(tail.text(), "");
        tail.push(b"one\ntw");
        tail.push(b"o\nthree\n");
        assert_eq!(tail.text(), "two\nthree\n");
        tail.push(b"four without newline");
        assert_eq!(tail.text(), "three\nfour without newline");
        let mut short = Tail::new(5);
        short.push(b"only\n");
        assert_eq!(short.text(), "only\n");
        let mut long = Tail::new(1);
        for index in 0..10_000 {
            long.push(format!("line {index}\n").as_bytes());
        }
        assert_eq!(long.text(), "line 9999\n");
        assert!(long.text.len() <= 65 << 10, "trimmed as it grows");
        assert_eq!(Tail::new(0).text(), "");
    }

    #[test]
    fn only_lines_since_the_start_are_kept() {
        let text = "2026-11-22T04:00:00.5Z old banner\n2026-11-22T04:00:01.25Z new banner\n";
        let since = humantime::parse_rfc3339("2026-11-22T04:00:01Z").unwrap();
        assert_eq!(lines_since(text, Some(since)), "new banner\n");
        assert_eq!(lines_since(text, None), "old banner\nnew banner\n");
        assert_eq!(lines_since("no stamp\n", Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1))), "no stamp\n");
    }
}
