//! A cluster node's two seats: a standby forwards its own master's commands to the leader
//! over a master session and keeps its workers itself; a takeover promotes it onto the
//! replicated registry and a deposition sends it back, its workers attached throughout.
//! The "leader" here is a real serving Node, reached through the remote-master session
//! rules every standby's requests go through.

use rollcall_core::node::{NodeEvent, RowCaps, SessionCloseReason, TokenDigest};
use rollcall_core::store::{MemoryStore, Store};
use rollcall_core::{
    CloseReason, Command, ConnectionId, DuplicatePolicy, GatewayConfig, Node, NodeConfig,
    NodeInput, NodeOutput, Password, Registry, RegistryConfig, Roster, Timestamp, WorkerConfig,
};

const START: u64 = 1_700_000_000_000;
const TOKEN: TokenDigest = TokenDigest([7; 32]);
const LEADER: &str = "leader:/srv";
const STANDBY: &str = "standby:/srv";
/// The leader's connection id for the standby's session.
const STANDBY_SESSION: ConnectionId = ConnectionId(500);

fn config(master_name: &str) -> NodeConfig {
    let roster = Roster::new(vec![
        WorkerConfig::new("w1", Password::new("pw1"), vec!["linux".to_string()]),
        WorkerConfig::new("w2", Password::new("pw2"), vec!["linux".to_string()]),
    ])
    .expect("a valid roster");
    NodeConfig {
        master_name: master_name.into(),
        registry: RegistryConfig { expiry_window_ms: 600_000 },
        gateway: GatewayConfig {
            duplicate_policy: DuplicatePolicy::DropOlder,
            keepalive_timeout_ms: 3_600_000,
            ping_timeout_ms: 10_000,
            missing_timeout_ms: 3_600_000,
        },
        roster,
        builder_names: vec!["linux".into()],
        heartbeat_interval_ms: 60_000,
        row_caps: RowCaps { max_masters: 100, max_rows_per_kind: 1_000 },
        masters: [LEADER, STANDBY, "remote"]
            .into_iter()
            .filter(|name| *name != master_name)
            .map(|name| (name.to_string(), vec![TOKEN]))
            .collect(),
    }
}

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_millis(START + seconds * 1000)
}

/// Ends the batch, commits it to `disk`, reports it, and returns what it released.
fn settle(node: &mut Node, disk: &mut MemoryStore) -> Vec<NodeOutput> {
    let batch = node.end_batch();
    let Ok(_) = disk.commit(&batch.changes);
    node.batch_durable(batch.number);
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// A leader (serving) and a standby (forwarding), the standby's session to the leader
/// carried by [`Pair::pump`].
struct Pair {
    leader: Node,
    leader_disk: MemoryStore,
    standby: Node,
    standby_disk: MemoryStore,
    /// Whether the standby's session to the leader is up.
    linked: bool,
    /// Everything the standby released, in order.
    standby_outputs: Vec<NodeOutput>,
}

impl Pair {
    fn new() -> Pair {
        let mut leader_disk = MemoryStore::default();
        let mut leader = Node::start(at(0), config(LEADER), Vec::new()).expect("leader starts");
        settle(&mut leader, &mut leader_disk);
        let standby = Node::start_forwarding(at(0), config(STANDBY), 1_000).expect("standby");
        Pair {
            leader,
            leader_disk,
            standby,
            standby_disk: MemoryStore::default(),
            linked: false,
            standby_outputs: Vec::new(),
        }
    }

    fn link(&mut self, now: Timestamp) {
        let name = STANDBY.to_string();
        let opened =
            NodeInput::MasterSessionOpened { connection: STANDBY_SESSION, name, token: TOKEN };
        self.leader.handle(now, opened);
        settle(&mut self.leader, &mut self.leader_disk);
        self.linked = true;
        self.standby_input(now, NodeInput::LeaderSessionOpened);
    }

    fn unlink(&mut self, now: Timestamp) {
        self.linked = false;
        self.leader.handle(now, NodeInput::ConnectionClosed { connection: STANDBY_SESSION });
        settle(&mut self.leader, &mut self.leader_disk);
        self.standby_input(now, NodeInput::LeaderSessionClosed);
    }

    /// Feeds the standby, then carries its requests to the leader and the answers back,
    /// until nothing is left in flight.
    fn standby_input(&mut self, now: Timestamp, input: NodeInput) {
        self.standby.handle(now, input);
        self.pump(now);
    }

    fn pump(&mut self, now: Timestamp) {
        let mut outputs = settle(&mut self.standby, &mut self.standby_disk);
        while !outputs.is_empty() {
            let mut answers = Vec::new();
            for output in &outputs {
                let NodeOutput::ToLeader { request_id, command } = output else { continue };
                if !self.linked {
                    continue;
                }
                let request = NodeInput::MasterRequest {
                    connection: STANDBY_SESSION,
                    request_id: *request_id,
                    command: command.clone(),
                };
                self.leader.handle(now, request);
                for answer in settle(&mut self.leader, &mut self.leader_disk) {
                    if let NodeOutput::Reply { request_id, result, .. } = answer {
                        answers.push(NodeInput::LeaderReply { request_id, result });
                    }
                }
            }
            self.standby_outputs.append(&mut outputs);
            for answer in answers {
                self.standby.handle(now, answer);
            }
            outputs = settle(&mut self.standby, &mut self.standby_disk);
        }
        self.standby.check_invariants().expect("the standby is consistent");
        self.leader.check_invariants().expect("the leader is consistent");
    }

    fn attach(&mut self, now: Timestamp, connection: u64, worker: &str) {
        let hello = NodeInput::WorkerHello {
            connection: ConnectionId(connection),
            worker: worker.into(),
            password: Password::new(format!("pw{}", &worker[1..])),
        };
        self.standby_input(now, hello);
    }

    /// The connection the leader's registry records for `worker` on the standby's master.
    fn recorded(&self, worker: &str) -> Option<ConnectionId> {
        recorded_in(self.leader.view().registry, worker)
    }
}

fn recorded_in(registry: &Registry, worker: &str) -> Option<ConnectionId> {
    let master = registry.master_by_name(STANDBY)?.id;
    registry.worker_by_name(worker)?.connected_to.get(&master).copied()
}

fn sent_commands(outputs: &[NodeOutput]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|output| match output {
            NodeOutput::ToLeader { command, .. } => {
                Some(format!("{command:?}").split([' ', '{']).next().unwrap_or("").to_string())
            }
            _ => None,
        })
        .collect()
}

