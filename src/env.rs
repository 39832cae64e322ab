//! `boss env` and the environment `boss run` gives its command: the context's values and every
//! port the group publishes now, under names a shell accepts. Pure; the values come from a
//! [`Status`] and the context.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::status::Status;

/// The variables, sorted by name: each context value, then each port a declared service's
/// container publishes now as `<SERVICE>_PORT_<port>` (`_UDP` added for UDP). The ports `start`
/// saved in the context (`<service>_port_<port>`) are left out: only what the engine publishes
/// now counts, so a stopped service has no port variable.
pub(crate) fn variables(status: &Status, values: &Map<String, Value>) -> Vec<(String, String)> {
    let mut variables = BTreeMap::new();
    // In key order, so that of two keys with one name the one that sorts last wins.
    let mut entries: Vec<(&String, &Value)> = values.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    for (key, value) in entries {
        if saved_port(status, key) {
            continue;
        }
        if let Some(name) = shell_name(key) {
            variables.insert(name, text(value));
        }
    }
    for service in status.services.iter().filter(|service| !service.orphan) {
        for port in &service.ports {
            let suffix = if port.protocol == "udp" { "_udp" } else { "" };
            if let Some(name) = shell_name(&format!("{}_port_{}{suffix}", service.name, port.container_port)) {
                variables.insert(name, port.host_port.to_string());
            }
        }
    }
    variables.into_iter().collect()
}

/// Whether `key` is a port `start` saved for a declared service: `<service>_port_<port>`,
/// optionally with `_udp`.
fn saved_port(status: &Status, key: &str) -> bool {
    status.services.iter().filter(|service| !service.orphan).any(|service| {
        key.strip_prefix(service.name.as_str())
            .and_then(|rest| rest.strip_prefix("_port_"))
            .map(|port| port.strip_suffix("_udp").unwrap_or(port))
            .is_some_and(|port| !port.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit()))
    })
}

/// `key` upper-cased, with every character but ASCII letters and digits turned into `_`, and
/// `_` put before a leading digit; `None` for an empty key.
pub(crate) fn shell_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let name: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    Some(if name.starts_with(|c: char| c.is_ascii_digit()) { format!("_{name}") } else { name })
}

/// A string as it is, a number or boolean as written in JSON, anything else as JSON text.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Port, ServiceStatus, State};
    use serde_json::json;

    #[test]
    fn names_are_upper_cased_and_sanitised() {
        assert_eq!(shell_name("db_port_5432").as_deref(), Some("DB_PORT_5432"));
        assert_eq!(shell_name("my-api.url").as_deref(), Some("MY_API_URL"));
        assert_eq!(shell_name("1st").as_deref(), Some("_1ST"));
        assert_eq!(shell_name("é").as_deref(), Some("_"));
        assert_eq!(shell_name(""), None);
    }

    #[test]
    fn context_values_and_live_ports() {
        let port = |container_port, protocol, host_port| Port {
            container_port,
            protocol,
            host: "127.0.0.1".into(),
            host_port,
            url: None,
        };
        let service = |name: &str, orphan, ports| ServiceStatus {
            name: name.into(),
            orphan,
            state: State::Running,
            exit_code: None,
            container: None,
            image: "img".into(),
            ports,
            health: None,
            uptime: None,
            outdated: None,
            ready: Some(true),
        };
        let status = Status {
            group: "g".into(),
            all_running: true,
            all_ready: true,
            services: vec![
                service("db", false, vec![port(5432, "tcp", 49153), port(53, "udp", 5353)]),
                service("old", true, vec![port(80, "tcp", 8080)]),
            ],
        };
        let values = json!({
            "db_port_5432": 1, "db_port_80": 2, "db_port_9_udp": 3, "db_port_x": "kept", "token": "a b", "a_b": "2", "a-b": "1", "n": 3, "ok": true, "list": [1, "x"], "none": null,
        });
        assert_eq!(
            variables(&status, values.as_object().unwrap()),
            [
                ("A_B", "2"),
                ("DB_PORT_53_UDP", "5353"),
                ("DB_PORT_5432", "49153"),
                ("DB_PORT_X", "kept"),
                ("LIST", "[1,\"x\"]"),
                ("N", "3"),
                ("NONE", "null"),
                ("OK", "true"),
                ("TOKEN", "a b"),
            ]
            .map(|(name, value)| (name.to_string(), value.to_string()))
        );
    }
}
