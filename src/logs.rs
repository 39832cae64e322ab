//! `boss logs` and `start --save-logs`: the output of a group's containers, read with the
//! engine's timestamps so that several services interleave by time, printed under each
//! service's name, saved to files, or followed across new containers of the same services.
//!
//! Following keeps no container id for long: it watches the engine's start events for the
//! group's label, so a container that a `reload` or a `stop`/`start` creates is followed from
//! its first line.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, ContainerInfo, ContainerState, LogsRequest, label};
use crate::error::{Action, Error};
use crate::output::LogPrinter;
use crate::ownership;

/// Which lines `boss logs` shows, and how.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ShowOptions {
    pub follow: bool,
    /// Only the last lines of each service.
    pub tail: Option<usize>,
    pub since: Option<SystemTime>,
    pub timestamps: bool,
}

/// What `boss logs` shows.
#[derive(Debug, Clone)]
pub(crate) struct LogsOptions {
    /// The services, in the script's order, with their place in the script (for colours).
    pub services: Vec<(String, usize)>,
    pub show: ShowOptions,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    /// When the engine read it; `None` if the line carried no timestamp boss could read.
    pub time: Option<SystemTime>,
    /// The engine's timestamp as it wrote it (RFC 3339, nanoseconds).
    pub stamp: String,
    pub text: String,
}

impl LogLine {
    /// Splits a line the engine stamped (`2026-11-30T13:38:00.123456789Z text`).
    fn parse(line: &[u8]) -> LogLine {
        let line = String::from_utf8_lossy(line);
        let line = line.strip_suffix('\n').unwrap_or(&line);
        match line.split_once(' ') {
            Some((stamp, text)) if humantime::parse_rfc3339(stamp).is_ok() => {
                LogLine { time: humantime::parse_rfc3339(stamp).ok(), stamp: stamp.to_string(), text: text.to_string() }
            }
            _ => LogLine { time: None, stamp: String::new(), text: line.to_string() },
        }
    }

    /// The line as a log file holds it: with its timestamp when `timestamps`, and a newline.
    pub(crate) fn file_line(&self, timestamps: bool) -> String {
        if timestamps && !self.stamp.is_empty() {
            format!("{} {}\n", self.stamp, self.text)
        } else {
            format!("{}\n", self.text)
        }
    }
}

/// Cuts a stream of chunks into lines; a chunk may hold several lines or part of one.
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    fn push(&mut self, chunk: &[u8]) -> Vec<LogLine> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            lines.push(LogLine::parse(&line));
        }
        lines
    }

    /// The last line, if the stream ended without its newline.
    fn finish(self) -> Option<LogLine> {
        (!self.pending.is_empty()).then(|| LogLine::parse(&self.pending))
    }
}

/// The container a service's log is read from: its running one, else its newest.
fn current(containers: Vec<ContainerInfo>) -> Option<ContainerInfo> {
    let running = containers.iter().position(|container| container.state == ContainerState::Running);
    match running {
        Some(index) => containers.into_iter().nth(index),
        None => containers.into_iter().next(),
    }
}

async fn container_of<B: Backend>(backend: &B, group: &str, service: &str) -> Result<Option<ContainerInfo>, Error> {
    let containers = backend
        .containers_labelled(&ownership::service_labels(group, service))
        .await
        .map_err(|error| Error::Backend { action: Action::ListServiceContainers { service: service.into() }, error })?;
    Ok(current(containers))
}

/// The lines of the container's log that `request` selects (without following), and only
/// those written at or after `since`: the engine counts whole seconds.
pub(crate) async fn read<B: Backend>(
    backend: &B,
    container: &ContainerInfo,
    request: LogsRequest,
) -> Result<Vec<LogLine>, Error> {
    read_container(backend, &container.id, &container.name, request).await
}

