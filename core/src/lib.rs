//! rollcall-core: the deterministic rules of a build-master cluster, with no I/O.
//!
//! This crate holds two sans-IO state machines in the style of quinn-proto and str0m:
//!
//! - [`Registry`]: the cluster's state (masters and their liveness, builders, schedulers and
//!   change sources, build requests, builds, worker connection records), with Buildbot's
//!   `masterActive`, `expireMasters` and `masterStopped` semantics.
//! - [`Gateway`]: one master's worker connections (Buildbot's `BotPerspective`): the roster,
//!   authentication, duplicate arbitration, keepalive deadlines and builder-list pushes.
//!
//! Nothing here touches a socket, a file, a thread, an operating-system clock or a random
//! number generator. Time is always an argument ([`Timestamp`], milliseconds since the Unix
//! epoch), so the same inputs always give the same outputs: the daemon, the simulator and the
//! tests all drive the very same code.
//!
//! # How to drive a machine
//!
//! 1. Feed one input with `handle(now, input)` (or `handle_timeout(now)` when the moment
//!    returned by `poll_timeout()` has come; calling it early or twice is harmless).
//! 2. Drain `poll_output()` until it returns `None`, acting on every output in order.
//! 3. Ask `poll_timeout()` when to wake the machine next.
//!
//! Time never moves backwards inside a machine: a `now` earlier than one already seen is
//! treated as the latest one seen.
//!
//! Both machines also offer `check_invariants()`, which cross-checks their whole state (every
//! index against its rows, every counter against what it counts) in O(state size) and names
//! the first inconsistency as an [`InvariantViolation`]. Tests and the simulator call it after
//! every step; a violation is a bug in the machine.

mod clock;
mod deadline_queue;
mod fast_hash;
pub mod gateway;
mod ids;
mod invariant;
pub mod lease;
mod limits;
pub mod node;
mod password;
pub mod registry;
pub mod replication;
mod results;
pub mod store;
mod time;

pub use gateway::{
    CloseReason, DuplicatePolicy, Gateway, GatewayConfig, GatewayConfigError, GatewayEvent,
    GatewayInput, GatewayOutput, RejectReason, Roster, RosterError, ToWorker, WorkerConfig,
};
pub use ids::{BuildId, BuildRequestId, BuilderId, ConnectionId, MasterId, ServiceId, WorkerId};
pub use invariant::InvariantViolation;
pub use limits::MAX_NAME_BYTES;
pub use node::{Node, NodeConfig, NodeEvent, NodeInput, NodeOutput};
pub use password::Password;
pub use registry::{
    Change, Command, CommandError, LoggedInput, Record, RecordKey, RecoveryError, Registry,
    RegistryConfig, RegistryEvent, RegistryOutput, RegistrySnapshot, Reply, ReplyToken,
    ServiceKind, StopCause,
};
pub use results::Results;
pub use time::Timestamp;
