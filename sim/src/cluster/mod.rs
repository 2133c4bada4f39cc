//! The cluster's replication under simulated time and faults (issue #13): several nodes,
//! each the core's real [`Replicator`] with its own drifting clock, over a model of the
//! shared store ([`store`]). The leader of the moment runs a workload on the Registry it
//! took and commits every batch; standbys follow the log. Faults: a node paused (its
//! clock runs on, its events wait), a node cut off from the store, the store down, a
//! reply lost after the store acted, and in some seeds clocks slow enough that a deposed
//! leader still believes it leads, so that only the store's fence stands in its way. In
//! most seeds standbys write snapshots that prune the log, so nodes that rebuild or fall
//! behind start from a snapshot.
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
//! - after every fault heals, one leader, and every standby's replica equal to its
//!   registry and to the log replayed;
//! - replies exactly once: a request sent again after a commit whose reply was lost gets
//!   the answer its first, logged, execution gave, and every answer the master got is the
//!   log's.

mod store;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;

use rollcall_core::lease::{LeaseEvent, LeaseTimings};
use rollcall_core::registry::{
    RegistryEvent, RegistryInput, RegistryOutput, RequestKey, StopCause,
};
use rollcall_core::replication::{Replicator, Role};
use rollcall_core::{
    BuildRequestId, Command, CommandError, LoggedInput, MasterId, Registry, RegistryConfig, Reply,
    ReplyToken, Timestamp,
};

use crate::oracle::{correctness, liveness, Verdict};
use crate::rng::Rng;
use store::{SimStore, StoreState};

/// The moment the simulated clocks start at, as in the single-node world.
const START_MS: u64 = 1_700_000_000_000;
/// The heartbeat interval the takeover's grace allows the masters (the workload's masters
/// heartbeat every few seconds).
const HEARTBEAT_INTERVAL_MS: u64 = 10_000;
/// The remote master whose requests the workload sends (and sends again).
const REMOTE: &str = "remote";
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

struct Node {
    replicator: Replicator<SimStore>,
    /// The registry this node took when it became leader, while it leads.
    registry: Option<Registry>,
    /// While it leads: by its own clock, when the takeover's grace ends.
    expiry_floor: Timestamp,
    paused_until_ms: u64,
}

