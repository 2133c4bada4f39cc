//! Property test of the Node: random worker Hellos, keepalives and closes, remote master
//! sessions and their requests (allowed and refused), reconfigs, time jumps, batch
//! boundaries anywhere, crashes (the open batch lost) and clean restarts, checking after
//! every step:
//!
//! - the Node's `check_invariants` (and with it the Registry's and the Gateway's) holds;
//! - nothing leaves the Node before its batch is reported durable;
//! - every restart recovers exactly what was committed, and its start kind says how the
//!   last run ended (fresh, clean, crash);
//! - every request on a live session is answered exactly once, in order;
//! - a replica that replays each committed batch's logged Registry inputs (as a cluster's
//!   standby replays the leader's log) holds exactly the Node's Registry: the same rows,
//!   the same clock, the same settings.

use std::collections::VecDeque;

use proptest::prelude::*;
use rollcall_core::node::{NodeEvent, RowCaps, StartKind, TokenDigest};
use rollcall_core::store::{MemoryStore, Store};
use rollcall_core::{
    Command, ConnectionId, DuplicatePolicy, GatewayConfig, MasterId, Node, NodeConfig, NodeInput,
    NodeOutput, Password, Registry, RegistryConfig, Roster, Timestamp, WorkerConfig,
};

const WINDOW_MS: u64 = 60_000;
const NODE_NAME: &str = "node:/srv";
const MASTER_NAMES: [&str; 4] = ["m1", "m2", NODE_NAME, "stranger"];
const TOKEN: TokenDigest = TokenDigest([7; 32]);

#[derive(Clone, Debug)]
enum Step {
    WorkerHello { connection: u64, worker: usize, right_password: bool },
    Keepalive { connection: u64 },
    Close { connection: u64 },
    OpenSession { connection: u64, name: usize, right_token: bool },
    Request { connection: u64, command: usize, master: u64 },
    Forward { millis: u64 },
    Timeout,
    EndBatch,
    Reconfig { workers: usize },
    Crash,
    CleanRestart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1_u64..=4, 0_usize..3, any::<bool>()).prop_map(|(connection, worker, right_password)| Step::WorkerHello { connection, worker, right_password }),
        2 => (1_u64..=4).prop_map(|connection| Step::Keepalive { connection }),
        2 => (1_u64..=12).prop_map(|connection| Step::Close { connection }),
        2 => (10_u64..=12, 0_usize..4, any::<bool>()).prop_map(|(connection, name, right_token)| Step::OpenSession { connection, name, right_token }),
        6 => (10_u64..=12, 0_usize..8, 1_u64..=4).prop_map(|(connection, command, master)| Step::Request { connection, command, master }),
        3 => (0..=WINDOW_MS * 2).prop_map(|millis| Step::Forward { millis }),
        // Less than a heartbeat interval: a timeout then finds only the Registry's own
        // sweep due, not the Node's heartbeat (whose expireMasters would run it first).
        2 => (0..=WINDOW_MS / 6).prop_map(|millis| Step::Forward { millis }),
        2 => Just(Step::Timeout),
        4 => Just(Step::EndBatch),
        1 => (0_usize..=3).prop_map(|workers| Step::Reconfig { workers }),
        1 => Just(Step::Crash),
        1 => Just(Step::CleanRestart),
    ]
}

fn config(workers: usize) -> NodeConfig {
    let roster = Roster::new(
        (0..workers)
            .map(|index| {
                WorkerConfig::new(format!("w{index}"), Password::new("pw"), vec!["b".into()])
            })
            .collect(),
    )
    .expect("a valid roster");
    NodeConfig {
        master_name: NODE_NAME.into(),
        registry: RegistryConfig { expiry_window_ms: WINDOW_MS },
        gateway: GatewayConfig {
            duplicate_policy: DuplicatePolicy::DropOlder,
            keepalive_timeout_ms: WINDOW_MS,
            ping_timeout_ms: 1_000,
            missing_timeout_ms: WINDOW_MS,
        },
        roster,
        builder_names: vec!["b".into()],
        heartbeat_interval_ms: WINDOW_MS / 6,
        row_caps: RowCaps { max_masters: 3, max_rows_per_kind: 20 },
        // A configuration of one worker also drops m2, so reconfigs revoke sessions.
        masters: ["m1", "m2"]
            .into_iter()
            .filter(|name| workers != 1 || *name != "m2")
            .map(|name| (name.to_string(), vec![TOKEN]))
            .collect(),
    }
}

