//! A registry's whole state at one moment, as a replay of its inputs reaches it: the rows,
//! and what the rows do not hold (the clock, a takeover's expiry floor, the workers'
//! connection records, the answers remembered for retries). A registry restored from a
//! snapshot behaves as the one it was taken of, input for input (the tests feed both the
//! same inputs and compare every output: `core/tests/registry_snapshot.rs`), so a cluster's node can start from a snapshot
//! and replay only the log after it (docs/cluster.md, "What is stored").

use serde::{Deserialize, Serialize};

use super::replies::RememberedReplies;
use super::{Record, RecoveryError, Registry, RegistryConfig};
use crate::clock::MonotonicClock;
use crate::{ConnectionId, MasterId, Timestamp, WorkerId};

/// Everything [`Registry::from_snapshot`] needs to rebuild a registry exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    pub config: RegistryConfig,
    /// Every row, as [`Registry::records`] lists them.
    pub records: Vec<Record>,
    /// Which worker is connected to which master, over which connection.
    pub connections: Vec<WorkerConnection>,
    /// The registry's clock: the latest moment it was fed.
    pub clock: Timestamp,
    /// No master is expired before this moment (a takeover's grace).
    pub expiry_not_before: Timestamp,
    /// The answers kept for each remote master's retries, oldest first.
    pub replies: Vec<super::replies::MasterAnswers>,
}

/// A connection record: `worker` is attached to `master` over `connection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConnection {
    pub worker: WorkerId,
    pub master: MasterId,
    pub connection: ConnectionId,
}

/// Why a snapshot cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Its rows are not a state the Registry could have written.
    Rows(RecoveryError),
    /// A connection record names a worker or master with no row.
    UnknownConnection(WorkerConnection),
    /// Its clock is earlier than a moment its rows hold.
    ClockBehindRows { clock: Timestamp, latest_row: Timestamp },
    /// More answers kept for one master than a registry keeps, or answers for nobody.
    Replies { master: String, kept: usize },
    /// The restored state does not agree with itself (a bug, or a damaged snapshot).
    Inconsistent(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Rows(error) => write!(formatter, "the snapshot's rows: {error}"),
            SnapshotError::UnknownConnection(connection) => write!(
                formatter,
                "the snapshot connects worker {} to master {}, and one of them has no row",
                connection.worker, connection.master
            ),
            SnapshotError::ClockBehindRows { clock, latest_row } => write!(
                formatter,
                "the snapshot's clock {clock:?} is before a moment its rows hold, {latest_row:?}"
            ),
            SnapshotError::Replies { master, kept } => write!(
                formatter,
                "the snapshot keeps {kept} answers for master {master:?}, outside 1..={}",
                super::MAX_REMEMBERED_REPLIES_PER_MASTER
            ),
            SnapshotError::Inconsistent(why) => {
                write!(formatter, "the snapshot's state does not agree with itself: {why}")
            }
        }
    }
}

impl std::error::Error for SnapshotError {}

impl Registry {
    /// The whole state now. Costs a copy of every row.
    pub fn snapshot(&self) -> RegistrySnapshot {
        let connections = self
            .workers
            .iter()
            .flat_map(|worker| {
                worker.connected_to.iter().map(|(&master, &connection)| WorkerConnection {
                    worker: worker.record.id,
                    master,
                    connection,
                })
            })
            .collect();
        RegistrySnapshot {
            config: self.config,
            records: self.records(),
            connections,
            clock: self.clock.now(),
            expiry_not_before: self.expiry_not_before,
            replies: self.replies.to_answers(),
        }
    }

    /// The registry `snapshot` was taken of, in the same state. Its input log is not
    /// started.
    ///
    /// # Errors
    ///
    /// A [`SnapshotError`] when the snapshot is not a state the Registry could have been in.
    pub fn from_snapshot(snapshot: RegistrySnapshot) -> Result<Registry, SnapshotError> {
        let mut registry =
            Registry::recover(snapshot.config, snapshot.records).map_err(SnapshotError::Rows)?;
        let latest_row = registry.clock.now();
        if snapshot.clock < latest_row {
            return Err(SnapshotError::ClockBehindRows { clock: snapshot.clock, latest_row });
        }
        registry.clock = MonotonicClock::starting_at(snapshot.clock);
        for connection in snapshot.connections {
            let WorkerConnection { worker, master, connection: id } = connection;
            if registry.worker(worker).is_none() {
                return Err(SnapshotError::UnknownConnection(connection));
            }
            let Ok(master_row) = registry.master_mut(master) else {
                return Err(SnapshotError::UnknownConnection(connection));
            };
            master_row.connected_workers.insert(worker, id);
            registry.worker_row_mut(worker).connected_to.insert(master, id);
        }
        registry.expiry_not_before = snapshot.expiry_not_before;
        registry.replies = RememberedReplies::from_answers(snapshot.replies)
            .map_err(|(master, kept)| SnapshotError::Replies { master, kept })?;
        registry
            .check_invariants()
            .map_err(|violation| SnapshotError::Inconsistent(violation.to_string()))?;
        Ok(registry)
    }
}
