//! Reconfig: all or nothing; removed workers are disconnected and unknown from then on;
//! changed builder lists are pushed (the seed's updateSlave) and unchanged ones are not.

mod common;

use common::{events, roster, sent, worker, GatewayScenario};
use rollcall_core::gateway::RejectionCause;
use rollcall_core::{
    CloseReason, ConnectionId, GatewayConfig, GatewayEvent, GatewayInput, GatewayOutput, Roster,
    RosterError, ToWorker,
};
use std::sync::Arc;

fn reconfig(workers: &[rollcall_core::WorkerConfig]) -> GatewayInput {
    GatewayInput::Reconfig { config: GatewayConfig::default(), roster: roster(workers) }
}

fn builders(names: &[&str]) -> Arc<[String]> {
    names.iter().map(|name| name.to_string()).collect()
}

#[test]
fn a_removed_worker_is_disconnected_and_its_reconnect_rejected() {
    let mut scenario = GatewayScenario::new(
        GatewayConfig::default(),
        &[worker("w1", "pw", &["a"]), worker("w2", "pw", &["a"])],
    );
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w2", "pw");
    let outputs = scenario.input(reconfig(&[worker("w2", "pw", &["a"])]));
    assert_eq!(
        outputs,
        vec![
            GatewayOutput::Close {
                connection: ConnectionId(1),
                reason: CloseReason::RemovedFromConfig
            },
            GatewayOutput::Event(GatewayEvent::Detached {
                worker: "w1".into(),
                connection: ConnectionId(1),
                reason: CloseReason::RemovedFromConfig
            }),
            GatewayOutput::Event(GatewayEvent::Reconfigured {
                added: vec![],
                removed: vec!["w1".into()],
                builders_changed: vec![]
            }),
        ]
    );
    let again = scenario.hello(3, "w1", "pw");
    assert_eq!(
        events(&again),
        vec![GatewayEvent::Rejected {
            worker: "w1".into(),
            connection: ConnectionId(3),
            cause: RejectionCause::UnknownWorker
        }]
    );
    assert_eq!(scenario.gateway.attached_connection("w2"), Some(ConnectionId(2)));
}

#[test]
fn a_changed_builder_list_is_pushed_and_an_unchanged_one_is_not() {
    let mut scenario = GatewayScenario::new(
        GatewayConfig::default(),
        &[worker("w1", "pw", &["a", "b"]), worker("w2", "pw", &["a"])],
    );
    scenario.hello(1, "w1", "pw");
    scenario.hello(2, "w2", "pw");
    let outputs =
        scenario.input(reconfig(&[worker("w1", "pw", &["b", "c"]), worker("w2", "pw", &["a"])]));
    assert_eq!(
        outputs,
        vec![
            sent(1, ToWorker::BuilderList { builders: builders(&["b", "c"]) }),
            GatewayOutput::Event(GatewayEvent::Reconfigured {
                added: vec![],
                removed: vec![],
                builders_changed: vec!["w1".into()]
            }),
        ]
    );
    // The same configuration again, with builders listed in another order: no push.
    let outputs =
        scenario.input(reconfig(&[worker("w1", "pw", &["c", "b"]), worker("w2", "pw", &["a"])]));
    assert_eq!(
        outputs,
        vec![GatewayOutput::Event(GatewayEvent::Reconfigured {
            added: vec![],
            removed: vec![],
            builders_changed: vec![]
        })]
    );
}

#[test]
fn an_added_worker_can_attach_and_a_changed_password_applies_from_the_next_hello() {
    let mut scenario = GatewayScenario::new(GatewayConfig::default(), &[worker("w1", "old", &[])]);
    scenario.hello(1, "w1", "old");
    scenario.input(reconfig(&[worker("w1", "new", &[]), worker("w2", "pw", &[])]));
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
    assert!(events(&scenario.hello(2, "w2", "pw"))
        .contains(&GatewayEvent::Attached { worker: "w2".into(), connection: ConnectionId(2) }));
    let stale = scenario.hello(3, "w1", "old");
    assert!(matches!(
        events(&stale)[..],
        [GatewayEvent::Rejected { cause: RejectionCause::WrongPassword, .. }]
    ));
}

#[test]
fn an_invalid_reconfig_changes_nothing() {
    let mut scenario = GatewayScenario::new(GatewayConfig::default(), &[worker("w1", "pw", &[])]);
    scenario.hello(1, "w1", "pw");
    let bad = GatewayConfig { keepalive_timeout_ms: 0, ..GatewayConfig::default() };
    let outputs = scenario.input(GatewayInput::Reconfig { config: bad, roster: Roster::default() });
    assert_eq!(
        outputs,
        vec![GatewayOutput::Event(GatewayEvent::ReconfigRejected {
            reason: "keepalive_timeout_ms must be greater than zero".into()
        })]
    );
    assert_eq!(scenario.gateway.attached_connection("w1"), Some(ConnectionId(1)));
    assert_eq!(scenario.gateway.config(), GatewayConfig::default());
}

#[test]
fn rosters_with_duplicates_or_bad_names_are_refused() {
    assert_eq!(
        Roster::new(vec![worker("w", "a", &[]), worker("w", "b", &[])]),
        Err(RosterError::DuplicateWorker("w".into()))
    );
    assert_eq!(Roster::new(vec![worker("", "a", &[])]), Err(RosterError::EmptyWorkerName));
    assert_eq!(
        Roster::new(vec![worker("w", "a", &["x", "x"])]),
        Err(RosterError::DuplicateBuilder { worker: "w".into(), builder: "x".into() })
    );
    // Deserialising validates too: a recorded roster cannot smuggle in a duplicate.
    let json =
        r#"[{"name":"w","password":"a","builders":[]},{"name":"w","password":"b","builders":[]}]"#;
    assert!(serde_json::from_str::<Roster>(json).is_err());
}
