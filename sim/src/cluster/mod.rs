//! The cluster under simulated time and faults (issue #13): several nodes, each the
//! core's real [`Replicator`] with its own drifting clock over a model of the shared store
//! ([`store`]), and each the very [`Node`](rollcall_core::Node) the daemon drives
//! ([`members`]): a build master with workers of its own, whose seat changes with the
//! lease. The leader serves the registry: a remote master's requests and every standby's
//! own master's (each standby keeps a session to the leader) are committed batch by batch;
//! standbys follow the log. Faults: a node paused (its clock runs on, its events and
//! deliveries wait), a node cut off from the store, the store down, a reply lost after the
//! store acted, and in some seeds clocks slow enough that a deposed leader still believes
//! it leads, so that only the store's fence stands in its way. In most seeds standbys
//! write snapshots that prune the log, so nodes that rebuild or fall behind start from a
//! snapshot.
//!
//! Oracles, after every event:
//! - every append the store accepted was made by the lease's holder at the lease's epoch,
//!   unexpired by the store's clock (nothing a deposed leader commits is accepted);
//! - the log's epochs never go backwards, and each epoch's entries come from one node;
//! - every commit a leader was told is durable is in the log, unchanged;
//! - a node that takes over holds exactly the log's state;
//! - every snapshot a standby stored is exactly the log's state after its entry;
//! - no master is expired by a leader within the takeover's grace
//!   ([`LeaseTimings::takeover_grace_ms`]) of its taking over, whatever its clock says;
//! - where every clock runs within a fifth of true time, no two nodes act as leader at
//!   once (the lease's local rule alone guarantees it);
//! - no node ever closes one of its workers: promotions and depositions keep them;
//! - whenever a standby's session is settled (registered, nothing in flight), the leader
//!   records exactly the standby's attached workers on the standby's master;
//! - after every fault heals, one leader; every standby's replica equal to its
//!   registry and to the log replayed; every node's master registered and active there,
//!   its connection records exactly its Gateway's attached workers;
//! - replies exactly once: a request sent again after a commit whose reply was lost gets
//!   the answer its first, logged, execution gave, and every answer the master got is the
//!   log's.

mod checks;
mod members;
mod store;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

use rollcall_core::lease::{LeaseEvent, LeaseTimings};
use rollcall_core::node::RequestError;
use rollcall_core::registry::{RegistryEvent, StopCause};
use rollcall_core::replication::Replicator;
use rollcall_core::{
    BuildRequestId, Command, CommandError, LoggedInput, MasterId, NodeEvent, NodeInput, NodeOutput,
    Registry, RegistryConfig, Reply, Timestamp,
};

use crate::oracle::{correctness, Verdict};
use crate::rng::Rng;
use members::{Member, REMOTE, REMOTE_SESSION, TOKEN};
use store::{SimStore, StoreState};

/// The moment the simulated clocks start at, as in the single-node world.
const START_MS: u64 = 1_700_000_000_000;
/// The most unanswered requests the master sends again; older ones it gives up on.
const MAX_UNANSWERED: usize = 16;

/// What one seed decides.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub seed: u64,
    pub nodes: usize,
    pub timings: LeaseTimings,
    /// The registry's expiry window: one to three TTLs, so that a takeover's gap in the
    /// masters' heartbeats is long enough to expire them but for the takeover's grace.
    pub registry: RegistryConfig,
    /// Per node: its clock's rate, in millionths of true time (1,000,000 is exact).
    pub clock_rate_ppm: Vec<u64>,
    pub safety_phase_ms: u64,
    /// Chances per fault tick, per million.
    pub pause: u64,
    pub cut_off: u64,
    pub store_down: u64,
    pub lost_reply: u64,
    /// Standbys write a snapshot every this many entries (0: never), pruning the log.
    pub snapshot_every_entries: u64,
}