struct ClusterWorld {
    settings: ClusterSettings,
    now_ms: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize, Kind)>>,
    sequence: u64,
    rng: Rng,
    store: Rc<RefCell<StoreState>>,
    nodes: Vec<Node>,
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
    /// From here on the leader submits nothing, so that every standby catches up.
    quiet_from_ms: u64,
    /// The remote master's last request id, and its requests of a commit that failed
    /// (their outcome unknown), to send again under the same ids.
    next_request_id: u64,
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
        let nodes = (0..settings.nodes)
            .map(|node| {
                let handle =
                    SimStore { node, ttl_ms: settings.timings.ttl_ms, state: Rc::clone(&store) };
                let replicator = Replicator::new(
                    Timestamp::from_millis(START_MS),
                    handle,
                    settings.timings,
                    settings.registry,
                );
                let Ok(replicator) = replicator else { unreachable!("derived timings are valid") };
                let replicator = replicator.with_snapshots_every(settings.snapshot_every_entries);
                Node {
                    replicator,
                    registry: None,
                    expiry_floor: Timestamp::from_millis(0),
                    paused_until_ms: 0,
                }
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
            nodes,
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
            next_request_id: 0,
            unanswered: Vec::new(),
            answered: Vec::new(),
            stats: ClusterStats::default(),
        };
        for node in 0..world.nodes.len() {
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
        }
        for (epoch, node, _) in &self.store.borrow().log {
            self.trace.number(*epoch);
            self.trace.number(*node as u64);
        }
        self.stats.trace_hash = self.trace.value();
        self.check_end()
    }

    fn paused(&mut self, node: usize, kind: Kind) -> bool {
        let until = self.nodes[node].paused_until_ms;
        if until > self.now_ms {
            // Its events wait for it to resume; its clock runs on meanwhile.
            self.schedule(until - self.now_ms, node, kind);
            return true;
        }
        false
    }

    fn tick(&mut self, node: usize) -> Verdict {
        if self.paused(node, Kind::Tick) {
            return Ok(());
        }
        let now = self.local(node);
        let events = self.nodes[node].replicator.tick(now);
        for event in events {
            match event {
                LeaseEvent::Taken { .. } => {
                    let Some(mut registry) = self.nodes[node].replicator.take_registry(now) else {
                        continue;
                    };
                    self.stats.takeovers += 1;
                    let truth = self.log_replayed();
                    if registry.snapshot() != truth.snapshot() {
                        return Err(correctness(format!(
                            "node {node} took over with a registry other than the log's"
                        )));
                    }
                    // As the daemon's leader does before its Node starts.
                    let grace_ms = self.settings.timings.takeover_grace_ms(HEARTBEAT_INTERVAL_MS);
                    registry.take_over(now, grace_ms);
                    self.nodes[node].expiry_floor = now.plus_millis(grace_ms);
                    self.nodes[node].registry = Some(registry);
                }
                LeaseEvent::Lost { .. } | LeaseEvent::SteppedDown { .. } => {
                    self.nodes[node].registry = None;
                }
            }
        }
        let interval = self.settings.timings.renew_interval_ms;
        let next = self.rng.between(interval / 4, interval / 2).max(1);
        self.schedule(next, node, Kind::Tick);
        Ok(())
    }

    /// The leader runs a few commands on its registry and commits them as one batch.
    fn work(&mut self, node: usize) -> Verdict {
        if self.paused(node, Kind::Work) {
            return Ok(());
        }
        let next = self.rng.between(50, 2_000);
        self.schedule(next, node, Kind::Work);
        if self.now_ms >= self.quiet_from_ms {
            return Ok(());
        }
        if self.nodes[node].registry.is_none() {
            return Ok(());
        }
        let now = self.local(node);
        // What the remote master never had answered is sent again first, under its ids.
        let mut requests = std::mem::take(&mut self.unanswered);
        for _ in 0..self.rng.between(1, 4) {
            let command = self.command();
            self.next_request_id += 1;
            requests.push((self.next_request_id, command));
        }
        let floor = self.nodes[node].expiry_floor;
        let Some(registry) = self.nodes[node].registry.as_mut() else { return Ok(()) };
        for (request_id, command) in &requests {
            let key = RequestKey { master: REMOTE.into(), request_id: *request_id };
            let input = RegistryInput { token: ReplyToken(*request_id), command: command.clone() };
            registry.handle_request(now, input, key);
        }
        let mut answers = Vec::with_capacity(requests.len());
        while let Some(output) = registry.poll_output() {
            match output {
                RegistryOutput::Event(RegistryEvent::MasterStopped {
                    name,
                    cause: StopCause::Expired,
                    ..
                }) if now < floor => {
                    return Err(correctness(format!(
                        "node {node} expired master {name} at {now:?}, inside its takeover's \
                         grace (until {floor:?})"
                    )));
                }
                // A heartbeat is no request the log keys (it always runs): not checked.
                RegistryOutput::Reply { token, result } => {
                    let heartbeat = requests.iter().any(|(id, command)| {
                        *id == token.0 && matches!(command, Command::MasterActive { .. })
                    });
                    if !heartbeat {
                        answers.push((token.0, result));
                    }
                }
                _ => {}
            }
        }
        let inputs = registry.take_logged_inputs();
        if !self.healed && self.rng.chance(self.settings.lost_reply) {
            self.store.borrow_mut().lose_next_reply = true;
        }
        match self.nodes[node].replicator.commit(now, &inputs) {
            Ok(last) => {
                self.stats.commits += 1;
                self.acknowledged.push((last, inputs));
                self.answered.extend(answers);
            }
            Err(_) => {
                self.stats.refused_commits += 1;
                // Never answered, whether it landed or not: the master sends it again.
                requests.truncate(MAX_UNANSWERED);
                self.unanswered = requests;
                // The Node restarts as a standby: what it did since its last commit is
                // gone, and the replicator rebuilds its replica from the log.
                self.nodes[node].registry = None;
            }
        }
        self.store.borrow_mut().lose_next_reply = false;
        Ok(())
    }

    fn command(&mut self) -> Command {
        let master = MasterId(self.rng.between(1, 4));
        match self.rng.below(5) {
            0 | 1 => Command::MasterActive { name: format!("m{}", self.rng.below(4)) },
            2 => Command::SubmitBuildRequest { master, builder_name: "b".into() },
            3 => Command::ClaimBuildRequests {
                master,
                requests: vec![BuildRequestId(self.rng.between(1, 20))],
            },
            _ => Command::ExpireMasters { force_housekeeping: false },
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
            let node = self.rng.index(self.nodes.len());
            // Around a TTL: long enough for a takeover, short enough that a slow clock
            // has not noticed.
            let length = self.rng.between(ttl / 2, ttl * 2);
            self.nodes[node].paused_until_ms = self.now_ms + length;
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
        for node in &mut self.nodes {
            node.paused_until_ms = 0;
        }
    }

    fn log_replayed(&self) -> Registry {
        let mut registry = Registry::new(self.settings.registry);
        for (_, _, input) in &self.store.borrow().log {
            registry.replay(input.clone());
        }
        registry
    }

    /// Each append the store accepted since the last check, against the lease as it stood.
    fn check_appends(&mut self) -> Verdict {
        let state = self.store.borrow();
        for accepted in &state.accepted[self.checked_appends..] {
            let lease = &accepted.lease;
            if lease.holder != Some(accepted.node)
                || lease.epoch != accepted.epoch
                || lease.valid_until_ms < accepted.at_ms
            {
                return Err(correctness(format!(
                    "the store accepted entries {}..={} from node {} at epoch {} while the lease \
                     was {lease:?}",
                    accepted.first_seq, accepted.last_seq, accepted.node, accepted.epoch
                )));
            }
        }
        self.checked_appends = state.accepted.len();
        for (index, (epoch, node, _)) in state.log.iter().enumerate().skip(self.checked_log) {
            if let Some((last_epoch, last_node)) = self.last_logged {
                if *epoch < last_epoch || (*epoch == last_epoch && *node != last_node) {
                    return Err(correctness(format!(
                        "log entry {} is epoch {epoch} from node {node} after epoch {last_epoch} \
                         from node {last_node}",
                        index + 1
                    )));
                }
            }
            self.last_logged = Some((*epoch, *node));
        }
        self.checked_log = state.log.len();
        // The log only grows, so an acknowledged commit found in it stays there.
        for (last, inputs) in &self.acknowledged[self.checked_acknowledged..] {
            let first = *last as usize - inputs.len();
            let stored = state.log.get(first..*last as usize);
            let same = stored.is_some_and(|stored| {
                stored.iter().zip(inputs).all(|((_, _, logged), acked)| logged == acked)
            });
            if !same {
                return Err(correctness(format!(
                    "acknowledged entries {}..={last} are not in the log as committed",
                    first + 1
                )));
            }
        }
        self.checked_acknowledged = self.acknowledged.len();
        self.stats.log_entries = state.log.len() as u64;
        // Every snapshot stored is the log's state after its entry, exactly.
        for (seq, snapshot) in &state.snapshots_written[self.checked_snapshots..] {
            let (replayed, truth) = &mut self.snapshot_truth;
            assert!(*seq > *replayed, "the store keeps only newer snapshots");
            for (_, _, input) in &state.log[*replayed as usize..*seq as usize] {
                truth.replay(input.clone());
            }
            *replayed = *seq;
            if truth.snapshot() != *snapshot {
                return Err(correctness(format!(
                    "the snapshot after entry {seq} differs from the log's state there"
                )));
            }
            self.stats.snapshots += 1;
        }
        self.checked_snapshots = state.snapshots_written.len();
        Ok(())
    }

    fn check_one_acting_leader(&self) -> Verdict {
        if !self.settings.clocks_tame() {
            return Ok(());
        }
        let leaders: Vec<usize> = (0..self.nodes.len())
            .filter(|&node| {
                matches!(self.nodes[node].replicator.role(self.local(node)), Role::Leader { .. })
            })
            .collect();
        if leaders.len() > 1 {
            return Err(correctness(format!("nodes {leaders:?} act as leader at once")));
        }
        Ok(())
    }

    /// Replies exactly once: replaying the log, every request the log holds more than once
    /// (sent again after a commit whose reply was lost) got its first answer every time,
    /// and every answer the master was given is the log's.
    fn check_exactly_once(&self) -> Verdict {
        let mut registry = Registry::new(self.settings.registry);
        let mut first_answers: BTreeMap<u64, Result<Reply, CommandError>> = BTreeMap::new();
        for (_, _, input) in &self.store.borrow().log {
            let LoggedInput::Request { at, master, request_id, command } = input.clone() else {
                registry.replay(input.clone());
                continue;
            };
            let token = ReplyToken(request_id);
            registry.handle_request(
                at,
                RegistryInput { token, command },
                RequestKey { master, request_id },
            );
            while let Some(output) = registry.poll_output() {
                let RegistryOutput::Reply { result, .. } = output else { continue };
                match first_answers.get(&request_id) {
                    Some(first) if *first != result => {
                        return Err(correctness(format!(
                            "request {request_id} was answered {first:?}, then {result:?} when \
                             it was sent again"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        first_answers.insert(request_id, result);
                    }
                }
            }
        }
        for (request_id, answer) in &self.answered {
            if first_answers.get(request_id) != Some(answer) {
                return Err(correctness(format!(
                    "the master was answered {answer:?} for request {request_id}, the log's \
                     answer is {:?}",
                    first_answers.get(request_id)
                )));
            }
        }
        Ok(())
    }

    fn check_end(&mut self) -> Verdict {
        self.check_exactly_once()?;
        let truth = self.log_replayed();
        let mut leaders = 0;
        for (index, node) in self.nodes.iter().enumerate() {
            let now = self.local(index);
            let state = match (node.replicator.role(now), &node.registry) {
                (Role::Leader { .. }, Some(registry)) => {
                    leaders += 1;
                    registry
                }
                _ => match node.replicator.replica() {
                    Some(replica) => replica,
                    None => {
                        return Err(liveness(format!("node {index} is neither leader nor standby")))
                    }
                },
            };
            if state.snapshot() != truth.snapshot() {
                return Err(liveness(format!(
                    "after healing, node {index}'s registry differs from the log ({} entries, \
                     {} applied)",
                    self.store.borrow().log.len(),
                    node.replicator.applied_seq()
                )));
            }
        }
        if leaders != 1 {
            return Err(liveness(format!("{leaders} leaders after healing, not one")));
        }
        Ok(())
    }
}
