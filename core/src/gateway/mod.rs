//! The Gateway: one master's worker connections (Buildbot's `BotPerspective`).
//!
//! # Use
//!
//! - Input: [`Gateway::handle`] takes one [`GatewayInput`] (a Hello, keepalive, pong,
//!   transport close or reconfig); [`Gateway::handle_timeout`] fires the deadlines that are
//!   due (keepalive, ping, missing) when the moment from [`Gateway::poll_timeout`] has come.
//! - Output: after every input, drain [`Gateway::poll_output`] until `None`: send the
//!   messages, close the connections, and pass `Attached`/`Detached` events on to the
//!   Registry as `WorkerConnected`/`WorkerDisconnected`.
//!
//! The Gateway only tracks authenticated connections, so its memory is bounded by the
//! roster (at most two connections per worker: the attached one and, under `ping-old`, one
//! waiting for the verdict). Connections still in handshake belong to the transport.

mod attach;
mod config;
mod invariants;
mod messages;
mod reconfig;
mod roster;
mod timers;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::clock::MonotonicClock;
use crate::deadline_queue::DeadlineQueue;
use crate::fast_hash::LookupMap;
use crate::{ConnectionId, Timestamp};

pub use config::{DuplicatePolicy, GatewayConfig, GatewayConfigError};
pub use messages::{
    CloseReason, GatewayEvent, GatewayInput, GatewayOutput, RejectReason, RejectionCause, ToWorker,
};
pub use roster::{Roster, RosterError, WorkerConfig};

/// One configured worker's live state.
#[derive(Clone, Debug)]
struct WorkerSlot {
    config: WorkerConfig,
    /// The connection the worker is attached through.
    attached: Option<ConnectionId>,
    /// Under `ping-old`: a newer connection waiting to learn whether the old one answers.
    waiting: Option<ConnectionId>,
    /// The builder list last pushed on the attached connection.
    pushed_builders: Option<Arc<[String]>>,
    /// Since when the worker has had no connection (from startup or its last detach).
    disconnected_since: Option<Timestamp>,
    missing_reported: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectionState {
    Attached {
        last_heard: Timestamp,
    },
    /// Waiting for the attached connection to answer the ping with `nonce`, sent at
    /// `ping_sent_at`.
    WaitingForPing {
        ping_sent_at: Timestamp,
        nonce: u64,
    },
}

#[derive(Clone, Debug)]
struct Connection {
    worker: Arc<str>,
    state: ConnectionState,
}

/// One master's worker connections. See the [module documentation](self).
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    clock: MonotonicClock,
    slots: LookupMap<Arc<str>, WorkerSlot>,
    connections: LookupMap<ConnectionId, Connection>,
    /// `(last_heard, connection)` of attached connections.
    keepalive_deadlines: DeadlineQueue<ConnectionId>,
    /// `(ping_sent_at, waiting connection)`.
    ping_deadlines: DeadlineQueue<ConnectionId>,
    /// `(disconnected_since, worker)`.
    missing_deadlines: DeadlineQueue<Arc<str>>,
    attached_count: usize,
    next_ping_nonce: u64,
    outputs: VecDeque<GatewayOutput>,
}

impl Gateway {
    /// A gateway with no connections; every configured worker starts disconnected as of
    /// `now`, so its missing timer runs from here.
    ///
    /// # Errors
    ///
    /// Which setting is invalid (see [`GatewayConfig::validate`]).
    pub fn new(
        now: Timestamp,
        config: GatewayConfig,
        roster: Roster,
    ) -> Result<Self, GatewayConfigError> {
        config.validate()?;
        let mut gateway = Gateway {
            config,
            clock: MonotonicClock::starting_at(now),
            slots: LookupMap::default(),
            connections: LookupMap::default(),
            keepalive_deadlines: DeadlineQueue::new(),
            ping_deadlines: DeadlineQueue::new(),
            missing_deadlines: DeadlineQueue::new(),
            attached_count: 0,
            next_ping_nonce: 1,
            outputs: VecDeque::new(),
        };
        for worker in roster.iter() {
            gateway.add_slot(worker.clone());
        }
        Ok(gateway)
    }

