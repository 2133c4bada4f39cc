//! A twenty-minute story of one cluster, told by the core alone: a Node starts for its
//! master build1, a worker attaches to it (and again, as a duplicate), a remote master,
//! build2, opens a session, claims a scheduler and a build request, then falls silent; the
//! Node's own heartbeat expires it and what it held is given back. Every batch is made
//! "durable" here on the spot; prints everything the Node releases, with its moment.
//!
//! Run with `cargo run -p rollcall-core --example story`.

use rollcall_core::node::{NodeEvent, RowCaps, TokenDigest};
use rollcall_core::{
    Command, ConnectionId, GatewayConfig, Node, NodeConfig, NodeInput, NodeOutput, Password,
    RegistryConfig, Reply, Roster, ServiceKind, Timestamp, WorkerConfig,
};

/// Ends the batch, pretends to store it, and prints what it releases.
fn settle(node: &mut Node, now: Timestamp) -> Vec<NodeOutput> {
    let batch = node.end_batch();
    node.batch_durable(batch.number);
    let released: Vec<NodeOutput> = std::iter::from_fn(|| node.poll_output()).collect();
    for output in &released {
        match output {
            NodeOutput::Event(NodeEvent::Registry(event)) => {
                println!("{now}  registry  {}", event.topic());
            }
            NodeOutput::Event(event) => println!("{now}  node      {event:?}"),
            NodeOutput::ToWorker { message: rollcall_core::ToWorker::KeepaliveAck, .. } => {}
            other => println!("{now}  send      {other:?}"),
        }
    }
    released
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Timestamp::from_secs(1_700_000_000);
    let roster = Roster::new(vec![WorkerConfig::new(
        "w1",
        Password::new("s3cret"),
        vec!["linux".into(), "mac".into()],
    )])?;
    let config = NodeConfig {
        master_name: "build1:/srv/rollcall".into(),
        registry: RegistryConfig::default(),
        gateway: GatewayConfig::default(),
        roster,
        builder_names: vec!["linux".into(), "mac".into()],
        heartbeat_interval_ms: 60_000,
        row_caps: RowCaps { max_masters: 100, max_rows_per_kind: 10_000 },
        masters: [("build2".to_string(), vec![TokenDigest([7; 32])])].into_iter().collect(),
    };
    let mut node = Node::start(start, config, Vec::new())?;
    settle(&mut node, start);

    let hello = |connection| NodeInput::WorkerHello {
        connection: ConnectionId(connection),
        worker: "w1".into(),
        password: Password::new("s3cret"),
    };
    let now = start.plus_millis(1_000);
    node.handle(now, hello(1));
    settle(&mut node, now);
    // The same worker again, from a second connection: the older one is dropped.
    let now = start.plus_millis(2_000);
    node.handle(now, hello(2));
    settle(&mut node, now);

    let session = ConnectionId(100);
    let mut request_id = 0;
    let mut ask = |node: &mut Node, now, command| {
        request_id += 1;
        node.handle(now, NodeInput::MasterRequest { connection: session, request_id, command });
    };
    let now = start.plus_millis(3_000);
    node.handle(
        now,
        NodeInput::MasterSessionOpened {
            connection: session,
            name: "build2".into(),
            token: TokenDigest([7; 32]),
        },
    );
    ask(&mut node, now, Command::MasterActive { name: "build2".into() });
    let registered = settle(&mut node, now);
    let build2 = registered.iter().find_map(|output| match output {
        NodeOutput::Reply { result: Ok(Reply::Master(id)), .. } => Some(*id),
        _ => None,
    });
    let Some(build2) = build2 else { return Err("build2 was not registered".into()) };
    let scheduler = Command::ClaimService {
        master: build2,
        kind: ServiceKind::Scheduler,
        name: "nightly".into(),
    };
    ask(&mut node, now, scheduler);
    ask(
        &mut node,
        now,
        Command::SubmitBuildRequest { master: build2, builder_name: "linux".into() },
    );
    let request = rollcall_core::BuildRequestId(1);
    ask(&mut node, now, Command::ClaimBuildRequests { master: build2, requests: vec![request] });
    settle(&mut node, now);

    // build2 falls silent; the worker keeps its connection alive; the Node's own timers do
    // the rest (its heartbeat, then the sweep that expires build2 after ten minutes).
    let end = start.plus_millis(20 * 60_000);
    while let Some(due) = node.poll_timeout().filter(|due| *due <= end) {
        node.handle(due, NodeInput::WorkerKeepalive { connection: ConnectionId(2) });
        node.handle_timeout(due);
        settle(&mut node, due);
    }
    let Some(view) = node.committed() else { return Err("a batch is still open".into()) };
    for master in view.registry.masters() {
        println!("master {} {:?} active={}", master.id, master.name, master.active);
    }
    Ok(())
}