/// A standby's own master registers at the leader (stopping what a crashed run of it held
/// first, as any start does), declares its workers and builders, and its workers attach to
/// it, not to the leader, their connection records made at the leader.
#[test]
fn a_standby_registers_at_the_leader_and_its_workers_attach_to_it() {
    let mut pair = Pair::new();
    pair.attach(at(1), 1, "w1");
    assert!(
        pair.standby.gateway().attached_connection("w1") == Some(ConnectionId(1)),
        "attached with no leader yet"
    );
    assert_eq!(pair.recorded("w1"), None, "no leader was told");
    pair.link(at(2));
    assert_eq!(
        sent_commands(&pair.standby_outputs),
        [
            "MasterActive",
            "MasterStopped",
            "MasterActive",
            "SetConfiguredWorkers",
            "SetBuilderList",
            "WorkerConnected"
        ]
    );
    assert_eq!(pair.standby.leader_link(), Some((true, 0)));
    assert_eq!(pair.recorded("w1"), Some(ConnectionId(1)));
    let registry = pair.leader.view().registry;
    let master = registry.master_by_name(STANDBY).expect("registered");
    assert!(master.active);
    let builders: Vec<_> = registry.builders_served_by(master.id).collect();
    assert_eq!(builders.len(), 1, "its builder is declared");
    pair.attach(at(3), 2, "w2");
    assert_eq!(pair.recorded("w2"), Some(ConnectionId(2)), "a later attach is forwarded at once");
}

/// A standby's heartbeat is masterActive alone: expiry runs on the leader only.
#[test]
fn a_standby_heartbeat_is_master_active_and_never_an_expiry_sweep() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.standby_outputs.clear();
    pair.standby.handle_timeout(at(61));
    pair.pump(at(61));
    assert_eq!(sent_commands(&pair.standby_outputs), ["MasterActive"]);
}

/// A worker that leaves while no leader is reachable is still detached at the next one:
/// the record a leader may hold is remembered until a leader confirms it gone, and the
/// re-registration removes it.
#[test]
fn a_detach_while_no_leader_is_reachable_reaches_the_next_leader() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.attach(at(2), 1, "w1");
    assert_eq!(pair.recorded("w1"), Some(ConnectionId(1)));
    pair.unlink(at(3));
    pair.standby_input(at(4), NodeInput::ConnectionClosed { connection: ConnectionId(1) });
    assert_eq!(pair.recorded("w1"), Some(ConnectionId(1)), "no leader heard it yet");
    pair.link(at(5));
    assert_eq!(pair.recorded("w1"), None, "the re-registration sent the detach");
    pair.unlink(at(6));
    pair.standby_outputs.clear();
    pair.link(at(7));
    assert!(
        !sent_commands(&pair.standby_outputs).contains(&"WorkerDisconnected".to_string()),
        "a confirmed detach is not sent again"
    );
}

