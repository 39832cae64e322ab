//! `boss gc`: what dead runs and builds left on the engine, found by boss's labels only.
//! [`decide`] is pure: from one look at the engine ([`Snapshot`]) it says what goes and what
//! stays; [`look`] and [`remove`] are the engine calls around it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::backend::{Backend, BackendError, ContainerInfo, ImageInfo, Labels, NetworkInfo, VolumeInfo, label};
use crate::error::{Action, Error};

/// What `boss gc` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Only this group's resources (all of boss's groups when `None`).
    pub group: Option<String>,
    /// How many of each service's newest `boss-<time>` build tags stay.
    pub keep_builds: usize,
    /// Also delete the volumes (and their data) of groups whose directory is gone.
    pub volumes: bool,
}

/// One look at the engine, everything [`decide`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Every container on the engine, boss's or not: any of them may use an image or volume.
    pub containers: Vec<ContainerInfo>,
    pub networks: Vec<NetworkInfo>,
    pub volumes: Vec<VolumeInfo>,
    pub images: Vec<ImageInfo>,
}

/// What a found thing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Container,
    Network,
    Volume,
    /// A `boss-<time>` tag of a build.
    BuildTag,
    /// The image that marks what a failed build left (see "Images" in the README).
    FailedBuild,
}

/// Why it is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// Its group's script directory no longer exists.
    DirectoryGone,
    /// Older than the newest [`Options::keep_builds`] builds of its service.
    OldBuild,
    /// Left by a build that failed or was interrupted.
    FailedBuild,
}

/// What gc does (or did) with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fate {
    WouldRemove,
    Removed,
    /// The engine refused; the error was reported.
    Failed,
    /// A volume kept because it holds data and `--volumes` was not given.
    KeptData,
    /// A volume kept because a container that stays mounts it.
    KeptInUse,
}

/// Something of boss's that gc found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Found {
    pub kind: Kind,
    /// A container's, network's or volume's name, an image's tag (or id when untagged).
    pub name: String,
    /// What the engine removes it by.
    #[serde(skip)]
    pub reference: String,
    pub group: String,
    pub service: Option<String>,
    pub reason: Reason,
    /// The script directory that is gone, for [`Reason::DirectoryGone`].
    pub directory: Option<String>,
    pub fate: Fate,
}

/// What `boss gc` found and did, as its table and JSON show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    pub dry_run: bool,
    pub keep_builds: usize,
    pub found: Vec<Found>,
}

/// One `boss-<time>` tag of a built image.
struct BuildTag<'a> {
    stamp: &'a str,
    tag: &'a str,
    image: &'a ImageInfo,
}

/// The group boss labelled `labels` with, if `options` asks about it.
fn selected<'a>(labels: &'a Labels, options: &Options) -> Option<&'a str> {
    let group = labels.get(label::GROUP)?;
    options.group.as_ref().is_none_or(|wanted| wanted == group).then_some(group.as_str())
}

/// Whether boss created `container`: a container made by anyone from an image boss built
/// inherits the image's labels, but never `boss.config-hash`.
fn created_by_boss(container: &ContainerInfo) -> bool {
    container.labels.contains_key(label::CONFIG_HASH)
}

