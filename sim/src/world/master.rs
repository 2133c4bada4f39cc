//! A simulated master process: heartbeats, workload, its own Gateway on its own clock.

use std::collections::{BTreeMap, BTreeSet};

use rollcall_core::node::RequestError;
use rollcall_core::{
    BuildId, BuildRequestId, CloseReason, Command, ConnectionId, DuplicatePolicy, Gateway,
    GatewayConfig, GatewayEvent, GatewayInput, GatewayOutput, MasterId, NodeInput, Password, Reply,
    Results, Roster, ServiceKind, Timestamp, WorkerConfig,
};

use crate::oracle::{correctness, Verdict};
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
    skew_ms: i64,
    drift_ppm: i64,
    pub(super) policy: DuplicatePolicy,
    /// Workers this master may configure, and those it configures now.
    pool: Vec<usize>,
    pub(super) roster: BTreeSet<usize>,
    builders: Vec<String>,
    next_request: u64,
    pub(super) claims: BTreeSet<BuildRequestId>,
    builds: BTreeSet<BuildId>,
    pub(super) partitioned_until: Option<Timestamp>,
    /// Who is attached where, rebuilt from the Gateway's own events alone.
    attached_view: AttachedView,
    /// The startup sequence still has to run once this incarnation learns its id.
    needs_startup_cleanup: bool,
    /// This incarnation's session with the Node, and the Node process (epoch) it is with.
    session: Option<(ConnectionId, u64)>,
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

    /// This master's clock: skewed and drifting, but never backwards.
    pub(super) fn local_time(&self, now: Timestamp) -> Timestamp {
        let millis = now.as_millis() as i64;
        let local = millis
            + self.skew_ms
            + millis.saturating_sub(super::START_MS as i64) * self.drift_ppm / 1_000_000;
        Timestamp::from_millis(local.max(0) as u64)
    }

    /// The global moment this master's clock reads `local` (rounded up).
    pub(super) fn global_time(&self, local: Timestamp) -> Timestamp {
        let start = super::START_MS as i64;
        let shifted = local.as_millis() as i64 - self.skew_ms - start;
        let global =
            start + (shifted * 1_000_000 + 999_999 + self.drift_ppm) / (1_000_000 + self.drift_ppm);
        Timestamp::from_millis(global.max(0) as u64)
    }

    pub(super) fn is_alive(&self) -> bool {
        self.life == Life::Alive
    }
}

/// Who a master's Gateway says is attached where, by worker name. The simulation's own
/// workers (`worker-N`) are looked up by index, any other name in a map.
#[derive(Debug, Default)]
struct AttachedView {
    by_worker: Vec<Option<ConnectionId>>,
    others: BTreeMap<String, ConnectionId>,
}

/// The index of the simulation's worker with exactly this name.
fn worker_index(names: &[String], name: &str) -> Option<usize> {
    let index: usize = name.strip_prefix("worker-")?.parse().ok()?;
    (names.get(index)? == name).then_some(index)
}

impl AttachedView {
    fn get(&self, names: &[String], name: &str) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => self.by_worker.get(index).copied().flatten(),
            None => self.others.get(name).copied(),
        }
    }

    /// Records an attachment and returns the one it replaced, if any.
    fn insert(
        &mut self,
        names: &[String],
        name: &str,
        connection: ConnectionId,
    ) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => {
                if self.by_worker.len() <= index {
                    self.by_worker.resize(index + 1, None);
                }
                self.by_worker[index].replace(connection)
            }
            None => self.others.insert(name.to_string(), connection),
        }
    }

    fn remove(&mut self, names: &[String], name: &str) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => self.by_worker.get_mut(index).and_then(Option::take),
            None => self.others.remove(name),
        }
    }

    fn clear(&mut self) {
        self.by_worker.clear();
        self.others.clear();
    }
}

pub(super) fn password_of(worker: usize) -> Password {
    Password::new(format!("secret-{worker}"))
}

