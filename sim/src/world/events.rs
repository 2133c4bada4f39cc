//! Everything that can happen in a simulated run.

use rollcall_core::{
    Command, CommandError, ConnectionId, GatewayInput, Reply, ReplyToken, ToWorker,
};

#[derive(Debug)]
pub(crate) enum Event {
    /// A master's command reaches the registry.
    ToRegistry {
        master: usize,
        incarnation: u64,
        token: ReplyToken,
        command: Command,
    },
    /// The registry's reply reaches a master (of the incarnation that asked).
    ToMaster {
        master: usize,
        incarnation: u64,
        command: Command,
        result: Result<Reply, CommandError>,
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
    RegistryWake,
    WorkerTick {
        worker: usize,
    },
    Fault,
    RestartRegistry,
    RestartMaster {
        master: usize,
    },
    Thaw {
        master: usize,
    },
    /// The safety phase ends: every fault is healed for the liveness phase.
    Heal,
}
