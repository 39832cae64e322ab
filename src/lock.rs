//! The per-group lock that serialises the boss commands that change a group (`start`, `stop`,
//! `reload`, `run`, and the library's calls that do the same): an OS advisory lock (`flock`
//! through [`std::fs::File::try_lock`]) on a file named after the group and the engine's
//! address, in a directory only this user can write. The kernel drops the lock when its holder
//! exits, however it exits, so a lock never outlives a crashed boss.
//!
//! The holder writes its pid and operation into the file, so a waiter can say whom it waits
//! for. Waiting polls `try_lock`, so that the caller's cancellation (Ctrl-C) and a time limit
//! can end it. Wording is `output.rs`'s and `error.rs`'s.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, LockProblem};
use crate::event::{Event, EventSink, LockHolder, Operation};

/// How often a waiter tries the lock again.
const POLL: Duration = Duration::from_millis(100);

/// How long a waiter waits for the holder to write its pid before it says that it waits for an
/// unknown boss.
const ANNOUNCE_UNKNOWN_AFTER: Duration = Duration::from_millis(500);

/// The lock held on one group; dropping it releases it and removes its file.
#[derive(Debug)]
pub(crate) struct GroupLock {
    file: File,
    path: PathBuf,
}

impl Drop for GroupLock {
    fn drop(&mut self) {
        // Removed while still locked, so lock files do not pile up (one per group name ever
        // used). A waiter that opened it before takes the lock of a file that is gone, sees
        // that in `try_take`, and opens the path again.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// What a lock is taken for, and how long to wait for it.
#[derive(Debug, Clone)]
pub(crate) struct LockRequest {
    pub group: String,
    pub operation: Operation,
    /// `None`: wait as long as it takes.
    pub timeout: Option<Duration>,
    /// Cancelling it ends the wait with [`Error::Interrupted`].
    pub cancel: CancellationToken,
}

impl LockRequest {
    /// A request that nothing cancels (a stop is never cancelled: Ctrl-C ends the process).
    pub(crate) fn new(group: &str, operation: Operation, timeout: Option<Duration>) -> LockRequest {
        LockRequest { group: group.to_string(), operation, timeout, cancel: CancellationToken::new() }
    }
}

/// Takes the lock of `request.group` on the engine boss talks to, waiting while another boss
/// holds it: says so once through `events`, gives up after `request.timeout` with
/// [`Error::LockTimeout`], and ends with [`Error::Interrupted`] when `request.cancel` is
/// cancelled.
pub(crate) async fn acquire(request: &LockRequest, events: &EventSink) -> Result<GroupLock, Error> {
    let runtime_dir =
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|directory| is_own_directory(directory));
    let directory = lock_directory(runtime_dir.as_deref(), &std::env::temp_dir(), uid());
    prepare_directory(&directory)?;
    let path = directory.join(file_name(&request.group, &crate::docker::address()));
    let unusable = |error: std::io::Error| Error::LockUnusable {
        path: path.clone(),
        problem: LockProblem::Io { error: error.to_string() },
    };
    let began = Instant::now();
    let mut announced = false;
    loop {
        if let Some(mut file) = try_take(&path).map_err(unusable)? {
            let record = holder_record(&LockHolder { pid: std::process::id(), operation: request.operation });
            file.set_len(0).and_then(|()| file.write_all(record.as_bytes())).map_err(unusable)?;
            return Ok(GroupLock { file, path });
        }
        let waited = began.elapsed();
        let holder = std::fs::read_to_string(&path).ok().and_then(|text| parse_holder(&text));
        if request.timeout.is_some_and(|timeout| waited >= timeout) {
            return Err(Error::LockTimeout {
                group: request.group.clone(),
                holder,
                waited: request.timeout.unwrap_or_default(),
            });
        }
        if !announced && (holder.is_some() || waited >= ANNOUNCE_UNKNOWN_AFTER) {
            events.emit(Event::WaitingForLock { group: request.group.clone(), holder });
            announced = true;
        }
        let pause = request.timeout.map_or(POLL, |timeout| POLL.min(timeout.saturating_sub(waited)));
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = request.cancel.cancelled() => return Err(Error::Interrupted),
        }
    }
}

/// The lock file at `path`, opened (created if need be) and locked, or `None` while another
/// holds it.
fn try_take(path: &Path) -> std::io::Result<Option<File>> {
    loop {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        // The holder before removes the file on release, maybe between the open and the lock
        // above; a lock on a file no longer at `path` excludes nobody, so open it again.
        let locked = file.metadata()?;
        let current = std::fs::symlink_metadata(path);
        if current.is_ok_and(|current| current.ino() == locked.ino() && current.dev() == locked.dev()) {
            return Ok(Some(file));
        }
    }
}

/// This process's effective user id.
fn uid() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `directory` is a directory of this user's: an `XDG_RUNTIME_DIR` that is not (`su`
/// keeps the one of the user before) would make boss create its locks, as this user, where
/// that user's boss then refuses them.
fn is_own_directory(directory: &Path) -> bool {
    std::fs::metadata(directory).is_ok_and(|metadata| metadata.is_dir() && metadata.uid() == uid())
}

