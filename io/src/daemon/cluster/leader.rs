//! A leader's durability: every batch's registry inputs appended to the log in one
//! transaction fenced by the lease's epoch, and the lease renewed between batches. A
//! refused or unanswered commit deposes the Node before anything of its batch is sent.

use std::sync::Arc;
use std::time::Instant;

use rollcall_core::lease::LeaseEvent;
use rollcall_core::node::Batch;
use rollcall_core::replication::Role;

use super::events;
use super::lease_clock::LeaseClock;
use crate::cluster::{ClusterStatus, PostgresReplicator};
use crate::daemon::durability::{Durability, Halt};
use crate::metrics::Metrics;

pub(super) struct Leading {
    pub(super) replicator: PostgresReplicator,
    pub(super) lease_clock: LeaseClock,
    pub(super) status: Arc<ClusterStatus>,
}

impl Leading {
    fn report(&self, events: &[LeaseEvent]) {
        for event in events {
            events::report(event, &self.status);
        }
    }

    fn leads(&self) -> bool {
        matches!(self.replicator.role(self.lease_clock.now()), Role::Leader { .. })
    }
}

impl Durability for Leading {
    fn commit(&mut self, batch: &Batch, metrics: &Metrics) -> Result<(), Halt> {
        if batch.registry_inputs.is_empty() {
            // Frames and events of the Gateway alone: nothing the registry must keep. A
            // Node whose lease ran out meanwhile is deposed at the next `keep`.
            assert!(batch.changes.is_empty(), "the registry changed without an input");
            return Ok(());
        }
        let started = Instant::now();
        match self.replicator.commit(self.lease_clock.now(), &batch.registry_inputs) {
            Ok(last_seq) => {
                Metrics::add(&metrics.storage_batches, 1);
                Metrics::add(&metrics.storage_changes, batch.changes.len() as u64);
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                metrics.observe_fsync(micros);
                self.status.update(|state| {
                    state.applied_seq = last_seq;
                    state.log_last_seq = last_seq;
                    state.last_error = None;
                });
                Ok(())
            }
            Err(refused) => {
                tracing::warn!(reason = %refused, node = %self.status.node, "stepping down: a commit was not made durable");
                events::stood_down(&self.status);
                self.status.update(|state| state.last_error = Some(refused.to_string()));
                Err(Halt::Deposed)
            }
        }
    }

    fn poll_deadline(&self) -> Option<Instant> {
        Some(self.lease_clock.instant_of(self.replicator.poll_timeout()))
    }

    fn keep(&mut self) -> Result<(), Halt> {
        let events = self.replicator.tick(self.lease_clock.now());
        self.report(&events);
        if self.leads() {
            return Ok(());
        }
        events::stood_down(&self.status);
        Err(Halt::Deposed)
    }

    fn stopped(&mut self) {
        let now = self.lease_clock.now();
        if let Role::Leader { epoch } = self.replicator.role(now) {
            self.replicator.release(now);
            tracing::info!(epoch, node = %self.status.node, "lease released");
            events::stood_down(&self.status);
        }
    }
}
