//! Scenario helpers: drive a machine one input at a time, check its invariants after every
//! input, and collect what it says.
#![allow(dead_code, unreachable_pub)]

use rollcall_core::registry::{MasterRecord, RegistryInput};
use rollcall_core::{
    Change, Command, CommandError, ConnectionId, Gateway, GatewayConfig, GatewayEvent,
    GatewayInput, GatewayOutput, MasterId, Password, Record, Registry, RegistryConfig,
    RegistryEvent, RegistryOutput, Reply, ReplyToken, Roster, Timestamp, ToWorker, WorkerConfig,
};

/// Everything one Registry input produced.
#[derive(Debug, Default)]
pub struct Drained {
    pub reply: Option<Result<Reply, CommandError>>,
    pub events: Vec<RegistryEvent>,
    pub changes: Vec<Change>,
}

pub struct RegistryScenario {
    pub registry: Registry,
    pub now: Timestamp,
    next_token: u64,
}

impl RegistryScenario {
    pub fn new() -> Self {
        Self::with(Registry::new(RegistryConfig::default()))
    }

    pub fn with(registry: Registry) -> Self {
        assert_eq!(registry.check_invariants(), Ok(()));
        RegistryScenario { registry, now: Timestamp::EPOCH, next_token: 1 }
    }

    /// A registry recovered from master rows, as Buildbot's tests insert them.
    pub fn with_masters(masters: &[(u64, &str, bool, u64)]) -> Self {
        let rows = masters.iter().map(|&(id, name, active, last_active_secs)| {
            Record::Master(MasterRecord {
                id: MasterId(id),
                name: name.to_string(),
                active,
                last_active: Timestamp::from_secs(last_active_secs),
            })
        });
        Self::with(Registry::recover(RegistryConfig::default(), rows).expect("valid rows"))
    }

    pub fn at_secs(&mut self, seconds: u64) -> &mut Self {
        self.now = Timestamp::from_secs(seconds);
        self
    }

    pub fn at_millis(&mut self, millis: u64) -> &mut Self {
        self.now = Timestamp::from_millis(millis);
        self
    }

    pub fn run(&mut self, command: Command) -> Drained {
        let token = ReplyToken(self.next_token);
        self.next_token += 1;
        self.registry.handle(self.now, RegistryInput { token, command });
        assert_eq!(self.registry.check_invariants(), Ok(()));
        let drained = drain_registry(&mut self.registry);
        assert!(drained.reply.is_some(), "every command gets a reply");
        drained
    }

    pub fn timeout(&mut self) -> Drained {
        self.registry.handle_timeout(self.now);
        assert_eq!(self.registry.check_invariants(), Ok(()));
        let drained = drain_registry(&mut self.registry);
        assert!(drained.reply.is_none(), "a timeout answers nobody");
        drained
    }

    pub fn ok(&mut self, command: Command) -> Reply {
        let drained = self.run(command.clone());
        match drained.reply {
            Some(Ok(reply)) => reply,
            other => panic!("{command:?} was refused: {other:?}"),
        }
    }

    pub fn refused(&mut self, command: Command) -> CommandError {
        let drained = self.run(command.clone());
        assert!(drained.changes.is_empty(), "a refused command persists nothing");
        assert!(drained.events.is_empty(), "a refused command announces nothing");
        match drained.reply {
            Some(Err(error)) => error,
            other => panic!("{command:?} was accepted: {other:?}"),
        }
    }

    pub fn master_active(&mut self, name: &str) -> MasterId {
        match self.ok(Command::MasterActive { name: name.to_string() }) {
            Reply::Master(id) => id,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    pub fn master(&self, id: MasterId) -> MasterRecord {
        self.registry.master(id).expect("master exists").clone()
    }
}

pub fn drain_registry(registry: &mut Registry) -> Drained {
    let mut drained = Drained::default();
    while let Some(output) = registry.poll_output() {
        match output {
            RegistryOutput::Persist(change) => drained.changes.push(change),
            RegistryOutput::Event(event) => drained.events.push(event),
            RegistryOutput::Reply { result, .. } => {
                assert!(drained.reply.is_none(), "one reply per command");
                drained.reply = Some(result);
            }
        }
    }
    drained
}

pub fn worker(name: &str, password: &str, builders: &[&str]) -> WorkerConfig {
    WorkerConfig::new(
        name,
        Password::new(password),
        builders.iter().map(|builder| builder.to_string()).collect(),
    )
}

pub fn roster(workers: &[WorkerConfig]) -> Roster {
    Roster::new(workers.to_vec()).expect("valid roster")
}

pub struct GatewayScenario {
    pub gateway: Gateway,
    pub now: Timestamp,
}

impl GatewayScenario {
    pub fn new(config: GatewayConfig, workers: &[WorkerConfig]) -> Self {
        let gateway = Gateway::new(Timestamp::EPOCH, config, roster(workers)).expect("valid");
        assert_eq!(gateway.check_invariants(), Ok(()));
        GatewayScenario { gateway, now: Timestamp::EPOCH }
    }

    pub fn at_millis(&mut self, millis: u64) -> &mut Self {
        self.now = Timestamp::from_millis(millis);
        self
    }

    pub fn input(&mut self, input: GatewayInput) -> Vec<GatewayOutput> {
        self.gateway.handle(self.now, input);
        assert_eq!(self.gateway.check_invariants(), Ok(()));
        drain_gateway(&mut self.gateway)
    }

    pub fn hello(&mut self, connection: u64, worker: &str, password: &str) -> Vec<GatewayOutput> {
        self.input(GatewayInput::Hello {
            connection: ConnectionId(connection),
            worker: worker.to_string(),
            password: Password::new(password),
        })
    }

    pub fn closed(&mut self, connection: u64) -> Vec<GatewayOutput> {
        self.input(GatewayInput::Closed { connection: ConnectionId(connection) })
    }

    pub fn keepalive(&mut self, connection: u64) -> Vec<GatewayOutput> {
        self.input(GatewayInput::Keepalive { connection: ConnectionId(connection) })
    }

    /// Fires whatever is due at the current moment.
    pub fn timeout(&mut self) -> Vec<GatewayOutput> {
        self.gateway.handle_timeout(self.now);
        assert_eq!(self.gateway.check_invariants(), Ok(()));
        drain_gateway(&mut self.gateway)
    }

    /// Jumps to the next deadline and fires it.
    pub fn advance_to_next_deadline(&mut self) -> Vec<GatewayOutput> {
        let next = self.gateway.poll_timeout().expect("a deadline is pending");
        assert!(next >= self.now, "deadlines never lie in the past");
        self.now = next;
        self.timeout()
    }
}

pub fn drain_gateway(gateway: &mut Gateway) -> Vec<GatewayOutput> {
    std::iter::from_fn(|| gateway.poll_output()).collect()
}

pub fn sent(connection: u64, message: ToWorker) -> GatewayOutput {
    GatewayOutput::Send { connection: ConnectionId(connection), message }
}

pub fn events(outputs: &[GatewayOutput]) -> Vec<GatewayEvent> {
    outputs
        .iter()
        .filter_map(|output| match output {
            GatewayOutput::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}
