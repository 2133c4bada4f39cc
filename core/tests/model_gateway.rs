//! Property test of the Gateway: random Hellos (right, wrong, unknown, repeated), keepalives,
//! pongs (fresh and stale), closes (timely and late), reconfigs and time jumps, under both
//! duplicate policies. An observer rebuilds what a peer and an operator would see from the
//! outputs alone and checks, after every step:
//!
//! - at most one attached connection per worker, and only a configured worker with the
//!   right password is ever attached;
//! - nothing is sent to a connection after it was closed (by either side);
//! - under `drop-older`, the newest authenticated connection wins at once;
//! - every attach is preceded by a welcome and the worker's builder list, every attached
//!   worker holds its configured list, and an unchanged list is never pushed twice;
//! - after a timeout, no attached connection has been silent for longer than the keepalive
//!   timeout (and none was closed for silence before that), and every worker disconnected for longer than the missing timeout has been
//!   reported missing, exactly once;
//! - the same inputs always give the same outputs;
//! - the Gateway's own `check_invariants` holds after every input and timeout.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::drain_gateway;
use proptest::prelude::*;
use proptest::sample::Index;
use rollcall_core::{
    CloseReason, ConnectionId, DuplicatePolicy, Gateway, GatewayConfig, GatewayEvent, GatewayInput,
    GatewayOutput, Password, Roster, Timestamp, ToWorker, WorkerConfig,
};

const WORKERS: [&str; 4] = ["w1", "w2", "w3", "ghost"];
const BUILDERS: [&str; 3] = ["linux", "mac", "win"];
const PASSWORDS: [&str; 2] = ["pw", "pw2"];

#[derive(Clone, Debug)]
enum Step {
    Hello { worker: usize, password: usize },
    HelloAgain { connection: Index, worker: usize, password: usize },
    Keepalive { connection: Index },
    Pong { connection: Index, fresh: bool },
    Closed { connection: Index },
    Forward { millis: u64 },
    Timeout,
    Reconfig { config: GatewayConfig, roster: Roster },
}

fn roster() -> impl Strategy<Value = Roster> {
    let entry = (0..2_usize, prop::sample::subsequence(BUILDERS.to_vec(), 0..=3));
    prop::collection::btree_map(0..3_usize, entry, 0..=3).prop_map(|entries| {
        let workers = entries
            .into_iter()
            .map(|(worker, (password, builders))| {
                WorkerConfig::new(
                    WORKERS[worker],
                    Password::new(PASSWORDS[password]),
                    builders.into_iter().map(String::from).collect(),
                )
            })
            .collect();
        Roster::new(workers).expect("distinct names")
    })
}

fn config() -> impl Strategy<Value = GatewayConfig> {
    let policy = prop_oneof![Just(DuplicatePolicy::DropOlder), Just(DuplicatePolicy::PingOld)];
    (policy, 1_u64..5_000, 1_u64..3_000, 1_u64..20_000).prop_map(
        |(duplicate_policy, keepalive_timeout_ms, ping_timeout_ms, missing_timeout_ms)| {
            GatewayConfig {
                duplicate_policy,
                keepalive_timeout_ms,
                ping_timeout_ms,
                missing_timeout_ms,
            }
        },
    )
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..4_usize, 0..2_usize).prop_map(|(worker, password)| Step::Hello { worker, password }),
        1 => (any::<Index>(), 0..4_usize, 0..2_usize)
            .prop_map(|(connection, worker, password)| Step::HelloAgain { connection, worker, password }),
        5 => any::<Index>().prop_map(|connection| Step::Keepalive { connection }),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(connection, fresh)| Step::Pong { connection, fresh }),
        3 => any::<Index>().prop_map(|connection| Step::Closed { connection }),
        5 => (0_u64..6_000).prop_map(|millis| Step::Forward { millis }),
        4 => Just(Step::Timeout),
        1 => (config(), roster()).prop_map(|(config, roster)| Step::Reconfig { config, roster }),
    ]
}

