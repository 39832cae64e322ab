//! What hooks can reach of the group's containers: published ports, addresses, `exec`, logs,
//! health, and waiting for a line of output or a healthy status. Implements
//! [`ContainerAccess`] on top of any [`Backend`], bridging the synchronous hook threads to the
//! async engine with the runtime handle.
//!
//! Output is streamed once per container into a shared buffer, so waiting for a banner sees
//! each new line as it arrives instead of re-reading the log on every poll.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tokio::runtime::Handle;

use crate::backend::{Backend, ContainerDetails, ContainerInfo, ContainerState, Health};
use crate::backend::{ExecOutput, ExecSpec};
use crate::hook::{CallLimits, ContainerAccess, LogText, OUTPUT_LIMIT};
use crate::ownership;
use crate::service::Protocol;

/// How often a waiting hook thread wakes up to check its deadline and cancel token.
const WAKE: Duration = Duration::from_millis(25);

/// A container's output since it started, filled by one follower task.
#[derive(Default)]
struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

#[derive(Default)]
struct OutputState {
    text: String,
    ended: bool,
}

/// The largest amount of output `wait_for_log` keeps per container; older output is dropped
/// from the front.
const FOLLOWED_LIMIT: usize = 4 << 20;

pub(crate) struct Access<B> {
    backend: Arc<B>,
    runtime: Handle,
    group: String,
    network: String,
    outputs: Mutex<HashMap<String, Arc<Output>>>,
}

impl<B: Backend> Access<B> {
    pub(crate) fn new(backend: Arc<B>, runtime: Handle, group: &str, network: &str) -> Access<B> {
        Access { backend, runtime, group: group.to_string(), network: network.to_string(), outputs: Mutex::default() }
    }

    /// The service's container: the running one if there is one. Bounded by `limits` like
    /// every engine call a hook makes, so a slow engine cannot hold a hook past its deadline.
    fn container(&self, service: &str, limits: &CallLimits) -> Result<ContainerInfo, String> {
        let labels = ownership::service_labels(&self.group, service);
        let containers = self
            .block_on_bounded(limits, self.backend.containers_labelled(&labels))?
            .ok_or_else(|| {
                format!("finding the container of `{service}` did not finish before the hook's time ran out")
            })?
            .map_err(|e| e.message)?;
        let running = containers.iter().find(|container| container.state == ContainerState::Running);
        running.or(containers.first()).cloned().ok_or_else(|| format!("service `{service}` has no container"))
    }

    fn details(&self, service: &str, limits: &CallLimits) -> Result<(ContainerInfo, ContainerDetails), String> {
        let container = self.container(service, limits)?;
        let details = self
            .block_on_bounded(limits, self.backend.inspect_container(&container.id))?
            .ok_or_else(|| {
                format!("inspecting the container of `{service}` did not finish before the hook's time ran out")
            })?
            .map_err(|e| e.message)?;
        Ok((container, details))
    }

    /// The output buffer of a container, starting its follower on first use.
    fn output(&self, id: &str) -> Arc<Output> {
        let mut outputs = self.outputs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(output) = outputs.get(id) {
            return Arc::clone(output);
        }
        let output = Arc::new(Output::default());
        outputs.insert(id.to_string(), Arc::clone(&output));
        let mut stream = self.backend.follow_logs(id);
        let follower = Arc::clone(&output);
        self.runtime.spawn(async move {
            while let Some(Ok(chunk)) = stream.next().await {
                let mut state = follower.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                state.text.push_str(&String::from_utf8_lossy(&chunk));
                if state.text.len() > FOLLOWED_LIMIT {
                    let cut = state.text.len() - FOLLOWED_LIMIT / 2;
                    let cut = (cut..state.text.len()).find(|index| state.text.is_char_boundary(*index)).unwrap_or(0);
                    state.text.drain(..cut);
                }
                follower.changed.notify_all();
            }
            follower.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).ended = true;
            follower.changed.notify_all();
        });
        output
    }

    /// Runs `future` on the runtime from a hook thread, giving up at the call's deadline or
    /// when it is cancelled.
    fn block_on_bounded<T>(
        &self,
        limits: &CallLimits,
        future: impl std::future::Future<Output = T>,
    ) -> Result<Option<T>, String> {
        let cancel = limits.cancel.clone();
        let deadline = tokio::time::Instant::from_std(limits.deadline);
        Ok(self.runtime.block_on(async move {
            tokio::select! {
                value = future => Some(value),
                () = tokio::time::sleep_until(deadline) => None,
                () = cancel.cancelled() => None,
            }
        }))
    }
}

impl<B: Backend> ContainerAccess for Access<B> {
    fn host_port(
        &self,
        service: &str,
        container_port: u16,
        protocol: Protocol,
        limits: &CallLimits,
    ) -> Result<u16, String> {
        let (_, details) = self.details(service, limits)?;
        details
            .ports
            .iter()
            .find(|port| port.container_port == container_port && port.protocol == protocol)
            .map(|port| port.host_port)
            .ok_or_else(|| format!("service `{service}` publishes no port {container_port}/{}", protocol.as_str()))
    }

