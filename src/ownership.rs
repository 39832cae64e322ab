//! How boss names and labels what it creates, and the hash that tells whether a container
//! still matches its service's definition. Pure; no I/O.

use sha2::{Digest, Sha256};

use crate::backend::{ContainerSpec, Labels, label};

pub fn container_name(group: &str, service: &str) -> String {
    format!("{group}-{service}")
}

pub fn default_network_name(group: &str) -> String {
    format!("boss-{group}")
}

/// Labels that select everything of a group.
pub fn group_labels(group: &str) -> Labels {
    Labels::from([(label::GROUP.to_string(), group.to_string())])
}

/// Labels that select the containers of one service.
pub fn service_labels(group: &str, service: &str) -> Labels {
    let mut labels = group_labels(group);
    labels.insert(label::SERVICE.to_string(), service.to_string());
    labels
}

/// A short hash of everything that defines a container. Env order does not matter.
pub fn config_hash(spec: &ContainerSpec) -> String {
    let mut env = spec.env.clone();
    env.sort();
    let mut ports: Vec<String> =
        spec.ports.iter().map(|port| format!("{}={}:{}", port.container_key(), port.host_ip, port.host_port)).collect();
    ports.sort();
    let canonical = serde_json::json!({
        "image": spec.image,
        "env": env,
        "ports": ports,
        "binds": spec.binds,
        "stop_signal": spec.stop_signal,
        "entrypoint": spec.entrypoint,
        "cmd": spec.cmd,
        "user": spec.user,
        "network": spec.network,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env: &[&str]) -> ContainerSpec {
        ContainerSpec {
            name: "g-web".into(),
            image: "img:1".into(),
            env: env.iter().map(|line| line.to_string()).collect(),
            ports: Vec::new(),
            binds: Vec::new(),
            stop_signal: "SIGTERM".into(),
            entrypoint: None,
            cmd: None,
            user: None,
            labels: Labels::new(),
            network: "boss-g".into(),
            alias: "web".into(),
        }
    }

    #[test]
    fn hash_ignores_env_order_but_not_values() {
        assert_eq!(config_hash(&spec(&["A=1", "B=2"])), config_hash(&spec(&["B=2", "A=1"])));
        assert_ne!(config_hash(&spec(&["A=1"])), config_hash(&spec(&["A=2"])));
        assert_eq!(config_hash(&spec(&[])).len(), 16);
    }
}
