//! rollcall's own wire protocol: what clients and the daemon say to each other.
//!
//! A connection starts with a [`ClientMessage::Hello`] naming the protocol version and the
//! role. A worker then sends keepalives, pongs and acks; a master sends requests, each
//! answered by a [`ServerMessage::Reply`] with the same `request_id`. All encoding goes
//! through [`crate::codec`].

use rollcall_core::{Command, CommandError, MasterId, Password, Reply, ToWorker};
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
}

/// Why a master's request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestError {
    /// The Registry refused the command.
    Refused(CommandError),
    /// A session may only speak for the master it registered with `MasterActive` under the
    /// name from its Hello.
    NotThisSession { session: Option<MasterId> },
    /// `MasterActive` named another master than the session's Hello did.
    WrongName { hello: String },
    /// The command would create rows of a kind already at the daemon's cap (`[limits]
    /// max_masters`, `max_rows_per_kind`).
    LimitReached { rows: String, limit: u64 },
    /// A connection report for a worker this session's master does not configure
    /// (`SetConfiguredWorkers`).
    NotConfigured { worker: String },
    /// A command only the daemon itself sends (`ExpireMasters`: expiry runs on the
    /// daemon's clock and schedule; a remote master forcing sweeps, and the full scan of
    /// housekeeping, at its own rate would be a lever on everyone's liveness and CPU).
    DaemonOnly { command: String },
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Refused(error) => write!(formatter, "refused: {error}"),
            RequestError::NotThisSession { session: Some(id) } => {
                write!(formatter, "this session speaks for master {id} only")
            }
            RequestError::NotThisSession { session: None } => {
                formatter.write_str("send MasterActive first: this session has no master yet")
            }
            RequestError::WrongName { hello } => {
                write!(formatter, "this session said Hello as {hello:?}")
            }
            RequestError::NotConfigured { worker } => {
                write!(formatter, "worker {worker:?} is not configured by this master")
            }
            RequestError::LimitReached { rows, limit } => {
                write!(formatter, "the registry holds its limit of {limit} {rows}")
            }
            RequestError::DaemonOnly { command } => {
                write!(
                    formatter,
                    "{command} is sent by the daemon itself, never by a remote master"
                )
            }
        }
    }
}
