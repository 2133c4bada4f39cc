//! Inputs and outputs are plain data: every one survives a JSON round trip unchanged, so a
//! run can be recorded and replayed. Driven through a real scenario, so that every kind of
//! output a story produces is covered, not a hand-picked few.

mod common;

use common::{drain_gateway, roster, worker};
use rollcall_core::registry::RegistryInput;
use rollcall_core::{
    Command, ConnectionId, Gateway, GatewayConfig, GatewayInput, GatewayOutput, MasterId, Password,
    Registry, RegistryConfig, RegistryOutput, ReplyToken, Results, ServiceKind, Timestamp,
};
use serde::{de::DeserializeOwned, Serialize};

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).expect("serialises");
    let back: T = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(&back, value, "{json}");
}

#[test]
fn registry_inputs_and_outputs_round_trip() {
    let mut registry = Registry::new(RegistryConfig::default());
    let commands = vec![
        Command::MasterActive { name: "m".into() },
        Command::SetBuilderList { master: MasterId(1), builder_names: vec!["b".into()] },
        Command::SetConfiguredWorkers { master: MasterId(1), worker_names: vec!["w".into()] },
        Command::ClaimService {
            master: MasterId(1),
            kind: ServiceKind::ChangeSource,
            name: "s".into(),
        },
        Command::SubmitBuildRequest { master: MasterId(1), builder_name: "b".into() },
        Command::ClaimBuildRequests {
            master: MasterId(1),
            requests: vec![rollcall_core::BuildRequestId(1)],
        },
        Command::StartBuild {
            master: MasterId(1),
            request: rollcall_core::BuildRequestId(1),
            worker_name: "w".into(),
        },
        Command::WorkerConnected {
            master: MasterId(1),
            worker_name: "w".into(),
            connection: ConnectionId(4),
        },
        Command::ClaimBuildRequests {
            master: MasterId(1),
            requests: vec![rollcall_core::BuildRequestId(9)],
        },
        Command::MasterStopped { master: MasterId(1) },
        Command::ExpireMasters { force_housekeeping: true },
        Command::FinishBuild {
            master: MasterId(1),
            build: rollcall_core::BuildId(1),
            results: Results::SUCCESS,
        },
    ];
    let mut outputs: Vec<RegistryOutput> = Vec::new();
    for (token, command) in commands.into_iter().enumerate() {
        let input = RegistryInput { token: ReplyToken(token as u64), command };
        round_trips(&input);
        registry.handle(Timestamp::from_secs(token as u64), input);
        outputs.extend(std::iter::from_fn(|| registry.poll_output()));
    }
    assert!(outputs.len() > 20);
    assert!(outputs.iter().any(|o| matches!(o, RegistryOutput::Reply { result: Err(_), .. })));
    outputs.iter().for_each(round_trips);
    registry.records().iter().for_each(round_trips);
}

#[test]
fn gateway_inputs_and_outputs_round_trip() {
    let mut gateway = Gateway::new(
        Timestamp::EPOCH,
        GatewayConfig::default(),
        roster(&[worker("w", "pw", &["b"])]),
    )
    .expect("valid");
    let inputs = vec![
        GatewayInput::Hello {
            connection: ConnectionId(1),
            worker: "w".into(),
            password: Password::new("pw"),
        },
        GatewayInput::Hello {
            connection: ConnectionId(2),
            worker: "x".into(),
            password: Password::new("pw"),
        },
        GatewayInput::Keepalive { connection: ConnectionId(1) },
        GatewayInput::Pong { connection: ConnectionId(1), nonce: 3 },
        GatewayInput::Reconfig {
            config: GatewayConfig::default(),
            roster: roster(&[worker("w", "pw", &["c"])]),
        },
        GatewayInput::Hello {
            connection: ConnectionId(3),
            worker: "w".into(),
            password: Password::new("pw"),
        },
        GatewayInput::Closed { connection: ConnectionId(3) },
    ];
    let mut outputs: Vec<GatewayOutput> = Vec::new();
    for input in inputs {
        round_trips(&input);
        gateway.handle(Timestamp::EPOCH, input);
        outputs.extend(drain_gateway(&mut gateway));
    }
    gateway.handle_timeout(Timestamp::from_secs(7_200));
    outputs.extend(drain_gateway(&mut gateway));
    assert!(outputs.len() > 10);
    outputs.iter().for_each(round_trips);
}
