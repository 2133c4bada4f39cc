//! What a cluster node's batches need, in either seat: while it leads, every batch's
//! registry inputs appended to the log in one transaction fenced by the lease's epoch,
//! and the lease renewed between batches (a refused or unanswered commit deposes the Node
//! before anything of its batch is sent); while it stands by, the log followed into the
//! replica its reads answer from, the lease taken once it expires, and its own master's
//! requests carried to the leader ([`LeaderLink`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::lease::LeaseEvent;
use rollcall_core::node::Batch;
use rollcall_core::replication::Role;
use rollcall_core::{Command, Registry};

use super::events;
use super::leader_link::LeaderLink;
use super::lease_clock::LeaseClock;
use crate::cluster::{ClusterStatus, PostgresReplicator};
use crate::daemon::clock;
use crate::daemon::durability::{Durability, Halt};
use crate::metrics::Metrics;

/// How often a standby reads the log: its lag under load is at most about this.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(50);

/// How often a standby reads the lease row, to say who leads and how far behind it is.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

pub(super) struct ClusterSeat {
    pub(super) replicator: PostgresReplicator,
    pub(super) lease_clock: LeaseClock,
    pub(super) status: Arc<ClusterStatus>,
    /// A standby's session to the leader for its own master; `None` when no token is
    /// configured for it (its master is then not registered while it stands by).
    pub(super) link: Option<LeaderLink>,
    /// What the takeover grants every active master before the first expiry sweep.
    pub(super) takeover_grace_ms: u64,
    /// The registry taken at a takeover, for the core loop to promote its Node onto.
    pub(super) promotion: Option<Registry>,
    pub(super) next_follow: Instant,
    pub(super) next_status: Instant,
}

impl ClusterSeat {
    fn report(&self, events: &[LeaseEvent]) {
        for event in events {
            events::report(event, &self.status);
        }
    }

    fn leads(&self) -> bool {
        matches!(self.replicator.role(self.lease_clock.now()), Role::Leader { .. })
    }

    /// A standby's round: the lease (taken once it expires), the log, the status.
    fn stand_by(&mut self) {
        let now = Instant::now();
        let lease_due = self.lease_clock.instant_of(self.replicator.poll_timeout());
        if now < self.next_follow && now < lease_due {
            return;
        }
        self.next_follow = now + FOLLOW_INTERVAL;
        let events = self.replicator.tick(self.lease_clock.now());
        self.report(&events);
        if let Some(mut registry) = self.replicator.take_registry(self.lease_clock.now()) {
            registry.take_over(clock::now(), self.takeover_grace_ms);
            self.promotion = Some(registry);
            return;
        }
        let (applied_seq, snapshot_seq) =
            (self.replicator.applied_seq(), self.replicator.snapshot_seq());
        self.status.update(|state| {
            state.applied_seq = applied_seq;
            state.snapshot_seq = snapshot_seq;
            state.lag_entries = state.log_last_seq.saturating_sub(applied_seq);
        });
        if now >= self.next_status {
            self.next_status = now + STATUS_INTERVAL;
            self.refresh_standby_status();
        }
    }

    /// Who leads, and how far behind the log this standby is, from the lease row.
    fn refresh_standby_status(&mut self) {
        let applied_seq = self.replicator.applied_seq();
        let replication_error = self.replicator.last_error().map(str::to_string);
        match self.replicator.store_mut().lease() {
            Ok(lease) => self.status.update(|state| {
                state.epoch = lease.epoch;
                let held = lease.remaining_ms > 0;
                state.leader = lease.holder.filter(|_| held);
                state.leader_address = lease.address.filter(|_| held);
                state.applied_seq = applied_seq;
                state.log_last_seq = lease.last_seq;
                state.lag_entries = lease.last_seq.saturating_sub(applied_seq);
                state.last_error = replication_error;
            }),
            Err(error) => self.status.update(|state| {
                state.applied_seq = applied_seq;
                state.last_error = Some(error.to_string());
            }),
        }
    }
}

impl Durability for ClusterSeat {
    fn commit(&mut self, batch: &Batch, metrics: &Metrics) -> Result<(), Halt> {
        if batch.registry_inputs.is_empty() {
            // Frames and events of the Gateway alone (a standby's batches are all such):
            // nothing the registry must keep. A Node whose lease ran out meanwhile is
            // deposed at the next `keep`.
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
        let lease_due = self.lease_clock.instant_of(self.replicator.poll_timeout());
        if self.leads() {
            return Some(lease_due);
        }
        Some(lease_due.min(self.next_follow))
    }

    fn keep(&mut self) -> Result<(), Halt> {
        if self.replicator.replica().is_some() {
            self.stand_by();
            return Ok(());
        }
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

    fn take_promotion(&mut self) -> Option<Registry> {
        self.promotion.take()
    }

    fn follows_when_deposed(&self) -> bool {
        true
    }

    fn replica(&self) -> Option<&Registry> {
        self.replicator.replica()
    }

    fn leader_address(&self) -> Option<String> {
        self.status.get().leader_address.filter(|address| *address != self.status.advertise)
    }

    fn to_leader(&mut self, request_id: u64, command: Command) {
        if let Some(link) = &self.link {
            link.send(request_id, command);
        }
    }

    fn give_up_leader_session(&mut self) {
        if let Some(link) = &self.link {
            link.give_up();
        }
    }
}
