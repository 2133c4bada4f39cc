//! Everything that can happen in a simulated run.

use rollcall_core::node::RequestError;
use rollcall_core::{Command, ConnectionId, GatewayInput, NodeInput, Reply, ToWorker};

#[derive(Debug)]
pub(crate) enum Event {
    /// A master's session message reaches the Node process of `epoch` (a newer process
    /// never hears an older one's connections).
    ToNode {
        epoch: u64,
        input: NodeInput,
    },
    /// The Node's reply reaches a master (of the incarnation that asked).
    ToMaster {
        master: usize,
        incarnation: u64,
        command: Command,
        result: Result<Reply, RequestError>,
    },
    /// A worker's message (or the end of its connection) reaches a master's Gateway.
    ToGateway {
        connection: ConnectionId,
        input: GatewayInput,
    },
    /// A Gateway's message reaches a worker; `None` means the connection is closed.
    ToWorker {
        connection: ConnectionId,
        message: Option<ToWorker>,
    },
    MasterHeartbeat {
        master: usize,
        incarnation: u64,
    },
    MasterWorkload {
        master: usize,
        incarnation: u64,
    },
    GatewayWake {
        master: usize,
        incarnation: u64,
    },
    NodeWake,
    WorkerTick {
        worker: usize,
    },
    Fault,
    RestartNode,
    RestartMaster {
        master: usize,
    },
    Thaw {
        master: usize,
    },
    /// The safety phase ends: every fault is healed for the liveness phase.
    Heal,
}
