//! `boss exec`: a command in a service's running container with this process's stdin, stdout
//! and stderr attached, and a TTY when the local terminal is one (in raw mode meanwhile, so
//! keys and Ctrl-C reach the command). Its exit code becomes boss's.

use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::backend::{AttachedExecSpec, Backend, ContainerState, ExecChunk};
use crate::error::{Action, Error};
use crate::output;
use crate::ownership;
use crate::terminal::{self, RawMode};

/// How much of stdin is read at once.
const INPUT_CHUNK: usize = 8 * 1024;

/// Runs `cmd` in the running container of `service` and returns the command's exit code
/// (`None` when the engine does not say).
pub(crate) async fn exec<B: Backend>(
    backend: &B,
    group: &str,
    service: &str,
    cmd: Vec<String>,
) -> Result<Option<i64>, Error> {
    let containers = backend
        .containers_labelled(&ownership::service_labels(group, service))
        .await
        .map_err(|error| Error::Backend { action: Action::ListServiceContainers { service: service.into() }, error })?;
    let Some(container) = containers.into_iter().find(|container| container.state == ContainerState::Running) else {
        return Err(Error::ServiceNotRunning { service: service.to_string() });
    };
    let tty = if terminal::interactive() { terminal::size().or(Some(DEFAULT_SIZE)) } else { None };
    let exec = AttachedExecSpec { cmd, tty };
    let action = || Action::ExecIn { container: container.name.clone() };
    let attached = backend
        .exec_attached(&container.id, &exec)
        .await
        .map_err(|error| Error::Backend { action: action(), error })?;
    if let Some(size) = tty {
        // Engines before API 1.42 ignore the size given at creation; a failed resize only
        // leaves the engine's default size.
        let _ = backend.resize_exec(&attached.id, size).await;
    }
    // Raw only once the command runs, so an error above is printed on a normal terminal.
    let raw = tty.and_then(|_| RawMode::enable());
    let input = tokio::spawn(pass_input(attached.input));
    let mut resized = window_changes();
    let mut stream = attached.output;
    let outcome = loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(Ok(ExecChunk::Stdout(bytes))) => output::raw_stdout(&bytes),
                Some(Ok(ExecChunk::Stderr(bytes))) => output::raw_stderr(&bytes),
                Some(Err(error)) => break Err(error),
                None => break Ok(()),
            },
            Some(()) = resized.recv(), if tty.is_some() => {
                if let Some(size) = terminal::size() {
                    let _ = backend.resize_exec(&attached.id, size).await;
                }
            }
        }
    };
    input.abort();
    drop(raw);
    outcome.map_err(|error| Error::Backend { action: action(), error })?;
    backend.exec_exit_code(&attached.id).await.map_err(|error| Error::Backend { action: action(), error })
}

/// The size a TTY gets when the terminal does not say.
const DEFAULT_SIZE: crate::backend::TerminalSize = crate::backend::TerminalSize { rows: 24, columns: 80 };

/// Copies this process's stdin to the command until stdin ends, then closes the command's
/// stdin. Reading happens on a thread of its own, outside the runtime: a terminal that is never
/// closed must not keep boss from exiting when the command is done.
async fn pass_input(mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>) {
    let (sender, mut chunks) = mpsc::channel::<Vec<u8>>(4);
    std::thread::spawn(move || {
        use std::io::Read as _;
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0; INPUT_CHUNK];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    while let Some(chunk) = chunks.recv().await {
        if input.write_all(&chunk).await.is_err() {
            return;
        }
        let _ = input.flush().await;
    }
    let _ = input.shutdown().await;
}

/// A message at every change of the terminal's size (SIGWINCH); never one when the signal
/// cannot be watched.
fn window_changes() -> mpsc::Receiver<()> {
    let (sender, receiver) = mpsc::channel(1);
    if let Ok(mut signals) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) {
        tokio::spawn(async move {
            while signals.recv().await.is_some() {
                if sender.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    receiver
}
