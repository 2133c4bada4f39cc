//! One simulated cluster node: the core's real [`Replicator`] and the very [`Node`] the
//! daemon drives, its seat changing with the lease (promoted at a takeover, deposed when
//! it loses the lease or a commit), with workers of its own, and, while it stands by, a
//! session to the leader for its own master (delivered through each node's inbox, so a
//! paused node neither hears nor answers).

use rollcall_core::node::{RowCaps, TokenDigest};
use rollcall_core::replication::Replicator;
use rollcall_core::{
    ConnectionId, DuplicatePolicy, GatewayConfig, Node, NodeConfig, NodeInput, Password,
    RegistryConfig, Roster, Timestamp, WorkerConfig,
};

use super::store::SimStore;

/// Workers each node's own master configures.
pub(super) const WORKERS_PER_NODE: usize = 3;
/// The token every master of the simulated cluster proves itself with.
pub(super) const TOKEN: TokenDigest = TokenDigest([7; 32]);
/// The remote master's session at whichever node leads.
pub(super) const REMOTE_SESSION: ConnectionId = ConnectionId(800_000);
/// The remote master the workload's requests come from.
pub(super) const REMOTE: &str = "remote";

pub(super) struct Member {
    pub(super) replicator: Replicator<SimStore>,
    pub(super) node: Node,
    /// While it leads: by its own clock, when the takeover's grace ends.
    pub(super) expiry_floor: Timestamp,
    pub(super) paused_until_ms: u64,
    /// What was delivered to it, fed at its next event.
    pub(super) inbox: Vec<NodeInput>,
    /// The node its standby session to the leader is open to.
    pub(super) link: Option<usize>,
    /// Per roster worker: the connection it is attached over.
    pub(super) workers: Vec<Option<ConnectionId>>,
    pub(super) next_connection: u64,
}

/// Node `index`'s own master.
pub(super) fn master_name(index: usize) -> String {
    format!("node-{index}")
}

pub(super) fn worker_name(index: usize, worker: usize) -> String {
    format!("w{index}-{worker}")
}

/// The connection at the leader that carries standby `index`'s session.
pub(super) fn standby_session(index: usize) -> ConnectionId {
    ConnectionId(900_000 + index as u64)
}

/// The standby whose session `connection` is, at a leader.
pub(super) fn standby_of(connection: ConnectionId, nodes: usize) -> Option<usize> {
    (0..nodes).find(|&index| standby_session(index) == connection)
}

/// Node `index`'s configuration: its own workers, every other node's master and the
/// remote master allowed in, a heartbeat a third of the expiry window.
pub(super) fn node_config(index: usize, nodes: usize, registry: RegistryConfig) -> NodeConfig {
    let workers = (0..WORKERS_PER_NODE)
        .map(|worker| {
            let name = worker_name(index, worker);
            WorkerConfig::new(&name, Password::new(format!("pw-{name}")), vec!["b".to_string()])
        })
        .collect();
    let Ok(roster) = Roster::new(workers) else { unreachable!("distinct names") };
    let masters = (0..nodes)
        .filter(|&other| other != index)
        .map(master_name)
        .chain([REMOTE.to_string()])
        .map(|name| (name, vec![TOKEN]))
        .collect();
    NodeConfig {
        master_name: master_name(index),
        registry,
        gateway: GatewayConfig {
            duplicate_policy: DuplicatePolicy::DropOlder,
            // No keepalive traffic is simulated: a worker only leaves when the workload
            // closes it, so any other close is a failover's doing.
            keepalive_timeout_ms: u64::MAX / 4,
            ping_timeout_ms: u64::MAX / 4,
            missing_timeout_ms: u64::MAX / 4,
        },
        roster,
        builder_names: vec!["b".into()],
        heartbeat_interval_ms: heartbeat_interval_ms(registry),
        row_caps: RowCaps { max_masters: 64, max_rows_per_kind: 100_000 },
        masters,
    }
}

/// A third of the window: two heartbeats may be lost before a master expires.
pub(super) fn heartbeat_interval_ms(registry: RegistryConfig) -> u64 {
    (registry.expiry_window_ms / 3).max(1)
}

impl Member {
    pub(super) fn new(
        index: usize,
        replicator: Replicator<SimStore>,
        config: NodeConfig,
        now: Timestamp,
        first_request_id: u64,
    ) -> Member {
        let Ok(node) = Node::start_forwarding(now, config, first_request_id) else {
            unreachable!("the simulated configuration is valid")
        };
        Member {
            replicator,
            node,
            expiry_floor: Timestamp::from_millis(0),
            paused_until_ms: 0,
            inbox: Vec::new(),
            link: None,
            workers: vec![None; WORKERS_PER_NODE],
            next_connection: 1_000_000 * (index as u64 + 1),
        }
    }

    /// A Hello for roster worker `worker` on a new connection.
    pub(super) fn attach(&mut self, index: usize, worker: usize) -> NodeInput {
        self.next_connection += 1;
        let connection = ConnectionId(self.next_connection);
        self.workers[worker] = Some(connection);
        let name = worker_name(index, worker);
        NodeInput::WorkerHello {
            connection,
            password: Password::new(format!("pw-{name}")),
            worker: name,
        }
    }
}