impl ClusterSettings {
    pub fn derive(seed: u64) -> ClusterSettings {
        let mut rng = Rng::new(seed).fork(0xc1_05_7e_12);
        let nodes = rng.between(2, 5) as usize;
        let ttl_ms = rng.between(3, 15) * 1_000;
        let renew_interval_ms = rng.between(ttl_ms / 10, ttl_ms / 3).max(100);
        let expiry_window_ms = rng.between(ttl_ms, 3 * ttl_ms);
        // One seed in three has clocks slow enough (a third to two thirds of true speed)
        // that a deposed leader outlives its lease by its own reckoning: only the store's
        // fence then keeps its commits out.
        let extreme = rng.chance(333_333);
        let clock_rate_ppm = (0..nodes)
            .map(|_| {
                if extreme {
                    rng.between(330_000, 660_000)
                } else {
                    rng.between(950_000, 1_050_000)
                }
            })
            .collect();
        let mut on = |rate: u64| if rng.chance(700_000) { rng.between(1, rate) } else { 0 };
        ClusterSettings {
            seed,
            nodes,
            timings: LeaseTimings { ttl_ms, renew_interval_ms },
            registry: RegistryConfig { expiry_window_ms },
            clock_rate_ppm,
            safety_phase_ms: 30 * 60 * 1_000,
            pause: on(200_000),
            cut_off: on(150_000),
            store_down: on(50_000),
            lost_reply: on(50_000),
            snapshot_every_entries: if rng.chance(250_000) { 0 } else { rng.between(20, 400) },
        }
    }

    /// Every clock within a fifth of true time: the lease's local rule alone keeps two
    /// nodes from acting as leader at once.
    fn clocks_tame(&self) -> bool {
        self.clock_rate_ppm.iter().all(|&rate| (800_000..=1_200_000).contains(&rate))
    }
}

/// Counters for the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClusterStats {
    pub events: u64,
    pub takeovers: u64,
    pub commits: u64,
    pub refused_commits: u64,
    pub log_entries: u64,
    pub snapshots: u64,
    /// A hash of every event processed and of the log: equal for two runs of a seed.
    pub trace_hash: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Tick,
    Work,
    Fault,
}

struct ClusterWorld {
    settings: ClusterSettings,
    now_ms: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize, Kind)>>,
    sequence: u64,
    rng: Rng,
    store: Rc<RefCell<StoreState>>,
    members: Vec<Member>,
    /// Every commit a leader was told is durable: its entries and their sequence numbers.
    acknowledged: Vec<(u64, Vec<LoggedInput>)>,
    /// How far the checks have got: accepted appends, log entries (and the last one's
    /// epoch and node), acknowledgements.
    checked_appends: usize,
    checked_log: usize,
    last_logged: Option<(u64, usize)>,
    checked_acknowledged: usize,
    checked_snapshots: usize,
    /// The log replayed up to the last snapshot checked: stored snapshots only grow newer,
    /// so each is checked by replaying only the entries since the one before.
    snapshot_truth: (u64, Registry),
    healed: bool,
    trace: crate::trace::TraceHash,
    /// From here on nobody submits or attaches anything, so that every node catches up.
    quiet_from_ms: u64,
    /// The leader the remote master's session is open at, and its master id once known.
    remote_at: Option<usize>,
    remote_master: Option<MasterId>,
    /// The remote master's last request id; its requests in the batch being committed;
    /// those of a commit that failed (their outcome unknown), to send again under the
    /// same ids.
    next_request_id: u64,
    in_batch: Vec<(u64, Command)>,
    unanswered: Vec<(u64, Command)>,
    /// Every answer the master got, after its commit, by request id.
    answered: Vec<(u64, Result<Reply, CommandError>)>,
    stats: ClusterStats,
}

/// Runs one cluster seed; the violation, if any, says what broke and when.
pub fn run_cluster_seed(seed: u64) -> (ClusterSettings, Result<ClusterStats, crate::Violation>) {
    let settings = ClusterSettings::derive(seed);
    let mut world = ClusterWorld::new(settings.clone());
    let verdict = world.run();
    let simulated = world.now_ms;
    let events = world.stats.events;
    let result = verdict.map(|()| world.stats).map_err(|violation| {
        violation.detected(Timestamp::from_millis(START_MS + simulated), simulated, events)
    });
    (settings, result)
}