/// What the peers and the operator can tell from the outputs alone.
struct Observer {
    config: GatewayConfig,
    roster: Roster,
    now: u64,
    connections: Vec<ConnectionId>,
    /// Connections closed by the gateway's `Close` or by the peer.
    dead: BTreeSet<ConnectionId>,
    attached: BTreeMap<String, ConnectionId>,
    last_heard: BTreeMap<ConnectionId, u64>,
    last_push: BTreeMap<ConnectionId, Arc<[String]>>,
    welcomed: BTreeSet<ConnectionId>,
    /// The worker a connection proved to be, judged against the roster at its Hello.
    authenticated_as: BTreeMap<ConnectionId, String>,
    pings: BTreeMap<ConnectionId, u64>,
    disconnected_since: BTreeMap<String, u64>,
    missing_reported: BTreeSet<String>,
}

impl Observer {
    fn new(config: GatewayConfig, roster: Roster) -> Self {
        let disconnected_since = roster.iter().map(|w| (w.name.clone(), 0)).collect();
        Observer {
            config,
            roster,
            now: 0,
            connections: Vec::new(),
            dead: BTreeSet::new(),
            attached: BTreeMap::new(),
            last_heard: BTreeMap::new(),
            last_push: BTreeMap::new(),
            welcomed: BTreeSet::new(),
            authenticated_as: BTreeMap::new(),
            pings: BTreeMap::new(),
            disconnected_since,
            missing_reported: BTreeSet::new(),
        }
    }

    fn pick(&self, index: &Index) -> Option<ConnectionId> {
        (!self.connections.is_empty()).then(|| *index.get(&self.connections))
    }

    fn credentials_valid(&self, worker: &str, password: &str) -> bool {
        self.roster.get(worker).is_some_and(|config| config.password == Password::new(password))
    }

    /// Turns a step into the input to deliver, if any, noting what the observer learns.
    fn input_for(&mut self, step: &Step) -> Option<GatewayInput> {
        match step {
            Step::Hello { worker, password } => {
                let connection = ConnectionId(self.connections.len() as u64 + 1);
                self.connections.push(connection);
                let (worker, password) = (WORKERS[*worker], PASSWORDS[*password]);
                if self.credentials_valid(worker, password) {
                    self.authenticated_as.insert(connection, worker.to_string());
                }
                Some(hello(connection, worker, password))
            }
            Step::HelloAgain { connection, worker, password } => {
                // Only an open transport can carry a second Hello.
                let connection = self.pick(connection).filter(|c| !self.dead.contains(c))?;
                Some(hello(connection, WORKERS[*worker], PASSWORDS[*password]))
            }
            Step::Keepalive { connection } => {
                let connection = self.pick(connection)?;
                self.heard(connection);
                Some(GatewayInput::Keepalive { connection })
            }
            Step::Pong { connection, fresh } => {
                let connection = self.pick(connection)?;
                let nonce =
                    if *fresh { self.pings.get(&connection).copied().unwrap_or(0) } else { 0 };
                self.heard(connection);
                Some(GatewayInput::Pong { connection, nonce })
            }
            Step::Closed { connection } => {
                let connection = self.pick(connection)?;
                self.dead.insert(connection);
                Some(GatewayInput::Closed { connection })
            }
            Step::Forward { .. } | Step::Timeout => None,
            Step::Reconfig { config, roster } => {
                Some(GatewayInput::Reconfig { config: *config, roster: roster.clone() })
            }
        }
    }

    fn heard(&mut self, connection: ConnectionId) {
        if self.attached.values().any(|&c| c == connection) {
            self.last_heard.insert(connection, self.now);
        }
    }

