//! How boss names and labels what it creates, and the hash that tells whether a container
//! still matches its service's definition. Pure; no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::{ContainerSpec, Labels, VolumeMount, label};
use crate::service::RestartPolicy;

/// `<group>.<service>`. Group and service names cannot hold a `.`, so no two pairs share a
/// name (with `-`, group `shop` + service `api-db` and group `shop-api` + service `db` did).
pub(crate) fn container_name(group: &str, service: &str) -> String {
    format!("{group}.{service}")
}

/// The volume boss keeps for an image's `VOLUME` at `path`: `<group>.<service>.<hash of path>`,
/// unambiguous for the same reason as [`container_name`].
pub(crate) fn volume_name(group: &str, service: &str, path: &str) -> String {
    format!("{}.{}", container_name(group, service), short_hash(path))
}

/// The volume a service's `"name:/path"` mounts: `<group>.<name>`, shared by the group's
/// services. Unambiguous like [`container_name`], and never a [`volume_name`] (which has two
/// dots after the group).
pub(crate) fn named_volume(group: &str, name: &str) -> String {
    format!("{group}.{name}")
}

/// Whether `volume` is one of `group`'s named volumes ([`named_volume`]).
pub(crate) fn is_named_volume(group: &str, volume: &str) -> bool {
    volume.strip_prefix(group).and_then(|rest| rest.strip_prefix('.')).is_some_and(|name| !name.contains('.'))
}

pub(crate) fn default_network_name(group: &str) -> String {
    format!("boss-{group}")
}

/// Where the volume for one of an image's `VOLUME` paths comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VolumeSource {
    /// The volume the replaced container had there: boss's own, or an anonymous one Docker
    /// made for a container of an older boss. Its data goes on with the new container, as
    /// docker compose carries anonymous volumes over on a recreate.
    Inherited(String),
    /// boss's own volume, [`volume_name`], found again or created.
    Own(String),
}

/// Which volume each of the image's `VOLUME` paths gets. A path that a bind in the service's
/// `volumes` covers gets none (Docker refuses two mounts at one path). Pure; the caller
/// checks and creates.
pub(crate) fn plan_volumes(
    group: &str,
    service: &str,
    image_paths: &[String],
    bound_paths: &[&str],
    inherited: &[VolumeMount],
) -> Vec<(String, VolumeSource)> {
    let clean = |path: &str| path.trim_end_matches('/').to_string();
    let bound: Vec<String> = bound_paths.iter().map(|path| clean(path)).collect();
    let mut planned: Vec<(String, VolumeSource)> = Vec::new();
    for path in image_paths.iter().map(|path| clean(path)) {
        if path.is_empty() || bound.contains(&path) || planned.iter().any(|(seen, _)| *seen == path) {
            continue;
        }
        let source = match inherited.iter().find(|mount| clean(&mount.path) == path) {
            Some(mount) => VolumeSource::Inherited(mount.volume.clone()),
            None => VolumeSource::Own(volume_name(group, service, &path)),
        };
        planned.push((path, source));
    }
    planned
}

/// Labels that select everything of a group.
pub(crate) fn group_labels(group: &str) -> Labels {
    Labels::from([(label::GROUP.to_string(), group.to_string())])
}

/// Labels that select the containers of one service.
pub(crate) fn service_labels(group: &str, service: &str) -> Labels {
    let mut labels = group_labels(group);
    labels.insert(label::SERVICE.to_string(), service.to_string());
    labels
}

/// Everything that defines a container, as stored in its `boss.definition` label. Env values
/// are kept as hashes: the label says which variable changed without copying its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Definition {
    pub image: String,
    /// The id of the image the container was created from; `None` when it was not present yet.
    pub image_id: Option<String>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub stop_signal: String,
    pub network: String,
    // The fields below were added later: absent in the labels of older containers, and left
    // out of the label when unset, so an unchanged service keeps its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// The user's labels (not boss's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<String>,
    /// Each secret's name and a hash of its value ([`crate::secret::hash`]); absent in the
    /// labels of older containers, which had none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

