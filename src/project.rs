//! A loaded services script: the group, its services and the hooks to call. Produced by the
//! script layer; consumed by the commands.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::hook::HookRunner;
use crate::service::Service;

pub(crate) struct Project {
    pub group: String,
    /// The script's directory, absolute: relative paths and the context file live here.
    pub directory: PathBuf,
    /// The script's file name (`services.rhai`), which names its context file.
    pub script_name: String,
    /// Where the context is kept: see [`crate::context::file_name`].
    pub context_file: PathBuf,
    pub services: IndexMap<String, Service>,
    pub hooks: Arc<dyn HookRunner>,
    /// What loading found worth a warning (a compose file's ignored keys), delivered to the
    /// first receiver of the group's events.
    pub warnings: Vec<crate::event::Event>,
}

impl Project {
    pub(crate) fn context_path(&self) -> PathBuf {
        self.context_file.clone()
    }

    /// The context keys that a service's `secrets` read: their values are secret too.
    pub(crate) fn context_secret_keys(&self) -> std::collections::BTreeSet<String> {
        self.services
            .values()
            .flat_map(|service| &service.secrets)
            .filter_map(|secret| match &secret.source {
                crate::service::SecretSource::Context(key) => Some(key.clone()),
                _ => None,
            })
            .collect()
    }
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("group", &self.group)
            .field("directory", &self.directory)
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