pub(super) fn worker_name(worker: usize) -> String {
    format!("worker-{worker}")
}

impl World {
    fn gateway_config(&self, master: usize) -> GatewayConfig {
        GatewayConfig {
            duplicate_policy: self.masters[master].policy,
            keepalive_timeout_ms: self.settings.keepalive_timeout_ms,
            ping_timeout_ms: self.settings.ping_timeout_ms,
            missing_timeout_ms: self.settings.missing_timeout_ms,
        }
    }

    fn roster_of(&self, master: usize) -> Roster {
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

    /// Sends a command on this incarnation's session, opening one first (and registering
    /// again on it, as a reconnecting master does) when the Node it had is gone.
    pub(super) fn send_command(&mut self, master: usize, command: Command) {
        let Some(connection) = self.session_of(master) else { return };
        let node = &mut self.masters[master];
        node.next_request += 1;
        let request_id = ((master as u64) << 40) | node.next_request;
        self.send_to_node(master, NodeInput::MasterRequest { connection, request_id, command });
    }

    /// The live session, or a new one; `None` while no Node process runs (refused).
    fn session_of(&mut self, master: usize) -> Option<ConnectionId> {
        self.process.node.as_ref()?;
        let epoch = self.process.epoch;
        if let Some((connection, with)) = self.masters[master].session {
            if with == epoch {
                return Some(connection);
            }
        }
        let connection = self.process.new_session_id();
        let node = &mut self.masters[master];
        node.session = Some((connection, epoch));
        let (name, incarnation) = (node.name.clone(), node.incarnation);
        self.pending_sessions.insert(connection, (master, incarnation));
        let open = NodeInput::MasterSessionOpened { connection, name: name.clone() };
        self.send_to_node(master, open);
        let node = &mut self.masters[master];
        node.next_request += 1;
        let request_id = ((master as u64) << 40) | node.next_request;
        let register = Command::MasterActive { name };
        self.send_to_node(
            master,
            NodeInput::MasterRequest { connection, request_id, command: register },
        );
        Some(connection)
    }

    /// A master process died: its session's connection ends, as the Node sees it.
    pub(super) fn close_session(&mut self, master: usize) {
        let Some((connection, epoch)) = self.masters[master].session.take() else { return };
        if epoch == self.process.epoch && self.process.node.is_some() {
            self.send_to_node(master, NodeInput::ConnectionClosed { connection });
        }
    }

    pub(super) fn heartbeat(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        if !self.masters[master].is_alive() {
            // Frozen: the timer fires again once thawed.
            self.schedule(
                self.settings.heartbeat_interval_ms,
                Event::MasterHeartbeat { master, incarnation },
            );
            return;
        }
        // Expiry runs on the Node's own schedule: a remote master only says it is alive.
        let name = self.masters[master].name.clone();
        self.send_command(master, Command::MasterActive { name });
        if self.healed {
            self.finish_pending_work(master);
        }
        let node = &self.masters[master];
        let local_next = node.local_time(self.now).plus_millis(self.settings.heartbeat_interval_ms);
        let at = node.global_time(local_next);
        self.schedule_at(at, Event::MasterHeartbeat { master, incarnation });
    }

    /// In the liveness phase masters claim whatever waits and complete what they hold.
    fn finish_pending_work(&mut self, master: usize) {
        let Some(id) = self.masters[master].id else { return };
        let claims: Vec<BuildRequestId> = self.masters[master].claims.iter().copied().collect();
        if !claims.is_empty() {
            self.send_command(
                master,
                Command::CompleteBuildRequests {
                    master: id,
                    requests: claims,
                    results: Results::SUCCESS,
                },
            );
        }
        let waiting: Vec<BuildRequestId> = self
            .process
            .registry()
            .map(|registry| registry.waiting_build_requests().map(|r| r.id).collect())
            .unwrap_or_default();
        for request in waiting {
            self.send_command(
                master,
                Command::ClaimBuildRequests { master: id, requests: vec![request] },
            );
        }
    }

    pub(super) fn workload(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        let pause = self.workload_rng.between(1_000, 30_000);
        self.schedule(pause, Event::MasterWorkload { master, incarnation });
        let Some(id) = self.masters[master].id else { return };
        if !self.masters[master].is_alive() || self.healed {
            return;
        }
        let node = &self.masters[master];
        let (builder_count, claim_count, build_count) =
            (node.builders.len(), node.claims.len(), node.builds.len());
        let pick_claim = |world: &mut World| {
            let index = world.workload_rng.index(claim_count);
            world.masters[master].claims.iter().nth(index).copied()
        };
        let command = match self.workload_rng.below(10) {
            0 => {
                let mut chosen = Vec::new();
                for index in 0..builder_count {
                    if self.workload_rng.chance(600_000) {
                        chosen.push(self.masters[master].builders[index].clone());
                    }
                }
                Command::SetBuilderList { master: id, builder_names: chosen }
            }
            1 => {
                let kind = if self.workload_rng.chance(500_000) {
                    ServiceKind::Scheduler
                } else {
                    ServiceKind::ChangeSource
                };
                let name = format!("service-{}", self.workload_rng.below(4));
                Command::ClaimService { master: id, kind, name }
            }
            2 | 3 => {
                let builder_name =
                    self.masters[master].builders[self.workload_rng.index(builder_count)].clone();
                Command::SubmitBuildRequest { master: id, builder_name }
            }
            4 | 5 if !self.submitted.is_empty() => {
                let request = self.submitted[self.workload_rng.index(self.submitted.len())];
                Command::ClaimBuildRequests { master: id, requests: vec![request] }
            }
            6 if claim_count > 0 => {
                let Some(request) = pick_claim(self) else { return };
                let worker = self.workload_rng.index(self.settings.workers);
                let worker_name = self.worker_names[worker].clone();
                Command::StartBuild { master: id, request, worker_name }
            }
            7 if claim_count > 0 => {
                let Some(request) = pick_claim(self) else { return };
                let results = Results(self.workload_rng.below(5) as u8);
                Command::CompleteBuildRequests { master: id, requests: vec![request], results }
            }
            8 if build_count > 0 => {
                let index = self.workload_rng.index(build_count);
                let Some(build) = self.masters[master].builds.iter().nth(index).copied() else {
                    return;
                };
                Command::FinishBuild { master: id, build, results: Results::SUCCESS }
            }
            9 if claim_count > 0 && self.workload_rng.chance(300_000) => {
                let Some(request) = pick_claim(self) else { return };
                Command::UnclaimBuildRequests { master: id, requests: vec![request] }
            }
            _ => {
                if self.workload_rng.chance(self.settings.faults.reconfig * 10) {
                    self.reconfigure(master);
                }
                return;
            }
        };
        self.send_command(master, command);
    }

    /// A reconfig: some workers join or leave the roster; the Gateway and the Registry hear.
    fn reconfigure(&mut self, master: usize) {
        let node = &self.masters[master];
        if node.pool.is_empty() {
            return;
        }
        let worker = node.pool[self.workload_rng.index(node.pool.len())];
        let node = &mut self.masters[master];
        if !node.roster.remove(&worker) {
            node.roster.insert(worker);
        }
        node.builders.rotate_left(1);
        let input = GatewayInput::Reconfig {
            config: self.gateway_config(master),
            roster: self.roster_of(master),
        };
        self.gateway_input(master, input);
        if let Some(id) = self.masters[master].id {
            let names =
                self.masters[master].roster.iter().map(|&w| self.worker_names[w].clone()).collect();
            self.send_command(
                master,
                Command::SetConfiguredWorkers { master: id, worker_names: names },
            );
        }
    }

    fn declare_configuration(&mut self, master: usize, id: MasterId) {
        let node = &self.masters[master];
        let worker_names = node.roster.iter().map(|&w| self.worker_names[w].clone()).collect();
        let builder_names = node.builders.clone();
        self.send_command(master, Command::SetConfiguredWorkers { master: id, worker_names });
        self.send_command(master, Command::SetBuilderList { master: id, builder_names });
    }

    pub(super) fn reply_arrived(
        &mut self,
        master: usize,
        incarnation: u64,
        command: &Command,
        result: Result<Reply, RequestError>,
    ) {
        if !self.is_current(master, incarnation) || !self.masters[master].is_alive() {
            return;
        }
        self.learn_claims(master, command, result.is_ok());
        match result {
            Ok(Reply::Master(id)) => {
                let node = &mut self.masters[master];
                let first = node.id.is_none();
                node.id = Some(id);
                if std::mem::take(&mut node.needs_startup_cleanup) {
                    // A restarted master stops its old self in case it crashed (giving
                    // back what it held), then becomes active again; expiry is the Node's.
                    let name = node.name.clone();
                    self.send_command(master, Command::MasterStopped { master: id });
                    self.send_command(master, Command::MasterActive { name });
                }
                if first {
                    // As a real master does once registered: its workers and builders.
                    self.declare_configuration(master, id);
                }
            }
            Ok(Reply::Build(build)) => {
                self.masters[master].builds.insert(build);
            }
            Ok(Reply::BuildRequest(request)) => self.submitted.push(request),
            Ok(Reply::Unclaimed(requests)) => {
                for request in requests {
                    self.masters[master].claims.remove(&request);
                }
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }

    /// Claims are learned from what the registry says, not from what we asked: a reply may
    /// be lost while the claim stands.
    fn learn_claims(&mut self, master: usize, command: &Command, ok: bool) {
        if !ok {
            return;
        }
        let node = &mut self.masters[master];
        match command {
            Command::ClaimBuildRequests { requests, .. } => {
                node.claims.extend(requests.iter().copied())
            }
            Command::CompleteBuildRequests { requests, .. } => {
                for request in requests {
                    node.claims.remove(request);
                }
            }
            Command::FinishBuild { build, .. } => {
                node.builds.remove(build);
            }
            _ => {}
        }
    }

    pub(super) fn is_current(&self, master: usize, incarnation: u64) -> bool {
        let node = &self.masters[master];
        node.incarnation == incarnation && !matches!(node.life, Life::Crashed { .. })
    }

    /// Feeds the master's Gateway one input on its own clock and routes what it says.
    pub(super) fn gateway_input(&mut self, master: usize, input: GatewayInput) {
        let local = self.masters[master].local_time(self.now);
        let hello = match &input {
            GatewayInput::Hello { connection, .. } => Some(*connection),
            _ => None,
        };
        let touched = match &input {
            GatewayInput::Hello { connection, .. }
            | GatewayInput::Keepalive { connection }
            | GatewayInput::Pong { connection, .. }
            | GatewayInput::Closed { connection } => {
                self.links.get(*connection).map(|link| link.worker)
            }
            GatewayInput::Reconfig { .. } => None,
        };
        let Some(gateway) = self.masters[master].gateway.as_mut() else { return };
        self.closing = match input {
            GatewayInput::Closed { connection } => Some(connection),
            _ => None,
        };
        gateway.handle(local, input);
        self.drain_gateway(master);
        self.closing = None;
        if let Some(connection) = hello {
            self.check_newest_wins(master, connection)
                .unwrap_or_else(|violation| self.fail(violation));
        }
        if let Some(worker) = touched {
            let name = &self.worker_names[worker];
            let node = &self.masters[master];
            let reported =
                node.gateway.as_ref().and_then(|gateway| gateway.attached_connection(name));
            let seen = node.attached_view.get(&self.worker_names, name);
            if reported != seen {
                let message = format!(
                    "master {master}'s gateway says {name} is attached on {reported:?}, its events say {seen:?}"
                );
                self.fail(correctness(message));
            }
        }
        self.schedule_gateway_wake(master);
    }

    pub(super) fn gateway_wake(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        self.masters[master].gateway_wake = None;
        if !self.masters[master].is_alive() {
            return;
        }
        let local = self.masters[master].local_time(self.now);
        if let Some(gateway) = self.masters[master].gateway.as_mut() {
            gateway.handle_timeout(local);
        }
        self.drain_gateway(master);
        self.schedule_gateway_wake(master);
    }

    fn schedule_gateway_wake(&mut self, master: usize) {
        let node = &self.masters[master];
        let Some(deadline) = node.gateway.as_ref().and_then(Gateway::poll_timeout) else { return };
        let at = node.global_time(deadline).max(self.now);
        if node.gateway_wake.is_some_and(|scheduled| scheduled <= at) {
            return;
        }
        let incarnation = node.incarnation;
        self.masters[master].gateway_wake = Some(at);
        self.schedule_at(at, Event::GatewayWake { master, incarnation });
    }

    fn drain_gateway(&mut self, master: usize) {
        while let Some(output) =
            self.masters[master].gateway.as_mut().and_then(Gateway::poll_output)
        {
            match output {
                GatewayOutput::Send { connection, message } => {
                    // Frames are the bulk of a run: hash them compactly, not through Debug.
                    self.trace.number(connection.get());
                    self.trace.number(message_tag(&message));
                    // Simulated workers ignore keepalive acks: not delivering them saves a
                    // third of all events without changing anything a worker does.
                    if message != rollcall_core::ToWorker::KeepaliveAck {
                        self.send_to_worker(connection, Some(message));
                    }
                }
                GatewayOutput::Close { connection, reason } => {
                    self.trace.number(connection.get());
                    self.trace.number(reason as u64);
                    self.send_to_worker(connection, None);
                    // The daemon's connection task reports every close to the core, also
                    // the ones the core asked for, after whatever it was doing: a late
                    // close of a connection the Gateway already forgot (replaced, timed
                    // out, refused) must change nothing (Buildbot #4678).
                    self.send_to_gateway(connection, GatewayInput::Closed { connection });
                }
                GatewayOutput::Event(event) => {
                    self.trace.gateway_event(&event);
                    self.gateway_event(master, event);
                }
            }
        }
    }

    fn gateway_event(&mut self, master: usize, event: GatewayEvent) {
        let id = self.masters[master].id;
        match event {
            GatewayEvent::Attached { worker, connection } => {
                self.stats.attaches += 1;
                let view = &mut self.masters[master].attached_view;
                if let Some(previous) = view.insert(&self.worker_names, &worker, connection) {
                    self.fail(correctness(format!(
                        "{worker} attached on {connection} while still attached on {previous}"
                    )));
                }
                let valid = self
                    .links
                    .get(connection)
                    .is_some_and(|link| link.credentials_valid && link.master == master);
                if !valid {
                    let link = self.links.get(connection);
                    self.fail(correctness(format!(
                        "{worker} attached on {connection} without valid credentials ({link:?})"
                    )));
                }
                if let Some(id) = id {
                    self.send_command(
                        master,
                        Command::WorkerConnected { master: id, worker_name: worker, connection },
                    );
                }
            }
            GatewayEvent::Detached { worker, connection, reason } => {
                if reason == CloseReason::PeerClosed && self.closing != Some(connection) {
                    self.fail(correctness(format!(
                        "{worker} detached from {connection} as closed by its peer, but the \
                         close being handled is {:?}'s",
                        self.closing
                    )));
                }
                match self.masters[master].attached_view.remove(&self.worker_names, &worker) {
                    Some(attached) if attached == connection => {}
                    other => self.fail(correctness(format!(
                        "{worker} detached from {connection} while attached on {other:?}"
                    ))),
                }
                if let Some(id) = id {
                    self.send_command(
                        master,
                        Command::WorkerDisconnected { master: id, worker_name: worker, connection },
                    );
                }
            }
            _ => {}
        }
    }

    /// Under drop-older, an authenticated Hello for a configured worker attaches at once;
    /// under either policy, no unconfigured worker is ever attached.
    fn check_newest_wins(&self, master: usize, connection: rollcall_core::ConnectionId) -> Verdict {
        let node = &self.masters[master];
        let Some(gateway) = node.gateway.as_ref() else { return Ok(()) };
        // The first offender by name, as a sorted walk would find it, without sorting.
        let unconfigured = gateway
            .attached_workers_unordered()
            .map(|(name, _)| name)
            .filter(|name| !gateway.is_configured(name))
            .min();
        if let Some(name) = unconfigured {
            return Err(correctness(format!(
                "{name} is attached to master {master} but not configured"
            )));
        }
        // Valid credentials name the connection's own worker (see `gateway_receives`).
        let Some(link) = self.links.get(connection).filter(|link| link.credentials_valid) else {
            return Ok(());
        };
        let worker = &self.worker_names[link.worker];
        if gateway.config().duplicate_policy == DuplicatePolicy::DropOlder
            && gateway.attached_connection(worker) != Some(connection)
        {
            return Err(correctness(format!(
                "drop-older: {worker}'s newest connection {connection} is not the attached one"
            )));
        }
        Ok(())
    }
}

fn message_tag(message: &rollcall_core::ToWorker) -> u64 {
    use rollcall_core::ToWorker;
    match message {
        ToWorker::Welcome => 1,
        ToWorker::BuilderList { builders } => 2 + 16 * builders.len() as u64,
        ToWorker::Rejected { reason } => 3 + 16 * (*reason as u64),
        ToWorker::Ping { nonce } => 4 + 16 * nonce,
        ToWorker::KeepaliveAck => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the exact names of the simulation's workers map to an index; anything else
    /// (strangers, other spellings of a number, workers beyond the cluster) goes to the map.
    #[test]
    fn attached_view_keys_the_simulations_workers_by_index_and_others_by_name() {
        let names: Vec<String> = (0..4).map(worker_name).collect();
        assert_eq!(worker_index(&names, "worker-3"), Some(3));
        for other in ["worker-03", "worker-4", "worker-", "stranger-3", "worker-+3"] {
            assert_eq!(worker_index(&names, other), None, "{other}");
        }
        let mut view = AttachedView::default();
        assert_eq!(view.insert(&names, "worker-2", ConnectionId(7)), None);
        assert_eq!(view.insert(&names, "stranger-2", ConnectionId(8)), None);
        assert_eq!(view.get(&names, "worker-2"), Some(ConnectionId(7)));
        assert_eq!(view.get(&names, "stranger-2"), Some(ConnectionId(8)));
        assert_eq!(view.insert(&names, "worker-2", ConnectionId(9)), Some(ConnectionId(7)));
        assert_eq!(view.remove(&names, "worker-2"), Some(ConnectionId(9)));
        assert_eq!(view.remove(&names, "worker-2"), None);
        view.clear();
        assert_eq!(view.get(&names, "stranger-2"), None);
    }

    /// The oracle that caught the planted late-close bug: a Gateway may detach a connection
    /// as closed by its peer only while it handles that connection's own close.
    #[test]
    fn a_peer_closed_detach_of_another_connection_than_the_one_closing_fails_the_run() {
        let settings = Settings::derive(0, crate::settings::Overrides::default());
        let mut world = World::new(settings);
        world.closing = Some(ConnectionId(65));
        let detached = GatewayEvent::Detached {
            worker: worker_name(0),
            connection: ConnectionId(66),
            reason: CloseReason::PeerClosed,
        };
        world.gateway_event(0, detached);
        let failure = world.failure.as_ref().map(|violation| violation.message.as_str());
        assert_eq!(
            failure,
            Some(
                "worker-0 detached from 66 as closed by its peer, but the close being handled \
                 is Some(ConnectionId(65))'s"
            )
        );
    }
}