/// One way a container's recorded definition differs from its service's definition now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    ImageReplaced {
        from: String,
        to: String,
    },
    /// Same image reference, another image id: rebuilt or pulled again.
    ImageRebuilt {
        image: String,
    },
    EnvAdded(String),
    /// The value changed; which value is never said (it may be a password).
    EnvChanged(String),
    EnvRemoved(String),
    /// A secret was added, removed, or its value changed; which value is never said.
    SecretChanged(String),
    Field(DefinitionField),
    /// The container has no `boss.definition` label (or one boss cannot read).
    NoRecordedDefinition,
    /// The `build_from` directory no longer holds what the running container's image was
    /// built from (names, modes, link targets or contents; not mtimes).
    BuildContextChanged,
    /// `build_args` or `build_target` differ from those the running container's image was
    /// built with.
    BuildOptionsChanged,
}

/// A part of the definition that is compared as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionField {
    Ports,
    Volumes,
    Cmd,
    Entrypoint,
    User,
    StopSignal,
    Network,
    WorkingDir,
    ExtraHosts,
    Labels,
    Tmpfs,
    Restart,
    MemLimit,
    Cpus,
    Init,
    Healthcheck,
}

impl DefinitionField {
    /// The field as the script spells it.
    pub fn name(self) -> &'static str {
        match self {
            DefinitionField::Ports => "ports",
            DefinitionField::Volumes => "volumes",
            DefinitionField::Cmd => "cmd",
            DefinitionField::Entrypoint => "entrypoint",
            DefinitionField::User => "user",
            DefinitionField::StopSignal => "stop_signal",
            DefinitionField::Network => "network",
            DefinitionField::WorkingDir => "working_dir",
            DefinitionField::ExtraHosts => "extra_hosts",
            DefinitionField::Labels => "labels",
            DefinitionField::Tmpfs => "tmpfs",
            DefinitionField::Restart => "restart",
            DefinitionField::MemLimit => "mem_limit",
            DefinitionField::Cpus => "cpus",
            DefinitionField::Init => "init",
            DefinitionField::Healthcheck => "healthcheck",
        }
    }
}

/// Every way a container no longer matches its service, in a stable order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes(pub Vec<Change>);

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

impl Definition {
    pub(crate) fn of(spec: &ContainerSpec, image_id: Option<&str>) -> Definition {
        let env = spec
            .env
            .iter()
            .map(|line| {
                let (key, value) = line.split_once('=').unwrap_or((line, ""));
                (key.to_string(), short_hash(value))
            })
            .collect();
        let mut ports: Vec<String> = spec
            .ports
            .iter()
            .map(|port| format!("{}={}:{}", port.container_key(), port.host_ip, port.host_port))
            .collect();
        ports.sort();
        let mut volumes = spec.binds.clone();
        volumes.sort();
        Definition {
            image: spec.image.clone(),
            image_id: image_id.map(String::from),
            env,
            ports,
            volumes,
            cmd: spec.cmd.clone(),
            entrypoint: spec.entrypoint.clone(),
            user: spec.user.clone(),
            stop_signal: spec.stop_signal.as_str().to_string(),
            network: spec.network.clone(),
            working_dir: spec.working_dir.clone(),
            extra_hosts: spec.extra_hosts.clone(),
            labels: spec
                .labels
                .iter()
                .filter(|(key, _)| !key.starts_with("boss."))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            tmpfs: spec.tmpfs.iter().map(|mount| format!("{}:{}", mount.path, mount.options)).collect(),
            restart: (spec.restart != RestartPolicy::No).then(|| spec.restart.as_string()),
            mem_limit: spec.resources.memory,
            nano_cpus: spec.resources.nano_cpus,
            init: spec.init,
            healthcheck: spec.healthcheck.as_ref().map(|check| {
                let millis = |duration: Option<std::time::Duration>| duration.map(|duration| duration.as_millis());
                serde_json::json!({
                    "test": check.test,
                    "interval_ms": millis(check.interval),
                    "timeout_ms": millis(check.timeout),
                    "retries": check.retries,
                    "start_period_ms": millis(check.start_period),
                })
                .to_string()
            }),
            secrets: spec.secrets.iter().cloned().collect(),
        }
    }

