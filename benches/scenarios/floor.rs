//! The floor the scenarios are measured against: the Docker API calls the work needs and no
//! more, made with bollard straight from the bench process. It creates what boss would (the
//! group's network, one container per service with the same name, labels, alias, port and stop
//! signal), in parallel wherever the dependency graph allows, and polls each HTTP service's
//! published port every 10 ms until it answers 200.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use futures_util::future::{BoxFuture, FutureExt as _, Shared, join_all};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{HTTP_PORT, Node, Shape};

/// How often the floor asks an HTTP service whether it is ready.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How long a service may take to answer before the floor gives up (and the bench fails).
const READY_LIMIT: Duration = Duration::from_secs(60);

/// A step begun once and awaited by every step after it: a service's start or an image's pull.
type Step = Shared<BoxFuture<'static, ()>>;

/// The floor's connection to the engine.
#[derive(Clone)]
pub(crate) struct Floor {
    docker: Docker,
    /// Each group's network, named afresh for every start (`boss-<group>-<n>`): Docker 20.10
    /// sometimes cannot remove an empty network (a stale endpoint), and would then create a
    /// second one of the same name, which containers could not name.
    networks: Arc<Mutex<HashMap<String, String>>>,
}

/// Numbers the floor's networks.
static NETWORKS: AtomicUsize = AtomicUsize::new(0);

impl Floor {
    pub(crate) fn connect() -> Self {
        let docker = Docker::connect_with_local_defaults()
            .unwrap_or_else(|error| panic!("the floor cannot connect to Docker: {error}"));
        Self { docker, networks: Arc::default() }
    }