/// Found by the simulator: a worker recorded at a leader, then attached again and gone again
/// while no leader was reachable, leaves the first connection's record, not the last's,
/// for the next session to remove.
#[test]
fn a_record_older_than_the_last_detach_is_removed_at_the_next_leader() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.attach(at(2), 1, "w1");
    assert_eq!(pair.recorded("w1"), Some(ConnectionId(1)));
    pair.unlink(at(3));
    pair.standby_input(at(4), NodeInput::ConnectionClosed { connection: ConnectionId(1) });
    pair.attach(at(5), 2, "w1");
    pair.standby_input(at(6), NodeInput::ConnectionClosed { connection: ConnectionId(2) });
    pair.link(at(7));
    assert_eq!(pair.recorded("w1"), None, "connection 1's record is removed");
}

/// A deposed leader's next session removes the records its term left for workers that
/// have gone since (in the batch it lost, or later while no leader was reachable).
#[test]
fn a_deposed_leaders_records_of_departed_workers_are_removed_at_the_next_leader() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.attach(at(2), 1, "w1");
    pair.unlink(at(3));
    let mut replica =
        Registry::from_snapshot(pair.leader.view().registry.snapshot()).expect("replica");
    replica.start_input_log();
    pair.standby.promote(at(4), replica).expect("promoted");
    settle(&mut pair.standby, &mut pair.standby_disk);
    // Leading, it records w1; then it is deposed, and w1 leaves while no leader is reached.
    pair.standby.depose(7_000);
    let _: Vec<NodeOutput> = std::iter::from_fn(|| pair.standby.poll_output()).collect();
    pair.standby_input(at(5), NodeInput::ConnectionClosed { connection: ConnectionId(1) });
    // The old leader (which still holds w1's record from before) hears the standby again.
    pair.link(at(6));
    assert_eq!(pair.recorded("w1"), None);
}

/// A leader that leaves a request unanswered past the deadline loses the session: the
/// standby asks its driver for a new one, which declares everything again.
#[test]
fn an_unanswered_request_gives_up_the_session_after_the_deadline() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.linked = false; // the leader stalls: requests go out, no answer comes back
    pair.attach(at(2), 1, "w1");
    assert_eq!(pair.standby.leader_link(), Some((true, 1)));
    // Two heartbeat intervals (the window allows more): the heartbeat due meanwhile is
    // sent and unanswered too.
    let deadline = at(2 + 120);
    pair.standby.handle_timeout(at(2 + 119));
    let outputs = settle(&mut pair.standby, &mut pair.standby_disk);
    assert!(!outputs.contains(&NodeOutput::CloseLeaderSession), "not before the deadline");
    assert!(pair.standby.poll_timeout().is_some_and(|due| due <= deadline));
    pair.standby.handle_timeout(deadline);
    let outputs = settle(&mut pair.standby, &mut pair.standby_disk);
    assert!(outputs.contains(&NodeOutput::CloseLeaderSession), "{outputs:?}");
    assert_eq!(pair.standby.leader_link(), Some((false, 0)));
}

/// A takeover promotes the standby onto the replicated registry: its workers stay
/// attached (nothing is closed), its own master stays the same row, and its connection
/// records become the Gateway's, a record whose detach never reached the old leader
/// removed.
#[test]
fn a_promoted_standby_keeps_its_workers_and_reconciles_their_records() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.attach(at(2), 1, "w1");
    pair.attach(at(2), 2, "w2");
    pair.unlink(at(3)); // the leader dies: w2's detach never reaches it
    pair.standby_input(at(4), NodeInput::ConnectionClosed { connection: ConnectionId(2) });
    let before = pair.leader.view().registry.master_by_name(STANDBY).expect("row").id;
    let mut replica =
        Registry::from_snapshot(pair.leader.view().registry.snapshot()).expect("replica");
    replica.start_input_log();
    assert_eq!(recorded_in(&replica, "w2"), Some(ConnectionId(2)), "stale in the replica");

    let mut node = pair.standby;
    node.promote(at(20), replica).expect("promoted");
    let outputs = settle(&mut node, &mut pair.standby_disk);
    assert!(node.is_serving());
    assert!(
        !outputs.iter().any(|output| matches!(output, NodeOutput::CloseWorker { .. })),
        "no worker is closed: {outputs:?}"
    );
    assert!(outputs
        .iter()
        .any(|output| matches!(output, NodeOutput::Event(NodeEvent::Promoted { .. }))));
    let registry = node.view().registry;
    assert_eq!(node.master(), before, "the same master row");
    assert!(registry.master(before).is_some_and(|row| row.active));
    assert_eq!(recorded_in(registry, "w1"), Some(ConnectionId(1)));
    assert_eq!(recorded_in(registry, "w2"), None, "the stale record is gone");
    assert!(node.gateway().attached_connection("w1") == Some(ConnectionId(1)));
    node.check_invariants().expect("consistent");
}

