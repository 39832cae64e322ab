//! The context: one JSON object shared by every hook of a run, persisted in `.boss-context`
//! next to the script. Loading, atomic saving and thread-safe access live here; how Rhai
//! values map onto JSON is the script layer's business.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::error::{ContextFileProblem, Error};

/// The name of the context file of `services.rhai`, next to it. Every file boss writes for a
/// context starts with this, so build contexts can leave them all out.
pub const FILE_NAME: &str = ".boss-context";

/// The context file of the script named `script_name`: `.boss-context` for `services.rhai`,
/// `.boss-context.<stem>` for any other, so two scripts in one directory never share one.
pub fn file_name(script_name: &str) -> String {
    match script_name.strip_suffix(".rhai").unwrap_or(script_name) {
        "services" => FILE_NAME.to_string(),
        stem => format!("{FILE_NAME}.{stem}"),
    }
}

/// The context file could not be written.
#[derive(Debug, Clone)]
pub struct SaveFailure {
    pub path: PathBuf,
    pub reason: String,
}

impl From<SaveFailure> for Error {
    fn from(failure: SaveFailure) -> Error {
        Error::ContextSave { path: failure.path, reason: failure.reason }
    }
}

/// The context file of the script `script_name` run under the group name `group` given by the
/// library ([`crate::Group::name`]): `.boss-context.<stem>.<group>`, so two runs of one script
/// under two names never share values.
pub fn file_name_for_group(script_name: &str, group: &str) -> String {
    let stem = script_name.strip_suffix(".rhai").unwrap_or(script_name);
    format!("{FILE_NAME}.{stem}.{group}")
}

/// The key under which the context file keeps boss's own record of which containers became
/// ready. It is not a context value: hooks, `boss env` and [`Context::snapshot`] never see it.
pub(crate) const STARTED_KEY: &str = "boss:started";

/// The key under which the context file keeps the keys whose values are secret (set with
/// `ctx.secret(...)`): `boss env` and boss's output mask them. Not a context value either.
pub(crate) const SECRET_KEYS_KEY: &str = "boss:secret_keys";

/// How far boss got with a container, as recorded in the context file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Progress {
    /// Its readiness check passed (and `post_start` ran) since boss last started it.
    Ready,
    /// Its `post_start` ran when it was created, and boss has started it again since; its
    /// readiness check has not passed yet.
    Restarted,
}

/// What the context file records of one service's container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StartRecord {
    pub container: String,
    pub progress: Progress,
}

/// A handle on the shared context; clones see the same values.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: Arc<Mutex<Map<String, Value>>>,
    /// Per service, how far boss got with its container: saved with the values, in one file
    /// written at once, so a value `post_start` set and the record that it ran never disagree.
    started: Arc<Mutex<std::collections::BTreeMap<String, StartRecord>>>,
    /// The keys whose values are secret: masked wherever boss shows values.
    secret_keys: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// The file the context was loaded from, where [`Context::persist`] writes it.
    file: Option<Arc<ContextFile>>,
}

#[derive(Debug)]
struct ContextFile {
    path: PathBuf,
    /// Held while a snapshot is taken and written, so a slower, older write never replaces a
    /// newer one.
    writing: Mutex<()>,
}

impl Context {
    pub fn from_map(values: Map<String, Value>) -> Context {
        Context {
            values: Arc::new(Mutex::new(values)),
            started: Arc::default(),
            secret_keys: Arc::default(),
            file: None,
        }
    }

