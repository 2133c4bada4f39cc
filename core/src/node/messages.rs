//! What goes into a Node and what comes out of it.

use serde::{Deserialize, Serialize};

use crate::{
    CloseReason, Command, CommandError, ConnectionId, GatewayEvent, MasterId, Password,
    RegistryEvent, Reply, ToWorker,
};

use super::NodeConfig;

/// One input to a [`Node`](super::Node). Connection ids are the transport's: one space for
/// worker connections and master sessions alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeInput {
    /// A worker's Hello: the Gateway authenticates it against the roster.
    WorkerHello {
        connection: ConnectionId,
        worker: String,
        password: Password,
    },
    WorkerKeepalive {
        connection: ConnectionId,
    },
    WorkerPong {
        connection: ConnectionId,
        nonce: u64,
    },
    /// A remote master opened a session with its Hello's name and the SHA-256 digest of the
    /// token it offered (the transport hashes it, and checks the certificate where mTLS
    /// asks for one): the Node decides whether it may in, and what it may do.
    MasterSessionOpened {
        connection: ConnectionId,
        name: String,
        token: super::TokenDigest,
    },
    /// A remote master's request; answered with [`NodeOutput::Reply`] echoing `request_id`.
    MasterRequest {
        connection: ConnectionId,
        request_id: u64,
        command: Command,
    },
    /// The transport's connection ended, whoever closed it (also after the Node asked for
    /// the close). Unknown connections are ignored: a late close changes nothing.
    ConnectionClosed {
        connection: ConnectionId,
    },
    /// A new configuration. Its master name must be the running one (a new name is a new
    /// master: that needs a restart).
    Reconfig(Box<NodeConfig>),
    /// Stop this master cleanly and close every connection.
    Shutdown,
    /// A standby's session to the leader is open: its own master registers and declares
    /// its state there.
    LeaderSessionOpened,
    /// A standby's session to the leader ended (or no leader could be reached).
    LeaderSessionClosed,
    /// The leader's answer to [`NodeOutput::ToLeader`] `request_id`.
    LeaderReply {
        request_id: u64,
        result: Result<Reply, RequestError>,
    },
}

/// Why a remote master's request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestError {
    /// The Registry refused the command.
    Refused(CommandError),
    /// A session may only speak for the master it registered with `MasterActive` under the
    /// name from its Hello.
    NotThisSession { session: Option<MasterId> },
    /// `MasterActive` named another master than the session's Hello did.
    WrongName { hello: String },
    /// The command would create rows of a kind already at the cap ([`RowCaps`](super::RowCaps)).
    LimitReached { rows: String, limit: u64 },
    /// A connection report for a worker this session's master does not configure
    /// (`SetConfiguredWorkers`).
    NotConfigured { worker: String },
    /// A command only a Node sends for its own master (`ExpireMasters`: expiry runs on the
    /// Node's clock and schedule; a remote master forcing sweeps, and the full scan of
    /// housekeeping, at its own rate would be a lever on everyone's liveness and CPU; the
    /// startup commands `RegisterMaster` and `RecoverCrashedMaster`).
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

impl std::error::Error for RequestError {}

/// Why the Node closes a master session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCloseReason {
    /// The Node's master is stopping.
    ShuttingDown,
    /// The session said Hello with the Node's own master's name: only the Node speaks
    /// for its own master.
    OwnMasterName,
    /// Unknown master or wrong token (one answer for both: no probing of names).
    AuthenticationFailed,
    /// A reconfig removed the master, or the token the session proved itself with.
    Deauthorized,
    /// This node does not serve the registry (a standby, or a leader deposed): the master
    /// should follow the leader.
    NotLeader,
    /// The registry expired the session's master (silent for the expiry window): it
    /// should register again, declaring what it serves.
    Expired,
}

/// What a Node asks its driver to do, released only once the batch that produced it is
/// durable (see [`Node::end_batch`](super::Node::end_batch)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutput {
    /// Send this message on a worker connection.
    ToWorker { connection: ConnectionId, message: ToWorker },
    /// Close a worker connection (after whatever was sent before it), telling it why.
    CloseWorker { connection: ConnectionId, reason: CloseReason },
    /// The session is accepted: send the master its welcome.
    SessionWelcome { connection: ConnectionId },
    /// The answer to a remote master's request.
    Reply { connection: ConnectionId, request_id: u64, result: Result<Reply, RequestError> },
    /// Close a master session, telling it why.
    CloseSession { connection: ConnectionId, reason: SessionCloseReason },
    /// A standby's own master's command, for the leader: answer with
    /// [`NodeInput::LeaderReply`] echoing `request_id`. Unsent on no session: the next
    /// session declares the state again.
    ToLeader { request_id: u64, command: Command },
    /// Give up the session to the leader (it left requests unanswered too long, or too
    /// many): report [`NodeInput::LeaderSessionClosed`], then open a new one.
    CloseLeaderSession,
    /// For logs and metrics.
    Event(NodeEvent),
}

/// How the Node's own master came up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartKind {
    /// Its row did not exist: a fresh data directory, or a new master name.
    Fresh,
    /// Its row was inactive: the last run stopped cleanly.
    Clean,
    /// Its row was still active: the last run ended without stopping (a crash), so it was
    /// stopped first, giving back what it held.
    CrashRecovered,
}

/// Something that happened, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    Registry(RegistryEvent),
    Gateway(GatewayEvent),
    /// A session was refused: unknown master or wrong token.
    SessionRefused {
        connection: ConnectionId,
        name: String,
    },
    /// The startup sequence ran: the master is active and has declared its configuration.
    Started {
        master: MasterId,
        kind: StartKind,
        rows: usize,
    },
    /// The Node's own master had been expired (its process was silent for longer than the
    /// expiry window, a suspended VM say) and its heartbeat revived it: its configuration
    /// and attached workers were declared again.
    Revived {
        master: MasterId,
    },
    /// The Registry refused a report the Node made for its own master (a worker connection
    /// while the master was inactive): logged, never fatal.
    OwnCommandRefused {
        command: &'static str,
        error: CommandError,
    },
    /// A standby's own master is registered at the leader, and has declared its state.
    RegisteredAtLeader {
        master: MasterId,
    },
    /// The leader refused a standby's own command.
    LeaderRefused {
        command: &'static str,
        error: RequestError,
    },
    /// This standby took over: it serves the registry, its workers still attached.
    Promoted {
        master: MasterId,
    },
    /// This leader stood down: it forwards to the next leader, its workers still attached.
    Deposed {
        master: MasterId,
    },
    ReconfigApplied,
    ReconfigRejected {
        reason: String,
    },
    /// Shutdown: the master is stopped and every connection is being closed.
    Stopped {
        master: MasterId,
    },
}
