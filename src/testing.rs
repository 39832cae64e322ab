//! Test doubles for the lifecycle engine: an in-memory [`Backend`] and scripted hooks, so
//! scheduling is unit-tested without Docker or Rhai. Compiled for tests only.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indexmap::IndexMap;

use crate::backend::{
    Backend, BackendError, BackendResult, ContainerInfo, ContainerSpec, ContainerState, Labels, NetworkInfo, VolumeInfo,
};
use crate::context::Context;
use crate::event::{Event, EventSink, ServiceChange};
use crate::hook::{CallLimits, HookError, HookKind, HookRunner, HookValue};
use crate::project::Project;
use crate::service::Service;

#[derive(Default)]
pub(crate) struct FakeState {
    pub(crate) containers: Vec<(ContainerInfo, ContainerSpec)>,
    pub(crate) networks: Vec<NetworkInfo>,
    pub(crate) volumes: Vec<VolumeInfo>,
    /// The `VOLUME` paths of images, by reference; images not listed declare none.
    pub(crate) image_volumes: HashMap<String, Vec<String>>,
    pub(crate) next_id: u64,
    /// Images whose containers exit as soon as they start.
    pub(crate) crashing_images: HashSet<String>,
    /// Images `pull_image` finds.
    pub(crate) pullable: HashSet<String>,
    pub(crate) calls: Vec<String>,
    /// Listing and inspecting containers never answer, like an engine that hangs.
    pub(crate) unresponsive: bool,
}

/// An in-memory container engine.
#[derive(Default, Clone)]
pub(crate) struct FakeBackend {
    pub(crate) state: Arc<Mutex<FakeState>>,
}

impl FakeBackend {
    fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.with(|state| state.calls.clone())
    }

    pub(crate) fn container_of(&self, service: &str) -> Option<ContainerInfo> {
        self.with(|state| {
            state
                .containers
                .iter()
                .find(|(info, _)| info.labels.get(crate::backend::label::SERVICE).map(String::as_str) == Some(service))
                .map(|(info, _)| info.clone())
        })
    }
}

fn matches(labels: &Labels, wanted: &Labels) -> bool {
    wanted.iter().all(|(key, value)| labels.get(key) == Some(value))
}

impl Backend for FakeBackend {
    fn address(&self) -> String {
        "fake://".into()
    }

    async fn ping(&self) -> BackendResult<()> {
        Ok(())
    }

    async fn networks_named(&self, name: &str) -> BackendResult<Vec<NetworkInfo>> {
        Ok(self.with(|state| state.networks.iter().filter(|network| network.name == name).cloned().collect()))
    }

    async fn networks_labelled(&self, labels: &Labels) -> BackendResult<Vec<NetworkInfo>> {
        Ok(self
            .with(|state| state.networks.iter().filter(|network| matches(&network.labels, labels)).cloned().collect()))
    }

    async fn create_network(&self, name: &str, labels: &Labels) -> BackendResult<String> {
        Ok(self.with(|state| {
            state.next_id += 1;
            let id = format!("net{}", state.next_id);
            state.networks.push(NetworkInfo { id: id.clone(), name: name.into(), labels: labels.clone() });
            id
        }))
    }

    async fn remove_network(&self, id: &str) -> BackendResult<()> {
        self.with(|state| state.networks.retain(|network| network.id != id));
        Ok(())
    }

    async fn containers_labelled(&self, labels: &Labels) -> BackendResult<Vec<ContainerInfo>> {
        if self.with(|state| state.unresponsive) {
            std::future::pending::<()>().await;
        }
        Ok(self.with(|state| {
            state
                .containers
                .iter()
                .filter(|(info, _)| matches(&info.labels, labels))
                .map(|(info, _)| info.clone())
                .collect()
        }))
    }

    async fn container_named(&self, name: &str) -> BackendResult<Option<ContainerInfo>> {
        Ok(self.with(|state| state.containers.iter().find(|(info, _)| info.name == name).map(|(info, _)| info.clone())))
    }

    async fn image_id(&self, image: &str) -> BackendResult<Option<String>> {
        Ok(Some(format!("sha256:{image}")))
    }

    async fn image_label(&self, _: &str, _: &str) -> BackendResult<Option<String>> {
        Ok(None)
    }

    async fn image_info(&self, image: &str) -> BackendResult<Option<crate::backend::ImageInfo>> {
        Ok(Some(crate::backend::ImageInfo {
            id: format!("sha256:{image}"),
            tags: vec![image.to_string()],
            ..Default::default()
        }))
    }

    async fn images_labelled(&self, _: &Labels) -> BackendResult<Vec<crate::backend::ImageInfo>> {
        Ok(Vec::new())
    }

    async fn remove_image(&self, reference: &str) -> BackendResult<()> {
        self.with(|state| state.calls.push(format!("remove image {reference}")));
        Ok(())
    }