    fn observe(&mut self, outputs: &[GatewayOutput]) -> Result<(), TestCaseError> {
        for output in outputs {
            match output {
                GatewayOutput::Send { connection, message } => {
                    prop_assert!(
                        !self.dead.contains(connection),
                        "sent {:?} to closed {}",
                        message,
                        connection
                    );
                    match message {
                        ToWorker::Welcome => {
                            self.welcomed.insert(*connection);
                        }
                        ToWorker::BuilderList { builders } => {
                            prop_assert_ne!(
                                self.last_push.get(connection),
                                Some(builders),
                                "an unchanged list was pushed again"
                            );
                            self.last_push.insert(*connection, Arc::clone(builders));
                        }
                        ToWorker::Ping { nonce } => {
                            prop_assert!(
                                self.attached.values().any(|c| c == connection),
                                "pinged a connection that is not attached"
                            );
                            self.pings.insert(*connection, *nonce);
                        }
                        ToWorker::Rejected { .. } | ToWorker::KeepaliveAck => {}
                    }
                }
                GatewayOutput::Close { connection, .. } => {
                    prop_assert!(!self.dead.contains(connection), "closed {} twice", connection);
                    self.dead.insert(*connection);
                }
                GatewayOutput::Event(event) => self.observe_event(event)?,
            }
        }
        Ok(())
    }

    fn observe_event(&mut self, event: &GatewayEvent) -> Result<(), TestCaseError> {
        match event {
            GatewayEvent::Attached { worker, connection } => {
                prop_assert_eq!(
                    self.authenticated_as.get(connection),
                    Some(worker),
                    "attached without credentials"
                );
                prop_assert!(self.roster.get(worker).is_some(), "attached an unconfigured worker");
                prop_assert!(!self.dead.contains(connection));
                prop_assert!(!self.attached.contains_key(worker), "{} attached twice", worker);
                prop_assert!(self.welcomed.contains(connection), "attached without a welcome");
                let configured = self.roster.get(worker).map(|w| Arc::clone(&w.builders));
                prop_assert_eq!(
                    self.last_push.get(connection).cloned(),
                    configured,
                    "attached without its builder list"
                );
                self.attached.insert(worker.clone(), *connection);
                self.last_heard.insert(*connection, self.now);
                self.disconnected_since.remove(worker);
                self.missing_reported.remove(worker);
            }
            GatewayEvent::Detached { worker, connection, reason } => {
                prop_assert_eq!(
                    self.attached.get(worker),
                    Some(connection),
                    "detached a connection that was not attached"
                );
                if *reason == CloseReason::KeepaliveTimeout {
                    let heard = self.last_heard.get(connection).copied().unwrap_or(0);
                    prop_assert!(
                        heard + self.config.keepalive_timeout_ms < self.now,
                        "{} timed out early",
                        connection
                    );
                }
                self.attached.remove(worker);
                self.disconnected_since.insert(worker.clone(), self.now);
            }
            GatewayEvent::Missing { worker } => {
                prop_assert!(!self.attached.contains_key(worker));
                let since = self.disconnected_since.get(worker).copied();
                prop_assert!(
                    since.is_some_and(|since| since + self.config.missing_timeout_ms < self.now),
                    "{} reported missing early",
                    worker
                );
                prop_assert!(
                    self.missing_reported.insert(worker.clone()),
                    "{} reported missing twice",
                    worker
                );
            }
            GatewayEvent::Reconfigured { added, removed, .. } => {
                for name in removed {
                    self.disconnected_since.remove(name);
                    self.missing_reported.remove(name);
                }
                for name in added {
                    self.disconnected_since.insert(name.clone(), self.now);
                    self.missing_reported.remove(name);
                }
            }
            GatewayEvent::Rejected { .. }
            | GatewayEvent::DuplicateResolved { .. }
            | GatewayEvent::ReconfigRejected { .. } => {}
        }
        Ok(())
    }

