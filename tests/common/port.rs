//! Finds host ports for tests that publish container ports.

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before this returns, so another process could take it first; the
/// kernel hands out ephemeral ports in rotation, which makes that unlikely in practice.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("cannot bind 127.0.0.1:0: {error}"));
    listener.local_addr().unwrap_or_else(|error| panic!("cannot read the bound address: {error}")).port()
}
