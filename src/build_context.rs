//! The build context sent to the engine: the `build_from` directory as a tar stream, made as
//! the docker CLI makes it, minus boss's own state.
//!
//! The entries, their order and their headers follow moby's `pkg/archive/archive.go`
//! (`TarWithOptions`, `addTarFile`, `FileInfoHeader`) as the CLI calls it from
//! `cli/command/image/build.go` (with `ChownOpts` 0:0): every entry is owned by 0:0, modes are
//! kept whole (setuid, setgid and sticky bits included), mtimes are kept to the second,
//! directories are entries of their own (so a 0700 directory stays 0700), FIFOs and devices
//! are sent as such, sockets are skipped, a second name of a hard-linked file is a link to
//! the first, and long names use tar's long-name extension. `.dockerignore` is applied with
//! Docker's own matcher (`dockerignore.rs`), and an excluded directory is not even read unless
//! an exception pattern starts with it, so whatever it holds (sockets, huge or unreadable files)
//! cannot matter. The Dockerfile and `.dockerignore` are always sent, as the CLI's
//! `TrimBuildFilesFromExcludes` arranges.
//!
//! What the CLI does not know about is boss's state: the context files (`.boss-context`,
//! `.boss-context.<script>`, their `.boss-context*.tmp*` temporary files) and a `.boss`
//! directory are never sent, at any depth, whatever `.dockerignore` says, because they hold
//! tokens that `COPY . /app/` would bake into the image for anyone to read.
//!
//! The tar is written on a blocking thread into a small bounded channel that the engine
//! request reads as a streaming body, so a context of any size costs boss a few hundred
//! kilobytes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::backend::ContextStream;
use crate::dockerignore::{MatchInfo, PatternMatcher, clean, read_ignore_file};
use crate::error::ContextProblem;

/// The size of the pieces the tar is sent in.
const CHUNK_BYTES: usize = 64 * 1024;

/// How many pieces may wait for the engine; with [`CHUNK_BYTES`] this bounds the memory a
/// context costs, whatever its size.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Whether an entry named `name` is boss's own state, never sent: the context files of every
/// script and their temporary files (`.boss-context*`) and a `.boss` directory.
pub(crate) fn is_boss_state(name: &[u8]) -> bool {
    name.starts_with(b".boss-context") || name == b".boss"
}

/// The path of `dockerfile` (as written in the script: relative to `context`, or absolute)
/// inside `context`, cleaned as the engine expects it (`docker/../Dockerfile` is
/// `Dockerfile`), or `None` when it leads outside.
pub(crate) fn dockerfile_in_context(context: &Path, dockerfile: &str) -> Option<String> {
    let path = Path::new(dockerfile);
    let relative = if path.is_absolute() { path.strip_prefix(context).ok()? } else { path };
    let cleaned = clean(&relative.to_string_lossy());
    let first = Path::new(&cleaned).components().next();
    first.is_some_and(|first| matches!(first, Component::Normal(_))).then_some(cleaned)
}

/// What to send from one directory: its root and its `.dockerignore` rules, read before the
/// build starts so that a broken pattern is reported before anything is sent.
#[derive(Debug)]
pub(crate) struct ContextPlan {
    root: PathBuf,
    matcher: PatternMatcher,
}

