use super::*;
use crate::MasterId;

fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + millis)
}

fn feed(registry: &mut Registry, millis: u64, command: Command) {
    registry.handle(at(millis), RegistryInput { token: ReplyToken(millis), command });
    while registry.poll_output().is_some() {}
}

/// A registry logs nothing until its log is started, then every command, timeout and
/// setting in order; a second take returns only what came after the first.
#[test]
fn inputs_are_logged_in_order_once_the_log_is_started() {
    let mut registry = Registry::new(RegistryConfig { expiry_window_ms: 1_000 });
    feed(&mut registry, 0, Command::MasterActive { name: "before".into() });
    assert_eq!(registry.take_logged_inputs(), vec![]);
    registry.start_input_log();
    feed(&mut registry, 10, Command::MasterActive { name: "m".into() });
    registry.handle_timeout(at(2_000));
    registry.set_config(RegistryConfig { expiry_window_ms: 5_000 });
    assert_eq!(
        registry.take_logged_inputs(),
        vec![
            LoggedInput::Command {
                at: at(10),
                command: Command::MasterActive { name: "m".into() }
            },
            LoggedInput::Timeout { at: at(2_000) },
            LoggedInput::Config(RegistryConfig { expiry_window_ms: 5_000 }),
        ]
    );
    assert_eq!(registry.take_logged_inputs(), vec![]);
}

/// Replaying the log on a registry that started in the same state gives the same rows
/// and the same clock, refused commands and expiries included, and leaves no output
/// behind on the replica.
#[test]
fn a_replayed_log_reaches_the_same_state_and_clock() {
    let config = RegistryConfig { expiry_window_ms: 1_000 };
    let mut leader = Registry::new(config);
    leader.start_input_log();
    let mut replica = Registry::new(config);
    feed(&mut leader, 0, Command::MasterActive { name: "a".into() });
    feed(&mut leader, 5, Command::MasterActive { name: "b".into() });
    feed(
        &mut leader,
        7,
        Command::SubmitBuildRequest { master: MasterId(1), builder_name: "x".into() },
    );
    // Refused (no such master), and later than any stored moment: only the clock moves.
    feed(&mut leader, 900, Command::MasterStopped { master: MasterId(9) });
    leader.handle_timeout(at(1_500));
    while leader.poll_output().is_some() {}
    for input in leader.take_logged_inputs() {
        replica.replay(input);
    }
    assert_eq!(replica.records(), leader.records());
    assert_eq!(replica.now(), leader.now());
    assert_eq!(replica.now(), at(1_500));
    assert!(replica.poll_output().is_none());
    assert!(!replica.master(MasterId(1)).is_some_and(|master| master.active));
}

/// A takeover gives every active master the grace before any expiry, even one whose
/// window ran out during the takeover; after the grace the sweep judges by the window
/// again. The takeover is logged, so a replica holds the same deadline, and a moment
/// earlier than the registry's clock is clamped to it.
#[test]
fn a_takeover_defers_expiry_by_the_grace_and_replays() {
    let config = RegistryConfig { expiry_window_ms: 1_000 };
    let mut leader = Registry::new(config);
    leader.start_input_log();
    let mut replica = Registry::new(config);
    feed(&mut leader, 0, Command::MasterActive { name: "a".into() });
    feed(&mut leader, 900, Command::MasterActive { name: "b".into() });
    assert_eq!(leader.poll_timeout(), Some(at(1_001)));
    // An earlier moment than the clock's (a new leader whose clock is behind).
    leader.take_over(at(800), 2_000);
    assert_eq!(leader.now(), at(900));
    assert_eq!(leader.poll_timeout(), Some(at(2_900)));
    leader.handle_timeout(at(2_899));
    assert!(leader.master(MasterId(1)).is_some_and(|master| master.active));
    leader.handle_timeout(at(2_900));
    assert!(!leader.master(MasterId(1)).is_some_and(|master| master.active));
    assert!(!leader.master(MasterId(2)).is_some_and(|master| master.active));
    while leader.poll_output().is_some() {}
    let logged = leader.take_logged_inputs();
    assert!(logged.contains(&LoggedInput::TakeOver { at: at(800), grace_ms: 2_000 }));
    for input in logged {
        replica.replay(input);
    }
    assert_eq!(replica.records(), leader.records());
    assert_eq!(replica.poll_timeout(), leader.poll_timeout());
}
