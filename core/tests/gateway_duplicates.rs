//! Two connections for one worker, under both policies (Buildbot issues #4678 and #6324:
//! a late close of the replaced connection must never detach its replacement).

mod common;

use common::{events, sent, worker, GatewayScenario};
use rollcall_core::gateway::RejectionCause;
use rollcall_core::{
    CloseReason, ConnectionId, DuplicatePolicy, GatewayConfig, GatewayEvent, GatewayInput,
    GatewayOutput, RejectReason, ToWorker,
};

fn scenario(policy: DuplicatePolicy) -> GatewayScenario {
    let config = GatewayConfig { duplicate_policy: policy, ..GatewayConfig::default() };
    GatewayScenario::new(config, &[worker("w1", "pw", &["linux"])])
}

fn detached(connection: u64, reason: CloseReason) -> GatewayEvent {
    GatewayEvent::Detached { worker: "w1".into(), connection: ConnectionId(connection), reason }
}

fn attached(connection: u64) -> GatewayEvent {
    GatewayEvent::Attached { worker: "w1".into(), connection: ConnectionId(connection) }
}

#[test]
fn drop_older_closes_and_detaches_the_old_connection_before_attaching_the_new() {
    let mut scenario = scenario(DuplicatePolicy::DropOlder);
    scenario.hello(1, "w1", "pw");
    let outputs = scenario.hello(2, "w1", "pw");
    assert_eq!(
        outputs[0],
        GatewayOutput::Close {
            connection: ConnectionId(1),
            reason: CloseReason::ReplacedByNewerConnection
        }
    );
    assert_eq!(
        events(&outputs),
        vec![
            detached(1, CloseReason::ReplacedByNewerConnection),
            attached(2),
            GatewayEvent::DuplicateResolved {
                worker: "w1".into(),
                policy: DuplicatePolicy::DropOlder,
                kept: ConnectionId(2),
                dropped: ConnectionId(1),
            },
        ]
    );
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(2)));
}

#[test]
fn a_late_close_of_the_replaced_connection_never_detaches_the_new_one() {
    for policy in [DuplicatePolicy::DropOlder, DuplicatePolicy::PingOld] {
        let mut scenario = scenario(policy);
        scenario.hello(1, "w1", "pw");
        scenario.at_millis(5);
        scenario.hello(2, "w1", "pw");
        if policy == DuplicatePolicy::PingOld {
            // The old connection never answers: the newcomer takes over at the deadline.
            scenario.advance_to_next_deadline();
        }
        assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(2)));
        // The old socket's close (or its last keepalive) arrives late.
        assert!(scenario.keepalive(1).is_empty(), "{policy:?}");
        assert!(scenario.closed(1).is_empty(), "{policy:?}");
        assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(2)));
    }
}

#[test]
fn ping_old_keeps_an_old_connection_that_answers() {
    let mut scenario = scenario(DuplicatePolicy::PingOld);
    scenario.hello(1, "w1", "pw");
    scenario.at_millis(100);
    let outputs = scenario.hello(2, "w1", "pw");
    let [GatewayOutput::Send { connection: ConnectionId(1), message: ToWorker::Ping { nonce } }] =
        outputs[..]
    else {
        panic!("expected a ping of the old connection, got {outputs:?}")
    };
    assert_eq!(
        scenario.gateway.poll_timeout(),
        Some(rollcall_core::Timestamp::from_millis(10_101))
    );

    scenario.at_millis(10_100);
    let outputs = scenario.input(GatewayInput::Pong { connection: ConnectionId(1), nonce });
    assert_eq!(
        outputs,
        vec![
            sent(2, ToWorker::Rejected { reason: RejectReason::DuplicateConnection }),
            GatewayOutput::Close {
                connection: ConnectionId(2),
                reason: CloseReason::DuplicateRejected
            },
            GatewayOutput::Event(GatewayEvent::DuplicateResolved {
                worker: "w1".into(),
                policy: DuplicatePolicy::PingOld,
                kept: ConnectionId(1),
                dropped: ConnectionId(2),
            }),
        ]
    );
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
    // The ping deadline is gone: nothing happens when it would have fired.
    scenario.at_millis(10_101);
    assert!(scenario.timeout().is_empty());
}

#[test]
fn ping_old_replaces_an_old_connection_that_stays_silent() {
    let mut scenario = scenario(DuplicatePolicy::PingOld);
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w1", "pw");
    scenario.at_millis(10_000);
    assert!(scenario.timeout().is_empty(), "exactly ping_timeout is still in time");
    scenario.at_millis(10_001);
    let outputs = scenario.timeout();
    assert_eq!(
        outputs[0],
        GatewayOutput::Close {
            connection: ConnectionId(1),
            reason: CloseReason::ReplacedByNewerConnection
        }
    );
    assert_eq!(
        events(&outputs),
        vec![
            detached(1, CloseReason::ReplacedByNewerConnection),
            attached(2),
            GatewayEvent::DuplicateResolved {
                worker: "w1".into(),
                policy: DuplicatePolicy::PingOld,
                kept: ConnectionId(2),
                dropped: ConnectionId(1),
            },
        ]
    );
    assert!(outputs.contains(&sent(2, ToWorker::Welcome)));
}

#[test]
fn ping_old_lets_the_newcomer_in_at_once_when_the_old_connection_closes() {
    let mut scenario = scenario(DuplicatePolicy::PingOld);
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w1", "pw");
    let outputs = scenario.closed(1);
    assert_eq!(events(&outputs)[..2], [detached(1, CloseReason::PeerClosed), attached(2)]);
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(2)));
}

#[test]
fn ping_old_ignores_a_stale_pong_and_refuses_a_third_contender() {
    let mut scenario = scenario(DuplicatePolicy::PingOld);
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w1", "pw");
    // A pong with another nonce answers some earlier ping, not this one.
    assert!(scenario
        .input(GatewayInput::Pong { connection: ConnectionId(1), nonce: 999 })
        .is_empty());
    let third = scenario.hello(3, "w1", "pw");
    assert_eq!(
        events(&third),
        vec![GatewayEvent::Rejected {
            worker: "w1".into(),
            connection: ConnectionId(3),
            cause: RejectionCause::DuplicateConnection
        }]
    );
    // The waiting newcomer closing gives up its place and changes nothing else.
    assert!(scenario.closed(2).is_empty());
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
    scenario.at_millis(20_000);
    assert!(scenario.timeout().is_empty(), "no ping deadline is left behind");
}

#[test]
fn drop_older_after_a_reconfig_also_drops_a_contender_left_waiting_by_ping_old() {
    // Found by the property test: w1 attached on 1 with 2 waiting under ping-old, then a
    // reconfig to drop-older and a third Hello. Detaching 1 must not promote 2 in the way
    // of 3.
    let mut scenario = scenario(DuplicatePolicy::PingOld);
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w1", "pw");
    scenario.input(GatewayInput::Reconfig {
        config: GatewayConfig::default(),
        roster: common::roster(&[worker("w1", "pw", &["linux"])]),
    });
    let outputs = scenario.hello(3, "w1", "pw");
    for dropped in [1, 2] {
        assert!(outputs.contains(&GatewayOutput::Close {
            connection: ConnectionId(dropped),
            reason: CloseReason::ReplacedByNewerConnection
        }));
    }
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(3)));
    assert!(scenario.closed(2).is_empty(), "the dropped contender is forgotten");
}
