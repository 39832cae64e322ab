//! One look at what the engine holds for a group, shared by `plan` and `status`: the group's
//! containers from one list, split by service, and the id of each image asked once however
//! many services use it.

use indexmap::IndexMap;

use crate::backend::{Backend, ContainerInfo, label};
use crate::error::{Action, Error};
use crate::ownership;

/// Every container of `group`, from one list.
pub(crate) async fn group_containers<B: Backend>(backend: &B, group: &str) -> Result<Vec<ContainerInfo>, Error> {
    backend
        .containers_labelled(&ownership::group_labels(group))
        .await
        .map_err(|error| Error::Backend { action: Action::ListGroupContainers { group: group.to_string() }, error })
}

/// The containers by their `boss.service` label (`""` for none), each service's in list order.
pub(crate) fn by_service(containers: Vec<ContainerInfo>) -> IndexMap<String, Vec<ContainerInfo>> {
    let mut by_service: IndexMap<String, Vec<ContainerInfo>> = IndexMap::new();
    for container in containers {
        let service = container.labels.get(label::SERVICE).cloned().unwrap_or_default();
        by_service.entry(service).or_default().push(container);
    }
    by_service
}

/// The id of each of `images` (`None` when the engine has none), one lookup per image.
pub(crate) async fn image_ids<'a, B: Backend>(
    backend: &B,
    images: impl IntoIterator<Item = &'a str>,
) -> Result<IndexMap<String, Option<String>>, Error> {
    let mut ids = IndexMap::new();
    for image in images {
        if ids.contains_key(image) {
            continue;
        }
        let id = backend
            .image_id(image)
            .await
            .map_err(|error| Error::Backend { action: Action::LookUpImage { image: image.to_string() }, error })?;
        ids.insert(image.to_string(), id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeBackend;

    #[tokio::test]
    async fn a_shared_image_is_looked_up_once() {
        let backend = FakeBackend::default();
        let ids = image_ids(&backend, ["a:1", "b:1", "a:1"]).await.unwrap();
        assert_eq!(ids.keys().collect::<Vec<_>>(), ["a:1", "b:1"]);
    }
}
