//! What the network side and the signal handler tell the core thread.

use rollcall_core::{Command, ConnectionId, Gateway, MasterId, Password, Registry};

use crate::config::Config;

pub(crate) use crate::core_link::outbound::Outbound;

#[derive(Debug)]
pub(crate) enum WorkerMessage {
    Keepalive,
    Pong { nonce: u64 },
    BuilderListAck,
}

/// What a read job may look at: the machines' committed state, after a batch is durable.
pub(crate) struct ReadView<'a> {
    pub(crate) registry: &'a Registry,
    /// What each worker reported about itself (Buildbot's `workerinfo`), by name.
    pub(crate) worker_info: &'a std::collections::HashMap<String, serde_json::Value>,
    pub(crate) gateway: &'a Gateway,
    pub(crate) master: MasterId,
    pub(crate) master_name: &'a str,
}

/// A read run on the core thread once its batch is durable. It must only copy what it needs and hand
/// it back (through a channel it owns): rendering, filtering and writing happen elsewhere,
/// so a slow HTTP client never holds the core.
pub(crate) type ReadJob = Box<dyn FnOnce(&ReadView<'_>) + Send>;

pub(crate) enum CoreInput {
    WorkerHello {
        connection: ConnectionId,
        /// Where it connects from, for the operator's log.
        peer: std::net::SocketAddr,
        name: String,
        password: Password,
        outbound: Outbound,
        /// What its Hello chose: every frame to it is encoded so.
        encoding: crate::codec::Encoding,
    },
    WorkerMessage {
        connection: ConnectionId,
        message: WorkerMessage,
    },
    MasterHello {
        connection: ConnectionId,
        name: String,
        token: crate::credentials::Token,
        outbound: Outbound,
        encoding: crate::codec::Encoding,
        /// The version its Hello and the daemon agreed on, which says how it is welcomed.
        protocol_version: u32,
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
    /// A Buildbot worker's answer to `get_worker_info`.
    WorkerInfo {
        connection: ConnectionId,
        info: serde_json::Value,
    },
    Reconfig(Box<Config>),
    Read(ReadJob),
    Shutdown,
    /// News from a cluster standby's session to the leader.
    Leader(LeaderEvent),
}

/// What a standby's session to the leader reports (daemon/cluster/leader_link.rs).
#[derive(Debug)]
pub(crate) enum LeaderEvent {
    Opened,
    Closed,
    Reply {
        request_id: u64,
        result: Result<rollcall_core::Reply, rollcall_core::node::RequestError>,
    },
}

impl std::fmt::Debug for CoreInput {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreInput::WorkerHello { connection, name, .. } => {
                write!(formatter, "WorkerHello({connection}, {name:?})")
            }
            CoreInput::WorkerMessage { connection, message } => {
                write!(formatter, "WorkerMessage({connection}, {message:?})")
            }
            CoreInput::MasterHello { connection, name, .. } => {
                write!(formatter, "MasterHello({connection}, {name:?})")
            }
            CoreInput::MasterRequest { connection, request_id, .. } => {
                write!(formatter, "MasterRequest({connection}, {request_id})")
            }
            CoreInput::ConnectionClosed { connection, protocol_error } => {
                write!(formatter, "ConnectionClosed({connection}, {protocol_error:?})")
            }
            CoreInput::WorkerInfo { connection, .. } => {
                write!(formatter, "WorkerInfo({connection})")
            }
            CoreInput::Reconfig(_) => formatter.write_str("Reconfig"),
            CoreInput::Read(_) => formatter.write_str("Read"),
            CoreInput::Shutdown => formatter.write_str("Shutdown"),
            CoreInput::Leader(event) => write!(formatter, "Leader({event:?})"),
        }
    }
}
