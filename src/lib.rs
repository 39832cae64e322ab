//! boss: start, stop and reload groups of dependent Docker services described in Rhai scripts.
//!
//! The `boss` binary is a thin shell over [`run`]; this crate is also a library, so a Rust test
//! suite can start the services it needs from a script, use them, and have them removed when
//! it is done:
//!
//! ```no_run
//! #[tokio::test]
//! async fn orders_are_stored() -> Result<(), boss::Error> {
//!     let running = boss::Group::load("tests/services.rhai")?
//!         .name("orders-test-42") // its own containers, network and context file
//!         .exclude(["worker"])
//!         .start()
//!         .await?;
//!     let url = format!("http://127.0.0.1:{}/", running.port("api", 8080)?);
//!     let admin = running.context().get("admin_id"); // set by a `post_start` hook
//!     // ... exercise the services at `url` ...
//!     running.stop().remove().volumes().await?; // or just drop `running`
//!     # let _ = (url, admin);
//!     Ok(())
//! }
//! ```
//!
//! - [`Group`] is a loaded, checked script; script mistakes are [`Error::Script`] before the
//!   engine is touched. Options: [`Group::name`], [`Group::exclude`], [`Group::timeout`],
//!   [`Group::network_name`], [`Group::save_logs`], [`Group::events`] (every [`event::Event`] of the run),
//!   [`Group::cancel_on`] (a [`CancellationToken`]; nothing here handles signals).
//!   [`Group::status`] and [`Group::env`] read the group as it runs, changing nothing.
//! - [`Running`] is a started group: [`Running::port`], [`Running::context`], and
//!   [`Running::stop`]. Dropping it stops and removes the group, unless [`Running::keep`].
//! - [`Error`] is every failure as data; its `Display` is the text the CLI prints.
//!
//! The library runs on the caller's tokio runtime (a `#[tokio::test]` is enough) and needs a
//! Docker Engine at `$DOCKER_HOST` or `/var/run/docker.sock`. Hooks run on the runtime's
//! blocking threads; a script that nests values thousands of levels deep needs a runtime
//! built with a larger `thread_stack_size`, as the CLI's is. See ARCHITECTURE.md for the map
//! of modules.

mod access;
mod arguments;
mod attach;
mod backend;
mod build_context;
mod claim;
mod command;
#[allow(
    dead_code,
    unused_imports,
    reason = "read and tested here; `compose()` and `boss import` will map it onto services"
)]
mod compose;
pub mod context;
mod crash;
mod docker;
mod dockerignore;
mod dotenv;
mod env;
pub mod error;
pub mod event;
mod gc;
mod graph;
mod group;
mod hook;
#[cfg(test)]
mod hostile;
mod image;
mod interpolate;
mod lock;
mod logs;
mod observe;
mod output;
mod ownership;
mod ping;
pub mod plan;
mod project;
mod reload;
mod script;
mod secret;
mod select;
mod service;
mod source;
mod start;
pub mod status;
mod stop;
mod terminal;
#[cfg(test)]
mod testing;
mod text;
mod walk;

pub use error::Error;
pub use group::{Group, Running, StopRequest};
pub use plan::Plan;
pub use status::Status;
/// The token [`Group::cancel_on`] takes, re-exported so callers need not depend on tokio-util.
pub use tokio_util::sync::CancellationToken;

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser as _;

use crate::error::exit_code;

/// The stack of every runtime thread, hook threads included. Rhai clones, drops and
/// size-checks nested arrays and maps recursively, and bounds their nesting only through its
/// item limits (a million array items), so a hook that nests values deeply overflows a default
/// 2 MiB stack at about 1 500 levels in a debug build and aborts boss with a half-started
/// container. The stack is reserved address space; only the pages a deep value touches are
/// ever backed by memory. See "Safety" in the README for the depth this covers.
const HOOK_STACK_SIZE: usize = 512 << 20;

/// Runs boss with the given command line and returns the process exit status. Errors are
/// printed here, once.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> i32 {
    let arguments = match arguments::Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { exit_code::INVALID_INPUT } else { exit_code::SUCCESS };
        }
    };
    init_logging(arguments.verbose);
    let mode = command::progress_mode(arguments.command.progress());
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(HOOK_STACK_SIZE).build() {
            Ok(runtime) => runtime,
            Err(error) => {
                output::line(&format!("error: cannot start the async runtime: {error}"));
                return exit_code::FAILURE;
            }
        };
    // The command runs on a thread with the same large stack. The script's top level is now
    // evaluated on a blocking thread of the runtime (`command::load`), which has that stack
    // too, so this thread only keeps anything else run inside `block_on` equally safe.
    let command = arguments.command;
    let env_file = arguments.env_file;
    let result = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(HOOK_STACK_SIZE)
            .spawn_scoped(scope, || runtime.block_on(command::execute(command, env_file)))
            .map(|thread| thread.join())
    });
    let result = match result {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => {
            output::line(&format!("error: cannot start the command's thread: {error}"));
            return exit_code::FAILURE;
        }
    };
    // A hook stuck in native code must not keep the process alive after the command ended.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => exit_code::SUCCESS,
        Err(error) => {
            output::final_error(mode, &error);
            error.exit_code()
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "boss=debug,script=debug",
        // bollard logs whole request and response bodies at debug level, and those carry env
        // values (passwords) in container creation and inspection; its other logs stay.
        _ => "debug,bollard::docker=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .without_time()
        .try_init();
}
