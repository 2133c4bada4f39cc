//! Registries, gateways and stores prepared for a measurement, and the drains that empty
//! them the way the daemon does.
//!
//! The core clamps time so it never runs backwards, and a heartbeat sets `last_active` to
//! the core's `now`, so a master can only be made "old" by letting time pass: every
//! fixture here walks time forwards and checks that each sweep expires exactly what it
//! should (see [`ExpiryFixture`]).

use std::sync::Arc;

use rollcall_core::registry::{RegistryInput, DEFAULT_EXPIRY_WINDOW_MS};
use rollcall_core::{
    Change, Command, ConnectionId, Gateway, GatewayConfig, GatewayInput, Password, Registry,
    RegistryConfig, RegistryEvent, RegistryOutput, ReplyToken, Roster, Timestamp, WorkerConfig,
};

/// Where benchmark time starts: an ordinary moment in 2023.
pub const START: Timestamp = Timestamp::from_secs(1_700_000_000);

/// Buildbot's window, which is also the Registry's default.
pub const WINDOW_MS: u64 = DEFAULT_EXPIRY_WINDOW_MS;

/// The password every benchmark worker has.
pub const WORKER_PASSWORD: &str = "bench-password";

/// A master name of Buildbot's length class (`host:basedir`-sized), distinct per index.
pub fn master_name(index: usize) -> String {
    format!("bench-master-{index:07}")
}

pub fn worker_name(index: usize) -> String {
    format!("w{index}")
}

/// What a drain found besides the changes it collected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub outputs: usize,
    pub masters_started: usize,
    pub masters_stopped: usize,
}

/// Drains the Registry as the daemon's core thread does: changes are kept for the batch's
/// commit, events and replies are looked at and dropped.
pub fn drain(registry: &mut Registry, changes: &mut Vec<Change>) -> Drained {
    let mut drained = Drained::default();
    while let Some(output) = registry.poll_output() {
        drained.outputs += 1;
        match output {
            RegistryOutput::Persist(change) => changes.push(change),
            RegistryOutput::Event(RegistryEvent::MasterStarted { .. }) => {
                drained.masters_started += 1;
            }
            RegistryOutput::Event(RegistryEvent::MasterStopped { .. }) => {
                drained.masters_stopped += 1;
            }
            RegistryOutput::Event(_) => {}
            RegistryOutput::Reply { result, .. } => {
                assert!(result.is_ok(), "a benchmark command was refused: {result:?}");
            }
        }
    }
    drained
}

/// masterActive for `name` at `now`.
pub fn master_active(registry: &mut Registry, now: Timestamp, name: String) {
    let command = Command::MasterActive { name };
    registry.handle(now, RegistryInput { token: ReplyToken(0), command });
}

/// A registry of `size` active masters, all registered at `at`.
pub fn registry_of(size: usize, at: Timestamp) -> Registry {
    let mut registry = Registry::new(RegistryConfig::default());
    let mut changes = Vec::new();
    for index in 0..size {
        master_active(&mut registry, at, master_name(index));
        drain(&mut registry, &mut changes);
        changes.clear();
    }
    registry
}

/// A registry of `size` active masters in which each sweep expires exactly `expired` of
/// them, spread evenly over the ids, while the rest stay active.
///
/// How: the masters are split into `size / expired` groups (master `i` in group
/// `i % groups`); group `g` heartbeats at `base + g` ms. The sweep at
/// `base + g + window + 1` ms then finds exactly group `g` older than the window (the
/// boundary is inclusive). After each sweep the group just expired heartbeats again at the
/// sweep's moment, so every sweep starts from `size` active masters; once every group has
/// been swept, all masters heartbeat again from a new base. Preparing a sweep therefore
/// costs about as many heartbeats as the sweep expires, and none of it is timed.
#[derive(Debug)]
pub struct ExpiryFixture {
    pub registry: Registry,
    names: Vec<String>,
    pub expired_per_sweep: usize,
    groups: usize,
    next_group: usize,
    base: Timestamp,
    /// Changes of the untimed preparation, for a durable benchmark to commit untimed.
    pub setup_changes: Vec<Change>,
}

impl ExpiryFixture {
    /// # Panics
    ///
    /// When `expired` does not divide `size` (every group must hold exactly `expired`).
    pub fn new(size: usize, expired: usize) -> Self {
        assert!(expired == 0 || size % expired == 0, "{expired} does not divide {size}");
        let names: Vec<String> = (0..size).map(master_name).collect();
        let mut registry = Registry::new(RegistryConfig::default());
        let mut setup_changes = Vec::new();
        for name in &names {
            master_active(&mut registry, START, name.clone());
            drain(&mut registry, &mut setup_changes);
        }
        // With nothing to expire, every master is in the one group that is never swept.
        let groups = size.checked_div(expired).unwrap_or(1);
        let mut fixture = ExpiryFixture {
            registry,
            names,
            expired_per_sweep: expired,
            groups,
            next_group: 0,
            base: START,
            setup_changes,
        };
        fixture.heartbeat_all();
        fixture
    }

