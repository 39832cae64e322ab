//! The integration-test harness: runs the real `boss` binary in a temporary project and
//! inspects Docker through its CLI. Only re-exports; each file below owns one concern.

#![allow(dead_code, unused_imports, reason = "each test module uses a different subset of the harness")]

mod background;
mod docker;
mod fixture;
mod group;
mod port;
mod process;
mod project;
mod proxy;
mod registry;
mod scripts;
mod signal;

pub(crate) use background::Background;
pub(crate) use docker::{
    ContainerRow, FOREIGN_LABEL, GROUP_LABEL, check_docker, container, container_env, container_labels, containers,
    docker, docker_required, foreign_container, foreign_network, inspect, networks, try_docker, try_docker_with_env,
};
pub(crate) use fixture::fixture_image;
pub(crate) use group::{GroupGuard, MAX_GROUP_LEN, remove_group_resources, unique_group};
pub(crate) use port::free_port;
pub(crate) use process::{Captured, RunError, run_captured, run_captured_with_input};
pub(crate) use project::{BossRun, CONTEXT_FILE, DEFAULT_BOSS_TIMEOUT, Output, Project, SCRIPT_FILE};
pub(crate) use proxy::{Proxy, Request};
pub(crate) use registry::Registry;
pub(crate) use scripts::fan_out_script;
pub(crate) use signal::{act_when, signal_group_when, signal_when};
