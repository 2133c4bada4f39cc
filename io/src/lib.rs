//! rollcall-io drives the pure core for real: sockets (smol, async-net), durable storage
//! (fjall), configuration, signals, and the clients of rollcall's own wire protocol.

mod acceptor;
mod buildbot;
pub mod cli;
pub mod client;
pub mod codec;
pub mod config;
pub mod credentials;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod logging;
pub mod storage;
pub mod tls;
pub mod trace;
pub mod wire;