    pub fn size(&self) -> usize {
        self.names.len()
    }

    /// Every master heartbeats again, group `g` at `base + g` ms, from a fresh base.
    fn heartbeat_all(&mut self) {
        self.base = self.registry.now().plus_millis(1_000);
        for group in 0..self.groups {
            let at = self.base.plus_millis(group as u64);
            for index in (group..self.names.len()).step_by(self.groups) {
                master_active(&mut self.registry, at, self.names[index].clone());
                drain(&mut self.registry, &mut self.setup_changes);
            }
        }
        self.next_group = 0;
    }

    /// A moment at which a sweep finds nothing to expire: the oldest master is exactly one
    /// window old, still alive.
    pub fn quiet_moment(&self) -> Timestamp {
        self.base.plus_millis(WINDOW_MS)
    }

    /// Readies the next sweep (untimed work) and returns the moment to sweep at, when
    /// exactly `expired_per_sweep` masters are older than the window.
    pub fn prepare_sweep(&mut self) -> Timestamp {
        if self.expired_per_sweep == 0 {
            return self.quiet_moment();
        }
        if self.next_group == self.groups {
            self.heartbeat_all();
        } else if self.next_group > 0 {
            // Revive the group the last sweep expired, at that sweep's moment.
            let now = self.registry.now();
            let previous = self.next_group - 1;
            for index in (previous..self.names.len()).step_by(self.groups) {
                master_active(&mut self.registry, now, self.names[index].clone());
                drain(&mut self.registry, &mut self.setup_changes);
            }
        }
        let group = self.next_group;
        self.next_group += 1;
        self.base.plus_millis(group as u64 + WINDOW_MS + 1)
    }

    /// The timed part: one expiry sweep at `now`, drained; the changes go to `changes`.
    pub fn sweep(&mut self, now: Timestamp, changes: &mut Vec<Change>) -> Drained {
        self.registry.handle_timeout(now);
        drain(&mut self.registry, changes)
    }
}

/// Heartbeats for existing masters, round robin, one millisecond later per round so each
/// one really moves `last_active` (a second heartbeat in the same millisecond is a no-op).
#[derive(Debug)]
pub struct HeartbeatFeed {
    names: Vec<String>,
    next: usize,
    now: Timestamp,
}

impl HeartbeatFeed {
    /// A registry of `size` masters and the feed of heartbeats for them.
    pub fn new(size: usize) -> (Registry, HeartbeatFeed) {
        let registry = registry_of(size, START);
        let names = (0..size).map(master_name).collect();
        (registry, HeartbeatFeed { names, next: 0, now: START.plus_millis(1) })
    }

    /// The next heartbeat: its moment and its input.
    pub fn next_input(&mut self) -> (Timestamp, RegistryInput) {
        if self.next == self.names.len() {
            self.next = 0;
            self.now = self.now.plus_millis(1);
        }
        let name = self.names[self.next].clone();
        self.next += 1;
        (self.now, RegistryInput { token: ReplyToken(0), command: Command::MasterActive { name } })
    }
}

/// The builders every benchmark worker serves.
pub fn bench_builders() -> Vec<String> {
    vec!["linux".to_owned(), "mac".to_owned(), "windows".to_owned()]
}

/// A gateway whose roster holds `workers` workers, none attached yet.
pub fn gateway_of(workers: usize) -> Gateway {
    let roster = Roster::new(
        (0..workers)
            .map(|index| {
                WorkerConfig::new(
                    worker_name(index),
                    Password::new(WORKER_PASSWORD),
                    bench_builders(),
                )
            })
            .collect(),
    )
    .expect("the benchmark roster is valid");
    Gateway::new(START, GatewayConfig::default(), roster).expect("the default settings are valid")
}

/// The Hello of `worker` on `connection`.
pub fn hello(connection: u64, worker: usize) -> GatewayInput {
    GatewayInput::Hello {
        connection: ConnectionId(connection),
        worker: worker_name(worker),
        password: Password::new(WORKER_PASSWORD),
    }
}

/// The builder list as the naive gateway keeps it.
pub fn bench_builders_shared() -> Arc<[String]> {
    bench_builders().into()
}
