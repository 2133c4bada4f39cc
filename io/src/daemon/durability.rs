//! What makes a batch durable for the core loop: the local store (one node on fjall), or
//! a cluster leader's fenced log (`daemon/cluster/`). The loop is the same either way; only
//! what a failed commit means differs.

use std::time::Instant;

use rollcall_core::node::Batch;
use rollcall_core::store::Store;
use rollcall_core::{Command, Registry};

use crate::daemon::DaemonError;
use crate::metrics::Metrics;
use crate::storage::StorageError;

/// Why the core loop must stop driving its Node.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The store failed: nothing can be acknowledged, and the daemon stops.
    Failed(DaemonError),
    /// This node stopped leading its cluster: what the Node had not committed is lost,
    /// and it stands by ([`Node::depose`](rollcall_core::Node::depose)), its workers
    /// attached.
    Deposed,
}

impl From<DaemonError> for Halt {
    fn from(error: DaemonError) -> Self {
        Halt::Failed(error)
    }
}

pub(crate) trait Durability {
    /// Makes one batch durable. Only after `Ok` are its outputs released.
    ///
    /// # Errors
    ///
    /// [`Halt`]: nothing of the batch may be acknowledged.
    fn commit(&mut self, batch: &Batch, metrics: &Metrics) -> Result<(), Halt>;

    /// When the loop must call [`Durability::keep`] even without an input.
    fn poll_deadline(&self) -> Option<Instant>;

    /// Keeps what durability needs between batches (a cluster leader's lease).
    ///
    /// # Errors
    ///
    /// [`Halt`] when the Node must stop.
    fn keep(&mut self) -> Result<(), Halt>;

    /// The Node stopped cleanly and its last batch is durable.
    fn stopped(&mut self);

    /// After [`Durability::keep`]: the registry a standby took over, for its Node to serve.
    fn take_promotion(&mut self) -> Option<Registry> {
        None
    }

    /// Whether a deposed Node stands by and goes on (a cluster node); otherwise the loop
    /// ends.
    fn follows_when_deposed(&self) -> bool {
        false
    }

    /// What a standby's reads answer from.
    fn replica(&self) -> Option<&Registry> {
        None
    }

    /// Where remote masters a standby turns away should go.
    fn leader_address(&self) -> Option<String> {
        None
    }

    /// Carries a standby's own request to the leader. A single node never forwards.
    fn to_leader(&mut self, request_id: u64, command: Command) {
        let _ = (request_id, command);
    }

    /// The standby's Node gave up its session to the leader: open a new one.
    fn give_up_leader_session(&mut self) {}
}

/// One node's own store on local disk: the embedded default.
pub(crate) struct LocalStore<S>(pub(crate) S);

impl<S: Store<Error = StorageError>> Durability for LocalStore<S> {
    fn commit(&mut self, batch: &Batch, metrics: &Metrics) -> Result<(), Halt> {
        if batch.changes.is_empty() {
            return Ok(());
        }
        let stats = self.0.commit(&batch.changes).map_err(DaemonError::Storage)?;
        Metrics::add(&metrics.storage_batches, 1);
        Metrics::add(&metrics.storage_changes, stats.changes as u64);
        metrics.observe_fsync(stats.sync_micros);
        Ok(())
    }

    fn poll_deadline(&self) -> Option<Instant> {
        None
    }

    fn keep(&mut self) -> Result<(), Halt> {
        Ok(())
    }

    fn stopped(&mut self) {}
}
