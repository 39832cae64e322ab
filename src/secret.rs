//! Secrets on the host: reading a secret's value from its source, the files boss writes for
//! values that are not files already (`env`, `context`), their hashes for the recorded
//! definition, and the variables of `--env-file`.
//!
//! A value from a variable or the context is written to
//! `<script dir>/.boss/secrets/<group>/<service>/<name>`: every directory from `.boss/secrets`
//! down is owner-only (0700), which is what keeps other users of the machine out; the file is
//! 0444 inside them, so the container's user, whatever its uid, can read it through the
//! read-only bind mount at `/run/secrets/<name>` (docker compose's default mode for secrets).
//! `.boss` never enters a build context ([`crate::build_context`]).

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, UsageError};
use crate::service::{SecretSource, Service};

/// A secret's value, never shown: its `Debug` is `***`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretText(pub Vec<u8>);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// What masks a secret wherever boss would show its value.
pub(crate) const MASK: &str = "***";

/// The variables of `--env-file`, seen by `env_var()` and `env` secrets when boss's own
/// environment lacks them (as compose's shell environment beats its `.env`).
static ENV_FILE: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Makes `variables` (from `--env-file`) visible to [`host_variable`].
pub(crate) fn set_env_file(variables: Vec<(String, String)>) {
    *ENV_FILE.write().unwrap_or_else(std::sync::PoisonError::into_inner) = variables;
}

/// Reads `--env-file PATH`.
pub(crate) fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, Error> {
    use crate::error::EnvFileProblem;
    let bad = |problem| Error::Usage(UsageError::BadEnvFile { path: path.to_path_buf(), problem });
    let text = std::fs::read_to_string(path).map_err(|error| bad(EnvFileProblem::Unreadable(error.to_string())))?;
    crate::dotenv::parse(&text).map_err(|problem| bad(EnvFileProblem::Syntax(problem)))
}

/// A variable of boss's environment, else of `--env-file`.
pub(crate) fn host_variable(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        ENV_FILE
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.clone())
    })
}

/// Where boss keeps the secret files of `group`.
pub(crate) fn group_directory(project_dir: &Path, group: &str) -> PathBuf {
    project_dir.join(".boss").join("secrets").join(group)
}

/// Where boss writes the value of `service`'s secret `name`.
pub(crate) fn file_for(project_dir: &Path, group: &str, service: &str, name: &str) -> PathBuf {
    group_directory(project_dir, group).join(service).join(name)
}

/// A value to write before the container is created or started again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretFile {
    pub path: PathBuf,
    pub value: SecretText,
}