/// Reads the `.dockerignore` of `directory` and adds the exceptions that keep the Dockerfile
/// (`dockerfile`, relative to `directory`) and `.dockerignore` in the context.
pub(crate) fn plan(directory: &Path, dockerfile: &str) -> Result<ContextPlan, ContextProblem> {
    let patterns = match fs::read(directory.join(".dockerignore")) {
        Ok(bytes) => read_ignore_file(&bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(ContextProblem::ReadIgnoreFile { error: error.to_string() }),
    };
    let patterns = keep_build_files(patterns, &clean(dockerfile));
    let matcher = PatternMatcher::new(&patterns)
        .map_err(|error| ContextProblem::BadPattern { pattern: error.pattern, problem: error.problem })?;
    Ok(ContextPlan { root: directory.to_path_buf(), matcher })
}

/// `TrimBuildFilesFromExcludes` (docker/cli `cli/command/image/build/context.go`): when the
/// patterns exclude `.dockerignore` or the Dockerfile, an exception for it is appended. It asks
/// the deprecated `Matches`, and a broken pattern answers "not excluded" there (it is reported
/// when the whole list is compiled).
fn keep_build_files(mut patterns: Vec<String>, dockerfile: &str) -> Vec<String> {
    let excluded = |patterns: &[String], file: &str| {
        PatternMatcher::new(patterns).is_ok_and(|matcher| matcher.matches_one_parent(file.as_bytes()))
    };
    if excluded(&patterns, ".dockerignore") {
        patterns.push("!.dockerignore".to_string());
    }
    if excluded(&patterns, dockerfile) {
        patterns.push(format!("!{dockerfile}"));
    }
    patterns
}

/// What went wrong reading a context being sent, if anything did.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadReport {
    problem: Arc<Mutex<Option<ContextProblem>>>,
}

impl ReadReport {
    /// Why the context could not be read, once the stream has failed. The problem is recorded
    /// before the stream fails, so after a failed build this is never too early.
    pub(crate) fn problem(&self) -> Option<ContextProblem> {
        self.problem.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn record(&self, problem: ContextProblem) {
        *self.problem.lock().unwrap_or_else(PoisonError::into_inner) = Some(problem);
    }
}

/// Starts writing the tar of `plan` on a blocking thread. The thread stops when the tar is
/// done, when reading fails (the stream then ends with an error, so the engine aborts the
/// build, and [`ReadReport::problem`] says why), or when the stream is dropped (the build ended
/// or was abandoned). Must be called within the tokio runtime.
pub(crate) fn start(plan: ContextPlan) -> (ContextStream, ReadReport) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let report = ReadReport::default();
    let recorder = report.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter { buffer: Vec::with_capacity(CHUNK_BYTES), sender };
        let result = write_tar(&plan, Mtimes::Kept, &mut writer)
            .and_then(|()| writer.send_buffer().map_err(|_| Failure::Closed));
        if let Err(Failure::Problem(problem)) = result {
            tracing::debug!(?problem, "the build context could not be read");
            recorder.record(problem);
            // The engine must not build from a truncated context: an error item aborts the
            // request. If the engine is gone already, there is nobody left to tell.
            let _ = writer.sender.blocking_send(Err(io::Error::other("the build context could not be read")));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed();
    (stream, report)
}

/// The hash of the context `plan` sends: SHA-256 of the very tar [`start`] streams, except that
/// every mtime is 0, so a `touch` or a fresh checkout of unchanged files keeps it. Names,
/// types, modes, link targets and contents count (the Dockerfile and `.dockerignore` are part
/// of the context), and what `.dockerignore` excludes does not. Reads every file sent; call it
/// on a blocking thread.
pub(crate) fn hash(plan: &ContextPlan) -> Result<String, ContextProblem> {
    let mut hasher = Sha256::new();
    write_whole(plan, Mtimes::Zeroed, &mut hasher)?;
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// Writes the tar of `plan` to `out` on the calling thread, for tests.
#[cfg(test)]
fn write_to(plan: &ContextPlan, out: impl Write) -> Result<(), ContextProblem> {
    write_whole(plan, Mtimes::Kept, out)
}

/// Writes the whole tar of `plan` to `out`, on the calling thread.
fn write_whole(plan: &ContextPlan, mtimes: Mtimes, out: impl Write) -> Result<(), ContextProblem> {
    write_tar(plan, mtimes, out).map_err(|failure| match failure {
        Failure::Problem(problem) => problem,
        Failure::Closed => ContextProblem::Archive { path: String::new(), error: "the output was closed".into() },
    })
}

/// Whether the entries keep their mtimes (sent to the engine) or get 0 (hashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mtimes {
    Kept,
    Zeroed,
}

/// Why writing the tar stopped.
#[derive(Debug)]
enum Failure {
    /// Something in the context could not be read or archived.
    Problem(ContextProblem),
    /// The reader went away: the build ended or was abandoned, and reports for itself.
    Closed,
}

fn write_tar(plan: &ContextPlan, mtimes: Mtimes, out: impl Write) -> Result<(), Failure> {
    let mut archive =
        Archive { builder: tar::Builder::new(out), matcher: &plan.matcher, mtimes, first_names: HashMap::new() };
    archive.walk(&plan.root, b"", &MatchInfo::default())?;
    archive.builder.into_inner().map(drop).map_err(|error| archive_failure(b"", &error))
}

/// The walk of `TarWithOptions` and the entries of `addTarFile`.
struct Archive<'plan, W: Write> {
    builder: tar::Builder<W>,
    matcher: &'plan PatternMatcher,
    mtimes: Mtimes,
    /// The name each hard-linked file was first sent under, by device and inode.
    first_names: HashMap<(u64, u64), Vec<u8>>,
}

