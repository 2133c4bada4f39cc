//! One simulated cluster: a registry process, masters (each with its own Gateway, clock
//! skew and drift), workers, and the network between them, driven by a discrete-event loop
//! that jumps straight to the next event.

mod clock;
mod dispatch;
mod events;
mod faults;
mod invariants;
mod links;
mod master;
mod master_gateway;
mod node;
mod queue;
#[cfg(test)]
mod report_tests;
mod session;
mod worker;
mod workload;

use std::collections::BTreeMap;

use rollcall_core::node::StartKind;
use rollcall_core::{BuildRequestId, ConnectionId, Timestamp};

use crate::oracle::{RegistryOracle, Verdict};
use crate::rng::Rng;
use crate::settings::Settings;
use crate::trace::TraceHash;

pub(crate) use events::Event;
use links::{Link, Links};
use master::MasterNode;
use node::NodeProcess;
use queue::EventQueue;
use worker::WorkerNode;

/// Simulated time starts at a realistic epoch moment, so that time arithmetic looks like
/// production's.
const START_MS: u64 = 1_700_000_000_000;

/// A bound on events per run: a run that reaches it is stuck in a loop, which is a bug.
const MAX_EVENTS: u64 = 200_000_000;

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
    /// The connection whose close the Gateway is handling right now: the only one it may
    /// detach as closed by its peer.
    closing: Option<ConnectionId>,
    queue: EventQueue,
    network_rng: Rng,
    workload_rng: Rng,
    fault_rng: Rng,
    /// Batch sizes of the Node process: their own stream, so a change to batching leaves
    /// the workload, the network and the faults of a seed as they were.
    batch_rng: Rng,
    process: NodeProcess,
    /// Sessions whose open is on its way to the Node: whose they are.
    pending_sessions: BTreeMap<ConnectionId, (usize, u64)>,
    /// How the Node's next `Started` must say it came up.
    expected_start: Option<StartKind>,
    oracle: RegistryOracle,
    masters: Vec<MasterNode>,
    workers: Vec<WorkerNode>,
    /// Looked up on every message.
    links: Links,
    worker_names: Vec<String>,
    /// Each worker's password, made once: connects and Hellos compare against it.
    worker_passwords: Vec<rollcall_core::Password>,
    failure: Option<crate::oracle::Violation>,
    submitted: Vec<BuildRequestId>,
    trace: TraceHash,
    stats: RunStats,
    invariants: invariants::Schedule,
}

impl World {
    pub(crate) fn new(settings: Settings) -> World {
        let mut root = Rng::new(settings.seed);
        let network_rng = root.fork(1);
        let workload_rng = root.fork(2);
        let mut fault_rng = root.fork(3);
        let batch_rng = root.fork(4);
        let start = Timestamp::from_millis(START_MS);
        let masters = (0..settings.masters)
            .map(|index| MasterNode::new(index, &settings, &mut fault_rng))
            .collect();
        let workers =
            (0..settings.workers).map(|index| WorkerNode::new(index, &settings)).collect();
        let mut world = World {
            now: start,
            run_ends: start.plus_millis(settings.simulated_ms()),
            healed: false,
            closing: None,
            queue: EventQueue::default(),
            network_rng,
            workload_rng,
            fault_rng,
            batch_rng,
            process: NodeProcess::new(),
            pending_sessions: BTreeMap::new(),
            expected_start: None,
            oracle: RegistryOracle::default(),
            masters,
            workers,
            links: Links::new(settings.masters),
            worker_names: (0..settings.workers).map(master::worker_name).collect(),
            worker_passwords: (0..settings.workers).map(master::password_of).collect(),
            failure: None,
            submitted: Vec::new(),
            trace: TraceHash::default(),
            stats: RunStats::default(),
            invariants: invariants::Schedule::default(),
            settings,
        };
        if let Err(violation) = world.start_node() {
            world.fail(violation);
        }
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
        self.queue.push(at.max(self.now), event);
    }

    /// Runs to the end, checking the oracles after every event.
    pub(crate) fn run(mut self) -> (Verdict, u64, RunStats) {
        let verdict = self.run_loop();
        self.stats.simulated_ms = self.now.as_millis() - START_MS;
        // Every violation leaves through here, from the loop or the end-of-run checks,
        // with the clock and counter still where it was found.
        let verdict = verdict.map_err(|violation| {
            violation.detected(self.now, self.stats.simulated_ms, self.stats.events)
        });
        (verdict, self.trace.value(), self.stats)
    }

    fn run_loop(&mut self) -> Verdict {
        while let Some(at) = self.queue.peek_at() {
            if at > self.run_ends {
                break;
            }
            let Some((at, event)) = self.queue.pop() else { break };
            assert!(at >= self.now, "time went backwards in the simulation");
            self.now = at;
            self.stats.events += 1;
            assert!(
                self.stats.events < MAX_EVENTS,
                "event budget exhausted: the run does not progress"
            );
            self.trace.number(self.now.as_millis());
            self.dispatch(event)?;
            if let Some(violation) = self.failure.take() {
                return Err(violation);
            }
            if !self.queue.has_event_at(self.now) {
                // Nothing more arrives at this moment: the Node's core thread finds its
                // queue empty and ends the batch.
                self.end_open_node_batch()?;
            }
            self.check_invariants_when_due()?;
        }
        self.now = self.now.max(self.run_ends);
        self.check_invariants_now()?;
        self.check_end_of_run()
    }
}