    fn address(&self, service: &str, limits: &CallLimits) -> Result<String, String> {
        let (_, details) = self.details(service, limits)?;
        details
            .addresses
            .get(&self.network)
            .cloned()
            .ok_or_else(|| format!("service `{service}` has no address on network `{}`", self.network))
    }

    fn exec(&self, service: &str, exec: &ExecSpec, limits: &CallLimits) -> Result<ExecOutput, String> {
        let container = self.container(service, limits)?;
        if container.state != ContainerState::Running {
            return Err(format!("service `{service}` is not running"));
        }
        match self.block_on_bounded(limits, self.backend.exec(&container.id, exec))? {
            Some(Ok(output)) => Ok(output),
            Some(Err(error)) => Err(format!("exec in `{service}` failed: {}", error.message)),
            None => Err(format!("exec in `{service}` did not finish before the hook's time ran out")),
        }
    }

    /// Reads the log without following it, so the stream ends at what was written so far and
    /// nothing printed before the call is missed; stops reading at [`OUTPUT_LIMIT`].
    fn logs(&self, service: &str, limits: &CallLimits) -> Result<LogText, String> {
        let container = self.container(service, limits)?;
        let mut stream = self.backend.logs_so_far(&container.id);
        let read = async move {
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|error| format!("cannot read the log of `{service}`: {}", error.message))?;
                if bytes.len() + chunk.len() > OUTPUT_LIMIT {
                    bytes.extend_from_slice(&chunk[..OUTPUT_LIMIT - bytes.len()]);
                    return Ok((bytes, true));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((bytes, false))
        };
        match self.block_on_bounded(limits, read)? {
            Some(Ok((bytes, truncated))) => {
                Ok(LogText { text: String::from_utf8_lossy(&bytes).into_owned(), truncated })
            }
            Some(Err(message)) => Err(message),
            None => Err(format!("reading the log of `{service}` did not finish before the hook's time ran out")),
        }
    }

    fn health(&self, service: &str, limits: &CallLimits) -> Result<Health, String> {
        Ok(self.details(service, limits)?.1.health)
    }

    fn wait_for_output(&self, service: &str, text: &str, limits: &CallLimits) -> Result<bool, String> {
        let container = self.container(service, limits)?;
        let output = self.output(&container.id);
        let mut state = output.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if state.text.contains(text) {
                return Ok(true);
            }
            if state.ended || limits.cancel.is_cancelled() || Instant::now() >= limits.deadline {
                return Ok(false);
            }
            let wait = limits.deadline.saturating_duration_since(Instant::now()).min(WAKE);
            state = output.changed.wait_timeout(state, wait).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
    }

    fn wait_healthy(&self, service: &str, limits: &CallLimits) -> Result<bool, String> {
        loop {
            // A change after this moment is replayed by the subscription below, so one that
            // happens between the inspection and the subscription is not missed.
            let since = std::time::SystemTime::now();
            let (container, details) = self.details(service, limits)?;
            match details.health {
                Health::Healthy => return Ok(true),
                Health::None => return Err(format!("service `{service}` has no HEALTHCHECK")),
                Health::Starting | Health::Unhealthy => {}
            }
            if !details.running {
                return Err(format!("service `{service}` is not running"));
            }
            // Woken by the engine's health event (replayed from `since`), which names the new
            // status: healthy is believed at once, without a second look. Any other change, a
            // lost stream and the periodic re-check each look again.
            let mut check = limits.clone();
            check.deadline = limits.deadline.min(Instant::now() + Duration::from_secs(1));
            let changed = self.block_on_bounded(&check, self.backend.next_health_change(&container.id, since))?;
            match changed {
                Some(Ok(Health::Healthy)) => return Ok(true),
                None if limits.cancel.is_cancelled() || Instant::now() >= limits.deadline => return Ok(false),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeBackend;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn lookups_end_at_the_hook_deadline_and_on_cancel() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let backend = Arc::new(FakeBackend::default());
        backend.state.lock().unwrap().unresponsive = true;
        let access = Access::new(backend, runtime.handle().clone(), "g", "boss-g");
        let soon =
            CallLimits { deadline: Instant::now() + Duration::from_millis(50), cancel: CancellationToken::new() };
        let error = access.host_port("a", 80, Protocol::Tcp, &soon).unwrap_err();
        assert_eq!(error, "finding the container of `a` did not finish before the hook's time ran out");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let cancelled = CallLimits { deadline: Instant::now() + Duration::from_secs(3600), cancel };
        assert!(access.address("a", &cancelled).is_err());
        assert!(access.health("a", &cancelled).is_err());
        assert!(access.logs("a", &cancelled).is_err());
        assert_eq!(access.wait_healthy("a", &cancelled).map_err(|error| error.contains("time ran out")), Err(true));
    }
}
