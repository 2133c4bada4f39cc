//! Keepalive deadlines and the missing timer.

mod common;

use common::{events, worker, GatewayScenario};
use rollcall_core::{
    CloseReason, ConnectionId, GatewayConfig, GatewayEvent, GatewayOutput, Timestamp,
};

fn config() -> GatewayConfig {
    GatewayConfig {
        keepalive_timeout_ms: 1_000,
        missing_timeout_ms: 5_000,
        ..GatewayConfig::default()
    }
}

#[test]
fn a_connection_silent_for_longer_than_the_keepalive_timeout_is_closed() {
    let mut scenario = GatewayScenario::new(config(), &[worker("w1", "pw", &[])]);
    scenario.hello(1, "w1", "pw");
    assert_eq!(scenario.gateway.poll_timeout(), Some(Timestamp::from_millis(1_001)));
    scenario.at_millis(1_000);
    assert!(scenario.timeout().is_empty(), "exactly the timeout is still alive");
    scenario.at_millis(1_001);
    let outputs = scenario.timeout();
    assert_eq!(
        outputs,
        vec![
            GatewayOutput::Close {
                connection: ConnectionId(1),
                reason: CloseReason::KeepaliveTimeout
            },
            GatewayOutput::Event(GatewayEvent::Detached {
                worker: "w1".into(),
                connection: ConnectionId(1),
                reason: CloseReason::KeepaliveTimeout
            }),
        ]
    );
    assert!(scenario.timeout().is_empty(), "handle_timeout is idempotent");
}

#[test]
fn keepalives_keep_a_connection_open() {
    let mut scenario = GatewayScenario::new(config(), &[worker("w1", "pw", &[])]);
    scenario.hello(1, "w1", "pw");
    for moment in (900..20_000).step_by(900) {
        scenario.at_millis(moment);
        assert!(scenario.timeout().is_empty());
        scenario.keepalive(1);
    }
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
}

#[test]
fn a_worker_disconnected_for_longer_than_the_missing_timeout_is_reported_once() {
    let mut scenario = GatewayScenario::new(config(), &[worker("w1", "pw", &[])]);
    scenario.at_millis(2_000);
    scenario.hello(1, "w1", "pw");
    scenario.at_millis(2_500);
    scenario.closed(1);
    // Missing counts from the disconnect, not from startup.
    scenario.at_millis(7_500);
    assert!(scenario.timeout().is_empty());
    scenario.at_millis(7_501);
    assert_eq!(events(&scenario.timeout()), vec![GatewayEvent::Missing { worker: "w1".into() }]);
    scenario.at_millis(50_000);
    assert!(scenario.timeout().is_empty(), "reported once per disconnection");
    assert_eq!(scenario.gateway.poll_timeout(), None);
}

#[test]
fn a_worker_that_never_connects_is_reported_missing_after_the_timeout_from_startup() {
    let mut scenario = GatewayScenario::new(config(), &[worker("w1", "pw", &[])]);
    let outputs = scenario.advance_to_next_deadline();
    assert_eq!(scenario.now, Timestamp::from_millis(5_001));
    assert_eq!(events(&outputs), vec![GatewayEvent::Missing { worker: "w1".into() }]);
}

#[test]
fn reconnecting_in_time_cancels_the_missing_report() {
    let mut scenario = GatewayScenario::new(config(), &[worker("w1", "pw", &[])]);
    scenario.at_millis(4_000);
    scenario.hello(1, "w1", "pw");
    scenario.keepalive(1);
    scenario.at_millis(4_900);
    scenario.keepalive(1);
    scenario.at_millis(5_001);
    assert!(scenario.timeout().is_empty());
}