impl<W: Write> Archive<'_, W> {
    /// Sends the entries of `directory` (whose path in the context is `prefix`, empty or ending
    /// with `/`) in name order, as `filepath.WalkDir` visits them.
    fn walk(&mut self, directory: &Path, prefix: &[u8], parent: &MatchInfo) -> Result<(), Failure> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(directory)
            .and_then(Iterator::collect)
            .map_err(|error| Failure::Problem(unreadable(prefix.strip_suffix(b"/").unwrap_or(prefix), &error)))?;
        entries.sort_by_key(fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name();
            if is_boss_state(name.as_bytes()) {
                continue;
            }
            let relative = [prefix, name.as_bytes()].concat();
            let path = entry.path();
            let metadata =
                fs::symlink_metadata(&path).map_err(|error| Failure::Problem(unreadable(&relative, &error)))?;
            let is_dir = metadata.is_dir();
            let (excluded, info) = self.matcher.matches_using_parent_results(&relative, parent);
            let below = [relative.as_slice(), b"/"].concat();
            if excluded {
                // An excluded directory is read only when an exception may re-include
                // something inside it; the directory itself is still not sent.
                let exception_inside = is_dir
                    && self.matcher.has_exclusions()
                    && self
                        .matcher
                        .exceptions()
                        .any(|exception| format!("{exception}/").as_bytes().starts_with(&below));
                if exception_inside {
                    self.walk(&path, &below, &info)?;
                }
                continue;
            }
            self.append(&path, &relative, &metadata)?;
            if is_dir {
                self.walk(&path, &below, &info)?;
            }
        }
        Ok(())
    }

    /// One entry, with the header `FileInfoHeader` and `addTarFile` give it.
    fn append(&mut self, path: &Path, relative: &[u8], metadata: &Metadata) -> Result<(), Failure> {
        let file_type = metadata.file_type();
        if file_type.is_socket() {
            // Go's tar writer refuses sockets and the archiver skips what it refuses.
            tracing::debug!(path = %path.display(), "a socket is not sent in the build context");
            return Ok(());
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(metadata.mode() & 0o7777);
        header.set_uid(0);
        header.set_gid(0);
        let mtime = match self.mtimes {
            Mtimes::Kept => u64::try_from(metadata.mtime()).unwrap_or(0),
            Mtimes::Zeroed => 0,
        };
        header.set_mtime(mtime);
        header.set_size(0);
        let name = Path::new(OsStr::from_bytes(relative));
        let failed = |error: io::Error| archive_failure(relative, &error);

        if !file_type.is_dir() && metadata.nlink() > 1 {
            let key = (metadata.dev(), metadata.ino());
            if let Some(first) = self.first_names.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                let target = Path::new(OsStr::from_bytes(first));
                return self.builder.append_link(&mut header, name, target).map_err(failed);
            }
            self.first_names.insert(key, relative.to_vec());
        }

        if file_type.is_file() {
            let file = File::open(path).map_err(|error| Failure::Problem(unreadable(relative, &error)))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(metadata.len());
            let reader = SourceReader { file, remaining: metadata.len(), relative };
            self.builder.append_data(&mut header, name, reader).map_err(failed)
        } else if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(|error| Failure::Problem(unreadable(relative, &error)))?;
            header.set_entry_type(tar::EntryType::Symlink);
            self.builder.append_link(&mut header, name, target).map_err(failed)
        } else {
            let entry_type = if file_type.is_dir() {
                tar::EntryType::Directory
            } else if file_type.is_fifo() {
                tar::EntryType::Fifo
            } else if file_type.is_char_device() || file_type.is_block_device() {
                let (major, minor) = device_numbers(metadata.rdev());
                header.set_device_major(major).map_err(failed)?;
                header.set_device_minor(minor).map_err(failed)?;
                if file_type.is_char_device() { tar::EntryType::Char } else { tar::EntryType::Block }
            } else {
                tracing::debug!(path = %path.display(), "an entry of unknown type is not sent in the build context");
                return Ok(());
            };
            header.set_entry_type(entry_type);
            self.builder.append_data(&mut header, name, io::empty()).map_err(failed)
        }
    }
}