    /// S1, S2, S5, S6: the group's network, then every service (each pull begun at once, each
    /// service created and started as soon as its dependencies are ready and its image is
    /// there, and polled when it serves HTTP).
    pub(crate) async fn start(&self, group: &str, shape: &Shape) {
        let pulls: HashMap<String, Step> = if shape.pulled {
            shape.nodes.iter().map(|node| (node.image.clone(), self.pull(node.image.clone()))).collect()
        } else {
            HashMap::new()
        };
        let network = format!("boss-{group}-{}", NETWORKS.fetch_add(1, Ordering::Relaxed));
        self.networks.lock().unwrap().insert(group.to_string(), network.clone());
        let request = NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([("boss.group".to_string(), group.to_string())])),
            ..Default::default()
        };
        self.docker.create_network(request).await.unwrap_or_else(|error| panic!("floor: create network: {error}"));
        // Nodes name only earlier nodes as dependencies, so one pass in order builds them all.
        let mut steps: Vec<Step> = Vec::with_capacity(shape.nodes.len());
        for node in &shape.nodes {
            let waits: Vec<Step> = node.dependencies.iter().map(|&index| steps[index].clone()).collect();
            let pull = pulls.get(&node.image).cloned();
            let (floor, group, network, node) = (self.clone(), group.to_string(), network.clone(), node.clone());
            let step = async move {
                join_all(waits).await;
                if let Some(pull) = pull {
                    pull.await;
                }
                floor.start_one(&group, &network, &node).await;
            };
            steps.push(spawned(step));
        }
        join_all(steps).await;
    }

    /// Pulls `image`, on its own task.
    fn pull(&self, image: String) -> Step {
        let docker = self.docker.clone();
        spawned(async move {
            let (repository, tag) = image.rsplit_once(':').expect("the bench's images are tagged");
            let options = CreateImageOptionsBuilder::new().from_image(repository).tag(tag).build();
            let mut progress = docker.create_image(Some(options), None, None);
            while let Some(item) = progress.next().await {
                item.unwrap_or_else(|error| panic!("floor: pull {image}: {error}"));
            }
        })
    }

    /// Creates and starts one service's container, then waits until it is ready.
    async fn start_one(&self, group: &str, network: &str, node: &Node) {
        let name = format!("{group}.{}", node.name);
        let labels = HashMap::from([
            ("boss.group".to_string(), group.to_string()),
            ("boss.service".to_string(), node.name.clone()),
        ]);
        let key = format!("{HTTP_PORT}/tcp");
        let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some("0".into()) };
        let body = ContainerCreateBody {
            image: Some(node.image.clone()),
            cmd: Some(node.cmd()),
            labels: Some(labels),
            exposed_ports: node.http.then(|| vec![key.clone()]),
            stop_signal: Some("SIGKILL".into()),
            host_config: Some(HostConfig {
                port_bindings: node.http.then(|| HashMap::from([(key.clone(), Some(vec![binding]))])),
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings { aliases: Some(vec![node.name.clone()]), ..Default::default() },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let id = self
            .docker
            .create_container(Some(options), body)
            .await
            .unwrap_or_else(|error| panic!("floor: create {name}: {error}"))
            .id;
        self.docker.start_container(&id, None).await.unwrap_or_else(|error| panic!("floor: start {name}: {error}"));
        if node.http {
            let inspect = self
                .docker
                .inspect_container(&id, None)
                .await
                .unwrap_or_else(|error| panic!("floor: inspect {name}: {error}"));
            let port = inspect
                .network_settings
                .and_then(|settings| settings.ports)
                .and_then(|mut ports| ports.remove(&key).flatten())
                .and_then(|bindings| bindings.into_iter().find_map(|binding| binding.host_port?.parse::<u16>().ok()))
                .unwrap_or_else(|| panic!("floor: {name} has no published port {key}"));
            wait_http(&name, port).await;
        }
    }

    /// S3: one list of the group's containers.
    pub(crate) async fn look(&self, group: &str) {
        let listed = self.list(group).await;
        assert!(!listed.is_empty(), "floor: the group has no containers to look at");
    }

    /// S4: one list of the group's containers, each stopped and removed (all at once), then the
    /// network removed.
    pub(crate) async fn stop_remove(&self, group: &str) {
        let removals = self.list(group).await.into_iter().map(|id| async move {
            let stop = StopContainerOptionsBuilder::new().t(10).build();
            self.docker.stop_container(&id, Some(stop)).await.unwrap_or_else(|error| panic!("floor: stop: {error}"));
            let remove = RemoveContainerOptionsBuilder::new().build();
            self.docker
                .remove_container(&id, Some(remove))
                .await
                .unwrap_or_else(|error| panic!("floor: remove: {error}"));
        });
        join_all(removals).await;
        let network = self.networks.lock().unwrap().remove(group).expect("the floor started the group");
        if let Err(error) = self.docker.remove_network(&network).await {
            // A stale endpoint (see `networks`); the guard tries again at the end.
            eprintln!("warning: floor: remove network {network}: {error}");
        }
    }

    /// The ids of every container labelled with `group`, running or not.
    async fn list(&self, group: &str) -> Vec<String> {
        let filters = HashMap::from([("label".to_string(), vec![format!("boss.group={group}")])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let listed =
            self.docker.list_containers(Some(options)).await.unwrap_or_else(|error| panic!("floor: list: {error}"));
        listed.into_iter().filter_map(|container| container.id).collect()
    }
}

/// `future` on its own task, awaitable by several.
fn spawned(future: impl Future<Output = ()> + Send + 'static) -> Step {
    let task = tokio::spawn(future);
    async move {
        if let Err(error) = task.await {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    .boxed()
    .shared()
}

/// Polls `GET /` on 127.0.0.1:`port` every [`POLL_INTERVAL`] until it answers 200.
async fn wait_http(name: &str, port: u16) {
    let began = tokio::time::Instant::now();
    loop {
        if get_ok(port).await {
            return;
        }
        assert!(began.elapsed() < READY_LIMIT, "floor: {name} did not answer on port {port} within {READY_LIMIT:?}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Whether `GET /` on 127.0.0.1:`port` answers 200.
async fn get_ok(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(format!("GET / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        std::io::Result::Ok(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt).await.is_ok_and(|answer| answer.unwrap_or(false))
}