async fn read_container<B: Backend>(
    backend: &B,
    id: &str,
    name: &str,
    request: LogsRequest,
) -> Result<Vec<LogLine>, Error> {
    let mut stream = backend.timestamped_logs(id, LogsRequest { follow: false, ..request });
    let mut lines = Lines::default();
    let mut read = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|error| Error::Backend { action: Action::ReadLogs { container: name.to_string() }, error })?;
        read.extend(lines.push(&chunk));
    }
    read.extend(lines.finish());
    read.retain(|line| written_since(line, request.since));
    // The engine copies stdout and stderr separately, so its order can differ from the
    // order the lines were written in; their timestamps tell.
    read.sort_by_key(|line| line.time);
    Ok(read)
}

fn written_since(line: &LogLine, since: Option<SystemTime>) -> bool {
    match (line.time, since) {
        (Some(time), Some(since)) => time >= since,
        _ => true,
    }
}

/// Prints the services' logs interleaved by time, then, with `follow`, what they write next,
/// until `cancel`.
pub(crate) async fn show<B: Backend>(
    backend: Arc<B>,
    group: &str,
    options: &LogsOptions,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let printer = LogPrinter::new(&options.services, options.show.timestamps);
    // Start events from a little before the first look are replayed, so that a container
    // started in between is not missed; the ones already followed are ignored.
    let looked = SystemTime::now();
    let request = LogsRequest { follow: false, tail: options.show.tail, since: options.show.since };
    let mut backlog = Vec::new();
    let mut current_containers = Vec::new();
    for (index, (service, _)) in options.services.iter().enumerate() {
        let Some(container) = container_of(&*backend, group, service).await? else { continue };
        for line in read(&*backend, &container, request).await? {
            backlog.push((index, line));
        }
        current_containers.push((index, container));
    }
    // A stable sort keeps each container's own order for lines without a timestamp.
    backlog.sort_by_key(|(_, line)| line.time);
    let mut seen: HashMap<String, SystemTime> = HashMap::new();
    for (index, line) in &backlog {
        if !printer.print(*index, line) {
            return Ok(());
        }
    }
    for (index, container) in &current_containers {
        let last = backlog.iter().filter(|(service, _)| service == index).filter_map(|(_, line)| line.time).max();
        seen.insert(container.id.clone(), last.unwrap_or(looked));
    }
    if !options.show.follow {
        return Ok(());
    }

    let mut starts = backend.container_starts(&ownership::group_labels(group), looked - Duration::from_secs(2));
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut following = HashSet::new();
    for (index, container) in current_containers {
        if container.state == ContainerState::Running {
            let after = seen.get(&container.id).copied();
            following.insert(container.id.clone());
            tokio::spawn(pump(Arc::clone(&backend), container.id, index, after, sender.clone()));
        }
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            Some(followed) = receiver.recv() => match followed {
                Followed::Line { container, service, line } => {
                    if let Some(time) = line.time {
                        seen.insert(container, time);
                    }
                    if !printer.print(service, &line) {
                        return Ok(());
                    }
                }
                Followed::Ended { container } => {
                    following.remove(&container);
                }
            },
            started = starts.next() => match started {
                Some(Ok(started)) => {
                    let service = started.labels.get(label::SERVICE);
                    let index = options.services.iter().position(|(name, _)| Some(name) == service);
                    if let Some(index) = index && following.insert(started.id.clone()) {
                        let after = seen.get(&started.id).copied();
                        tokio::spawn(pump(Arc::clone(&backend), started.id, index, after, sender.clone()));
                    }
                }
                Some(Err(error)) => {
                    return Err(Error::Backend { action: Action::WatchContainers { group: group.to_string() }, error });
                }
                None => {
                    let error = BackendError::other("the engine closed its event stream");
                    return Err(Error::Backend { action: Action::WatchContainers { group: group.to_string() }, error });
                }
            },
        }
    }
}

/// What a followed container sent.
enum Followed {
    Line { container: String, service: usize, line: LogLine },
    Ended { container: String },
}

