//! A standby: it follows the registry log into its replica, answers REST reads from it,
//! tells workers and masters where the leader is, and takes the lease once it expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rollcall_core::{Gateway, MasterId, Registry};
use smol::channel::Receiver;

use super::{events, ClusterCore};
use crate::buildbot::{credentials_of, write_lock};
use crate::cluster::PostgresReplicator;
use crate::core_link::inputs::{CoreInput, ReadView};
use crate::daemon::clock;
use crate::daemon::core_loop::MAX_BATCH_INPUTS;
use crate::daemon::peers::encode;
use crate::daemon::wait::{Next, Waiter};
use crate::daemon::DaemonError;
use crate::wire::ServerMessage;

/// How often a standby reads the log: its lag under load is at most about this.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(50);

/// How often a standby reads the lease row, to say who leads and how far behind it is.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How a standby's watch ended.
pub(super) enum Watch {
    /// This node took the lease: the registry, caught up to the log's end.
    Leading(Box<Registry>),
    /// A shutdown.
    Stopped,
}

impl ClusterCore {
    /// Stands by until this node takes the lease or is told to stop.
    pub(super) fn stand_by(
        &mut self,
        replicator: &mut PostgresReplicator,
        inputs: &Receiver<CoreInput>,
        waiter: &Waiter,
    ) -> Result<Watch, DaemonError> {
        // A Gateway with nobody attached: what a standby's reads show of its own workers.
        let idle_gateway = self.idle_gateway()?;
        let mut next_follow = Instant::now();
        let mut next_status = Instant::now();
        loop {
            let lease_due = self.lease_clock.instant_of(replicator.poll_timeout());
            let first = match waiter.next(inputs, next_follow.min(lease_due)) {
                Next::Input(input) => Some(input),
                Next::Closed => return Ok(Watch::Stopped),
                Next::Deadline => None,
            };
            if let Some(input) = first {
                let mut input = Some(input);
                let mut taken = 0;
                while let Some(next) = input.take() {
                    if !self.standby_input(next, replicator, &idle_gateway) {
                        return Ok(Watch::Stopped);
                    }
                    taken += 1;
                    if taken < MAX_BATCH_INPUTS {
                        input = inputs.try_recv().ok();
                    }
                }
            }
            let now = Instant::now();
            if now < next_follow && now < lease_due {
                continue;
            }
            next_follow = now + FOLLOW_INTERVAL;
            let events = replicator.tick(self.lease_clock.now());
            for event in &events {
                events::report(event, &self.status);
            }
            // `Some` once the lease is this node's: the replica, caught up.
            if let Some(registry) = replicator.take_registry(self.lease_clock.now()) {
                return Ok(Watch::Leading(Box::new(registry)));
            }
            let (applied_seq, snapshot_seq) = (replicator.applied_seq(), replicator.snapshot_seq());
            self.status.update(|state| {
                state.applied_seq = applied_seq;
                state.snapshot_seq = snapshot_seq;
                state.lag_entries = state.log_last_seq.saturating_sub(applied_seq);
            });
            if now >= next_status {
                next_status = now + STATUS_INTERVAL;
                self.refresh_standby_status(replicator);
            }
        }
    }

    /// One input while standing by; `false` on shutdown.
    fn standby_input(
        &mut self,
        input: CoreInput,
        replicator: &PostgresReplicator,
        idle_gateway: &Gateway,
    ) -> bool {
        match input {
            CoreInput::WorkerHello { outbound, .. } | CoreInput::MasterHello { outbound, .. } => {
                // Dropping the queue after this frame closes the connection.
                let leader = self.status.get().leader_address;
                let _ = outbound.try_send(encode(&ServerMessage::NotLeader { leader }));
            }
            CoreInput::Read(job) => {
                let Some(registry) = replicator.replica() else {
                    unreachable!("a standby holds its replica")
                };
                let master_name = self.config.master.name.as_str();
                let master = registry.master_by_name(master_name).map_or(MasterId(0), |row| row.id);
                let worker_info = HashMap::new();
                let view = ReadView {
                    registry,
                    worker_info: &worker_info,
                    gateway: idle_gateway,
                    master,
                    master_name,
                };
                job(&view);
            }
            CoreInput::Reconfig(config) => {
                // Checked whole when loaded; the Node takes it when this node leads.
                *write_lock(&self.credentials) = credentials_of(&config.roster());
                self.config = *config;
                tracing::info!("reconfig noted: it applies when this node leads");
            }
            CoreInput::Shutdown => return false,
            // What is left of connections the last term of leading had: they are closing.
            CoreInput::WorkerMessage { .. }
            | CoreInput::MasterRequest { .. }
            | CoreInput::ConnectionClosed { .. }
            | CoreInput::WorkerInfo { .. } => {}
        }
        true
    }

    fn idle_gateway(&self) -> Result<Gateway, DaemonError> {
        let node_config = self.config.node_config();
        Gateway::new(clock::now(), node_config.gateway, node_config.roster)
            .map_err(|error| DaemonError::Node(rollcall_core::node::StartError::Gateway(error)))
    }

    /// Who leads, and how far behind the log this standby is, from the lease row.
    fn refresh_standby_status(&self, replicator: &mut PostgresReplicator) {
        let applied_seq = replicator.applied_seq();
        let replication_error = replicator.last_error().map(str::to_string);
        match replicator.store_mut().lease() {
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