fn command(index: usize, master: MasterId) -> Command {
    match index {
        0 => Command::MasterActive { name: "m1".into() },
        1 => Command::MasterActive { name: "m2".into() },
        2 => Command::SubmitBuildRequest { master, builder_name: "b".into() },
        3 => {
            Command::ClaimBuildRequests { master, requests: vec![rollcall_core::BuildRequestId(1)] }
        }
        4 => Command::MasterStopped { master },
        5 => Command::ExpireMasters { force_housekeeping: true },
        6 => Command::ClaimService {
            master,
            kind: rollcall_core::ServiceKind::Scheduler,
            name: "s".into(),
        },
        _ => Command::SetConfiguredWorkers { master, worker_names: vec!["w0".into()] },
    }
}

struct Harness {
    node: Node,
    /// Fed only the committed batches' logged inputs, from the state the Node started on.
    replica: Registry,
    disk: MemoryStore,
    workers: usize,
    /// Requests on live sessions not yet answered, in order.
    unanswered: VecDeque<(ConnectionId, u64)>,
    sessions: Vec<(ConnectionId, String)>,
    /// Every session connection ever opened, across restarts.
    opened: Vec<ConnectionId>,
    next_request: u64,
}

impl Harness {
    fn start(
        disk: MemoryStore,
        now: Timestamp,
        workers: usize,
        opened: Vec<ConnectionId>,
        expected: StartKind,
    ) -> Result<Harness, TestCaseError> {
        let Ok(rows) = disk.load();
        let config = config(workers);
        let recover = || Registry::recover(config.registry, rows.clone()).expect("rows recover");
        let mut registry = recover();
        registry.start_input_log();
        let replica = recover();
        let node = Node::start_recovered(now, config.clone(), registry, rows.len())
            .expect("the node starts");
        let mut harness = Harness {
            node,
            replica,
            disk,
            workers,
            unanswered: VecDeque::new(),
            sessions: Vec::new(),
            opened,
            next_request: 0,
        };
        let outputs = harness.settle()?;
        let kind = outputs.iter().find_map(|output| match output {
            NodeOutput::Event(NodeEvent::Started { kind, .. }) => Some(*kind),
            _ => None,
        });
        prop_assert_eq!(kind, Some(expected));
        Ok(harness)
    }

    fn allowed(&self, name: &str) -> bool {
        config(self.workers).masters.contains_key(name)
    }