/// Where lock files live: `$XDG_RUNTIME_DIR/boss/locks` (a per-user directory the system
/// empties at logout and reboot), else `<temp>/boss-<uid>/locks`.
pub(crate) fn lock_directory(runtime_dir: Option<&Path>, temp_dir: &Path, uid: u32) -> PathBuf {
    match runtime_dir.filter(|directory| directory.is_absolute()) {
        Some(directory) => directory.join("boss").join("locks"),
        None => temp_dir.join(format!("boss-{uid}")).join("locks"),
    }
}

/// Creates `locks` and its parent, owner-only, and refuses them when they are not this user's
/// own directories (another user could otherwise take or fake the locks in a shared `/tmp`).
fn prepare_directory(locks: &Path) -> Result<(), Error> {
    let parent = locks.parent().unwrap_or(locks);
    for directory in [parent, locks] {
        let unusable = |problem: LockProblem| Error::LockUnusable { path: directory.to_path_buf(), problem };
        match std::fs::DirBuilder::new().mode(0o700).create(directory) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(unusable(LockProblem::Io { error: error.to_string() })),
        }
        // Not followed: a symbolic link put there by someone else is refused.
        let metadata = std::fs::symlink_metadata(directory)
            .map_err(|error| unusable(LockProblem::Io { error: error.to_string() }))?;
        if !metadata.is_dir() {
            return Err(unusable(LockProblem::NotADirectory));
        }
        if metadata.uid() != uid() {
            return Err(unusable(LockProblem::NotOwned { owner: metadata.uid() }));
        }
        if metadata.mode() & 0o077 != 0 {
            std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
                .map_err(|error| unusable(LockProblem::Io { error: error.to_string() }))?;
        }
    }
    Ok(())
}

/// The lock file's name: the group (anything but letters, digits, `-` and `_` as `_`), then a
/// short hash of the group and the engine's address, so one group on two engines has two
/// locks and two names never share one.
pub(crate) fn file_name(group: &str, endpoint: &str) -> String {
    let readable: String = group
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' })
        .collect();
    let mut hasher = sha2::Sha256::new();
    hasher.update(endpoint.as_bytes());
    hasher.update([0]);
    hasher.update(group.as_bytes());
    let hash: String = hasher.finalize().iter().take(6).map(|byte| format!("{byte:02x}")).collect();
    format!("{readable}-{hash}.lock")
}

/// What the holder writes into the lock file: `<pid> <operation>`.
fn holder_record(holder: &LockHolder) -> String {
    format!("{} {}\n", holder.pid, holder.operation.name())
}