    async fn build_image(
        &self,
        _: crate::backend::ContextStream,
        build: &crate::backend::BuildSpec,
        output: &(dyn Fn(&str) + Send + Sync),
    ) -> BackendResult<String> {
        output("Step 1/1 : FROM scratch");
        Ok(format!("sha256:built-{}", build.tags[0]))
    }

    /// Records the call; an image in `pullable` is pulled, any other has no registry.
    async fn pull_image(&self, image: &str) -> BackendResult<()> {
        let pullable = self.with(|state| {
            state.calls.push(format!("pull {image}"));
            state.pullable.contains(image)
        });
        if pullable { Ok(()) } else { Err(BackendError::other(format!("no registry for {image}"))) }
    }

    async fn create_container(&self, spec: &ContainerSpec) -> BackendResult<String> {
        Ok(self.with(|state| {
            state.next_id += 1;
            let id = format!("c{}", state.next_id);
            state.calls.push(format!("create {}", spec.alias));
            let info = ContainerInfo {
                id: id.clone(),
                name: spec.name.clone(),
                state: ContainerState::Stopped,
                labels: spec.labels.clone(),
                volumes: spec.volumes.clone(),
                listed: Default::default(),
            };
            state.containers.push((info, spec.clone()));
            id
        }))
    }

    async fn start_container(&self, id: &str) -> BackendResult<()> {
        self.with(|state| {
            let crashing = state.crashing_images.clone();
            for (info, spec) in &mut state.containers {
                if info.id == id {
                    info.state =
                        if crashing.contains(&spec.image) { ContainerState::Stopped } else { ContainerState::Running };
                    state.calls.push(format!("start {}", spec.alias));
                }
            }
        });
        Ok(())
    }

    async fn stop_container(&self, id: &str, _: Duration) -> BackendResult<()> {
        self.with(|state| {
            for (info, spec) in &mut state.containers {
                if info.id == id {
                    info.state = ContainerState::Stopped;
                    state.calls.push(format!("stop {}", spec.alias));
                }
            }
        });
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> BackendResult<()> {
        self.with(|state| {
            if let Some((_, spec)) = state.containers.iter().find(|(info, _)| info.id == id) {
                let alias = spec.alias.clone();
                state.calls.push(format!("remove {alias}"));
            }
            state.containers.retain(|(info, _)| info.id != id);
        });
        Ok(())
    }

    async fn unpause_container(&self, id: &str) -> BackendResult<()> {
        self.with(|state| {
            for (info, spec) in &mut state.containers {
                if info.id == id {
                    info.state = ContainerState::Running;
                    state.calls.push(format!("unpause {}", spec.alias));
                }
            }
        });
        Ok(())
    }

    async fn image_volumes(&self, image: &str) -> BackendResult<Vec<String>> {
        Ok(self.with(|state| state.image_volumes.get(image).cloned().unwrap_or_default()))
    }

    async fn volume_named(&self, name: &str) -> BackendResult<Option<VolumeInfo>> {
        Ok(self.with(|state| state.volumes.iter().find(|volume| volume.name == name).cloned()))
    }

    async fn volumes_labelled(&self, labels: &Labels) -> BackendResult<Vec<VolumeInfo>> {
        Ok(self.with(|state| state.volumes.iter().filter(|volume| matches(&volume.labels, labels)).cloned().collect()))
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> BackendResult<VolumeInfo> {
        Ok(self.with(|state| {
            state.calls.push(format!("create volume {name}"));
            // As the engine: a volume of that name is returned as it is.
            if let Some(existing) = state.volumes.iter().find(|volume| volume.name == name) {
                return existing.clone();
            }
            let created = VolumeInfo { name: name.into(), labels: labels.clone() };
            state.volumes.push(created.clone());
            created
        }))
    }

    async fn remove_volume(&self, name: &str) -> BackendResult<()> {
        self.with(|state| {
            state.calls.push(format!("remove volume {name}"));
            state.volumes.retain(|volume| volume.name != name);
        });
        Ok(())
    }

    async fn wait_for_exit(&self, id: &str) -> BackendResult<Option<i64>> {
        let crashed = self.with(|state| {
            state.containers.iter().any(|(info, spec)| info.id == id && state.crashing_images.contains(&spec.image))
        });
        if crashed { Ok(Some(1)) } else { std::future::pending().await }
    }

    async fn watch_exit(&self, id: &str, lines: usize) -> BackendResult<crate::backend::Exited> {
        let exit_code = self.wait_for_exit(id).await?;
        Ok(crate::backend::Exited { exit_code, logs: self.logs_tail(id, lines).await? })
    }

    async fn inspect_container(&self, id: &str) -> BackendResult<crate::backend::ContainerDetails> {
        let running = self.with(|state| {
            state.containers.iter().any(|(info, _)| info.id == id && info.state == ContainerState::Running)
        });
        Ok(crate::backend::ContainerDetails { running, health: crate::backend::Health::None, ..Default::default() })
    }

    /// Echoes the env lines and the command, so tests see what would have run.
    async fn exec(&self, _: &str, exec: &crate::backend::ExecSpec) -> BackendResult<crate::backend::ExecOutput> {
        let stdout = [exec.env.as_slice(), exec.cmd.as_slice()].concat().join(" ");
        Ok(crate::backend::ExecOutput { code: Some(0), stdout, ..Default::default() })
    }

    /// Attached commands need a real engine (tests/exec.rs).
    async fn exec_attached(
        &self,
        _: &str,
        _: &crate::backend::AttachedExecSpec,
    ) -> BackendResult<crate::backend::AttachedExec> {
        Err(BackendError::other("the in-memory engine runs no attached commands"))
    }

    async fn exec_exit_code(&self, _: &str) -> BackendResult<Option<i64>> {
        Ok(None)
    }

    async fn resize_exec(&self, _: &str, _: crate::backend::TerminalSize) -> BackendResult<()> {
        Ok(())
    }

    fn timestamped_logs(
        &self,
        _: &str,
        _: crate::backend::LogsRequest,
    ) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>> {
        use futures_util::StreamExt as _;
        futures_util::stream::iter([Ok(b"2026-11-22T04:00:00.5Z crashed\n".to_vec())]).boxed()
    }

    fn container_starts(
        &self,
        _: &Labels,
        _: std::time::SystemTime,
    ) -> futures_util::stream::BoxStream<'static, BackendResult<crate::backend::ContainerStarted>> {
        use futures_util::StreamExt as _;
        futures_util::stream::pending().boxed()
    }

    fn follow_logs(&self, _: &str) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>> {
        use futures_util::StreamExt as _;
        futures_util::stream::iter([Ok(b"crashed\n".to_vec())]).boxed()
    }

    fn logs_so_far(&self, id: &str) -> futures_util::stream::BoxStream<'static, BackendResult<Vec<u8>>> {
        self.follow_logs(id)
    }

