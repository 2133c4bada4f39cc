//! The Node: its startup (docs/design.md) and its events, the batching contract, committed reads, the
//! sessions of remote masters, and the own master's heartbeat.

use rollcall_core::node::{NodeEvent, RequestError, RowCaps, StartKind, TokenDigest};
use rollcall_core::store::{MemoryStore, Store};
use rollcall_core::{
    Command, ConnectionId, DuplicatePolicy, GatewayConfig, Node, NodeConfig, NodeInput, NodeOutput,
    Password, RegistryConfig, RegistryEvent, Reply, Roster, StopCause, Timestamp, ToWorker,
    WorkerConfig,
};

const START: u64 = 1_700_000_000_000;

fn config() -> NodeConfig {
    let roster =
        Roster::new(vec![WorkerConfig::new("w1", Password::new("pw1"), vec!["linux".to_string()])])
            .expect("a valid roster");
    NodeConfig {
        master_name: "node:/srv".into(),
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
        masters: ["remote", "m", "r"]
            .into_iter()
            .map(|name| (name.to_string(), vec![TOKEN]))
            .collect(),
    }
}

/// The one token every remote master of these tests proves itself with.
const TOKEN: TokenDigest = TokenDigest([7; 32]);

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

fn start(now: Timestamp, disk: &mut MemoryStore) -> (Node, Vec<NodeOutput>) {
    let Ok(rows) = disk.load();
    let mut node = Node::start(now, config(), rows).expect("the node starts");
    let outputs = settle(&mut node, disk);
    (node, outputs)
}

/// A remote master opens a session at second 1 and registers with request 1.
fn register(node: &mut Node, connection: ConnectionId, name: &str) {
    let token = TOKEN;
    node.handle(at(1), NodeInput::MasterSessionOpened { connection, name: name.into(), token });
    let command = Command::MasterActive { name: name.into() };
    node.handle(at(1), NodeInput::MasterRequest { connection, request_id: 1, command });
}

fn registry_events(outputs: &[NodeOutput]) -> Vec<&RegistryEvent> {
    outputs
        .iter()
        .filter_map(|output| match output {
            NodeOutput::Event(NodeEvent::Registry(event)) => Some(event),
            _ => None,
        })
        .collect()
}

fn start_kind(outputs: &[NodeOutput]) -> Option<StartKind> {
    outputs.iter().find_map(|output| match output {
        NodeOutput::Event(NodeEvent::Started { kind, .. }) => Some(*kind),
        _ => None,
    })
}

fn own_lifecycle(outputs: &[NodeOutput]) -> Vec<String> {
    registry_events(outputs)
        .into_iter()
        .filter_map(|event| match event {
            RegistryEvent::MasterStarted { master, .. } => Some(format!("{master} started")),
            RegistryEvent::MasterStopped { master, cause, .. } => {
                Some(format!("{master} stopped {cause:?}"))
            }
            _ => None,
        })
        .collect()
}

/// A fresh data dir gives exactly one `started` and no `stopped`, as Buildbot's inactive
/// new row does.
#[test]
fn a_fresh_start_emits_one_started_and_no_stopped() {
    let mut disk = MemoryStore::default();
    let (_, outputs) = start(at(0), &mut disk);
    assert_eq!(own_lifecycle(&outputs), ["1 started"]);
    assert_eq!(start_kind(&outputs), Some(StartKind::Fresh));
}

/// After a clean stop the row is inactive: the restart says `started` once, and that it was
/// clean.
#[test]
fn a_restart_after_a_clean_stop_emits_one_started() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    node.handle(at(5), NodeInput::Shutdown);
    let stopped = settle(&mut node, &mut disk);
    assert_eq!(own_lifecycle(&stopped), ["1 stopped Requested"]);
    assert!(node.is_stopped());
    let (_, outputs) = start(at(10), &mut disk);
    assert_eq!(own_lifecycle(&outputs), ["1 started"]);
    assert_eq!(start_kind(&outputs), Some(StartKind::Clean));
}

