//! Each test builds a valid Gateway through its public inputs, corrupts one piece of
//! private state, and checks that `check_invariants` names the problem.

use std::sync::Arc;

use crate::deadline_queue::DeadlineQueue;
use crate::gateway::{Connection, ConnectionState, Gateway};
use crate::{
    ConnectionId, DuplicatePolicy, GatewayConfig, GatewayInput, Password, Roster, Timestamp,
    WorkerConfig,
};

const NOW: Timestamp = Timestamp::from_millis(1_000);

fn hello(gateway: &mut Gateway, connection: u64, worker: &str) {
    let input = GatewayInput::Hello {
        connection: ConnectionId(connection),
        worker: worker.into(),
        password: Password::new("pw"),
    };
    gateway.handle(NOW, input);
    while gateway.poll_output().is_some() {}
}

/// Workers w1 and w2 attached over connections 1 and 2, w3 configured but never seen;
/// under `ping-old`, connection 3 waits for the verdict on w1.
fn gateway() -> Gateway {
    let config = GatewayConfig { duplicate_policy: DuplicatePolicy::PingOld, ..Default::default() };
    let workers = ["w1", "w2", "w3"]
        .iter()
        .map(|name| WorkerConfig::new(*name, Password::new("pw"), vec!["linux".into()]))
        .collect();
    let roster = match Roster::new(workers) {
        Ok(roster) => roster,
        Err(error) => panic!("valid roster: {error}"),
    };
    let mut gateway = match Gateway::new(Timestamp::EPOCH, config, roster) {
        Ok(gateway) => gateway,
        Err(error) => panic!("valid config: {error}"),
    };
    hello(&mut gateway, 1, "w1");
    hello(&mut gateway, 2, "w2");
    hello(&mut gateway, 3, "w1");
    assert_eq!(gateway.attached_connection("w1"), Some(ConnectionId(1)));
    assert_eq!(gateway.check_invariants(), Ok(()), "the gateway itself is valid");
    gateway
}

fn assert_reports(gateway: &Gateway, expected: &str) {
    match gateway.check_invariants() {
        Ok(()) => panic!("the corruption went unnoticed"),
        Err(broken) => {
            assert_eq!(broken.machine, "gateway");
            let what = broken.what;
            assert!(what.contains(expected), "reported {what:?}, expected it to say {expected:?}");
        }
    }
}

/// A worker is attached through one connection at most: a second attached connection for
/// w1 (counted and timed, so that only the duplicate is wrong) is reported.
#[test]
fn a_worker_attached_twice_is_reported() {
    let mut gateway = gateway();
    let state = ConnectionState::Attached { last_heard: NOW };
    gateway.connections.insert(ConnectionId(9), Connection { worker: Arc::from("w1"), state });
    gateway.keepalive_deadlines.push(NOW, ConnectionId(9));
    gateway.attached_count += 1;
    assert_reports(
        &gateway,
        "connection 9 is attached as worker \"w1\", whose attached connection is \
         Some(ConnectionId(1)): one worker, two attached connections",
    );
}

/// Every connection belongs to a worker in the roster: an attached worker whose slot is
/// gone is reported.
#[test]
fn an_attached_worker_missing_from_the_roster_is_reported() {
    let mut gateway = gateway();
    gateway.slots.remove("w2");
    assert_reports(&gateway, "connection 2 belongs to worker \"w2\", who is not in the roster");
}

/// The attached counter equals the number of attached workers.
#[test]
fn an_attached_count_off_by_one_is_reported() {
    let mut gateway = gateway();
    gateway.attached_count -= 1;
    assert_reports(&gateway, "attached_count is 1 but 2 workers are attached");
}

/// A slot's attached connection is held by the gateway, attached as that worker.
#[test]
fn a_slot_naming_a_forgotten_connection_is_reported() {
    let mut gateway = gateway();
    gateway.connections.remove(&ConnectionId(2));
    assert_reports(
        &gateway,
        "worker \"w2\" is attached through connection 2, which is not held by the gateway",
    );
}

/// A connection waits for a verdict only while another is attached for its worker.
#[test]
fn a_waiting_connection_without_an_attached_one_is_reported() {
    let mut gateway = gateway();
    gateway.slot_mut("w3").waiting = Some(ConnectionId(3));
    assert_reports(&gateway, "worker \"w3\" has connection Some(ConnectionId(3)) waiting");
}

/// An attached worker holds the builder list it is configured with.
#[test]
fn a_stale_pushed_builder_list_is_reported() {
    let mut gateway = gateway();
    gateway.slot_mut("w2").pushed_builders = Some(Arc::from(Vec::new()));
    assert_reports(&gateway, "attached worker \"w2\" was last pushed builders Some([])");
}

/// Every attached connection has a live keepalive deadline, or a silent worker would never
/// be closed; with two such connections, the smallest id is reported.
#[test]
fn an_attached_connection_without_a_keepalive_deadline_is_reported() {
    let mut gateway = gateway();
    gateway.keepalive_deadlines = DeadlineQueue::new();
    assert_reports(&gateway, "connection 1 (worker \"w1\") has no live keepalive deadline");
}

/// A waiting connection has a live ping deadline, or an unanswered ping would leave it
/// waiting forever.
#[test]
fn a_waiting_connection_without_a_ping_deadline_is_reported() {
    let mut gateway = gateway();
    gateway.ping_deadlines = DeadlineQueue::new();
    assert_reports(&gateway, "connection 3 (worker \"w1\") has no live ping deadline");
}

/// A disconnected worker not yet reported missing has a live missing deadline.
#[test]
fn a_disconnected_worker_without_a_missing_deadline_is_reported() {
    let mut gateway = gateway();
    gateway.missing_deadlines = DeadlineQueue::new();
    assert_reports(&gateway, "worker \"w3\", disconnected since 0.000s, has no live missing");
}

/// Ping nonces are handed out once each: a pending nonce at or above the next one would be
/// handed out again.
#[test]
fn a_pending_nonce_that_would_be_reused_is_reported() {
    let mut gateway = gateway();
    gateway.next_ping_nonce = 1;
    assert_reports(&gateway, "connection 3 waits on ping nonce 1, but the next nonce");
}

/// An attached worker is not marked missing (a later detach must report it afresh).
#[test]
fn an_attached_worker_marked_missing_is_reported() {
    let mut gateway = gateway();
    gateway.slot_mut("w1").missing_reported = true;
    assert_reports(&gateway, "attached worker \"w1\" is marked as reported missing");
}