    async fn next_health_change(&self, _: &str, _: std::time::SystemTime) -> BackendResult<crate::backend::Health> {
        std::future::pending().await
    }

    async fn logs_tail(&self, _: &str, _: usize) -> BackendResult<String> {
        Ok("crashed\n".into())
    }
}

type ScriptedHook = Box<dyn Fn(&Context) -> Result<HookValue, HookError> + Send + Sync>;

/// Hooks given as Rust closures.
#[derive(Default)]
pub(crate) struct FakeHooks {
    pub(crate) hooks: HashMap<(String, HookKind), ScriptedHook>,
}

impl FakeHooks {
    pub(crate) fn with(
        mut self,
        service: &str,
        kind: HookKind,
        hook: impl Fn(&Context) -> Result<HookValue, HookError> + Send + Sync + 'static,
    ) -> FakeHooks {
        self.hooks.insert((service.to_string(), kind), Box::new(hook));
        self
    }
}

impl HookRunner for FakeHooks {
    fn call(
        &self,
        service: &str,
        kind: HookKind,
        context: &Context,
        _: &CallLimits,
        _: &Arc<dyn crate::hook::ContainerAccess>,
    ) -> Result<HookValue, HookError> {
        match self.hooks.get(&(service.to_string(), kind)) {
            Some(hook) => hook(context),
            None => Ok(HookValue::Bool(true)),
        }
    }
}

/// A project from a compact graph description (see `graph::tests::services`), with the
/// hook flags set for every hook `hooks` defines.
pub(crate) fn project(description: &str, hooks: FakeHooks) -> Project {
    let mut services: IndexMap<String, Service> = crate::graph::tests::services(description);
    for (service, kind) in hooks.hooks.keys() {
        services.get_mut(service).expect("hook for an unknown service").hooks.set(*kind);
    }
    Project {
        group: "g".into(),
        directory: std::env::temp_dir(),
        script_name: "services.rhai".into(),
        context_file: std::env::temp_dir().join(crate::context::FILE_NAME),
        services,
        hooks: Arc::new(hooks),
        warnings: Vec::new(),
    }
}

/// Answers up to `n_requests` HTTP requests on a local port with the raw `response`; returns
/// the port.
pub(crate) fn serve_http(response: String, n_requests: usize) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n_requests) {
            let mut stream = stream.unwrap();
            let mut buffer = [0; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

/// A sink that records events, and a way to read them back.
pub(crate) fn recording_sink() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = Arc::clone(&events);
    (EventSink::new(move |event| sink_events.lock().unwrap().push(event.clone())), events)
}

/// `service: change-name` lines for the recorded service events, e.g. `"a: Started"`.
pub(crate) fn service_changes(events: &Mutex<Vec<Event>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            Event::Service { service, change } => {
                let name = format!("{change:?}");
                let name = name.split([' ', '{', '(']).next().unwrap_or_default().to_string();
                if matches!(change, ServiceChange::Log { .. }) { None } else { Some(format!("{service}: {name}")) }
            }
            _ => None,
        })
        .collect()
}