    /// Marks `key`'s value secret: `boss env` and boss's output show it as `***`.
    pub fn mark_secret(&self, key: &str) {
        self.secret_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.to_string());
    }

    /// The keys marked secret.
    pub fn secret_keys(&self) -> std::collections::BTreeSet<String> {
        self.secret_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Every value, the secret ones (marked, or in `also`) replaced by `***`.
    pub(crate) fn masked_snapshot(&self, also: &std::collections::BTreeSet<String>) -> Map<String, Value> {
        let secret = self.secret_keys();
        let mut values = self.snapshot();
        for (key, value) in &mut values {
            if secret.contains(key) || also.contains(key) {
                *value = Value::from(crate::secret::MASK);
            }
        }
        values
    }

    /// What the context file records of `service`'s container.
    pub(crate) fn start_record(&self, service: &str) -> Option<StartRecord> {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(service).cloned()
    }

    /// Every service's record.
    pub(crate) fn start_records(&self) -> std::collections::BTreeMap<String, StartRecord> {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Records how far boss got with `service`'s container (in memory; [`Context::persist`]
    /// writes it).
    pub(crate) fn record_start(&self, service: &str, container: &str, progress: Progress) {
        let record = StartRecord { container: container.to_string(), progress };
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(service.to_string(), record);
    }

    /// Forgets the record of `service` (an external service that `stop` let go of).
    pub(crate) fn forget_start(&self, service: &str) {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(service);
    }

    fn lock(&self) -> MutexGuard<'_, Map<String, Value>> {
        // A hook that panicked while holding the lock cannot leave a half-written JSON value,
        // so the data is still usable.
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    pub fn set(&self, key: &str, value: Value) {
        self.lock().insert(key.to_string(), value);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    pub fn remove(&self, key: &str) -> Option<Value> {
        self.lock().remove(key)
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// A copy of every value, e.g. for interpolation.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.lock().clone()
    }

    /// Reads the context file; a missing file is an empty context. [`Context::persist`] writes
    /// back to the same file.
    pub fn load(path: &Path) -> Result<Context, Error> {
        let mut context = Context::read(path)?;
        context.file = Some(Arc::new(ContextFile { path: path.to_path_buf(), writing: Mutex::new(()) }));
        Ok(context)
    }

    fn read(path: &Path) -> Result<Context, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Context::default()),
            Err(error) => {
                let problem = ContextFileProblem::Unreadable { error: error.to_string() };
                return Err(Error::ContextLoad { path: path.to_path_buf(), problem });
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(mut values)) => {
                // A record boss cannot read is dropped: its container is then checked again,
                // which is always safe.
                let started = values
                    .remove(STARTED_KEY)
                    .and_then(|records| serde_json::from_value(records).ok())
                    .unwrap_or_default();
                let secret_keys = values
                    .remove(SECRET_KEYS_KEY)
                    .and_then(|keys| serde_json::from_value(keys).ok())
                    .unwrap_or_default();
                let context = Context::from_map(values);
                *context.secret_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = secret_keys;
                *context.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = started;
                Ok(context)
            }
            Ok(_) => Err(Error::ContextLoad { path: path.to_path_buf(), problem: ContextFileProblem::NotAnObject }),
            Err(error) => {
                let problem = ContextFileProblem::InvalidJson { error: error.to_string() };
                Err(Error::ContextLoad { path: path.to_path_buf(), problem })
            }
        }
    }

    /// Takes in what another run saved (`saved`, the file as it is now) since this context was
    /// loaded (with the values `loaded`), keeping every value set here since: run under the
    /// group's lock, so that no run's values are lost. The start records are the file's: boss
    /// writes them only under the lock.
    pub(crate) fn take_saved(&self, loaded: &Map<String, Value>, saved: &Context) {
        *self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = saved.start_records();
        self.secret_keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(saved.secret_keys());
        let saved = saved.snapshot();
        let mut values = self.lock();
        let keys: std::collections::BTreeSet<String> = loaded.keys().chain(saved.keys()).cloned().collect();
        for key in keys {
            if values.get(&key) == loaded.get(&key) {
                match saved.get(&key) {
                    Some(value) => values.insert(key, value.clone()),
                    None => values.remove(&key),
                };
            }
        }
    }

    /// Writes the context to the file it was loaded from (nothing for a context that was not
    /// loaded from a file). Called as soon as a hook has set values, so an interruption of any
    /// kind loses none of them.
    pub fn persist(&self) -> Result<(), SaveFailure> {
        let Some(file) = &self.file else { return Ok(()) };
        let _writing = file.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.save(&file.path)
    }

    /// The file [`Context::persist`] writes, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|file| file.path.as_path())
    }

    /// Writes the context file atomically: a temporary file in the same directory (readable
    /// only by its owner, and named `<file>.<random>.tmp` so build contexts leave it out),
    /// then a rename, so a crash never leaves a half-written file. A file that already holds
    /// exactly this text is left alone: a `start` that changed nothing pays for no write and no
    /// `fsync`, the slowest part of a no-op start on a busy disk.
    pub fn save(&self, path: &Path) -> Result<(), SaveFailure> {
        let fail = |reason: String| SaveFailure { path: path.to_path_buf(), reason };
        let mut values = self.snapshot();
        let started = self.start_records();
        if started.is_empty() {
            values.remove(STARTED_KEY);
        } else {
            let started = serde_json::to_value(started).map_err(|e| fail(e.to_string()))?;
            values.insert(STARTED_KEY.to_string(), started);
        }
        let secret_keys = self.secret_keys();
        if secret_keys.is_empty() {
            values.remove(SECRET_KEYS_KEY);
        } else {
            values.insert(SECRET_KEYS_KEY.to_string(), Value::from(secret_keys.into_iter().collect::<Vec<_>>()));
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(values)).map_err(|e| fail(e.to_string()))?;
        text.push('\n');
        if std::fs::read(path).is_ok_and(|saved| saved == text.as_bytes()) {
            return Ok(());
        }
        let directory = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let prefix = format!("{}.", path.file_name().map_or_else(|| FILE_NAME.into(), |name| name.to_string_lossy()));
        let mut file = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(&directory)
            .map_err(|e| fail(e.to_string()))?;
        file.write_all(text.as_bytes()).map_err(|e| fail(e.to_string()))?;
        file.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
        crate::crash::point(crate::crash::Point::ContextWritten);
        file.persist(path).map_err(|e| fail(e.error.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FILE_NAME);
        let context = Context::default();
        context.set("admin_id", Value::from(7));
        context.set("url", Value::from("http://x"));
        context.save(&path).unwrap();
        let loaded = Context::load(&path).unwrap();
        assert_eq!(loaded.snapshot(), context.snapshot());
        assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn an_unchanged_context_is_not_written_again() {
        use std::os::unix::fs::MetadataExt as _;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FILE_NAME);
        let inode = || std::fs::metadata(&path).unwrap().ino();
        let context = Context::default();
        context.set("token", Value::from("t"));
        context.save(&path).unwrap();
        let first = inode();
        context.save(&path).unwrap();
        assert_eq!(inode(), first, "the same text: the file was not replaced");
        context.set("token", Value::from("u"));
        context.save(&path).unwrap();
        assert_ne!(inode(), first, "a change replaces the file");
        assert_eq!(Context::load(&path).unwrap().get("token"), Some(Value::from("u")));
    }

    #[test]
    fn secret_keys_are_saved_hidden_from_the_values_and_masked() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FILE_NAME);
        let context = Context::default();
        context.set("token", Value::from("t0ps3cret"));
        context.set("user", Value::from("admin"));
        context.mark_secret("token");
        context.save(&path).unwrap();
        let loaded = Context::load(&path).unwrap();
        assert_eq!(loaded.snapshot(), context.snapshot(), "the record is no value");
        assert_eq!(loaded.secret_keys(), ["token".to_string()].into());
        let masked = loaded.masked_snapshot(&["user".to_string()].into());
        assert_eq!(masked["token"], Value::from("***"));
        assert_eq!(masked["user"], Value::from("***"));
    }

    #[test]
    fn every_script_has_its_own_file() {
        assert_eq!(file_name("services.rhai"), ".boss-context");
        assert_eq!(file_name("other.rhai"), ".boss-context.other");
        assert_eq!(file_name("noext"), ".boss-context.noext");
    }

    #[test]
    fn persist_writes_where_the_context_was_loaded_from() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FILE_NAME);
        let context = Context::load(&path).unwrap();
        context.set("token", Value::from("t"));
        context.clone().persist().unwrap();
        assert_eq!(Context::load(&path).unwrap().get("token"), Some(Value::from("t")));
        Context::default().persist().unwrap();
    }

    #[test]
    fn saved_values_are_taken_in_and_values_set_here_kept() {
        let map =
            |pairs: &[(&str, i64)]| pairs.iter().map(|(key, value)| (key.to_string(), Value::from(*value))).collect();
        let loaded: Map<String, Value> = map(&[("same", 1), ("mine", 1), ("theirs", 1), ("gone", 1)]);
        let context = Context::from_map(loaded.clone());
        context.set("mine", Value::from(2));
        context.set("added", Value::from(2));
        context.record_start("db", "old", Progress::Restarted);
        let saved = Context::from_map(map(&[("same", 1), ("mine", 3), ("theirs", 3), ("new", 3), ("added", 3)]));
        saved.record_start("api", "g.api", Progress::Ready);
        context.take_saved(&loaded, &saved);
        assert_eq!(context.snapshot(), map(&[("same", 1), ("mine", 2), ("theirs", 3), ("new", 3), ("added", 2)]));
        assert_eq!(context.start_records(), saved.start_records(), "the file's start records");
    }

    #[test]
    fn missing_file_is_empty_and_bad_json_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FILE_NAME);
        assert!(Context::load(&path).unwrap().keys().is_empty());
        std::fs::write(&path, "[1, 2]").unwrap();
        let error = Context::load(&path).unwrap_err();
        assert!(error.render().contains("does not hold a JSON object"), "{}", error.render());
        std::fs::write(&path, "{").unwrap();
        assert!(Context::load(&path).unwrap_err().render().contains("invalid JSON"));
    }
}