impl ClusterWorld {
    fn new(settings: ClusterSettings) -> ClusterWorld {
        let store = Rc::new(RefCell::new(StoreState::new(settings.nodes)));
        let mut rng = Rng::new(settings.seed).fork(0x5_17e);
        let start = Timestamp::from_millis(START_MS);
        let members = (0..settings.nodes)
            .map(|index| {
                let handle = SimStore {
                    node: index,
                    ttl_ms: settings.timings.ttl_ms,
                    state: Rc::clone(&store),
                };
                let replicator =
                    Replicator::new(start, handle, settings.timings, settings.registry);
                let Ok(replicator) = replicator else { unreachable!("derived timings are valid") };
                let replicator = replicator.with_snapshots_every(settings.snapshot_every_entries);
                let config = members::node_config(index, settings.nodes, settings.registry);
                // Each run of a node numbers its requests from a point of its own.
                let first_request_id = rng.next_u64() >> 8;
                Member::new(index, replicator, config, start, first_request_id)
            })
            .collect();
        let snapshot_truth = (0, Registry::new(settings.registry));
        let mut world = ClusterWorld {
            settings,
            now_ms: 0,
            queue: BinaryHeap::new(),
            sequence: 0,
            rng: rng.fork(1),
            store,
            members,
            acknowledged: Vec::new(),
            checked_appends: 0,
            checked_log: 0,
            last_logged: None,
            checked_acknowledged: 0,
            checked_snapshots: 0,
            snapshot_truth,
            healed: false,
            trace: crate::trace::TraceHash::default(),
            quiet_from_ms: 0,
            remote_at: None,
            remote_master: None,
            next_request_id: 0,
            in_batch: Vec::new(),
            unanswered: Vec::new(),
            answered: Vec::new(),
            stats: ClusterStats::default(),
        };
        for node in 0..world.members.len() {
            let first = world.rng.below(1_000);
            world.schedule(first, node, Kind::Tick);
            let work = world.rng.below(1_000);
            world.schedule(work, node, Kind::Work);
        }
        world.schedule(1_000, 0, Kind::Fault);
        world
    }

    fn schedule(&mut self, after_ms: u64, node: usize, kind: Kind) {
        self.sequence += 1;
        self.queue.push(Reverse((self.now_ms + after_ms, self.sequence, node, kind)));
    }

    /// A node's own clock: monotonic, at its rate.
    fn local(&self, node: usize) -> Timestamp {
        let rate = self.settings.clock_rate_ppm[node];
        Timestamp::from_millis(START_MS + self.now_ms * rate / 1_000_000)
    }

    fn run(&mut self) -> Verdict {
        let heal_at = self.settings.safety_phase_ms;
        let end_at = heal_at + 10 * self.settings.timings.ttl_ms;
        self.quiet_from_ms = end_at - 3 * self.settings.timings.ttl_ms;
        while let Some(Reverse((at, _, node, kind))) = self.queue.pop() {
            if at > end_at {
                break;
            }
            self.now_ms = at;
            if !self.healed && at >= heal_at {
                self.heal();
            }
            self.store.borrow_mut().now_ms = START_MS + at;
            self.stats.events += 1;
            self.trace.number(at);
            self.trace.number(node as u64 * 4 + kind as u64);
            match kind {
                Kind::Tick => self.tick(node)?,
                Kind::Work => self.work(node)?,
                Kind::Fault => self.fault(),
            }
            self.check_appends()?;
            self.check_one_acting_leader()?;
            self.check_settled_records()?;
        }
        for (epoch, node, _) in &self.store.borrow().log {
            self.trace.number(*epoch);
            self.trace.number(*node as u64);
        }
        self.stats.trace_hash = self.trace.value();
        self.check_end()
    }

    fn paused(&mut self, node: usize, kind: Kind) -> bool {
        let until = self.members[node].paused_until_ms;
        if until > self.now_ms {
            // Its events wait for it to resume; its clock runs on meanwhile.
            self.schedule(until - self.now_ms, node, kind);
            return true;
        }
        false
    }

