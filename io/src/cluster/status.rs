//! What this node knows of its cluster, for `/healthz`, `/api/v2/cluster` and `/metrics`:
//! written by the core thread as the role changes and the log is followed, read by HTTP.

use std::sync::Mutex;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// This node's view of the cluster at its last look.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterState {
    /// `leader` or `standby`.
    pub role: &'static str,
    /// The epoch this node leads at; a standby's is the lease's as it last read it.
    pub epoch: u64,
    /// The lease's holder and its advertised address, as last read (this node's own
    /// while it leads).
    pub leader: Option<String>,
    pub leader_address: Option<String>,
    /// The last log entry this node's registry includes.
    pub applied_seq: u64,
    /// The log's last entry, as last read from the lease row.
    pub log_last_seq: u64,
    /// The newest snapshot this node loaded or wrote (the log before it may be pruned).
    pub snapshot_seq: u64,
    /// Entries the log holds that this node has not applied yet (0 for the leader).
    pub lag_entries: u64,
    /// How many times this node took the lease since it started.
    pub leases_taken: u64,
    /// The store's last failure, cleared by the next success.
    pub last_error: Option<String>,
}

/// The shared cell: one node's name and address, its state, and the state as gauges.
#[derive(Debug)]
pub struct ClusterStatus {
    pub node: String,
    pub advertise: String,
    state: Mutex<ClusterState>,
    gauges: Gauges,
}

#[derive(Debug, Default)]
struct Gauges {
    leader: Gauge,
    epoch: Gauge,
    applied_seq: Gauge,
    lag_entries: Gauge,
    leases_taken: Gauge,
    snapshot_seq: Gauge,
}

impl ClusterStatus {
    pub fn new(node: String, advertise: String) -> ClusterStatus {
        let state = ClusterState { role: "standby", ..ClusterState::default() };
        ClusterStatus { node, advertise, state: Mutex::new(state), gauges: Gauges::default() }
    }

    /// Adds the `rollcall_cluster_*` series to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        let gauges = &self.gauges;
        let series = [
            (
                "cluster_leader",
                "1 while this node leads the cluster, 0 while it stands by",
                &gauges.leader,
            ),
            ("cluster_epoch", "The lease epoch this node leads at, or last saw", &gauges.epoch),
            (
                "cluster_applied_seq",
                "The last registry log entry this node applied",
                &gauges.applied_seq,
            ),
            (
                "cluster_lag_entries",
                "Registry log entries this standby has not applied yet",
                &gauges.lag_entries,
            ),
            (
                "cluster_leases_taken",
                "Times this node took the lease since it started",
                &gauges.leases_taken,
            ),
            (
                "cluster_snapshot_seq",
                "The log entry the newest snapshot this node loaded or wrote includes",
                &gauges.snapshot_seq,
            ),
        ];
        for (name, help, gauge) in series {
            registry.register(name, help, gauge.clone());
        }
    }

    pub fn get(&self) -> ClusterState {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn update(&self, change: impl FnOnce(&mut ClusterState)) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut state);
        let value = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
        self.gauges.leader.set(i64::from(state.role == "leader"));
        self.gauges.epoch.set(value(state.epoch));
        self.gauges.applied_seq.set(value(state.applied_seq));
        self.gauges.lag_entries.set(value(state.lag_entries));
        self.gauges.leases_taken.set(value(state.leases_taken));
        self.gauges.snapshot_seq.set(value(state.snapshot_seq));
    }
}
