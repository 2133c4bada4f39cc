//! Hello, authentication and attach: the seed's BotPerspective rules.

mod common;

use common::{events, sent, worker, GatewayScenario};
use rollcall_core::gateway::RejectionCause;
use rollcall_core::{
    CloseReason, ConnectionId, GatewayConfig, GatewayEvent, GatewayOutput, RejectReason, ToWorker,
};
use std::sync::Arc;

fn builders(names: &[&str]) -> Arc<[String]> {
    names.iter().map(|name| name.to_string()).collect()
}

fn scenario() -> GatewayScenario {
    GatewayScenario::new(
        GatewayConfig::default(),
        &[worker("w1", "s3cret", &["mac", "linux"]), worker("w2", "other", &[])],
    )
}

#[test]
fn a_configured_worker_is_welcomed_then_told_its_builders() {
    let mut scenario = scenario();
    let outputs = scenario.hello(1, "w1", "s3cret");
    assert_eq!(
        outputs,
        vec![
            sent(1, ToWorker::Welcome),
            sent(1, ToWorker::BuilderList { builders: builders(&["linux", "mac"]) }),
            GatewayOutput::Event(GatewayEvent::Attached {
                worker: "w1".into(),
                connection: ConnectionId(1)
            }),
        ]
    );
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
    assert_eq!(scenario.gateway.attached_count(), 1);
}

#[test]
fn unknown_name_and_wrong_password_get_the_same_answer() {
    let mut scenario = scenario();
    let unknown = scenario.hello(1, "nobody", "s3cret");
    let wrong = scenario.hello(2, "w1", "guess");
    let answer = |connection| {
        vec![
            sent(connection, ToWorker::Rejected { reason: RejectReason::AuthenticationFailed }),
            GatewayOutput::Close {
                connection: ConnectionId(connection),
                reason: CloseReason::AuthenticationFailed,
            },
        ]
    };
    // What the peer sees (messages and close) is identical; only the event, for the
    // operator, says which it was.
    assert_eq!(unknown[..2], answer(1)[..]);
    assert_eq!(wrong[..2], answer(2)[..]);
    assert_eq!(
        events(&unknown),
        vec![GatewayEvent::Rejected {
            worker: "nobody".into(),
            connection: ConnectionId(1),
            cause: RejectionCause::UnknownWorker
        }]
    );
    assert_eq!(
        events(&wrong),
        vec![GatewayEvent::Rejected {
            worker: "w1".into(),
            connection: ConnectionId(2),
            cause: RejectionCause::WrongPassword
        }]
    );
    assert_eq!(scenario.gateway.attached_count(), 0, "nothing else changes");
    assert_eq!(
        scenario.gateway.poll_timeout(),
        Some(rollcall_core::Timestamp::from_millis(3_600_001))
    );
}

#[test]
fn a_rejected_connection_is_forgotten_so_its_messages_change_nothing() {
    let mut scenario = scenario();
    scenario.hello(1, "w1", "wrong");
    assert!(scenario.keepalive(1).is_empty());
    assert!(scenario.closed(1).is_empty());
}

#[test]
fn an_overlong_unknown_name_is_cut_before_it_reaches_the_logs() {
    let mut scenario = scenario();
    let name = "é".repeat(rollcall_core::MAX_NAME_BYTES);
    let outputs = scenario.hello(1, &name, "x");
    let [GatewayEvent::Rejected { worker, .. }] = &events(&outputs)[..] else {
        panic!("{outputs:?}")
    };
    assert!(worker.len() <= rollcall_core::MAX_NAME_BYTES);
    assert!(worker.chars().all(|c| c == 'é'));
}

#[test]
fn a_second_hello_on_an_attached_connection_closes_it() {
    let mut scenario = scenario();
    scenario.hello(1, "w1", "s3cret");
    let outputs = scenario.hello(1, "w2", "other");
    assert_eq!(
        outputs,
        vec![
            GatewayOutput::Close {
                connection: ConnectionId(1),
                reason: CloseReason::ProtocolViolation
            },
            GatewayOutput::Event(GatewayEvent::Detached {
                worker: "w1".into(),
                connection: ConnectionId(1),
                reason: CloseReason::ProtocolViolation
            }),
        ]
    );
    assert_eq!(scenario.gateway.attached_count(), 0);
}

#[test]
fn a_peer_close_detaches_and_a_keepalive_is_acknowledged() {
    let mut scenario = scenario();
    scenario.hello(1, "w1", "s3cret");
    assert_eq!(scenario.keepalive(1), vec![sent(1, ToWorker::KeepaliveAck)]);
    let outputs = scenario.closed(1);
    assert_eq!(
        events(&outputs),
        vec![GatewayEvent::Detached {
            worker: "w1".into(),
            connection: ConnectionId(1),
            reason: CloseReason::PeerClosed
        }]
    );
    assert!(
        !outputs.iter().any(|o| matches!(o, GatewayOutput::Close { .. })),
        "a connection the peer closed is not closed again"
    );
    assert_eq!(scenario.gateway.attached_connection("w1"), None);
}
