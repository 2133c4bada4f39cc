//! rollcall's own wire protocol: what clients and the daemon say to each other.
//!
//! A connection starts with a [`ClientMessage::Hello`] naming the protocol versions the
//! client speaks and its role; its format byte names the encoding the whole session
//! speaks ([`crate::codec::Encoding`]). A worker then sends keepalives, pongs and acks; a
//! master is welcomed with the version chosen and sends requests, each answered by a
//! [`ServerMessage::Reply`] with the same `request_id`. All encoding goes through
//! [`crate::codec`]; `docs/protocol.md` is the specification, checked against these types.
//!
//! bincode numbers enum variants by position, so a new variant goes at the end of its
//! enum, and MessagePack names them in snake_case.

use rollcall_core::{Command, Password, Reply, ToWorker};
use serde::{Deserialize, Serialize};

use crate::credentials::Token;

/// The newest protocol version this build speaks, and what its clients offer.
pub const PROTOCOL_VERSION: u32 = 3;

/// The oldest protocol version the daemon still accepts: 2 differs from 3 only in its
/// master welcome ([`ServerMessage::MasterWelcome`]) and in having no MessagePack.
pub const MIN_PROTOCOL_VERSION: u32 = 2;

/// The first version with MessagePack sessions.
pub const MIN_MESSAGEPACK_PROTOCOL_VERSION: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[serde(rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first frame of every connection: the client speaks every protocol version from
    /// `min_protocol_version` (absent: `protocol_version` only) to `protocol_version`.
    Hello { protocol_version: u32, role: Role, min_protocol_version: Option<u32> },
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

impl ClientMessage {
    /// The Hello this build's clients send: every version from the oldest the daemon
    /// accepts to the newest.
    #[must_use]
    pub fn hello(role: Role) -> ClientMessage {
        ClientMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
            role,
            min_protocol_version: Some(MIN_PROTOCOL_VERSION),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMessage {
    /// To a worker, from its Gateway.
    Worker(ToWorker),
    /// To a master of protocol version 2: its Hello was accepted. Later versions are sent
    /// [`ServerMessage::Welcome`] instead.
    MasterWelcome,
    /// To a master: the answer to the request with `request_id`, sent only once the changes
    /// it made are on disk.
    Reply { request_id: u64, result: Result<Reply, RequestError> },
    /// The daemon is closing this connection, and why.
    Goodbye { reason: String },
    /// A cluster node that does not serve the registry now: connect to `leader` (when this
    /// node knows who leads), or try the cluster's other nodes. The daemon closes the
    /// connection after it.
    NotLeader { leader: Option<String> },
    /// To a master (protocol version 3 on): its Hello was accepted, and the session speaks
    /// `protocol_version`.
    Welcome { protocol_version: u32 },
}

/// Why a master's request was refused: the Node's own type, sent as it is.
pub use rollcall_core::node::RequestError;

mod hello;

pub use hello::{accept_hello, daemon_versions, AcceptedHello, HelloError};

#[cfg(test)]
mod catalogue;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors_tests;