/// After a crash the row is still active: the restart stops it first, with a cause that says
/// so, giving back what it held, then starts it.
#[test]
fn a_restart_after_a_crash_stops_with_crash_recovered_then_starts() {
    let mut disk = MemoryStore::default();
    let (node, _) = start(at(0), &mut disk);
    drop(node);
    let (_, outputs) = start(at(30), &mut disk);
    assert_eq!(own_lifecycle(&outputs), ["1 stopped CrashRecovered", "1 started"]);
    assert_eq!(start_kind(&outputs), Some(StartKind::CrashRecovered));
    let causes: Vec<StopCause> = registry_events(&outputs)
        .into_iter()
        .filter_map(|event| match event {
            RegistryEvent::MasterStopped { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect();
    assert_eq!(causes, [StopCause::CrashRecovered]);
}

/// The startup expires, with forced housekeeping, a master that went silent while the node
/// was down, before anything else can act.
#[test]
fn the_startup_expires_masters_that_went_silent_while_the_node_was_down() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    register(&mut node, ConnectionId(900), "remote");
    settle(&mut node, &mut disk);
    drop(node);
    let (node, outputs) = start(at(1_000), &mut disk);
    let expired: Vec<_> = registry_events(&outputs)
        .into_iter()
        .filter(|event| {
            matches!(event, RegistryEvent::MasterStopped { cause: StopCause::Expired, .. })
        })
        .collect();
    assert_eq!(expired.len(), 1, "{outputs:?}");
    let remote = node.view().registry.master_by_name("remote").expect("a row");
    assert!(!remote.active);
    node.check_invariants().expect("consistent");
}

/// Nothing a batch produced leaves the Node before the batch is reported durable, and a
/// batch that is never reported releases nothing.
#[test]
fn outputs_wait_for_their_batch_to_be_durable() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    let hello = NodeInput::WorkerHello {
        connection: ConnectionId(1),
        worker: "w1".into(),
        password: Password::new("pw1"),
    };
    node.handle(at(1), hello);
    let session = ConnectionId(2);
    node.handle(
        at(1),
        NodeInput::MasterSessionOpened { connection: session, name: "m".into(), token: TOKEN },
    );
    let command = Command::MasterActive { name: "m".into() };
    node.handle(at(1), NodeInput::MasterRequest { connection: session, request_id: 9, command });
    assert_eq!(node.poll_output(), None, "released before the batch ended");
    assert!(node.committed().is_none(), "the new master is not committed yet");
    let batch = node.end_batch();
    assert!(!batch.changes.is_empty(), "the new master is a row to store");
    assert_eq!(node.poll_output(), None, "released before the batch was durable");
    assert!(node.committed().is_none());
    node.batch_durable(batch.number);
    let released: Vec<NodeOutput> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(released.contains(&NodeOutput::ToWorker {
        connection: ConnectionId(1),
        message: ToWorker::Welcome
    }));
    assert!(released.iter().any(|output| matches!(
        output,
        NodeOutput::Reply { request_id: 9, result: Ok(Reply::Master(_)), .. }
    )));
    let view = node.committed().expect("committed once durable");
    assert!(view.registry.worker_by_name("w1").is_some_and(|w| !w.connected_to.is_empty()));
}

/// Feeding an input while a batch awaits durability is a driver bug, stopped at once.
#[test]
#[should_panic(expected = "awaits durability")]
fn an_input_while_a_batch_awaits_durability_panics() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    let _batch = node.end_batch();
    node.handle(at(1), NodeInput::WorkerKeepalive { connection: ConnectionId(1) });
}

