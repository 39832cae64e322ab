//! A Unix socket in front of the real Docker socket that a test points boss at
//! (`DOCKER_HOST=unix://...`) to make the engine go away ([`Proxy::cut`]), stop answering
//! ([`Proxy::stall`], [`Proxy::stall_at`]) or come back ([`Proxy::restore`]), and to count the
//! requests boss makes ([`Proxy::requests`]).
//!
//! Plain threads: one accepting, two per connection copying bytes. The requests are found by
//! reading each HTTP/1.1 request's head (request line and headers) in the client's stream and
//! skipping its body by `Content-Length` or chunked framing, so several requests on one
//! keep-alive connection are each counted. Limits: a connection upgraded to a raw stream
//! (`Upgrade:` in a request, as `docker exec` and attach use) is no longer read after that
//! request, and a request head is seen only once it has fully arrived.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;

/// The real engine's socket.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// What the proxy does with the bytes between boss and the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    /// Connections are kept open, but no byte crosses in either direction.
    Stall,
    /// Every connection is closed, and a new one is closed as soon as it is accepted.
    Cut,
}

/// One request that crossed (or was held by) the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Without the API version prefix (`/v1.47`) and without the query.
    pub(crate) path: String,
    pub(crate) query: String,
}

#[derive(Debug)]
struct State {
    mode: Mutex<Mode>,
    changed: Condvar,
    /// Both ends of every live connection, to close them on a cut.
    connections: Mutex<Vec<UnixStream>>,
    requests: Mutex<Vec<Request>>,
    /// Stall as soon as a request whose `METHOD path?query` contains this arrives, before it
    /// reaches the engine.
    stall_at: Mutex<Option<String>>,
    closing: Mutex<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The proxy; dropping it closes every connection and removes the socket.
#[derive(Debug)]
pub(crate) struct Proxy {
    path: PathBuf,
    state: Arc<State>,
}

impl Proxy {
    /// Listens at `path` (a Unix socket path, well under 108 bytes) and forwards to the real
    /// Docker socket.
    pub(crate) fn start(path: &Path) -> Proxy {
        let _ = std::fs::remove_file(path);
        let listener =
            UnixListener::bind(path).unwrap_or_else(|error| panic!("cannot bind {}: {error}", path.display()));
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Forward),
            changed: Condvar::new(),
            connections: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            stall_at: Mutex::new(None),
            closing: Mutex::new(false),
        });
        let accepting = Arc::clone(&state);
        thread::spawn(move || {
            for client in listener.incoming() {
                if *lock(&accepting.closing) {
                    return;
                }
                let Ok(client) = client else { continue };
                if accepting.mode() == Mode::Cut {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(engine) = UnixStream::connect(DOCKER_SOCKET) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                accept(&accepting, client, engine);
            }
        });
        Proxy { path: path.to_owned(), state }
    }

    /// `DOCKER_HOST` for boss: `unix://<path>`.
    pub(crate) fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// The engine goes away: live connections are closed, new ones closed at once.
    pub(crate) fn cut(&self) {
        self.state.set(Mode::Cut);
        for connection in lock(&self.state.connections).drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }

    /// The engine stops answering: connections stay open, but nothing crosses any more.
    pub(crate) fn stall(&self) {
        self.state.set(Mode::Stall);
    }

    /// Stalls as soon as a request whose `METHOD path?query` contains `needle` arrives, before
    /// any of it reaches the engine.
    pub(crate) fn stall_at(&self, needle: &str) {
        *lock(&self.state.stall_at) = Some(needle.to_owned());
    }

    /// Forwards again (held bytes go on; cut connections stay closed).
    pub(crate) fn restore(&self) {
        *lock(&self.state.stall_at) = None;
        self.state.set(Mode::Forward);
    }

    /// Every request seen so far, in the order their heads arrived.
    pub(crate) fn requests(&self) -> Vec<Request> {
        lock(&self.state.requests).clone()
    }

    /// How many requests were seen of each `METHOD path`, after `normalise` maps each path (to
    /// put ids and names aside).
    pub(crate) fn counts(&self, normalise: impl Fn(&Request) -> String) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for request in self.requests() {
            *counts.entry(format!("{} {}", request.method, normalise(&request))).or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        *lock(&self.state.closing) = true;
        self.cut();
        // Wakes the accepting thread so it sees `closing`.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

impl State {
    fn mode(&self) -> Mode {
        *lock(&self.mode)
    }

    fn set(&self, mode: Mode) {
        *lock(&self.mode) = mode;
        self.changed.notify_all();
    }

    /// Waits while stalled; false once the connection must close (cut).
    fn may_forward(&self) -> bool {
        let mut mode = lock(&self.mode);
        while *mode == Mode::Stall {
            mode = self.changed.wait(mode).unwrap_or_else(PoisonError::into_inner);
        }
        *mode == Mode::Forward
    }
}

fn accept(state: &Arc<State>, client: UnixStream, engine: UnixStream) {
    let ends = [client.try_clone(), engine.try_clone(), client.try_clone(), engine.try_clone()];
    let [Ok(client_out), Ok(engine_in), Ok(client_kept), Ok(engine_kept)] = ends else { return };
    lock(&state.connections).extend([client_kept, engine_kept]);
    let upstream = Arc::clone(state);
    thread::spawn(move || {
        let mut scanner = Scanner::default();
        pump(&upstream, client, engine, |state, bytes| {
            for request in scanner.feed(bytes) {
                let shown = format!("{} {}?{}", request.method, request.path, request.query);
                let mut stall_at = lock(&state.stall_at);
                if stall_at.as_deref().is_some_and(|needle| shown.contains(needle)) {
                    *stall_at = None;
                    state.set(Mode::Stall);
                }
                drop(stall_at);
                lock(&state.requests).push(request);
            }
        });
    });
    let downstream = Arc::clone(state);
    thread::spawn(move || pump(&downstream, engine_in, client_out, |_, _| {}));
}

/// Copies `from` to `to` until either closes, holding bytes while stalled; `seen` looks at
/// each piece before it is forwarded.
fn pump(state: &State, mut from: UnixStream, mut to: UnixStream, mut seen: impl FnMut(&State, &[u8])) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        seen(state, &buffer[..read]);
        if !state.may_forward() || to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Finds the request heads in a client's byte stream.
#[derive(Debug, Default)]
struct Scanner {
    pending: Vec<u8>,
    body: Body,
}

#[derive(Debug, Default)]
enum Body {
    /// Waiting for (the rest of) a request head.
    #[default]
    None,
    /// This many body bytes still to skip.
    Length(usize),
    /// Inside chunked framing, at the start of a chunk-size line.
    Chunked,
    /// Skipping this many bytes of chunk data plus its CRLF.
    ChunkData(usize),
    /// The connection became a raw stream.
    Upgraded,
}

impl Scanner {
    fn feed(&mut self, bytes: &[u8]) -> Vec<Request> {
        let mut found = Vec::new();
        self.pending.extend_from_slice(bytes);
        loop {
            match self.body {
                Body::Upgraded => {
                    self.pending.clear();
                    return found;
                }
                Body::Length(left) | Body::ChunkData(left) => {
                    let skipped = left.min(self.pending.len());
                    self.pending.drain(..skipped);
                    let chunked = matches!(self.body, Body::ChunkData(_));
                    self.body = match (left - skipped, chunked) {
                        (0, false) => Body::None,
                        (0, true) => Body::Chunked,
                        (rest, false) => Body::Length(rest),
                        (rest, true) => Body::ChunkData(rest),
                    };
                    if left > skipped {
                        return found;
                    }
                }
                Body::Chunked => {
                    let Some(end) = find(&self.pending, b"\r\n") else { return found };
                    let line: Vec<u8> = self.pending.drain(..end + 2).collect();
                    let size = String::from_utf8_lossy(&line[..end]);
                    let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
                    // The last chunk (size 0) ends with an empty trailer line.
                    self.body = if size == 0 { Body::Length(2) } else { Body::ChunkData(size + 2) };
                }
                Body::None => {
                    let Some(end) = find(&self.pending, b"\r\n\r\n") else { return found };
                    let head: Vec<u8> = self.pending.drain(..end + 4).collect();
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let (request, body) = parse_head(&head);
                    found.extend(request);
                    self.body = body;
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// The request and how its body is framed.
fn parse_head(head: &str) -> (Option<Request>, Body) {
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or("").split(' ');
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // `/v1.47/containers/json` → `/containers/json`.
    let path = match path.strip_prefix("/v").and_then(|rest| rest.split_once('/')) {
        Some((version, rest)) if version.chars().all(|c| c.is_ascii_digit() || c == '.') => format!("/{rest}"),
        _ => path.to_owned(),
    };
    let mut body = Body::None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "content-length" => {
                let length = value.parse().unwrap_or(0);
                if length > 0 {
                    body = Body::Length(length);
                }
            }
            "transfer-encoding" if value.contains("chunked") => body = Body::Chunked,
            "upgrade" => body = Body::Upgraded,
            _ => {}
        }
    }
    let request = (!method.is_empty()).then(|| Request { method, path, query: query.to_owned() });
    (request, body)
}

#[cfg(test)]
mod tests {
    use super::Scanner;

    #[test]
    fn requests_on_one_connection_are_found_across_bodies_and_pieces() {
        let stream = b"GET /v1.47/containers/json?all=1 HTTP/1.1\r\nHost: d\r\n\r\n\
POST /v1.47/containers/create?name=a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
DELETE /v1.47/containers/x HTTP/1.1\r\n\r\n";
        let mut scanner = Scanner::default();
        let mut found = Vec::new();
        for piece in stream.chunks(7) {
            found.extend(scanner.feed(piece));
        }
        let shown: Vec<String> =
            found.iter().map(|request| format!("{} {} {}", request.method, request.path, request.query)).collect();
        assert_eq!(
            shown,
            ["GET /containers/json all=1", "POST /containers/create name=a", "POST /build ", "DELETE /containers/x "]
        );
    }
}
