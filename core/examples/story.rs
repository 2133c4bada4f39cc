//! A ten-minute story of one cluster, told by the core alone: two masters heartbeat, a
//! worker attaches to one of them (and again, as a duplicate), one master goes silent and
//! is expired, and what it held is given back. Prints every event with its moment.
//!
//! Run with `cargo run -p rollcall-core --example story`.

use rollcall_core::registry::RegistryInput;
use rollcall_core::{
    Command, ConnectionId, Gateway, GatewayConfig, GatewayEvent, GatewayInput, GatewayOutput,
    MasterId, Password, Registry, RegistryConfig, RegistryOutput, Reply, ReplyToken, Roster,
    Timestamp, WorkerConfig,
};

struct Cluster {
    registry: Registry,
    gateway: Gateway,
    gateway_master: MasterId,
    next_token: u64,
}

impl Cluster {
    fn command(&mut self, now: Timestamp, command: Command) -> Option<Reply> {
        self.next_token += 1;
        let input = RegistryInput { token: ReplyToken(self.next_token), command };
        self.registry.handle(now, input);
        self.drain_registry(now)
    }

    fn drain_registry(&mut self, now: Timestamp) -> Option<Reply> {
        let mut reply = None;
        while let Some(output) = self.registry.poll_output() {
            match output {
                RegistryOutput::Event(event) => println!("{now}  registry  {}", event.topic()),
                RegistryOutput::Reply { result, .. } => reply = result.ok(),
                RegistryOutput::Persist(_) => {}
            }
        }
        reply
    }

    fn worker_input(&mut self, now: Timestamp, input: GatewayInput) {
        self.gateway.handle(now, input);
        self.drain_gateway(now);
    }

    /// Gateway events become Registry commands, exactly as the daemon wires them.
    fn drain_gateway(&mut self, now: Timestamp) {
        while let Some(output) = self.gateway.poll_output() {
            match output {
                GatewayOutput::Send { connection, message } => {
                    println!("{now}  gateway   -> {connection}: {message:?}");
                }
                GatewayOutput::Close { connection, reason } => {
                    println!("{now}  gateway   close {connection}: {reason:?}");
                }
                GatewayOutput::Event(GatewayEvent::Attached { worker, connection }) => {
                    let master = self.gateway_master;
                    let command =
                        Command::WorkerConnected { master, worker_name: worker, connection };
                    self.command(now, command);
                }
                GatewayOutput::Event(GatewayEvent::Detached { worker, connection, .. }) => {
                    let master = self.gateway_master;
                    let command =
                        Command::WorkerDisconnected { master, worker_name: worker, connection };
                    self.command(now, command);
                }
                GatewayOutput::Event(event) => println!("{now}  gateway   {event:?}"),
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Timestamp::from_secs(1_700_000_000);
    let roster = Roster::new(vec![WorkerConfig::new(
        "w1",
        Password::new("s3cret"),
        vec!["linux".into(), "mac".into()],
    )])?;
    let mut cluster = Cluster {
        registry: Registry::new(RegistryConfig::default()),
        gateway: Gateway::new(start, GatewayConfig::default(), roster)?,
        gateway_master: MasterId(0),
        next_token: 0,
    };

    let name = |name: &str| Command::MasterActive { name: name.into() };
    let Some(Reply::Master(build1)) = cluster.command(start, name("build1:/srv/rollcall")) else {
        return Err("build1 was not registered".into());
    };
    cluster.gateway_master = build1;
    cluster.command(start, name("build2:/srv/rollcall"));
    let builders = vec!["linux".to_string(), "mac".to_string()];
    cluster.command(start, Command::SetBuilderList { master: build1, builder_names: builders });

    let hello = |connection| GatewayInput::Hello {
        connection: ConnectionId(connection),
        worker: "w1".into(),
        password: Password::new("s3cret"),
    };
    cluster.worker_input(start.plus_millis(1_000), hello(1));
    // The same worker again, from a second connection: the older one is dropped.
    cluster.worker_input(start.plus_millis(2_000), hello(2));

    // build2 keeps heartbeating every minute; build1 falls silent after its first beat.
    for minute in 1..=11 {
        let now = start.plus_millis(minute * 60_000);
        cluster.command(now, name("build2:/srv/rollcall"));
        cluster.worker_input(now, GatewayInput::Keepalive { connection: ConnectionId(2) });
        cluster.command(now, Command::ExpireMasters { force_housekeeping: false });
    }
    for master in cluster.registry.masters() {
        println!("master {} {:?} active={}", master.id, master.name, master.active);
    }
    Ok(())
}
