//! TLS on every port, with rustls on the ring provider, driven over futures-io so the daemon
//! stays on smol.
//!
//! - [`ServerTls`]: the daemon's certificate, key and optional client CA, re-read on SIGHUP;
//!   the acceptor takes the handshake of each connection in that connection's own task,
//!   under the port's handshake deadline ([`server::secure`]), its cryptography on threads
//!   of its own (`handshakes.rs`) so a handshake flood never delays trusted connections.
//! - [`ClientTls`]: what `rollcall worker` and `rollcall master` (and the tests and
//!   benchmarks) verify the daemon with, and present as a master's client certificate.
//! - [`Stream`]: a TCP connection in the clear or inside TLS, one type for every handler.

mod client;
mod error;
mod files;
mod handshakes;
mod identity;
pub(crate) mod server;
mod stream;

pub use client::{ClientTls, ClientTlsOptions};
pub use error::TlsError;
pub(crate) use identity::CertificateNames;
pub use server::ServerTls;
pub use stream::{ClientStream, ServerStream, Stream};

/// The one crypto provider of every TLS config here: ring, named explicitly so that no
/// process-wide default (or a second provider pulled in by another crate) decides.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