    fn check_after(&self, step: &Step, gateway: &Gateway) -> Result<(), TestCaseError> {
        let attached: Vec<(String, ConnectionId)> =
            self.attached.iter().map(|(w, c)| (w.clone(), *c)).collect();
        prop_assert_eq!(
            gateway.attached_workers(),
            attached.clone(),
            "gateway and observer disagree"
        );
        let mut unordered: Vec<(String, ConnectionId)> = gateway
            .attached_workers_unordered()
            .map(|(name, connection)| (name.to_string(), connection))
            .collect();
        unordered.sort();
        prop_assert_eq!(unordered, attached, "the unordered walk disagrees");
        for (worker, connection) in &self.attached {
            prop_assert!(!self.dead.contains(connection));
            let configured = self.roster.get(worker).map(|w| Arc::clone(&w.builders));
            prop_assert!(configured.is_some(), "{} attached but not configured", worker);
            prop_assert_eq!(
                self.last_push.get(connection).cloned(),
                configured,
                "{} holds a stale builder list",
                worker
            );
        }
        if let Step::Hello { worker, password } = step {
            let newest = ConnectionId(self.connections.len() as u64);
            let valid = self.credentials_valid(WORKERS[*worker], PASSWORDS[*password]);
            if valid && self.config.duplicate_policy == DuplicatePolicy::DropOlder {
                prop_assert_eq!(
                    self.attached.get(WORKERS[*worker]),
                    Some(&newest),
                    "drop-older: the newest wins"
                );
            }
            if !valid {
                prop_assert!(self.dead.contains(&newest), "a bad Hello was not closed");
            }
        }
        if let Step::Timeout = step {
            let now = Timestamp::from_millis(self.now);
            prop_assert!(
                gateway.poll_timeout().is_none_or(|next| next > now),
                "a due deadline was left unfired"
            );
            for connection in self.attached.values() {
                let heard = self.last_heard.get(connection).copied().unwrap_or(0);
                prop_assert!(
                    heard + self.config.keepalive_timeout_ms >= self.now,
                    "{} silent too long",
                    connection
                );
            }
            for (worker, since) in &self.disconnected_since {
                if since + self.config.missing_timeout_ms < self.now {
                    prop_assert!(
                        self.missing_reported.contains(worker),
                        "{} missing but not reported",
                        worker
                    );
                }
            }
        }
        Ok(())
    }
}

fn hello(connection: ConnectionId, worker: &str, password: &str) -> GatewayInput {
    GatewayInput::Hello {
        connection,
        worker: worker.to_string(),
        password: Password::new(password),
    }
}

proptest! {
    // proptest's default reads PROPTEST_CASES; at least 1,000 cases run when it is unset.
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(1_000), ..ProptestConfig::default() })]

    #[test]
    fn gateway_keeps_its_promises(
        initial_config in config(),
        initial_roster in roster(),
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let start = Timestamp::EPOCH;
        let mut gateway = Gateway::new(start, initial_config, initial_roster.clone()).expect("valid config");
        let mut twin = Gateway::new(start, initial_config, initial_roster.clone()).expect("valid config");
        let mut observer = Observer::new(initial_config, initial_roster);
        prop_assert_eq!(gateway.check_invariants(), Ok(()));
        for step in &steps {
            if let Step::Forward { millis } = step {
                observer.now += millis;
                continue;
            }
            let now = Timestamp::from_millis(observer.now);
            let input = observer.input_for(step);
            if let Step::Reconfig { config, roster } = step {
                // Valid by construction: a reconfig is always applied.
                observer.config = *config;
                observer.roster = roster.clone();
            }
            match input {
                Some(input) => {
                    gateway.handle(now, input.clone());
                    twin.handle(now, input);
                }
                None if matches!(step, Step::Timeout) => {
                    gateway.handle_timeout(now);
                    twin.handle_timeout(now);
                }
                None => continue,
            }
            for machine in [&gateway, &twin] {
                machine.check_invariants().map_err(|broken| TestCaseError::fail(broken.to_string()))?;
            }
            let outputs = drain_gateway(&mut gateway);
            prop_assert_eq!(&outputs, &drain_gateway(&mut twin), "same inputs, different outputs");
            observer.observe(&outputs)?;
            observer.check_after(step, &gateway)?;
        }
    }
}