    /// The lease and the log, as the daemon's seat keeps them: a take promotes the Node
    /// onto the caught-up registry, a loss deposes it.
    fn tick(&mut self, node: usize) -> Verdict {
        if self.paused(node, Kind::Tick) {
            return Ok(());
        }
        let interval = self.settings.timings.renew_interval_ms;
        let next = self.rng.between(interval / 4, interval / 2).max(1);
        self.schedule(next, node, Kind::Tick);
        let now = self.local(node);
        let events = self.members[node].replicator.tick(now);
        for event in events {
            match event {
                LeaseEvent::Taken { .. } => {
                    let Some(mut registry) = self.members[node].replicator.take_registry(now)
                    else {
                        continue;
                    };
                    self.stats.takeovers += 1;
                    let truth = self.log_replayed();
                    if registry.snapshot() != truth.snapshot() {
                        return Err(correctness(format!(
                            "node {node} took over with a registry other than the log's"
                        )));
                    }
                    // As the daemon's seat does before the Node is promoted.
                    let heartbeat_ms = members::heartbeat_interval_ms(self.settings.registry);
                    let grace_ms = self.settings.timings.takeover_grace_ms(heartbeat_ms);
                    registry.take_over(now, grace_ms);
                    self.members[node].expiry_floor = now.plus_millis(grace_ms);
                    self.unlink(node);
                    if let Err(error) = self.members[node].node.promote(now, registry) {
                        return Err(correctness(format!(
                            "node {node}'s promotion failed: {error}"
                        )));
                    }
                    self.commit(node, now)?;
                }
                LeaseEvent::Lost { .. } | LeaseEvent::SteppedDown { .. } => {
                    self.depose(node)?;
                }
            }
        }
        self.drive(node)
    }

    /// The leader serves the remote master; a standby's workers come and go, and it keeps
    /// a session to the leader.
    fn work(&mut self, node: usize) -> Verdict {
        if self.paused(node, Kind::Work) {
            return Ok(());
        }
        let next = self.rng.between(50, 2_000);
        self.schedule(next, node, Kind::Work);
        // What was delivered first: a session's end must reach the Node before a new
        // session opens.
        self.deliver(node);
        let quiet = self.now_ms >= self.quiet_from_ms;
        if !quiet {
            self.workers_come_and_go(node);
        }
        if self.members[node].node.is_serving() {
            if !quiet {
                self.remote_requests(node);
            }
        } else {
            self.link(node);
        }
        self.drive(node)
    }

    /// One of the node's workers attaches or leaves, now and then.
    fn workers_come_and_go(&mut self, node: usize) {
        if !self.rng.chance(300_000) {
            return;
        }
        let worker = self.rng.index(members::WORKERS_PER_NODE);
        let now = self.local(node);
        let member = &mut self.members[node];
        let input = match member.workers[worker].take() {
            Some(connection) => NodeInput::ConnectionClosed { connection },
            None => member.attach(node, worker),
        };
        member.node.handle(now, input);
    }

    /// A standby with no session opens one to whichever node serves (if any): the leader
    /// hears the session's Hello first, the standby learns it is open at once.
    fn link(&mut self, node: usize) {
        if self.members[node].link.is_some() {
            return;
        }
        let Some(leader) = (0..self.members.len())
            .find(|&other| other != node && self.members[other].node.is_serving())
        else {
            return;
        };
        let name = members::master_name(node);
        let connection = members::standby_session(node);
        self.members[leader].inbox.push(NodeInput::MasterSessionOpened {
            connection,
            name,
            token: TOKEN,
        });
        self.members[node].link = Some(leader);
        let now = self.local(node);
        self.members[node].node.handle(now, NodeInput::LeaderSessionOpened);
    }

    /// A standby's session ends at both ends.
    fn unlink(&mut self, node: usize) {
        if let Some(leader) = self.members[node].link.take() {
            let connection = members::standby_session(node);
            self.members[leader].inbox.push(NodeInput::ConnectionClosed { connection });
            self.members[node].inbox.push(NodeInput::LeaderSessionClosed);
        }
    }