/// The holder a lock file names, if it holds a record boss can read.
fn parse_holder(text: &str) -> Option<LockHolder> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let operation = Operation::from_name(words.next()?)?;
    Some(LockHolder { pid, operation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_live_in_the_runtime_directory_or_a_per_user_temporary_one() {
        let temp = Path::new("/tmp");
        assert_eq!(
            lock_directory(Some("/run/user/1000".as_ref()), temp, 1000),
            PathBuf::from("/run/user/1000/boss/locks")
        );
        assert_eq!(lock_directory(None, temp, 1000), PathBuf::from("/tmp/boss-1000/locks"));
        // A relative XDG_RUNTIME_DIR is invalid by the spec, and ignored.
        assert_eq!(lock_directory(Some("run".as_ref()), temp, 7), PathBuf::from("/tmp/boss-7/locks"));
    }

    #[test]
    fn the_file_name_is_the_group_and_a_hash_of_group_and_engine() {
        let name = file_name("shop", "unix:///var/run/docker.sock");
        assert!(name.starts_with("shop-") && name.ends_with(".lock"), "{name}");
        assert_eq!(name.len(), "shop-".len() + 12 + ".lock".len());
        assert_eq!(name, file_name("shop", "unix:///var/run/docker.sock"), "stable");
        assert_ne!(name, file_name("shop", "tcp://10.0.0.2:2375"), "one lock per engine");
        assert_ne!(file_name("a/b", "e"), file_name("a_b", "e"), "sanitised names still differ");
        assert!(file_name("../x y", "e").starts_with("___x_y-"));
    }

    #[test]
    fn the_holder_record_reads_back() {
        let holder = LockHolder { pid: 4711, operation: Operation::Reload };
        assert_eq!(holder_record(&holder), "4711 reload\n");
        assert_eq!(parse_holder(&holder_record(&holder)), Some(holder));
        for operation in [Operation::Start, Operation::Stop, Operation::Reload, Operation::Run] {
            let holder = LockHolder { pid: 1, operation };
            assert_eq!(parse_holder(&holder_record(&holder)), Some(holder));
        }
        assert_eq!(parse_holder(""), None, "a holder that has not written yet");
        assert_eq!(parse_holder("12 dance\n"), None);
        assert_eq!(parse_holder("x start\n"), None);
    }

    #[test]
    fn lock_errors_are_worded() {
        let holder = LockHolder { pid: 4711, operation: Operation::Start };
        let timeout = Error::LockTimeout { group: "shop".into(), holder: Some(holder), waited: Duration::from_secs(3) };
        assert_eq!(
            timeout.render(),
            "error: gave up after 3 s: boss (pid 4711, start) is still working on group `shop`\n\
             hint: nothing was changed; try again once it is done, or wait longer with `--lock-timeout SECS` (without it, boss waits as long as it takes)\n"
        );
        assert_eq!(timeout.exit_code(), 75);
        let unknown = Error::LockTimeout { group: "shop".into(), holder: None, waited: Duration::ZERO };
        assert!(
            unknown.render().starts_with("error: gave up after 0 s: another boss is still working on group `shop`\n")
        );
        let not_owned =
            Error::LockUnusable { path: "/tmp/boss-0".into(), problem: LockProblem::NotOwned { owner: 1000 } };
        assert_eq!(
            not_owned.render(),
            "error: cannot lock the group with `/tmp/boss-0`: it belongs to user 1000, not to this user\n\
             hint: boss keeps its locks in a directory only you can write; remove it, or set XDG_RUNTIME_DIR to a directory of your own\n"
        );
        assert_eq!(not_owned.exit_code(), 1);
        let waiting = Event::WaitingForLock { group: "shop".into(), holder: Some(holder) };
        assert_eq!(
            crate::output::describe(&waiting).unwrap(),
            "waiting for boss (pid 4711, start) working on group `shop`"
        );
    }

    /// A directory of another user, and its owner: as root, one made in `within` for `nobody`;
    /// otherwise root's `/usr`.
    fn another_users_directory(within: &Path) -> (PathBuf, u32) {
        if uid() == 0 {
            let theirs = within.join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65_534), None).unwrap();
            (theirs, 65_534)
        } else {
            (PathBuf::from("/usr"), 0)
        }
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let locks = directory.path().join("boss").join("locks");
        prepare_directory(&locks).unwrap();
        let mode = std::fs::metadata(&locks).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A symbolic link in its place is not followed.
        let link = directory.path().join("link");
        std::os::unix::fs::symlink(&locks, &link).unwrap();
        let error = prepare_directory(&link.join("locks")).unwrap_err();
        assert!(matches!(error, Error::LockUnusable { problem: LockProblem::NotADirectory, .. }), "{error:?}");
        let (theirs, owner) = another_users_directory(directory.path());
        let error = prepare_directory(&theirs.join("locks")).unwrap_err();
        assert!(
            matches!(error, Error::LockUnusable { problem: LockProblem::NotOwned { owner: found }, .. } if found == owner)
        );
    }

    #[test]
    fn only_a_runtime_directory_of_this_user_is_used() {
        let directory = tempfile::tempdir().unwrap();
        assert!(is_own_directory(directory.path()));
        let file = directory.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(!is_own_directory(&file));
        assert!(!is_own_directory(&directory.path().join("missing")));
        assert!(!is_own_directory(&another_users_directory(directory.path()).0));
    }

    #[tokio::test]
    async fn two_locks_of_one_group_exclude_each_other_within_one_process() {
        let group = format!("unit-lock-{}", std::process::id());
        let request = |timeout| LockRequest {
            group: group.clone(),
            operation: Operation::Start,
            timeout: Some(timeout),
            cancel: CancellationToken::new(),
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = std::sync::Arc::clone(&seen);
        let events = EventSink::new(move |event| recorded.lock().unwrap().push(format!("{event:?}")));
        let held = acquire(&request(Duration::ZERO), &events).await.unwrap();
        let error = acquire(&request(Duration::ZERO), &events).await.unwrap_err();
        let Error::LockTimeout { holder: Some(holder), .. } = error else { panic!("{error:?}") };
        assert_eq!(holder, LockHolder { pid: std::process::id(), operation: Operation::Start });
        // Waiting says whom it waits for, once; cancelling ends the wait.
        let waiting = request(Duration::from_secs(600));
        waiting.cancel.cancel();
        assert!(matches!(acquire(&waiting, &events).await, Err(Error::Interrupted)));
        let error = acquire(&request(Duration::from_millis(300)), &events).await.unwrap_err();
        assert!(matches!(error, Error::LockTimeout { .. }), "{error:?}");
        // Each wait says so once (a zero time-out does not wait).
        assert_eq!(seen.lock().unwrap().iter().filter(|event| event.contains("WaitingForLock")).count(), 2);
        let path = held.path.clone();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{} start\n", std::process::id()));
        drop(held);
        assert!(!path.exists(), "a released lock leaves no file behind");
        drop(acquire(&request(Duration::ZERO), &events).await.unwrap());
    }

    #[test]
    fn a_lock_on_a_removed_file_does_not_count() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("g.lock");
        let first = try_take(&path).unwrap().unwrap();
        assert!(try_take(&path).unwrap().is_none(), "held");
        // A waiter that opened the file before its holder released it.
        let stale = File::open(&path).unwrap();
        drop(GroupLock { file: first, path: path.clone() });
        stale.try_lock().unwrap();
        // The stale lock is on a file that is gone: the path is free.
        let second = try_take(&path).unwrap().unwrap();
        assert!(try_take(&path).unwrap().is_none());
        drop(second);
    }
}
