//! What the network side and the signal handler tell the core thread.

use rollcall_core::{Command, ConnectionId, Password};

use crate::config::Config;

/// Encoded frames on their way to one connection's writer task. Bounded: a peer that stops
/// reading fills it, and is then disconnected rather than allowed to grow it.
pub(crate) type Outbound = smol::channel::Sender<Vec<u8>>;

#[derive(Debug)]
pub(crate) enum WorkerMessage {
    Keepalive,
    Pong { nonce: u64 },
    BuilderListAck,
}

#[derive(Debug)]
pub(crate) enum CoreInput {
    WorkerHello {
        connection: ConnectionId,
        name: String,
        password: Password,
        outbound: Outbound,
    },
    WorkerMessage {
        connection: ConnectionId,
        message: WorkerMessage,
    },
    MasterHello {
        connection: ConnectionId,
        name: String,
        outbound: Outbound,
    },
    MasterRequest {
        connection: ConnectionId,
        request_id: u64,
        command: Command,
    },
    /// The connection ended. With a reason, it broke the protocol: the peer is told why.
    ConnectionClosed {
        connection: ConnectionId,
        protocol_error: Option<String>,
    },
    Reconfig(Box<Config>),
    Shutdown,
}
