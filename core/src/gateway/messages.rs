use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{ConnectionId, DuplicatePolicy, GatewayConfig, Password, Roster};

/// One input to the [`Gateway`](crate::Gateway).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayInput {
    /// A worker's Hello arrived on a new connection (the transport has checked the protocol
    /// version and the role). The Gateway authenticates it and attaches or rejects it.
    Hello { connection: ConnectionId, worker: String, password: Password },
    /// The worker on `connection` is alive.
    Keepalive { connection: ConnectionId },
    /// The worker answered a [`ToWorker::Ping`], echoing its nonce.
    Pong { connection: ConnectionId, nonce: u64 },
    /// The transport is gone (the peer closed it, or a close the Gateway asked for is done).
    Closed { connection: ConnectionId },
    /// Replace the roster and settings, all or nothing.
    Reconfig { config: GatewayConfig, roster: Roster },
}

/// What the Gateway asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayOutput {
    Send {
        connection: ConnectionId,
        message: ToWorker,
    },
    /// Close the connection after sending what was queued for it. The Gateway has already
    /// forgotten it: a later `Closed` for it changes nothing.
    Close {
        connection: ConnectionId,
        reason: CloseReason,
    },
    Event(GatewayEvent),
}

/// A message for a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToWorker {
    /// Authentication succeeded; the worker is attached.
    Welcome,
    /// The builders this worker serves (sorted). Sent on attach and whenever a reconfig
    /// changes the list.
    BuilderList { builders: Arc<[String]> },
    /// The connection is refused; it will be closed.
    Rejected { reason: RejectReason },
    /// Answer with a Pong carrying the same nonce: another connection claims to be this
    /// worker. The nonce tells a fresh answer from a stale or duplicated one.
    Ping { nonce: u64 },
    /// The reply to a keepalive, so the worker knows its master is alive too.
    KeepaliveAck,
}

/// What a refused worker is told. Unknown names and wrong passwords get the same answer,
/// so that names cannot be probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    AuthenticationFailed,
    DuplicateConnection,
}

/// Why a connection was closed or detached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The peer (or the transport) closed it.
    PeerClosed,
    AuthenticationFailed,
    /// `ping-old`: the old connection answered, so the new one was refused.
    DuplicateRejected,
    /// `drop-older`, or an unanswered ping under `ping-old`: a newer connection took over.
    ReplacedByNewerConnection,
    KeepaliveTimeout,
    RemovedFromConfig,
    /// A second Hello on a connection that already had one.
    ProtocolViolation,
    /// The master is shutting down.
    MasterShuttingDown,
}

/// Why a Hello was refused, for logs and metrics (the worker only sees a [`RejectReason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCause {
    UnknownWorker,
    WrongPassword,
    DuplicateConnection,
}

/// Things that happened, for the Registry's connection records, logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayEvent {
    /// Buildbot's `workers/<id>/connected`.
    Attached { worker: String, connection: ConnectionId },
    /// Buildbot's `workers/<id>/disconnected`.
    Detached { worker: String, connection: ConnectionId, reason: CloseReason },
    /// A Hello was refused. `worker` is the name offered (never the password).
    Rejected { worker: String, connection: ConnectionId, cause: RejectionCause },
    /// Two connections claimed one worker; `kept` survives, `dropped` was closed.
    DuplicateResolved {
        worker: String,
        policy: DuplicatePolicy,
        kept: ConnectionId,
        dropped: ConnectionId,
    },
    /// Buildbot's `workers/<id>/missing`: disconnected for longer than the missing timeout.
    Missing { worker: String },
    /// A reconfig was applied. Names are sorted.
    Reconfigured { added: Vec<String>, removed: Vec<String>, builders_changed: Vec<String> },
    /// A reconfig was refused and changed nothing.
    ReconfigRejected { reason: String },
}
