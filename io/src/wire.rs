//! rollcall's own wire protocol: what clients and the daemon say to each other.
//!
//! A connection starts with a [`ClientMessage::Hello`] naming the protocol version and the
//! role. A worker then sends keepalives, pongs and acks; a master sends requests, each
//! answered by a [`ServerMessage::Reply`] with the same `request_id`. All encoding goes
//! through [`crate::codec`].

use rollcall_core::{Command, Password, Reply, ToWorker};
use serde::{Deserialize, Serialize};

use crate::credentials::Token;

/// Bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Worker {
        name: String,
        password: Password,
    },
    /// A remote master: its name as in `[[masters]]`, and one of its tokens.
    Master {
        name: String,
        token: Token,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The first frame of every connection.
    Hello { protocol_version: u32, role: Role },
    /// Worker: I am alive.
    Keepalive,
    /// Worker: the answer to a ping.
    Pong { nonce: u64 },
    /// Worker: the builder list arrived.
    BuilderListAck,
    /// Master: a Registry command. `command`'s master id must be this session's own.
    /// `request_id` must be unique for the master across its process's life (start at a
    /// random number): the same id with the same command is a retry, answered with the
    /// first answer without running again (except `MasterActive`, which always runs).
    Request { request_id: u64, command: Command },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// To a worker, from its Gateway.
    Worker(ToWorker),
    /// To a master: its Hello was accepted.
    MasterWelcome,
    /// To a master: the answer to the request with `request_id`, sent only once the changes
    /// it made are on disk.
    Reply { request_id: u64, result: Result<Reply, RequestError> },
    /// The daemon is closing this connection, and why.
    Goodbye { reason: String },
    /// A cluster node that does not serve the registry now: connect to `leader` (when this
    /// node knows who leads), or try the cluster's other nodes. The daemon closes the
    /// connection after it. (Last: the codec numbers variants in order.)
    NotLeader { leader: Option<String> },
}

/// Why a master's request was refused: the Node's own type, sent as it is.
pub use rollcall_core::node::RequestError;