/// A session speaks only for the master named in its Hello, never sends what only the node
/// sends, and cannot take the node's own name.
#[test]
fn sessions_speak_only_for_their_own_master() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    let session = ConnectionId(500);
    let request = |node: &mut Node, id: u64, command: Command| {
        node.handle(
            at(1),
            NodeInput::MasterRequest { connection: session, request_id: id, command },
        );
    };
    node.handle(
        at(1),
        NodeInput::MasterSessionOpened { connection: session, name: "m".into(), token: TOKEN },
    );
    request(&mut node, 1, Command::MasterStopped { master: rollcall_core::MasterId(1) });
    request(&mut node, 2, Command::MasterActive { name: "other".into() });
    request(&mut node, 3, Command::MasterActive { name: "m".into() });
    request(&mut node, 4, Command::ExpireMasters { force_housekeeping: true });
    request(&mut node, 5, Command::RegisterMaster { name: "m".into() });
    request(&mut node, 6, Command::MasterStopped { master: rollcall_core::MasterId(1) });
    node.handle(
        at(1),
        NodeInput::MasterSessionOpened {
            connection: ConnectionId(501),
            name: "node:/srv".into(),
            token: TOKEN,
        },
    );
    let outputs = settle(&mut node, &mut disk);
    let replies: Vec<(u64, Result<Reply, RequestError>)> = outputs
        .iter()
        .filter_map(|output| match output {
            NodeOutput::Reply { request_id, result, .. } => Some((*request_id, result.clone())),
            _ => None,
        })
        .collect();
    let own = rollcall_core::MasterId(1);
    let remote = rollcall_core::MasterId(2);
    assert_eq!(
        replies,
        vec![
            (1, Err(RequestError::NotThisSession { session: None })),
            (2, Err(RequestError::WrongName { hello: "m".into() })),
            (3, Ok(Reply::Master(remote))),
            (4, Err(RequestError::DaemonOnly { command: "ExpireMasters".into() })),
            (5, Err(RequestError::DaemonOnly { command: "RegisterMaster".into() })),
            (6, Err(RequestError::NotThisSession { session: Some(remote) })),
        ]
    );
    assert!(outputs.iter().any(|output| matches!(
        output,
        NodeOutput::CloseSession { connection: ConnectionId(501), .. }
    )));
    assert!(node.view().registry.master(own).is_some_and(|row| row.active));
}

/// The own master's heartbeat runs on the node's schedule: masterActive, then the expiry
/// sweep that finds a remote master silent for longer than the window.
#[test]
fn the_heartbeat_keeps_the_node_active_and_expires_the_silent() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    register(&mut node, ConnectionId(7), "r");
    settle(&mut node, &mut disk);
    let mut now = at(1);
    let mut expired = 0;
    while now < at(700) {
        now = node.poll_timeout().expect("a heartbeat is always due");
        node.handle_timeout(now);
        node.check_invariants().expect("consistent");
        let outputs = settle(&mut node, &mut disk);
        expired += registry_events(&outputs)
            .into_iter()
            .filter(|event| {
                matches!(event, RegistryEvent::MasterStopped { cause: StopCause::Expired, .. })
            })
            .count();
    }
    let registry = node.view().registry;
    assert!(registry.master(node.master()).is_some_and(|row| row.active));
    assert!(!registry.master_by_name("r").is_some_and(|row| row.active));
    assert_eq!(expired, 1);
}

/// A reconfig that shortens the expiry window below the time since the last heartbeat does
/// not expire the Node's own master: the Node heartbeats on the new schedule at once.
#[test]
fn a_reconfig_to_a_shorter_window_keeps_the_own_master_active() {
    let mut disk = MemoryStore::default();
    let (mut node, _) = start(at(0), &mut disk);
    let mut shorter = config();
    shorter.registry.expiry_window_ms = 30_000;
    shorter.heartbeat_interval_ms = 10_000;
    node.handle(at(45), NodeInput::Reconfig(Box::new(shorter)));
    node.handle_timeout(at(45));
    node.check_invariants().expect("consistent");
    let outputs = settle(&mut node, &mut disk);
    assert!(
        outputs.contains(&NodeOutput::Event(NodeEvent::ReconfigApplied)),
        "the reconfig applies: {outputs:?}"
    );
    assert_eq!(own_lifecycle(&outputs), Vec::<String>::new(), "no stop, no restart");
    assert!(node.view().registry.master(node.master()).is_some_and(|row| row.active));
    assert_eq!(node.poll_timeout(), Some(at(55)), "the next heartbeat on the new interval");
}