/// The major and minor numbers of a Linux device number (glibc's `gnu_dev_major` and
/// `gnu_dev_minor`).
fn device_numbers(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (u32::try_from(major).unwrap_or(u32::MAX), u32::try_from(minor).unwrap_or(u32::MAX))
}

fn shown(relative: &[u8]) -> String {
    if relative.is_empty() { ".".to_string() } else { String::from_utf8_lossy(relative).into_owned() }
}

fn unreadable(relative: &[u8], error: &io::Error) -> ContextProblem {
    ContextProblem::Unreadable { path: shown(relative), error: error.to_string() }
}

/// Sorts an error of the tar writer: a failed read of the source, the reader going away, or
/// an entry the writer refuses.
fn archive_failure(relative: &[u8], error: &io::Error) -> Failure {
    if let Some(source) = error.get_ref().and_then(|inner| inner.downcast_ref::<SourceError>()) {
        return Failure::Problem(source.0.clone());
    }
    if error.kind() == io::ErrorKind::BrokenPipe {
        return Failure::Closed;
    }
    Failure::Problem(ContextProblem::Archive { path: shown(relative), error: error.to_string() })
}

/// A failed read of a context file, carried through the tar writer's `io::Error`.
#[derive(Debug)]
struct SourceError(ContextProblem);

impl std::fmt::Display for SourceError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:?}", self.0)
    }
}

impl std::error::Error for SourceError {}