/// Follows one container until it stops, sending the lines written after `after` (those up to
/// it were printed already).
async fn pump<B: Backend>(
    backend: Arc<B>,
    id: String,
    service: usize,
    after: Option<SystemTime>,
    sender: mpsc::UnboundedSender<Followed>,
) {
    let request = LogsRequest { follow: true, tail: None, since: after };
    let mut stream = backend.timestamped_logs(&id, request);
    let mut lines = Lines::default();
    let send = |line: LogLine| {
        let new = match (line.time, after) {
            (Some(time), Some(after)) => time > after,
            _ => true,
        };
        if new {
            let _ = sender.send(Followed::Line { container: id.clone(), service, line });
        }
    };
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => lines.push(&chunk).into_iter().for_each(&send),
            // A container removed while followed ends its stream with an error; the next
            // container of the service is followed when it starts.
            Err(error) => {
                tracing::debug!(id, %error, "following a container's log ended");
                break;
            }
        }
    }
    lines.finish().into_iter().for_each(&send);
    let _ = sender.send(Followed::Ended { container: id.clone() });
}

/// A log written to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedLog {
    pub service: String,
    pub path: PathBuf,
    pub lines: usize,
}

/// Writes the log of each service with a container to `directory/<service>.log` (creating
/// the directory), and returns what was written and the services without a container.
pub(crate) async fn save<B: Backend>(
    backend: &B,
    group: &str,
    services: &[String],
    request: LogsRequest,
    timestamps: bool,
    directory: &Path,
) -> Result<(Vec<SavedLog>, Vec<String>), Error> {
    let mut saved = Vec::new();
    let mut missing = Vec::new();
    for service in services {
        match container_of(backend, group, service).await? {
            Some(container) => {
                let lines = read(backend, &container, request).await?;
                saved.push(write(service, &lines, timestamps, directory)?);
            }
            None => missing.push(service.clone()),
        }
    }
    Ok((saved, missing))
}

/// Writes the whole log of the container `id` (named `name`) of `service` to
/// `directory/<service>.log`, with timestamps: what a CI job keeps of a failed service.
pub(crate) async fn save_container<B: Backend>(
    backend: &B,
    id: &str,
    name: &str,
    service: &str,
    directory: &Path,
) -> Result<SavedLog, Error> {
    let lines = read_container(backend, id, name, LogsRequest::default()).await?;
    write(service, &lines, true, directory)
}

/// Writes `lines` to `directory/<service>.log`, creating the directory.
fn write(service: &str, lines: &[LogLine], timestamps: bool, directory: &Path) -> Result<SavedLog, Error> {
    let path = directory.join(format!("{service}.log"));
    let text: String = lines.iter().map(|line| line.file_line(timestamps)).collect();
    std::fs::create_dir_all(directory)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|error| Error::SaveLog { path: path.clone(), error: error.to_string() })?;
    Ok(SavedLog { service: service.to_string(), path, lines: lines.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_become_stamped_lines() {
        let mut lines = Lines::default();
        assert_eq!(
            lines.push(b"2026-11-30T13:38:00.5Z one\n2026-11-30T13:38:01Z tw"),
            vec![LogLine {
                time: humantime::parse_rfc3339("2026-11-30T13:38:00.5Z").ok(),
                stamp: "2026-11-30T13:38:00.5Z".into(),
                text: "one".into(),
            }]
        );
        let two = lines.push(b"o\nno stamp\n");
        assert_eq!(two[0].text, "two");
        assert_eq!(two[1], LogLine { time: None, stamp: String::new(), text: "no stamp".into() });
        assert_eq!(lines.push(b"2026-11-30T13:38:02Z tail").len(), 0);
        let last = lines.finish().unwrap();
        assert_eq!((last.text.as_str(), last.file_line(true).as_str()), ("tail", "2026-11-30T13:38:02Z tail\n"));
        assert_eq!(last.file_line(false), "tail\n");
    }

    #[test]
    fn since_keeps_lines_at_or_after_it() {
        let line = LogLine::parse(b"2026-11-30T13:38:00.5Z x\n");
        let at = |text: &str| humantime::parse_rfc3339(text).ok();
        assert!(written_since(&line, at("2026-11-30T13:38:00.5Z")));
        assert!(!written_since(&line, at("2026-11-30T13:38:00.6Z")));
        assert!(written_since(&line, None));
    }
}
