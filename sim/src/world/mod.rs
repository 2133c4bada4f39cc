//! One simulated cluster: a registry process, masters (each with its own Gateway, clock
//! skew and drift), workers, and the network between them, driven by a discrete-event loop
//! that jumps straight to the next event.

mod dispatch;
mod events;
mod faults;
mod master;
mod registry;
mod worker;

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

use rollcall_core::{BuildRequestId, ConnectionId, Record, RecordKey, Registry, Timestamp};

use crate::oracle::{RegistryOracle, Verdict};
use crate::rng::Rng;
use crate::settings::Settings;
use crate::trace::TraceHash;

pub(crate) use events::Event;
use master::MasterNode;
use worker::WorkerNode;

/// Simulated time starts at a realistic epoch moment, so that time arithmetic looks like
/// production's.
const START_MS: u64 = 1_700_000_000_000;

/// A bound on events per run: a run that reaches it is stuck in a loop, which is a bug.
const MAX_EVENTS: u64 = 200_000_000;

#[derive(Debug)]
struct Scheduled {
    at: Timestamp,
    sequence: u64,
    /// Boxed so the heap moves 24-byte entries, not whole events, as it sifts.
    event: Box<Event>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.sequence).cmp(&(other.at, other.sequence))
    }
}

/// A worker connection, as the network sees it.
#[derive(Debug)]
struct Link {
    worker: usize,
    master: usize,
    incarnation: u64,
    /// The name and password offered were right for the master's roster at Hello time.
    credentials_valid: bool,
    /// Last delivery moment in each direction: TCP keeps a connection's order.
    last_to_master: Timestamp,
    last_to_worker: Timestamp,
}

/// Counters for the end-of-run report.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    pub events: u64,
    pub simulated_ms: u64,
    pub registry_crashes: u64,
    pub master_crashes: u64,
    pub attaches: u64,
}

pub(crate) struct World {
    settings: Settings,
    now: Timestamp,
    run_ends: Timestamp,
    healed: bool,
    queue: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    network_rng: Rng,
    workload_rng: Rng,
    fault_rng: Rng,
    registry: Option<Registry>,
    registry_wake: Option<Timestamp>,
    disk: BTreeMap<RecordKey, Record>,
    oracle: RegistryOracle,
    masters: Vec<MasterNode>,
    workers: Vec<WorkerNode>,
    /// Looked up on every message; `DefaultHasher` has fixed keys, so this is deterministic,
    /// and the one place that iterates it sorts what it collects.
    links: HashMap<ConnectionId, Link, BuildHasherDefault<DefaultHasher>>,
    worker_names: Vec<String>,
    failure: Option<crate::oracle::Violation>,
    next_connection: u64,
    submitted: Vec<BuildRequestId>,
    trace: TraceHash,
    stats: RunStats,
}

impl World {
    pub(crate) fn new(settings: Settings) -> World {
        let mut root = Rng::new(settings.seed);
        let network_rng = root.fork(1);
        let workload_rng = root.fork(2);
        let mut fault_rng = root.fork(3);
        let start = Timestamp::from_millis(START_MS);
        let masters = (0..settings.masters)
            .map(|index| MasterNode::new(index, &settings, &mut fault_rng))
            .collect();
        let workers =
            (0..settings.workers).map(|index| WorkerNode::new(index, &settings)).collect();
        let registry = Registry::new(rollcall_core::RegistryConfig {
            expiry_window_ms: settings.expiry_window_ms,
        });
        let mut world = World {
            now: start,
            run_ends: start.plus_millis(settings.simulated_ms()),
            healed: false,
            queue: BinaryHeap::new(),
            sequence: 0,
            network_rng,
            workload_rng,
            fault_rng,
            registry: Some(registry),
            registry_wake: None,
            disk: BTreeMap::new(),
            oracle: RegistryOracle::default(),
            masters,
            workers,
            links: HashMap::default(),
            worker_names: (0..settings.workers).map(master::worker_name).collect(),
            failure: None,
            next_connection: 1,
            submitted: Vec::new(),
            trace: TraceHash::default(),
            stats: RunStats::default(),
            settings,
        };
        for master in 0..world.masters.len() {
            world.start_master(master);
        }
        for worker in 0..world.workers.len() {
            let delay = world.workload_rng.below(10_000);
            world.schedule(delay, Event::WorkerTick { worker });
        }
        world.schedule(1_000, Event::Fault);
        world.schedule(world.settings.safety_phase_ms, Event::Heal);
        world
    }

    fn schedule(&mut self, after_ms: u64, event: Event) {
        self.schedule_at(self.now.plus_millis(after_ms), event);
    }

    fn schedule_at(&mut self, at: Timestamp, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse(Scheduled {
            at: at.max(self.now),
            sequence: self.sequence,
            event: Box::new(event),
        }));
    }

    /// Runs to the end, checking the oracles after every event.
    pub(crate) fn run(mut self) -> (Verdict, u64, RunStats) {
        let verdict = self.run_loop();
        self.stats.simulated_ms = self.now.as_millis() - START_MS;
        (verdict, self.trace.value(), self.stats)
    }

    fn run_loop(&mut self) -> Verdict {
        while let Some(Reverse(next)) = self.queue.pop() {
            if next.at > self.run_ends {
                break;
            }
            assert!(next.at >= self.now, "time went backwards in the simulation");
            self.now = next.at;
            self.stats.events += 1;
            assert!(
                self.stats.events < MAX_EVENTS,
                "event budget exhausted: the run does not progress"
            );
            self.trace.number(self.now.as_millis());
            self.dispatch(*next.event)?;
            if let Some(violation) = self.failure.take() {
                return Err(violation);
            }
        }
        self.now = self.now.max(self.run_ends);
        self.check_end_of_run()
    }
}