    /// The remote master's requests to the leader: a session opened first where it has
    /// none, what was never answered sent again under its ids, and a few new ones.
    fn remote_requests(&mut self, node: usize) {
        let now = self.local(node);
        let mut requests = Vec::new();
        if self.remote_at != Some(node) {
            let opened = NodeInput::MasterSessionOpened {
                connection: REMOTE_SESSION,
                name: REMOTE.into(),
                token: TOKEN,
            };
            self.members[node].node.handle(now, opened);
            self.remote_at = Some(node);
            self.next_request_id += 1;
            requests.push((self.next_request_id, Command::MasterActive { name: REMOTE.into() }));
        }
        requests.append(&mut self.unanswered);
        if let Some(master) = self.remote_master {
            for _ in 0..self.rng.between(1, 4) {
                let command = self.command(master);
                self.next_request_id += 1;
                requests.push((self.next_request_id, command));
            }
        }
        for (request_id, command) in &requests {
            let request = NodeInput::MasterRequest {
                connection: REMOTE_SESSION,
                request_id: *request_id,
                command: command.clone(),
            };
            self.members[node].node.handle(now, request);
        }
        self.in_batch.extend(requests);
    }

    fn command(&mut self, master: MasterId) -> Command {
        match self.rng.below(5) {
            0 | 1 => Command::MasterActive { name: REMOTE.into() },
            2 => Command::SubmitBuildRequest { master, builder_name: "b".into() },
            3 => Command::ClaimBuildRequests {
                master,
                requests: vec![BuildRequestId(self.rng.between(1, 20))],
            },
            _ => Command::UnclaimBuildRequests {
                master,
                requests: vec![BuildRequestId(self.rng.between(1, 20))],
            },
        }
    }

    /// Feeds what was delivered to the node, in order.
    fn deliver(&mut self, node: usize) {
        let now = self.local(node);
        let member = &mut self.members[node];
        for input in std::mem::take(&mut member.inbox) {
            member.node.handle(now, input);
        }
    }

    /// Feeds what was delivered, fires what is due, and commits the batch.
    fn drive(&mut self, node: usize) -> Verdict {
        self.deliver(node);
        let now = self.local(node);
        let member = &mut self.members[node];
        if member.node.poll_timeout().is_some_and(|due| due <= now) {
            member.node.handle_timeout(now);
        }
        self.commit(node, now)
    }

    /// The batch: a standby's is all Gateway (durable at once); a leader's registry inputs
    /// are committed fenced, and a refusal deposes the Node.
    fn commit(&mut self, node: usize, now: Timestamp) -> Verdict {
        let batch = self.members[node].node.end_batch();
        if batch.registry_inputs.is_empty() {
            if !batch.changes.is_empty() {
                return Err(correctness(format!(
                    "node {node}'s batch changed the registry without a logged input"
                )));
            }
            self.members[node].node.batch_durable(batch.number);
            let verdict = self.release(node, now);
            self.in_batch.clear();
            return verdict;
        }
        if !self.healed && self.rng.chance(self.settings.lost_reply) {
            self.store.borrow_mut().lose_next_reply = true;
        }
        let committed = self.members[node].replicator.commit(now, &batch.registry_inputs);
        self.store.borrow_mut().lose_next_reply = false;
        match committed {
            Ok(last) => {
                self.stats.commits += 1;
                self.acknowledged.push((last, batch.registry_inputs));
                self.members[node].node.batch_durable(batch.number);
                let verdict = self.release(node, now);
                self.in_batch.clear();
                verdict
            }
            Err(_) => {
                self.stats.refused_commits += 1;
                // Never answered, whether it landed or not: the master sends it again.
                let mut requests = std::mem::take(&mut self.in_batch);
                requests.truncate(MAX_UNANSWERED);
                self.unanswered = requests;
                self.depose(node)
            }
        }
    }

    /// The Node stands by again, its workers attached; what its lost batch would have
    /// told remote masters is never told.
    fn depose(&mut self, node: usize) -> Verdict {
        if !self.members[node].node.is_serving() {
            return Ok(());
        }
        let first_request_id = self.rng.next_u64() >> 8;
        self.members[node].node.depose(first_request_id);
        if self.remote_at == Some(node) {
            self.remote_at = None;
        }
        let now = self.local(node);
        self.release(node, now)
    }

