//! A simulated master process: what it holds (its Gateway, clock, roster, claims and
//! session) and how it starts; what it does is in `clock`, `session`, `workload` and
//! `master_gateway`.

use std::collections::BTreeSet;

use rollcall_core::{
    BuildId, BuildRequestId, Command, ConnectionId, DuplicatePolicy, Gateway, GatewayConfig,
    MasterId, Password, Roster, Timestamp, WorkerConfig,
};

use crate::oracle::gateway::AttachedView;
use crate::rng::Rng;
use crate::settings::Settings;
use crate::world::{Event, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Life {
    Alive,
    Frozen,
    /// Dead; `restarts` says whether it will come back.
    Crashed {
        restarts: bool,
    },
}

#[derive(Debug)]
pub(super) struct MasterNode {
    pub(super) name: String,
    pub(super) life: Life,
    pub(super) incarnation: u64,
    pub(super) gateway: Option<Gateway>,
    pub(super) gateway_wake: Option<Timestamp>,
    pub(super) id: Option<MasterId>,
    /// Master 0 never crashes or freezes, so that someone is always there to do the work.
    pub(super) steady: bool,
    pub(super) skew_ms: i64,
    pub(super) drift_ppm: i64,
    pub(super) policy: DuplicatePolicy,
    /// Workers this master may configure, and those it configures now.
    pub(super) pool: Vec<usize>,
    pub(super) roster: BTreeSet<usize>,
    pub(super) builders: Vec<String>,
    pub(super) next_request: u64,
    pub(super) claims: BTreeSet<BuildRequestId>,
    pub(super) builds: BTreeSet<BuildId>,
    pub(super) partitioned_until: Option<Timestamp>,
    /// Who is attached where, rebuilt from the Gateway's own events alone.
    pub(super) attached_view: AttachedView,
    /// The startup sequence still has to run once this incarnation learns its id.
    pub(super) needs_startup_cleanup: bool,
    /// This incarnation's session with the Node, and the Node process (epoch) it is with.
    pub(super) session: Option<(ConnectionId, u64)>,
    /// Requests on the session go out no earlier than its open: TCP keeps that order.
    pub(super) session_ready_at: Timestamp,
}

impl MasterNode {
    pub(super) fn new(index: usize, settings: &Settings, rng: &mut Rng) -> MasterNode {
        let skew = settings.faults.clock_skew_ms;
        let drift = settings.faults.clock_drift_ppm;
        let skew_ms = if skew == 0 { 0 } else { rng.between(0, 2 * skew) as i64 - skew as i64 };
        let drift_ppm =
            if drift == 0 { 0 } else { rng.between(0, 2 * drift) as i64 - drift as i64 };
        let pool: Vec<usize> =
            (0..settings.workers).filter(|w| w % settings.masters == index).collect();
        MasterNode {
            name: format!("master-{index}:/srv"),
            life: Life::Alive,
            incarnation: 0,
            gateway: None,
            gateway_wake: None,
            id: None,
            steady: index == 0,
            skew_ms,
            drift_ppm,
            policy: settings.policies[index],
            roster: pool.iter().copied().collect(),
            pool,
            builders: (0..settings.builders).map(|b| format!("builder-{b}")).collect(),
            next_request: 0,
            claims: BTreeSet::new(),
            builds: BTreeSet::new(),
            partitioned_until: None,
            attached_view: AttachedView::default(),
            needs_startup_cleanup: false,
            session: None,
            session_ready_at: Timestamp::from_millis(0),
        }
    }

    pub(super) fn is_alive(&self) -> bool {
        self.life == Life::Alive
    }
}

pub(super) fn password_of(worker: usize) -> Password {
    Password::new(format!("secret-{worker}"))
}

pub(super) fn worker_name(worker: usize) -> String {
    format!("worker-{worker}")
}

impl World {
    pub(super) fn gateway_config(&self, master: usize) -> GatewayConfig {
        GatewayConfig {
            duplicate_policy: self.masters[master].policy,
            keepalive_timeout_ms: self.settings.keepalive_timeout_ms,
            ping_timeout_ms: self.settings.ping_timeout_ms,
            missing_timeout_ms: self.settings.missing_timeout_ms,
        }
    }

    pub(super) fn roster_of(&self, master: usize) -> Roster {
        let node = &self.masters[master];
        let workers = node
            .roster
            .iter()
            .map(|&worker| {
                let builder = &node.builders[worker % node.builders.len()];
                WorkerConfig::new(
                    self.worker_names[worker].clone(),
                    self.worker_passwords[worker].clone(),
                    vec![builder.clone()],
                )
            })
            .collect();
        match Roster::new(workers) {
            Ok(roster) => roster,
            Err(error) => unreachable!("simulated rosters are valid by construction: {error}"),
        }
    }

    /// Starts (or restarts) a master process: a fresh Gateway, then registration.
    pub(super) fn start_master(&mut self, master: usize) {
        let local = self.masters[master].local_time(self.now);
        let gateway = match Gateway::new(local, self.gateway_config(master), self.roster_of(master))
        {
            Ok(gateway) => gateway,
            Err(error) => unreachable!("simulated gateway settings are valid: {error}"),
        };
        let node = &mut self.masters[master];
        node.life = Life::Alive;
        node.incarnation += 1;
        node.gateway = Some(gateway);
        node.gateway_wake = None;
        node.attached_view.clear();
        node.id = None;
        node.claims.clear();
        node.builds.clear();
        node.needs_startup_cleanup = node.incarnation > 1;
        node.session = None;
        let incarnation = node.incarnation;
        let name = node.name.clone();
        self.send_command(master, Command::MasterActive { name });
        let first = self.workload_rng.below(self.settings.heartbeat_interval_ms);
        self.schedule(first, Event::MasterHeartbeat { master, incarnation });
        let first = self.workload_rng.below(10_000);
        self.schedule(first, Event::MasterWorkload { master, incarnation });
        self.schedule_gateway_wake(master);
    }

    pub(super) fn is_current(&self, master: usize, incarnation: u64) -> bool {
        let node = &self.masters[master];
        node.incarnation == incarnation && !matches!(node.life, Life::Crashed { .. })
    }
}