    /// The label text.
    pub(crate) fn to_label(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_label(text: &str) -> Option<Definition> {
        serde_json::from_str(text).ok()
    }

    /// A short hash of the whole definition.
    pub(crate) fn hash(&self) -> String {
        short_hash(&self.to_label())
    }

    /// What differs from `old`: image first, then env, then the other fields.
    pub(crate) fn changes_from(&self, old: &Definition) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.image != old.image {
            changes.push(Change::ImageReplaced { from: old.image.clone(), to: self.image.clone() });
        } else if self.image_id != old.image_id {
            changes.push(Change::ImageRebuilt { image: self.image.clone() });
        }
        for (key, value) in &self.env {
            match old.env.get(key) {
                None => changes.push(Change::EnvAdded(key.clone())),
                Some(old_value) if old_value != value => changes.push(Change::EnvChanged(key.clone())),
                Some(_) => {}
            }
        }
        for key in old.env.keys().filter(|key| !self.env.contains_key(*key)) {
            changes.push(Change::EnvRemoved(key.clone()));
        }
        let names: std::collections::BTreeSet<&String> = self.secrets.keys().chain(old.secrets.keys()).collect();
        for name in names.into_iter().filter(|name| self.secrets.get(*name) != old.secrets.get(*name)) {
            changes.push(Change::SecretChanged(name.clone()));
        }
        let fields = [
            (DefinitionField::Ports, self.ports != old.ports),
            (DefinitionField::Volumes, self.volumes != old.volumes),
            (DefinitionField::Cmd, self.cmd != old.cmd),
            (DefinitionField::Entrypoint, self.entrypoint != old.entrypoint),
            (DefinitionField::User, self.user != old.user),
            (DefinitionField::StopSignal, self.stop_signal != old.stop_signal),
            (DefinitionField::Network, self.network != old.network),
            (DefinitionField::WorkingDir, self.working_dir != old.working_dir),
            (DefinitionField::ExtraHosts, self.extra_hosts != old.extra_hosts),
            (DefinitionField::Labels, self.labels != old.labels),
            (DefinitionField::Tmpfs, self.tmpfs != old.tmpfs),
            (DefinitionField::Restart, self.restart != old.restart),
            (DefinitionField::MemLimit, self.mem_limit != old.mem_limit),
            (DefinitionField::Cpus, self.nano_cpus != old.nano_cpus),
            (DefinitionField::Init, self.init != old.init),
            (DefinitionField::Healthcheck, self.healthcheck != old.healthcheck),
        ];
        changes.extend(fields.iter().filter(|(_, changed)| *changed).map(|(field, _)| Change::Field(*field)));
        changes
    }
}