/// A deposed leader forwards again, its workers attached: of the batch that was not made
/// durable, frames to its workers go out, while the reply to a remote master (which would
/// acknowledge what no leader holds) is dropped, and remote masters' sessions close with
/// `NotLeader`.
#[test]
fn a_deposed_leader_keeps_its_workers_and_never_acknowledges_the_lost_batch() {
    let mut disk = MemoryStore::default();
    let mut node = Node::start(at(0), config(LEADER), Vec::new()).expect("starts");
    settle(&mut node, &mut disk);
    let remote = ConnectionId(900);
    let opened =
        NodeInput::MasterSessionOpened { connection: remote, name: "remote".into(), token: TOKEN };
    node.handle(at(1), opened);
    settle(&mut node, &mut disk);
    let hello = NodeInput::WorkerHello {
        connection: ConnectionId(1),
        worker: "w1".into(),
        password: Password::new("pw1"),
    };
    node.handle(at(2), hello);
    let command = Command::MasterActive { name: "remote".into() };
    node.handle(at(2), NodeInput::MasterRequest { connection: remote, request_id: 1, command });
    let _lost = node.end_batch(); // its commit is fenced: never reported durable
    node.depose(5_000);
    let outputs: Vec<NodeOutput> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(!node.is_serving());
    assert!(
        !outputs.iter().any(|output| matches!(output, NodeOutput::Reply { .. })),
        "no reply from the lost batch: {outputs:?}"
    );
    assert!(outputs
        .iter()
        .any(|output| matches!(output, NodeOutput::ToWorker { connection: ConnectionId(1), .. })));
    assert!(outputs.contains(&NodeOutput::CloseSession {
        connection: remote,
        reason: SessionCloseReason::NotLeader
    }));
    assert!(!outputs.iter().any(|output| matches!(
        output,
        NodeOutput::CloseWorker { reason: CloseReason::MasterShuttingDown, .. }
    )));
    assert!(node.gateway().attached_connection("w1") == Some(ConnectionId(1)), "the worker stays");
    node.check_invariants().expect("consistent");

    // Forwarding now: the next leader's session declares it, its worker included.
    node.handle(at(3), NodeInput::LeaderSessionOpened);
    let outputs = settle(&mut node, &mut disk);
    assert_eq!(sent_commands(&outputs), ["MasterActive"], "registering, no crash recovery");
}

/// A remote master's Hello at a standby is turned away to the leader.
#[test]
fn a_standby_turns_remote_masters_away() {
    let mut pair = Pair::new();
    let opened = NodeInput::MasterSessionOpened {
        connection: ConnectionId(9),
        name: "remote".into(),
        token: TOKEN,
    };
    pair.standby.handle(at(1), opened);
    let outputs = settle(&mut pair.standby, &mut pair.standby_disk);
    assert_eq!(
        outputs,
        [NodeOutput::CloseSession {
            connection: ConnectionId(9),
            reason: SessionCloseReason::NotLeader
        }]
    );
}

/// Shutdown of a standby tells the leader its master stopped, and the Node counts as
/// stopped once the leader confirms it.
#[test]
fn a_standby_shutdown_stops_its_master_at_the_leader() {
    let mut pair = Pair::new();
    pair.link(at(1));
    pair.attach(at(2), 1, "w1");
    pair.linked = false;
    pair.standby.handle(at(3), NodeInput::Shutdown);
    let outputs = settle(&mut pair.standby, &mut pair.standby_disk);
    assert!(outputs.iter().any(|output| matches!(output, NodeOutput::CloseWorker { .. })));
    assert!(!pair.standby.is_stopped(), "waits for the leader's answer");
    let Some(request_id) = outputs.iter().find_map(|output| match output {
        NodeOutput::ToLeader { request_id, command: Command::MasterStopped { .. } } => {
            Some(*request_id)
        }
        _ => None,
    }) else {
        panic!("no MasterStopped sent: {outputs:?}")
    };
    let result = Ok(rollcall_core::Reply::Done);
    pair.standby.handle(at(3), NodeInput::LeaderReply { request_id, result });
    settle(&mut pair.standby, &mut pair.standby_disk);
    assert!(pair.standby.is_stopped());
}