    pub fn config(&self) -> GatewayConfig {
        self.config
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Timestamp, input: GatewayInput) {
        self.clock.advance(now);
        match input {
            GatewayInput::Hello { connection, worker, password } => {
                self.handle_hello(connection, worker, &password);
            }
            GatewayInput::Keepalive { connection } => self.handle_keepalive(connection),
            GatewayInput::Pong { connection, nonce } => self.handle_pong(connection, nonce),
            GatewayInput::Closed { connection } => self.handle_closed(connection),
            GatewayInput::Reconfig { config, roster } => self.handle_reconfig(config, roster),
        }
        self.tidy_deadlines();
    }

    /// Fires every deadline that is due at `now`. Idempotent.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.clock.advance(now);
        self.fire_due_deadlines();
        self.tidy_deadlines();
    }

    /// The next output to act on; drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<GatewayOutput> {
        self.outputs.pop_front()
    }

    /// The earliest moment a deadline falls due, if any is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.next_deadline().map(|(moment, _)| moment)
    }

    /// The connection a worker is attached through, if any.
    pub fn attached_connection(&self, worker: &str) -> Option<ConnectionId> {
        self.slots.get(worker)?.attached
    }

    /// Whether the worker is in the roster.
    pub fn is_configured(&self, worker: &str) -> bool {
        self.slots.contains_key(worker)
    }

    /// Every attached worker and its connection, sorted by worker name.
    pub fn attached_workers(&self) -> Vec<(String, ConnectionId)> {
        let mut attached: Vec<(String, ConnectionId)> = self
            .slots
            .values()
            .filter_map(|slot| Some((slot.config.name.clone(), slot.attached?)))
            .collect();
        attached.sort();
        attached
    }

    /// Every attached worker and its connection, in no particular order and without
    /// allocating: for checks that visit each one. Sort (or use
    /// [`Gateway::attached_workers`]) wherever the order could show.
    pub fn attached_workers_unordered(&self) -> impl Iterator<Item = (&str, ConnectionId)> + '_ {
        self.slots.values().filter_map(|slot| Some((slot.config.name.as_str(), slot.attached?)))
    }

    pub fn attached_count(&self) -> usize {
        self.attached_count
    }

    /// How many workers the roster configures.
    pub fn configured_count(&self) -> usize {
        self.slots.len()
    }

    /// Every configured worker's name, sorted.
    pub fn configured_workers(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.slots.values().map(|slot| slot.config.name.clone()).collect();
        names.sort();
        names
    }

    /// The builder list a worker is configured with.
    pub fn builders_of(&self, worker: &str) -> Option<Arc<[String]>> {
        Some(Arc::clone(&self.slots.get(worker)?.config.builders))
    }

    fn send(&mut self, connection: ConnectionId, message: ToWorker) {
        self.outputs.push_back(GatewayOutput::Send { connection, message });
    }

    fn close(&mut self, connection: ConnectionId, reason: CloseReason) {
        self.outputs.push_back(GatewayOutput::Close { connection, reason });
    }

    fn emit(&mut self, event: GatewayEvent) {
        self.outputs.push_back(GatewayOutput::Event(event));
    }

    fn add_slot(&mut self, config: WorkerConfig) {
        let now = self.clock.now();
        let name: Arc<str> = Arc::from(config.name.as_str());
        self.missing_deadlines.push(now, Arc::clone(&name));
        let slot = WorkerSlot {
            config,
            attached: None,
            waiting: None,
            pushed_builders: None,
            disconnected_since: Some(now),
            missing_reported: false,
        };
        self.slots.insert(name, slot);
    }
}
