//! Which script owns a group. Every container, network and volume boss creates records the directory
//! of the script it came from, so two scripts that claim the same group name are told so
//! instead of silently sharing (or stopping) each other's containers.

use crate::backend::{Backend, label};
use crate::error::{Action, Error};
use crate::ownership;

/// Fails if anything of `group` on the engine was created by a script in another directory
/// that still exists.
pub(crate) async fn check<B: Backend>(backend: &B, group: &str, project_dir: &str) -> Result<(), Error> {
    let labels = ownership::group_labels(group);
    let containers = backend
        .containers_labelled(&labels)
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupContainers { group: group.to_string() }, error })?;
    let networks = backend
        .networks_labelled(&labels)
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupNetworks { group: group.to_string() }, error })?;
    // Volumes outlive `stop --remove`; another directory's script must not mount their data.
    let volumes = backend
        .volumes_labelled(&labels)
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupVolumes { group: group.to_string() }, error })?;
    // A directory that no longer exists (deleted or moved) cannot stop its group any more;
    // its containers are still boss's own, so the group may be taken over.
    let foreign = |labels: &&crate::backend::Labels| made_elsewhere(labels, project_dir);
    let running =
        containers.iter().map(|container| &container.labels).chain(networks.iter().map(|network| &network.labels));
    let (directory, only_volumes) = match running.clone().find(foreign) {
        Some(labels) => (labels.get(label::PROJECT_DIR), false),
        None => match volumes.iter().map(|volume| &volume.labels).find(foreign) {
            Some(labels) => (labels.get(label::PROJECT_DIR), true),
            None => return Ok(()),
        },
    };
    Err(Error::GroupClaimed {
        group: group.to_string(),
        directory: directory.cloned().unwrap_or_default(),
        only_volumes,
    })
}

/// Whether `labels` say that a script in another directory, which still exists, made it.
pub(crate) fn made_elsewhere(labels: &crate::backend::Labels, project_dir: &str) -> bool {
    labels
        .get(label::PROJECT_DIR)
        .is_some_and(|directory| directory.as_str() != project_dir && std::path::Path::new(directory.as_str()).is_dir())
}