    fn quiet(&mut self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.node.poll_output(), None, "released before durable");
        if let Err(violation) = self.node.check_invariants() {
            return Err(TestCaseError::fail(violation.to_string()));
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<Vec<NodeOutput>, TestCaseError> {
        let batch = self.node.end_batch();
        self.quiet_before_durable()?;
        let Ok(_) = self.disk.commit_owned(batch.changes);
        self.node.batch_durable(batch.number);
        for input in batch.registry_inputs {
            self.replica.replay(input);
        }
        let registry = self.node.view().registry;
        prop_assert_eq!(self.replica.records(), registry.records(), "the replica's rows differ");
        prop_assert_eq!(self.replica.now(), registry.now(), "the replica's clock differs");
        prop_assert_eq!(self.replica.config(), registry.config());
        let outputs: Vec<NodeOutput> = std::iter::from_fn(|| self.node.poll_output()).collect();
        for output in &outputs {
            match output {
                NodeOutput::Reply { connection, request_id, .. } => {
                    prop_assert_eq!(self.unanswered.pop_front(), Some((*connection, *request_id)));
                }
                NodeOutput::CloseSession { connection, .. } => {
                    self.sessions.retain(|(open, _)| open != connection);
                    self.unanswered.retain(|(on, _)| on != connection);
                }
                _ => {}
            }
        }
        if let Err(violation) = self.node.check_invariants() {
            return Err(TestCaseError::fail(violation.to_string()));
        }
        Ok(outputs)
    }

    fn quiet_before_durable(&mut self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.node.poll_output(), None, "released before durable");
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(300), ..ProptestConfig::default() })]

    #[test]
    fn the_node_keeps_its_promises(steps in prop::collection::vec(step(), 1..120)) {
        let mut now = Timestamp::from_millis(1_700_000_000_000);
        let mut harness = Harness::start(MemoryStore::default(), now, 2, Vec::new(), StartKind::Fresh)?;
        for step in steps {
            let connection = |id: u64| ConnectionId(id);
            match step {
                Step::WorkerHello { connection: id, worker, right_password } => {
                    let password = Password::new(if right_password { "pw" } else { "wrong" });
                    let input = NodeInput::WorkerHello { connection: connection(id), worker: format!("w{worker}"), password };
                    harness.node.handle(now, input);
                }
                Step::Keepalive { connection: id } => {
                    harness.node.handle(now, NodeInput::WorkerKeepalive { connection: connection(id) });
                }
                Step::Close { connection: id } => {
                    harness.sessions.retain(|(open, _)| *open != connection(id));
                    harness.node.handle(now, NodeInput::ConnectionClosed { connection: connection(id) });
                }
                Step::OpenSession { connection: id, name, right_token } => {
                    // The transport never gives a connection id twice.
                    if harness.opened.contains(&connection(id)) {
                        continue;
                    }
                    harness.opened.push(connection(id));
                    let name = MASTER_NAMES[name].to_string();
                    // A session under the node's own name, an unknown name or a wrong
                    // token is refused: nothing it asks is answered.
                    let token = if right_token { TOKEN } else { TokenDigest([8; 32]) };
                    if harness.allowed(&name) && right_token {
                        harness.sessions.push((connection(id), name.clone()));
                    }
                    harness.node.handle(now, NodeInput::MasterSessionOpened { connection: connection(id), name, token });
                }
                Step::Request { connection: id, command: index, master } => {
                    harness.next_request += 1;
                    let request_id = harness.next_request;
                    if harness.sessions.iter().any(|(open, _)| *open == connection(id)) {
                        harness.unanswered.push_back((connection(id), request_id));
                    }
                    let command = command(index, MasterId(master));
                    harness.node.handle(now, NodeInput::MasterRequest { connection: connection(id), request_id, command });
                }
                Step::Forward { millis } => now = now.plus_millis(millis),
                Step::Timeout => harness.node.handle_timeout(now),
                Step::EndBatch => {
                    harness.settle()?;
                    continue;
                }
                Step::Reconfig { workers } => {
                    harness.workers = workers;
                    // The new configuration may drop m2: its sessions close with it.
                    harness.sessions.retain(|(_, name)| config(workers).masters.contains_key(name));
                    harness.node.handle(now, NodeInput::Reconfig(Box::new(config(workers))));
                }
                Step::Crash => {
                    let Harness { disk, workers, opened, .. } = harness;
                    harness = Harness::start(disk, now, workers, opened, StartKind::CrashRecovered)?;
                    continue;
                }
                Step::CleanRestart => {
                    harness.settle()?;
                    harness.node.handle(now, NodeInput::Shutdown);
                    harness.settle()?;
                    prop_assert!(harness.node.is_stopped());
                    let Harness { disk, workers, opened, .. } = harness;
                    harness = Harness::start(disk, now, workers, opened, StartKind::Clean)?;
                    continue;
                }
            }
            harness.quiet()?;
        }
        harness.settle()?;
    }
}
