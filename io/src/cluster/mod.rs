//! The cluster's shared store on PostgreSQL (issue #13; the design is docs/cluster.md).
//!
//! What lives here is the store's side of the cluster, in SQL, each piece in its own file:
//! the schema and its versioned migrations (`schema.rs`), the lease judged by the
//! database's own clock (`lease.rs`), and the registry's input log whose every append is
//! fenced by the lease's epoch (`log.rs`). When a node acts as leader is the core's
//! [`rollcall_core::lease::LeaseHolder`]; what a leader appends and a standby replays is
//! the Node's. Everything here runs on a session's own thread (`session.rs`), through the
//! synchronous `postgres` client, with a deadline on every statement and on every call.

mod connect;
mod error;
mod lease;
mod log;
mod schema;
mod session;
mod shared_store;
mod snapshots;
mod status;
mod tls;

pub(crate) use connect::describe;
pub use connect::{connect, Deadlines};
pub use error::ClusterStoreError;
pub use lease::{LeaseRow, LeaseStore};
pub use log::{LogEntry, LogStore, MAX_ENTRIES_PER_READ};
pub use schema::{migrate, SCHEMA_VERSION};
pub use session::MAX_LIVE_SESSIONS;
pub use shared_store::PostgresStore;
pub use snapshots::SnapshotStore;
pub use status::{ClusterState, ClusterStatus};
pub use tls::{PostgresTls, PostgresTlsOptions};

/// A node's replication over PostgreSQL.
pub type PostgresReplicator = rollcall_core::replication::Replicator<PostgresStore>;
