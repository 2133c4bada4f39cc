//! rollcall-io drives the pure core for real: sockets (smol, async-net), durable storage
//! (fjall), configuration, signals, and the clients of rollcall's own wire protocol.

mod acceptor;
pub mod backup;
pub mod bind;
mod buildbot;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod codec;
pub mod config;
mod core_link;
pub mod credentials;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod log_limit;
mod logging;
pub use logging::LogFormat;
pub mod metrics;
pub mod storage;
pub mod tls;
pub mod trace;
pub mod wire;