/// Decides what gc removes, in the order it is removed: containers, networks and volumes of
/// dead groups, then old build tags, then failed builds. A group is dead when everything of it
/// records a script directory (`boss.project-dir`) and none of those exists; anything without
/// the record keeps its group alive. An image or volume that a staying container uses stays.
pub(crate) fn decide(snapshot: &Snapshot, options: &Options, directory_exists: &dyn Fn(&str) -> bool) -> Vec<Found> {
    let all_labels = snapshot
        .containers
        .iter()
        .filter(|container| created_by_boss(container))
        .map(|container| &container.labels)
        .chain(snapshot.networks.iter().map(|network| &network.labels))
        .chain(snapshot.volumes.iter().map(|volume| &volume.labels))
        .chain(snapshot.images.iter().map(|image| &image.labels));
    let mut alive: BTreeMap<&str, bool> = BTreeMap::new();
    for labels in all_labels {
        let Some(group) = selected(labels, options) else { continue };
        let lives = labels.get(label::PROJECT_DIR).is_none_or(|directory| directory_exists(directory));
        *alive.entry(group).or_insert(false) |= lives;
    }
    let dead = |labels: &Labels| selected(labels, options).is_some_and(|group| alive.get(group) == Some(&false));
    let found = |kind, name: &str, reference: &str, labels: &Labels, reason, fate| Found {
        kind,
        name: name.to_string(),
        reference: reference.to_string(),
        group: labels.get(label::GROUP).cloned().unwrap_or_default(),
        service: labels.get(label::SERVICE).cloned(),
        reason,
        directory: (reason == Reason::DirectoryGone).then(|| labels.get(label::PROJECT_DIR).cloned()).flatten(),
        fate,
    };

    let mut decided = Vec::new();
    // A container made from a boss-built image inherits the image's `boss.*` labels; only
    // those boss created carry `boss.config-hash`.
    let (removed, staying): (Vec<&ContainerInfo>, Vec<&ContainerInfo>) =
        snapshot.containers.iter().partition(|container| created_by_boss(container) && dead(&container.labels));
    for container in removed {
        let fate = Fate::WouldRemove;
        decided.push(found(
            Kind::Container,
            &container.name,
            &container.id,
            &container.labels,
            Reason::DirectoryGone,
            fate,
        ));
    }
    for network in snapshot.networks.iter().filter(|network| dead(&network.labels)) {
        let fate = Fate::WouldRemove;
        decided.push(found(Kind::Network, &network.name, &network.id, &network.labels, Reason::DirectoryGone, fate));
    }
    let mounted: BTreeSet<&str> =
        staying.iter().flat_map(|container| &container.volumes).map(|mount| mount.volume.as_str()).collect();
    for volume in snapshot.volumes.iter().filter(|volume| dead(&volume.labels)) {
        let fate = if mounted.contains(volume.name.as_str()) {
            Fate::KeptInUse
        } else if options.volumes {
            Fate::WouldRemove
        } else {
            Fate::KeptData
        };
        decided.push(found(Kind::Volume, &volume.name, &volume.name, &volume.labels, Reason::DirectoryGone, fate));
    }

    let used: BTreeSet<&str> = staying.iter().map(|container| container.listed.image_id.as_str()).collect();
    let is_marker =
        |image: &ImageInfo| image.labels.get(label::BUILD).is_some_and(|value| value == label::FAILED_BUILD);
    let (failed, built): (Vec<&ImageInfo>, Vec<&ImageInfo>) = snapshot
        .images
        .iter()
        .filter(|image| selected(&image.labels, options).is_some() && !used.contains(image.id.as_str()))
        .partition(|image| is_marker(image));
    // Each service's build tags, newest first (the stamp sorts as the time does); an image in
    // use counts among the newest but is never removed.
    let mut builds: BTreeMap<(&str, &str), Vec<BuildTag<'_>>> = BTreeMap::new();
    for image in snapshot.images.iter().filter(|image| !is_marker(image)) {
        let (Some(group), Some(service)) = (selected(&image.labels, options), image.labels.get(label::SERVICE)) else {
            continue;
        };
        for tag in &image.tags {
            if let Some(stamp) = crate::image::build_stamp(tag) {
                builds.entry((group, service)).or_default().push(BuildTag { stamp, tag, image });
            }
        }
    }
    let removable: BTreeSet<&str> = built.iter().map(|image| image.id.as_str()).collect();
    for tags in builds.values_mut() {
        tags.sort_by(|a, b| b.stamp.cmp(a.stamp).then(b.tag.cmp(a.tag)));
        for BuildTag { tag, image, .. } in tags.iter().skip(options.keep_builds) {
            if removable.contains(image.id.as_str()) {
                decided.push(found(Kind::BuildTag, tag, tag, &image.labels, Reason::OldBuild, Fate::WouldRemove));
            }
        }
    }
    for image in failed {
        let references = if image.tags.is_empty() { std::slice::from_ref(&image.id) } else { &image.tags[..] };
        for reference in references {
            let fate = Fate::WouldRemove;
            decided.push(found(Kind::FailedBuild, reference, reference, &image.labels, Reason::FailedBuild, fate));
        }
    }
    decided
}

/// `boss gc`: refuses a bad `--group` before the engine is touched, looks, decides, and
/// (unless `dry_run`) removes. Returns the report and the removals that failed.
pub(crate) async fn run(options: &Options, dry_run: bool) -> Result<(Report, Vec<Error>), Error> {
    if let Some(group) = &options.group
        && !crate::script::is_valid_name(group)
    {
        return Err(Error::BadGroupName { name: group.clone() });
    }
    // Removing a running container of a dead group kills it; no stop grace is waited for.
    let backend = crate::group::connect(std::time::Duration::ZERO).await?;
    let snapshot = look(&backend, options.group.as_deref()).await?;
    let mut found = decide(&snapshot, options, &|directory| std::path::Path::new(directory).is_dir());
    let failures = if dry_run { Vec::new() } else { remove(&backend, &mut found).await };
    Ok((Report { dry_run, keep_builds: options.keep_builds, found }, failures))
}