/// Reads exactly the length the header announced: a file that shrank since it was listed
/// would leave the tar inconsistent, so that is an error; one that grew is cut at that length,
/// as Go's tar writer does.
struct SourceReader<'name> {
    file: File,
    remaining: u64,
    relative: &'name [u8],
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buffer.is_empty() {
            return Ok(0);
        }
        let limit = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buffer.len());
        let read = self
            .file
            .read(&mut buffer[..limit])
            .map_err(|error| io::Error::other(SourceError(unreadable(self.relative, &error))))?;
        if read == 0 {
            let changed = ContextProblem::ChangedWhileRead { path: shown(self.relative) };
            return Err(io::Error::other(SourceError(changed)));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// Collects the tar into [`CHUNK_BYTES`] pieces and hands them to the engine request, waiting
/// while [`CHUNKS_IN_FLIGHT`] are unread.
struct ChunkWriter {
    buffer: Vec<u8>,
    sender: tokio::sync::mpsc::Sender<io::Result<Vec<u8>>>,
}

impl ChunkWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading the build context"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// The tar of `root` (with `Dockerfile` as the dockerfile), as (path, type, mode, uid, gid,
    /// link name) lines.
    fn listing(root: &Path) -> Vec<String> {
        let mut tar_bytes = Vec::new();
        write_to(&plan(root, "Dockerfile").unwrap(), &mut tar_bytes).unwrap();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                let link = entry.link_name().unwrap().map(|link| format!(" -> {}", link.display())).unwrap_or_default();
                format!(
                    "{} {:?} {:o} {}:{}{link}",
                    entry.path().unwrap().display(),
                    header.entry_type(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap()
                )
            })
            .collect()
    }

    fn write(root: &Path, relative: &str, contents: &str, mode: u32) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn entries_keep_modes_types_and_links_and_are_owned_by_root() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(root, "Dockerfile", "FROM scratch\n", 0o644);
        write(root, "secret.key", "k", 0o600);
        write(root, "tool", "t", 0o4755);
        fs::create_dir(root.join("private")).unwrap();
        fs::set_permissions(root.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::hard_link(root.join("tool"), root.join("tool-link")).unwrap();
        std::os::unix::fs::symlink("secret.key", root.join("alias")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
        assert_eq!(
            listing(root),
            [
                "Dockerfile Regular 644 0:0",
                "alias Symlink 777 0:0 -> secret.key",
                "private Directory 700 0:0",
                "secret.key Regular 600 0:0",
                "tool Regular 4755 0:0",
                "tool-link Link 4755 0:0 -> tool",
            ]
        );
    }

    /// The names sent from a context holding a Dockerfile and `files` (path, contents).
    fn names_sent(files: &[(&str, &str)]) -> Vec<String> {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(root, "Dockerfile", "FROM scratch\n", 0o644);
        for (path, contents) in files {
            write(root, path, contents, 0o600);
        }
        listing(root).iter().map(|line| line.split(' ').next().unwrap().to_string()).collect()
    }

    #[test]
    fn ignored_files_are_left_out_but_the_build_files_are_kept() {
        let names = names_sent(&[
            (".dockerignore", "secret.txt\nDockerfile\n.dockerignore\nlogs\n"),
            ("secret.txt", "no"),
            ("app.txt", "yes"),
            ("logs/deep/x.log", "no"),
            ("src/main.rs", "yes"),
        ]);
        assert_eq!(names, [".dockerignore", "Dockerfile", "app.txt", "src", "src/main.rs"]);
    }

    /// Boss's state never leaves the machine, whatever `.dockerignore` re-includes.
    #[test]
    fn boss_state_is_never_sent() {
        let names = names_sent(&[
            (".dockerignore", "!.boss-context\n!**/.boss-context*\n!.boss\n"),
            (".boss-context", "token"),
            (".boss-context.x", "token"),
            (".boss-context.x.tmp123", "token"),
            ("sub/.boss-context", "token"),
            (".boss/state", "token"),
            ("sub/kept", ""),
        ]);
        assert_eq!(names, [".dockerignore", "Dockerfile", "sub", "sub/kept"]);
    }

    /// An excluded directory is not read, unless an exception starts with it; then its
    /// re-included entries are sent but the directory itself is not.
    #[test]
    fn excluded_directories_are_not_walked() {
        let names = names_sent(&[
            (".dockerignore", "skipped\npartly\n!partly/inner/keep.txt\n"),
            ("skipped/a", ""),
            ("partly/inner/keep.txt", ""),
            ("partly/inner/drop.txt", ""),
        ]);
        assert_eq!(names, [".dockerignore", "Dockerfile", "partly/inner/keep.txt"]);
    }

    #[test]
    fn long_names_survive() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(root, "Dockerfile", "FROM scratch\n", 0o644);
        let long = format!("{}/{}.txt", "d".repeat(90), "f".repeat(120));
        write(root, &long, "x", 0o644);
        std::os::unix::fs::symlink(&long, root.join("to-long")).unwrap();
        let lines = listing(root);
        assert!(lines.contains(&format!("{long} Regular 644 0:0")), "{lines:?}");
        assert!(lines.contains(&format!("to-long Symlink 777 0:0 -> {long}")), "{lines:?}");
    }

    /// A file that cannot be read fails the stream and names the file, rather than sending a
    /// truncated context or hanging.
    #[test]
    fn a_file_that_shrinks_while_read_is_named() {
        let directory = tempfile::tempdir().unwrap();
        let mut reader = SourceReader { file: File::open(directory.path()).unwrap(), remaining: 10, relative: b"dir" };
        let error = reader.read(&mut [0; 4]).unwrap_err();
        let Failure::Problem(problem) = archive_failure(b"dir", &error) else { panic!("{error}") };
        assert!(matches!(&problem, ContextProblem::Unreadable { path, .. } if path == "dir"), "{problem:?}");

        let short = directory.path().join("short");
        fs::write(&short, "abc").unwrap();
        let mut reader = SourceReader { file: File::open(&short).unwrap(), remaining: 10, relative: b"short" };
        let error = io::copy(&mut reader, &mut io::sink()).unwrap_err();
        let Failure::Problem(problem) = archive_failure(b"short", &error) else { panic!("{error}") };
        assert_eq!(problem, ContextProblem::ChangedWhileRead { path: "short".into() });
    }

    #[tokio::test]
    async fn the_stream_ends_with_an_error_when_reading_fails() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(root, "Dockerfile", "FROM scratch\n", 0o644);
        write(root, "sub/file", "x", 0o644);
        let plan = plan(root, "Dockerfile").unwrap();
        // The directory disappears after planning: the walk cannot list it.
        fs::remove_dir_all(root).unwrap();
        let (mut stream, report) = start(plan);
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item.is_ok());
        }
        assert_eq!(items.last(), Some(&false), "{items:?}");
        assert!(matches!(report.problem(), Some(ContextProblem::Unreadable { path, .. }) if path == "."));
    }

    #[test]
    fn dockerfiles_outside_the_context_are_recognised() {
        assert_eq!(dockerfile_in_context(Path::new("/p"), "/p/docker/../Dockerfile").as_deref(), Some("Dockerfile"));
        let context = Path::new("/project/app");
        for (dockerfile, inside) in [
            ("Dockerfile", true),
            ("sub/../Dockerfile", true),
            ("./docker/Dockerfile", true),
            ("../Dockerfile", false),
            ("sub/../../Dockerfile", false),
            ("..", false),
            (".", false),
            ("/project/app/Dockerfile", true),
            ("/project/Dockerfile", false),
        ] {
            assert_eq!(dockerfile_in_context(context, dockerfile).is_some(), inside, "{dockerfile}");
        }
    }

    #[test]
    fn the_hash_follows_what_is_sent_but_not_mtimes() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        write(root, "Dockerfile", "FROM scratch\n", 0o644);
        write(root, ".dockerignore", "*.log\n", 0o644);
        write(root, "src/main.txt", "one", 0o644);
        write(root, "debug.log", "noise", 0o644);
        let hash_now = || hash(&plan(root, "Dockerfile").unwrap()).unwrap();
        let first = hash_now();
        assert!(first.starts_with("sha256:") && first.len() == 7 + 64, "{first}");

        // Only the mtime changes: the same hash, as for a `touch` or a fresh checkout.
        let file = File::options().write(true).open(root.join("src/main.txt")).unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
        drop(file);
        assert_eq!(hash_now(), first, "an mtime is not a change");
        // An excluded file is not sent, so it does not count; boss's state neither.
        write(root, "debug.log", "more noise", 0o644);
        write(root, ".boss-context", "{\"token\":\"x\"}", 0o600);
        assert_eq!(hash_now(), first, "excluded files are not part of the context");

        let changed = |edit: &dyn Fn()| {
            edit();
            let hash = hash_now();
            assert_ne!(hash, first);
            hash
        };
        let contents = changed(&|| write(root, "src/main.txt", "two", 0o644));
        let mode =
            changed(&|| fs::set_permissions(root.join("src/main.txt"), fs::Permissions::from_mode(0o600)).unwrap());
        assert_ne!(contents, mode, "the mode counts");
        changed(&|| write(root, "src/new.txt", "", 0o644));
        changed(&|| write(root, ".dockerignore", "*.log\nsrc/new.txt\n", 0o644));
    }
}