/// Why a container with the label text `old` does not match `new` (`None` when it does).
pub(crate) fn mismatch(new: &Definition, old: Option<&str>) -> Option<Changes> {
    let Some(old) = old.and_then(Definition::from_label) else {
        return Some(Changes(vec![Change::NoRecordedDefinition]));
    };
    let changes = new.changes_from(&old);
    if changes.is_empty() { None } else { Some(Changes(changes)) }
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
            volumes: Vec::new(),
            stop_signal: crate::service::StopSignal::Term,
            entrypoint: None,
            cmd: None,
            user: None,
            labels: Labels::new(),
            network: "boss-g".into(),
            alias: "web".into(),
            working_dir: None,
            extra_hosts: Vec::new(),
            tmpfs: Vec::new(),
            restart: RestartPolicy::No,
            resources: crate::service::Resources::default(),
            init: false,
            healthcheck: None,
            secrets: Vec::new(),
            secret_files: Vec::new(),
        }
    }

    #[test]
    fn hash_ignores_env_order_but_not_values() {
        let hash = |env: &[&str], id| Definition::of(&spec(env), id).hash();
        assert_eq!(hash(&["A=1", "B=2"], None), hash(&["B=2", "A=1"], None));
        assert_ne!(hash(&["A=1"], None), hash(&["A=2"], None));
        assert_ne!(hash(&["A=1"], Some("sha256:1")), hash(&["A=1"], Some("sha256:2")));
        assert_eq!(hash(&[], None).len(), 16);
    }

    #[test]
    fn image_volumes_are_inherited_bound_or_boss_volumes() {
        let paths = ["/data".to_string(), "/logs/".to_string(), "/bound".to_string(), "/data/".to_string()];
        let inherited = [VolumeMount { volume: "0123anon".into(), path: "/logs".into() }];
        assert_eq!(
            plan_volumes("g", "db", &paths, &["/bound/"], &inherited),
            [
                ("/data".to_string(), VolumeSource::Own(volume_name("g", "db", "/data"))),
                ("/logs".to_string(), VolumeSource::Inherited("0123anon".into())),
            ]
        );
        assert_ne!(volume_name("g", "db", "/data"), volume_name("g", "db", "/logs"));
        assert!(volume_name("shop", "api-db", "/d") != volume_name("shop-api", "db", "/d"));
    }

    #[test]
    fn changes_are_named() {
        let old = Definition::of(&spec(&["DB_URL=a", "GONE=1", "SAME=x"]), Some("sha256:1"));
        let mut new_spec = spec(&["DB_URL=b", "NEW=1", "SAME=x"]);
        new_spec.cmd = Some(vec!["run".into()]);
        let new = Definition::of(&new_spec, Some("sha256:2"));
        assert_eq!(
            mismatch(&new, Some(&old.to_label())).unwrap().0,
            [
                Change::ImageRebuilt { image: "img:1".into() },
                Change::EnvChanged("DB_URL".into()),
                Change::EnvAdded("NEW".into()),
                Change::EnvRemoved("GONE".into()),
                Change::Field(DefinitionField::Cmd),
            ]
        );
        assert_eq!(mismatch(&old, Some(&old.to_label())), None);
        assert!(!old.to_label().contains("DB_URL\":\"a"), "env values are not copied into labels");
        assert_eq!(mismatch(&old, None).unwrap().0, [Change::NoRecordedDefinition]);
    }

    #[test]
    fn every_container_field_is_part_of_the_definition() {
        let old = Definition::of(&spec(&[]), None);
        let mut new_spec = spec(&[]);
        new_spec.working_dir = Some("/app".into());
        new_spec.extra_hosts = vec!["db.local:10.0.0.5".into()];
        new_spec.labels.insert("team".into(), "core".into());
        new_spec.labels.insert(label::GROUP.into(), "g".into());
        new_spec.tmpfs = vec![crate::service::Tmpfs { path: "/tmp".into(), options: String::new() }];
        new_spec.restart = RestartPolicy::OnFailure { max_retries: Some(3) };
        new_spec.resources = crate::service::Resources { memory: Some(1 << 30), nano_cpus: Some(500_000_000) };
        new_spec.init = true;
        new_spec.healthcheck =
            Some(crate::service::Healthcheck { test: vec!["NONE".into()], ..crate::service::Healthcheck::empty() });
        let new = Definition::of(&new_spec, None);
        let named: Vec<&str> = mismatch(&new, Some(&old.to_label()))
            .unwrap()
            .0
            .iter()
            .map(|change| match change {
                Change::Field(field) => field.name(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            named,
            ["working_dir", "extra_hosts", "labels", "tmpfs", "restart", "mem_limit", "cpus", "init", "healthcheck"]
        );
        assert_eq!(new.labels.keys().collect::<Vec<_>>(), ["team"], "boss's own labels are not the user's");
        // A definition recorded before these fields existed reads back equal when they are unset.
        assert!(!old.to_label().contains("working_dir"), "{}", old.to_label());
        assert_eq!(mismatch(&old, Some(&old.to_label())), None);
    }

    #[test]
    fn named_volumes_are_told_apart_from_image_volumes() {
        assert_eq!(named_volume("shop", "data"), "shop.data");
        assert!(is_named_volume("shop", &named_volume("shop", "data")));
        assert!(!is_named_volume("shop", &volume_name("shop", "db", "/data")));
        assert!(!is_named_volume("shop", "shop-api.data"));
        assert!(!is_named_volume("shop-api", "shop.data"));
    }
}