/// Looks at the engine: every container, and the networks, volumes and images of boss's groups
/// (of `group` only, when given).
pub(crate) async fn look<B: Backend>(backend: &B, group: Option<&str>) -> Result<Snapshot, Error> {
    let labels = group.map(crate::ownership::group_labels).unwrap_or_default();
    let failed = |action: Action| move |error| Error::Backend { action, error };
    Ok(Snapshot {
        containers: backend.containers_labelled(&Labels::new()).await.map_err(failed(Action::ListContainers))?,
        networks: backend.networks_labelled(&labels).await.map_err(failed(Action::ListNetworks))?,
        volumes: backend.volumes_labelled(&labels).await.map_err(failed(Action::ListVolumes))?,
        images: backend.images_labelled(&labels).await.map_err(failed(Action::ListImages))?,
    })
}

/// Removes what [`decide`] marked [`Fate::WouldRemove`], in order, going on after a failure.
/// Each becomes [`Fate::Removed`] or [`Fate::Failed`]; the failures are returned as errors.
pub(crate) async fn remove<B: Backend>(backend: &B, found: &mut [Found]) -> Vec<Error> {
    let mut failures = Vec::new();
    for item in found.iter_mut().filter(|item| item.fate == Fate::WouldRemove) {
        let (result, action): (Result<(), BackendError>, Action) = match item.kind {
            Kind::Container => (
                backend.remove_container(&item.reference).await,
                Action::RemoveContainer { container: item.name.clone() },
            ),
            Kind::Network => {
                (backend.remove_network(&item.reference).await, Action::RemoveNetwork { name: item.name.clone() })
            }
            Kind::Volume => {
                (backend.remove_volume(&item.reference).await, Action::RemoveVolume { volume: item.name.clone() })
            }
            Kind::BuildTag | Kind::FailedBuild => {
                (backend.remove_image(&item.reference).await, Action::RemoveImage { image: item.name.clone() })
            }
        };
        match result {
            Ok(()) => item.fate = Fate::Removed,
            Err(error) => {
                item.fate = Fate::Failed;
                failures.push(Error::Backend { action, error });
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Listed, VolumeMount};

    const GONE: &str = "/gone";
    const HERE: &str = "/here";

    fn labels(group: &str, service: Option<&str>, directory: Option<&str>) -> Labels {
        let mut labels = Labels::from([(label::GROUP.to_string(), group.to_string())]);
        if let Some(service) = service {
            labels.insert(label::SERVICE.to_string(), service.to_string());
        }
        if let Some(directory) = directory {
            labels.insert(label::PROJECT_DIR.to_string(), directory.to_string());
        }
        labels
    }

    /// A container boss created (it has `boss.config-hash`) when `labels` name a group.
    fn container(name: &str, mut labels: Labels, image_id: &str, volumes: &[&str]) -> ContainerInfo {
        if labels.contains_key(label::GROUP) {
            labels.insert(label::CONFIG_HASH.to_string(), "0123".to_string());
        }
        ContainerInfo {
            id: format!("id-{name}"),
            name: name.to_string(),
            state: crate::backend::ContainerState::Running,
            labels,
            volumes: volumes
                .iter()
                .map(|volume| VolumeMount { volume: volume.to_string(), path: "/d".into() })
                .collect(),
            listed: Listed { image_id: image_id.to_string(), ..Listed::default() },
        }
    }

    fn image(id: &str, tags: &[&str], labels: Labels) -> ImageInfo {
        ImageInfo { id: id.to_string(), tags: tags.iter().map(|tag| tag.to_string()).collect(), labels }
    }

    fn options() -> Options {
        Options { group: None, keep_builds: 2, volumes: false }
    }

    /// `kind name fate` per decided item.
    fn check(snapshot: &Snapshot, options: &Options, expected: &[&str]) {
        let decided = decide(snapshot, options, &|directory| directory == HERE);
        let lines: Vec<String> =
            decided.iter().map(|found| format!("{:?} {} {:?}", found.kind, found.name, found.fate)).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_group_whose_directory_is_gone_loses_containers_and_networks_and_keeps_volumes_unless_asked() {
        let snapshot = Snapshot {
            containers: vec![
                container("dead.db", labels("dead", Some("db"), Some(GONE)), "sha256:1", &["dead.db.v"]),
                container("live.db", labels("live", Some("db"), Some(HERE)), "sha256:1", &["live.db.v"]),
                // Foreign: no boss label, even with a boss-like name.
                container("dead.web", Labels::new(), "sha256:1", &["shared"]),
                // Made by someone else from a dead group's image: it inherited the labels.
                ContainerInfo {
                    labels: labels("dead", Some("db"), Some(GONE)),
                    ..container("mine", Labels::new(), "sha256:1", &[])
                },
                // Without a recorded directory, a group counts as alive.
                container("old.db", labels("old", Some("db"), None), "sha256:1", &[]),
            ],
            networks: vec![
                NetworkInfo { id: "n1".into(), name: "boss-dead".into(), labels: labels("dead", None, Some(GONE)) },
                NetworkInfo { id: "n2".into(), name: "boss-live".into(), labels: labels("live", None, Some(HERE)) },
            ],
            volumes: vec![
                VolumeInfo { name: "dead.db.v".into(), labels: labels("dead", Some("db"), Some(GONE)) },
                VolumeInfo { name: "shared".into(), labels: labels("dead", Some("db"), Some(GONE)) },
                VolumeInfo { name: "live.db.v".into(), labels: labels("live", Some("db"), Some(HERE)) },
            ],
            images: Vec::new(),
        };
        check(
            &snapshot,
            &options(),
            &[
                "Container dead.db WouldRemove",
                "Network boss-dead WouldRemove",
                "Volume dead.db.v KeptData",
                "Volume shared KeptInUse",
            ],
        );
        let with_volumes = Options { volumes: true, ..options() };
        check(
            &snapshot,
            &with_volumes,
            &[
                "Container dead.db WouldRemove",
                "Network boss-dead WouldRemove",
                "Volume dead.db.v WouldRemove",
                "Volume shared KeptInUse",
            ],
        );
        let other_group = Options { group: Some("live".into()), ..options() };
        check(&snapshot, &other_group, &[]);
        let decided = decide(&snapshot, &options(), &|directory| directory == HERE);
        assert_eq!(decided[0].directory.as_deref(), Some(GONE));
        assert_eq!(decided[0].reference, "id-dead.db");
    }

    #[test]
    fn a_group_with_anything_in_an_existing_directory_is_alive() {
        // Taken over: the old directory's network serves the new directory's containers.
        let snapshot = Snapshot {
            containers: vec![container("g.db", labels("g", Some("db"), Some(HERE)), "sha256:1", &[])],
            networks: vec![NetworkInfo {
                id: "n".into(),
                name: "boss-g".into(),
                labels: labels("g", None, Some(GONE)),
            }],
            ..Snapshot::default()
        };
        check(&snapshot, &options(), &[]);
    }

    #[test]
    fn old_build_tags_go_beyond_the_newest_few_unless_a_container_uses_them() {
        let api = || labels("g", Some("api"), Some(HERE));
        let snapshot = Snapshot {
            containers: vec![container("g.api", api(), "sha256:1", &[])],
            images: vec![
                image("sha256:1", &["api:boss-20261130-100000"], api()),
                image("sha256:2", &["api:boss-20261130-110000"], api()),
                image("sha256:3", &["api:boss-20261130-120000", "api:old"], api()),
                image("sha256:4", &["api:latest", "api:boss-20261130-130000", "api:boss-20261130-125959"], api()),
                image("sha256:5", &["web:boss-20261130-090000"], labels("g", Some("web"), Some(HERE))),
                image("sha256:6", &["api:boss-20261130-080000"], Labels::new()),
            ],
            ..Snapshot::default()
        };
        check(
            &snapshot,
            &options(),
            &["BuildTag api:boss-20261130-120000 WouldRemove", "BuildTag api:boss-20261130-110000 WouldRemove"],
        );
        check(&snapshot, &Options { keep_builds: 3, ..options() }, &["BuildTag api:boss-20261130-110000 WouldRemove"]);
        check(&snapshot, &Options { keep_builds: 4, ..options() }, &[]);
    }

    #[test]
    fn failed_builds_go_by_tag_or_by_id() {
        let mut failed = labels("g", Some("api"), Some(HERE));
        failed.insert(label::BUILD.to_string(), label::FAILED_BUILD.to_string());
        let snapshot = Snapshot {
            containers: vec![container("x", Labels::new(), "sha256:in-use", &[])],
            images: vec![
                image("sha256:a", &["api:boss-failed-20261130-100000"], failed.clone()),
                image("sha256:b", &[], failed.clone()),
                image("sha256:in-use", &[], failed),
            ],
            ..Snapshot::default()
        };
        check(
            &snapshot,
            &options(),
            &["FailedBuild api:boss-failed-20261130-100000 WouldRemove", "FailedBuild sha256:b WouldRemove"],
        );
    }
}