/// The hash of a secret's value recorded in the container's definition: SHA-256 over the
/// group, service, name and value, so equal values of two secrets hash apart, cut to 16
/// hex digits. It tells a change; it does not hide a guessable value from someone who can read
/// the container's labels, so keep secrets long and random.
pub(crate) fn hash(group: &str, service: &str, name: &str, value: &[u8]) -> String {
    let mut digest = Sha256::new();
    for part in [group.as_bytes(), service.as_bytes(), name.as_bytes(), value] {
        digest.update((part.len() as u64).to_le_bytes());
        digest.update(part);
    }
    digest.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

/// The value of a context key as the file holds it: a string as it is, anything else as JSON.
pub(crate) fn context_text(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// Reads the value of `source`; `None` when it has none now (a variable not set, a context
/// key missing, a file that cannot be read).
pub(crate) fn value(source: &SecretSource, values: &Map<String, Value>) -> Option<SecretText> {
    match source {
        SecretSource::File(path) => std::fs::read(path).ok().map(SecretText),
        SecretSource::Env(variable) => host_variable(variable).map(|value| SecretText(value.into_bytes())),
        SecretSource::Context(key) => values.get(key).map(|value| SecretText(context_text(value))),
    }
}

/// Refuses, before the engine is touched, a secret of `services` read from a variable that is
/// not set or a file that cannot be read. Context secrets are the planner's (a `post_start`
/// may set them).
pub(crate) fn check_sources<'a>(services: impl IntoIterator<Item = &'a Service>) -> Result<(), Error> {
    for service in services {
        for secret in &service.secrets {
            match &secret.source {
                SecretSource::Env(variable) if host_variable(variable).is_none() => {
                    return Err(Error::Usage(UsageError::SecretVariableUnset {
                        service: service.name.clone(),
                        secret: secret.name.clone(),
                        variable: variable.clone(),
                    }));
                }
                SecretSource::File(path) => {
                    if let Err(error) = std::fs::File::open(path) {
                        return Err(Error::Usage(UsageError::SecretFileUnreadable {
                            service: service.name.clone(),
                            secret: secret.name.clone(),
                            path: path.clone(),
                            error: error.to_string(),
                        }));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Writes `files`, creating their owner-only directories; each file is replaced by a rename,
/// so a container never reads half a value.
pub(crate) fn write(files: &[SecretFile], project_dir: &Path) -> std::io::Result<()> {
    let root = project_dir.join(".boss");
    for file in files {
        let Some(directory) = file.path.parent() else { continue };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(directory)?;
        // `recursive` leaves existing directories as they are: tighten every one below `.boss`.
        let mut current = Some(directory);
        while let Some(path) = current.filter(|path| path.starts_with(&root)) {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
            current = path.parent();
        }
        let mut temporary = tempfile::Builder::new().prefix(".secret.").tempfile_in(directory)?;
        temporary.write_all(&file.value.0)?;
        temporary.as_file().set_permissions(std::fs::Permissions::from_mode(0o444))?;
        temporary.persist(&file.path).map_err(|error| error.error)?;
    }
    Ok(())
}

/// Values shorter than this are not masked in hooks' words: masking every `1` or `on` would
/// garble the output and hide nothing.
const SHORTEST_MASKED: usize = 4;

/// Passes events on to `inner`, with every secret value in a hook's `log(...)` line or a hook's
/// error replaced by `***`. Secret values are those of `fixed` (the `env` and `file` secrets)
/// and of the context keys marked secret or in `context_keys`, looked up as each event
/// arrives, so a value a hook set a moment ago counts.
pub(crate) fn masking_sink(
    inner: crate::event::EventSink,
    context: crate::context::Context,
    context_keys: std::collections::BTreeSet<String>,
    fixed: Vec<String>,
) -> crate::event::EventSink {
    use crate::error::{HookProblem, ServiceFailure};
    use crate::event::{Event, ServiceChange};
    crate::event::EventSink::new(move |event| {
        let mask = |text: &str| {
            let mut keys = context.secret_keys();
            keys.extend(context_keys.iter().cloned());
            let mut values: Vec<String> = keys
                .iter()
                .filter_map(|key| context.get(key))
                .map(|value| String::from_utf8_lossy(&context_text(&value)).into_owned())
                .chain(fixed.iter().cloned())
                .filter(|value| value.len() >= SHORTEST_MASKED)
                .collect();
            // Longest first, so a value that contains another is masked whole.
            values.sort_by_key(|value| std::cmp::Reverse(value.len()));
            values.iter().fold(text.to_string(), |text, value| text.replace(value.as_str(), MASK))
        };
        let masked = match event {
            Event::Service { service, change: ServiceChange::Log { message } } => {
                Event::Service { service: service.clone(), change: ServiceChange::Log { message: mask(message) } }
            }
            Event::Service {
                service,
                change:
                    ServiceChange::Failed {
                        failure: ServiceFailure::Hook { hook, problem: HookProblem::Script { message }, span },
                    },
            } => Event::Service {
                service: service.clone(),
                change: ServiceChange::Failed {
                    failure: ServiceFailure::Hook {
                        hook: *hook,
                        problem: HookProblem::Script { message: mask(message) },
                        span: span.clone(),
                    },
                },
            },
            other => return inner.deliver(other),
        };
        inner.deliver(&masked);
    })
}

/// The values of the `env` and `file` secrets of `services` that can be read now.
pub(crate) fn fixed_values<'a>(services: impl IntoIterator<Item = &'a Service>) -> Vec<String> {
    let empty = Map::new();
    services
        .into_iter()
        .flat_map(|service| &service.secrets)
        .filter(|secret| !matches!(secret.source, SecretSource::Context(_)))
        .filter_map(|secret| value(&secret.source, &empty))
        .map(|text| String::from_utf8_lossy(&text.0).into_owned())
        .collect()
}

/// Removes the secret files of `group` (`stop --remove`); a missing directory is no error.
pub(crate) fn remove(project_dir: &Path, group: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(group_directory(project_dir, group)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_values_and_places_apart_and_hide_the_value() {
        let one = hash("g", "db", "password", b"hunter2");
        assert_eq!(one, hash("g", "db", "password", b"hunter2"));
        assert_ne!(one, hash("g", "db", "password", b"hunter3"));
        assert_ne!(one, hash("g", "api", "password", b"hunter2"));
        assert_ne!(hash("g", "ab", "c", b"v"), hash("g", "a", "bc", b"v"), "parts cannot run into each other");
        assert!(!one.contains("hunter2"));
        assert_eq!(format!("{:?}", SecretText(b"hunter2".to_vec())), "***");
    }

    #[test]
    fn files_are_readable_only_through_owner_only_directories() {
        let directory = tempfile::tempdir().unwrap();
        let path = file_for(directory.path(), "g", "db", "password");
        let file = SecretFile { path: path.clone(), value: SecretText(b"first".to_vec()) };
        write(std::slice::from_ref(&file), directory.path()).unwrap();
        write(&[SecretFile { value: SecretText(b"second".to_vec()), ..file }], directory.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o444);
        for parent in [".boss", ".boss/secrets", ".boss/secrets/g", ".boss/secrets/g/db"] {
            assert_eq!(mode(&directory.path().join(parent)), 0o700, "{parent}");
        }
        remove(directory.path(), "g").unwrap();
        assert!(!path.exists());
        remove(directory.path(), "g").unwrap();
    }
}