    /// Carries out what the Node released.
    fn release(&mut self, node: usize, now: Timestamp) -> Verdict {
        let nodes = self.members.len();
        while let Some(output) = self.members[node].node.poll_output() {
            match output {
                NodeOutput::CloseWorker { connection, reason } => {
                    return Err(correctness(format!(
                        "node {node} closed its worker connection {connection} ({reason:?}): \
                         only the workload closes workers"
                    )));
                }
                NodeOutput::Reply { connection, request_id, result } => {
                    if connection == REMOTE_SESSION {
                        self.remote_answered(request_id, result);
                    } else if let Some(standby) = members::standby_of(connection, nodes) {
                        if self.members[standby].link == Some(node) {
                            let reply = NodeInput::LeaderReply { request_id, result };
                            self.members[standby].inbox.push(reply);
                        }
                    }
                }
                NodeOutput::CloseSession { connection, .. } => {
                    if connection == REMOTE_SESSION && self.remote_at == Some(node) {
                        self.remote_at = None;
                    } else if let Some(standby) = members::standby_of(connection, nodes) {
                        if self.members[standby].link == Some(node) {
                            self.members[standby].link = None;
                            self.members[standby].inbox.push(NodeInput::LeaderSessionClosed);
                        }
                    }
                }
                NodeOutput::ToLeader { request_id, command } => {
                    if let Some(leader) = self.members[node].link {
                        let connection = members::standby_session(node);
                        let request = NodeInput::MasterRequest { connection, request_id, command };
                        self.members[leader].inbox.push(request);
                    }
                }
                NodeOutput::CloseLeaderSession => self.unlink(node),
                NodeOutput::Event(NodeEvent::Registry(RegistryEvent::MasterStopped {
                    name,
                    cause: StopCause::Expired,
                    ..
                })) if now < self.members[node].expiry_floor => {
                    return Err(correctness(format!(
                        "node {node} expired master {name} at {now:?}, inside its takeover's \
                         grace (until {:?})",
                        self.members[node].expiry_floor
                    )));
                }
                NodeOutput::ToWorker { .. }
                | NodeOutput::SessionWelcome { .. }
                | NodeOutput::Event(_) => {}
            }
        }
        Ok(())
    }

    /// An answer the remote master got, its commit made: the log's answer, unless the
    /// session refused it before the registry saw it (nothing was logged then).
    fn remote_answered(&mut self, request_id: u64, result: Result<Reply, RequestError>) {
        let heartbeat = self.in_batch.iter().any(|(id, command)| {
            *id == request_id && matches!(command, Command::MasterActive { .. })
        });
        if let Ok(Reply::Master(master)) = &result {
            self.remote_master = Some(*master);
        }
        let logged = match result {
            Ok(reply) => Ok(reply),
            Err(RequestError::Refused(error)) => Err(error),
            Err(_) => return,
        };
        // A heartbeat is no request the log keys (it always runs): not checked.
        if !heartbeat {
            self.answered.push((request_id, logged));
        }
    }

    fn fault(&mut self) {
        if self.healed {
            return;
        }
        self.schedule(1_000, 0, Kind::Fault);
        let settings = &self.settings;
        let (pause, cut_off, store_down) = (settings.pause, settings.cut_off, settings.store_down);
        let ttl = settings.timings.ttl_ms;
        if self.rng.chance(pause) {
            let node = self.rng.index(self.members.len());
            // Around a TTL: long enough for a takeover, short enough that a slow clock
            // has not noticed.
            let length = self.rng.between(ttl / 2, ttl * 2);
            self.members[node].paused_until_ms = self.now_ms + length;
        }
        let mut state = self.store.borrow_mut();
        if self.rng.chance(cut_off) {
            let node = self.rng.index(state.cut_off.len());
            state.cut_off[node] = !state.cut_off[node];
        }
        if self.rng.chance(store_down) {
            state.down = !state.down;
        }
    }

    fn heal(&mut self) {
        self.healed = true;
        let mut state = self.store.borrow_mut();
        state.down = false;
        state.cut_off.iter_mut().for_each(|cut| *cut = false);
        for member in &mut self.members {
            member.paused_until_ms = 0;
        }
    }

    fn log_replayed(&self) -> Registry {
        let mut registry = Registry::new(self.settings.registry);
        for (_, _, input) in &self.store.borrow().log {
            registry.replay(input.clone());
        }
        registry
    }
}
