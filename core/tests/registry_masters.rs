//! Master liveness: masterActive, expireMasters and masterStopped, against Buildbot's own
//! test vectors (buildbot/test/unit/data/test_masters.py) and the normative rules of docs/design.md.

mod common;

use common::RegistryScenario;
use rollcall_core::registry::MasterRecord;
use rollcall_core::{
    Change, Command, CommandError, MasterId, Record, RegistryEvent, Reply, StopCause, Timestamp,
};

/// Masters 1..=12 are fillers so that the master under test has Buildbot's id.
fn fillers_then(rows: &[(u64, &'static str, bool, u64)]) -> Vec<(u64, &'static str, bool, u64)> {
    let first = rows.first().map(|row| row.0).unwrap_or(1);
    let names = [
        "filler:1",
        "filler:2",
        "filler:3",
        "filler:4",
        "filler:5",
        "filler:6",
        "filler:7",
        "filler:8",
        "filler:9",
        "filler:10",
        "filler:11",
        "filler:12",
        "filler:13",
    ];
    let mut all: Vec<_> = (1..first).map(|id| (id, names[id as usize - 1], false, 0)).collect();
    all.extend_from_slice(rows);
    all
}

#[test]
fn master_active_revives_an_inactive_master_and_announces_it_once() {
    // Buildbot: masterActive at t=60 for inactive master 13 (last_active 0) gives active,
    // last_active 60, and exactly one masters/13/started.
    let mut scenario = RegistryScenario::with_masters(&fillers_then(&[(13, "myname", false, 0)]));
    scenario.at_secs(60);
    let drained = scenario.run(Command::MasterActive { name: "myname".into() });

    assert_eq!(drained.reply, Some(Ok(Reply::Master(MasterId(13)))));
    let expected = MasterRecord {
        id: MasterId(13),
        name: "myname".into(),
        active: true,
        last_active: Timestamp::from_secs(60),
    };
    assert_eq!(scenario.master(MasterId(13)), expected);
    assert_eq!(
        drained.events,
        vec![RegistryEvent::MasterStarted { master: MasterId(13), name: "myname".into() }]
    );
    assert_eq!(drained.changes, vec![Change::Put(Record::Master(expected))]);
    assert_eq!(scenario.master(MasterId(13)).last_active.as_secs(), 60);
}

#[test]
fn heartbeat_of_an_active_master_updates_last_active_without_an_event() {
    let mut scenario = RegistryScenario::new();
    let id = scenario.master_active("a:/srv");
    scenario.at_secs(30);
    let drained = scenario.run(Command::MasterActive { name: "a:/srv".into() });
    assert!(drained.events.is_empty(), "{:?}", drained.events);
    assert_eq!(scenario.master(id).last_active, Timestamp::from_secs(30));
    assert_eq!(drained.changes.len(), 1, "the new last_active is persisted");
}

#[test]
fn a_second_master_active_after_a_stop_announces_started_again() {
    let mut scenario = RegistryScenario::with_masters(&fillers_then(&[(13, "myname", false, 0)]));
    scenario.at_secs(60);
    scenario.master_active("myname");
    scenario.at_secs(70);
    scenario.ok(Command::MasterStopped { master: MasterId(13) });
    scenario.at_secs(80);
    let drained = scenario.run(Command::MasterActive { name: "myname".into() });
    assert_eq!(
        drained.events,
        vec![RegistryEvent::MasterStarted { master: MasterId(13), name: "myname".into() }]
    );
    assert!(scenario.master(MasterId(13)).active);
}

#[test]
fn expire_stops_only_the_silent_active_master_and_keeps_its_last_active() {
    // Buildbot: at t=660 masters 14 and 15 are active with last_active 0; 15 is stopped
    // first; expireMasters then deactivates 14 only, leaving its last_active at 0.
    let mut scenario = RegistryScenario::with_masters(&fillers_then(&[
        (14, "other:/a", true, 0),
        (15, "other:/b", true, 0),
    ]));
    scenario.at_secs(660);
    scenario.ok(Command::MasterStopped { master: MasterId(15) });
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });

    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![MasterId(14)]))));
    assert_eq!(
        drained.events,
        vec![RegistryEvent::MasterStopped {
            master: MasterId(14),
            name: "other:/a".into(),
            cause: StopCause::Expired,
        }]
    );
    let fourteen = scenario.master(MasterId(14));
    assert!(!fourteen.active);
    assert_eq!(fourteen.last_active, Timestamp::EPOCH, "expiry keeps last_active");
    assert!(!scenario.master(MasterId(15)).active);
}

#[test]
fn the_expiry_boundary_is_inclusive() {
    let mut scenario = RegistryScenario::new();
    scenario.at_secs(0);
    let edge = scenario.master_active("edge:/srv");
    scenario.at_secs(1);
    let younger = scenario.master_active("younger:/srv");

    // At t=600 s, `edge` is exactly 600 s old: still alive.
    scenario.at_secs(600);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![]))));
    assert!(scenario.master(edge).active);

    // One second later it is older than the window; `younger` is now exactly 600 s old.
    scenario.at_secs(601);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![edge]))));
    assert!(!scenario.master(edge).active);
    assert!(scenario.master(younger).active);
}

#[test]
fn master_stopped_on_an_inactive_master_does_nothing() {
    let mut scenario = RegistryScenario::with_masters(&[(1, "gone:/srv", false, 5)]);
    scenario.at_secs(100);
    let drained = scenario.run(Command::MasterStopped { master: MasterId(1) });
    assert_eq!(drained.reply, Some(Ok(Reply::Done)));
    assert!(drained.events.is_empty());
    assert!(drained.changes.is_empty());
    assert_eq!(scenario.master(MasterId(1)).last_active, Timestamp::from_secs(5));
}

#[test]
fn master_stopped_keeps_last_active_and_announces_a_requested_stop() {
    let mut scenario = RegistryScenario::new();
    scenario.at_secs(10);
    let id = scenario.master_active("m:/srv");
    scenario.at_secs(20);
    let drained = scenario.run(Command::MasterStopped { master: id });
    assert_eq!(
        drained.events,
        vec![RegistryEvent::MasterStopped {
            master: id,
            name: "m:/srv".into(),
            cause: StopCause::Requested
        }]
    );
    assert_eq!(scenario.master(id).last_active, Timestamp::from_secs(10));
}

#[test]
fn names_differing_only_in_case_are_different_masters() {
    let mut scenario = RegistryScenario::new();
    let lower = scenario.master_active("host:/srv");
    let upper = scenario.master_active("HOST:/srv");
    assert_ne!(lower, upper);
    assert_eq!(scenario.registry.master_count(), 2);
    assert_eq!(scenario.registry.master_by_name("HOST:/srv").map(|m| m.id), Some(upper));
}

#[test]
fn ids_start_at_one_increase_and_survive_stops() {
    let mut scenario = RegistryScenario::new();
    let first = scenario.master_active("a");
    let second = scenario.master_active("b");
    scenario.ok(Command::MasterStopped { master: first });
    let third = scenario.master_active("c");
    let again = scenario.master_active("a");
    assert_eq!((first, second, third, again), (MasterId(1), MasterId(2), MasterId(3), first));
}

#[test]
fn unknown_masters_and_bad_names_are_refused_without_side_effects() {
    let mut scenario = RegistryScenario::new();
    assert_eq!(
        scenario.refused(Command::MasterStopped { master: MasterId(7) }),
        CommandError::UnknownMaster(MasterId(7))
    );
    assert_eq!(
        scenario.refused(Command::MasterActive { name: String::new() }),
        CommandError::EmptyName
    );
    let long = "x".repeat(rollcall_core::MAX_NAME_BYTES + 1);
    assert!(matches!(
        scenario.refused(Command::MasterActive { name: long }),
        CommandError::NameTooLong { .. }
    ));
    assert_eq!(scenario.registry.master_count(), 0);
}

#[test]
fn poll_timeout_names_the_first_expiry_and_handle_timeout_is_idempotent() {
    let mut scenario = RegistryScenario::new();
    assert_eq!(scenario.registry.poll_timeout(), None, "no active master, no deadline");
    scenario.at_secs(5);
    let early = scenario.master_active("early");
    scenario.at_secs(8);
    let late = scenario.master_active("late");
    assert_eq!(scenario.registry.poll_timeout(), Some(Timestamp::from_millis(605_001)));

    scenario.at_millis(605_000);
    assert!(scenario.timeout().events.is_empty(), "exactly the window old is alive");
    scenario.at_millis(605_001);
    let fired = scenario.timeout();
    assert_eq!(fired.events.len(), 1);
    assert!(!scenario.master(early).active);
    assert!(scenario.timeout().events.is_empty(), "a second call finds nothing more");
    assert!(scenario.master(late).active);
    assert_eq!(scenario.registry.poll_timeout(), Some(Timestamp::from_millis(608_001)));
}

#[test]
fn a_heartbeat_postpones_the_deadline() {
    let mut scenario = RegistryScenario::new();
    let id = scenario.master_active("m");
    scenario.at_secs(500);
    scenario.master_active("m");
    assert_eq!(scenario.registry.poll_timeout(), Some(Timestamp::from_millis(1_100_001)));
    scenario.at_secs(700);
    assert!(scenario.timeout().events.is_empty());
    assert!(scenario.master(id).active);
}

#[test]
fn time_never_moves_backwards_inside_the_registry() {
    let mut scenario = RegistryScenario::new();
    scenario.at_secs(100);
    let id = scenario.master_active("m");
    // A caller whose clock stepped back: the heartbeat counts as happening at t=100.
    scenario.at_secs(50);
    scenario.master_active("m");
    assert_eq!(scenario.master(id).last_active, Timestamp::from_secs(100));
    assert_eq!(scenario.registry.now(), Timestamp::from_secs(100));
}

#[test]
fn expiry_of_many_masters_goes_oldest_first_then_by_id() {
    let mut scenario = RegistryScenario::new();
    scenario.at_secs(2);
    let b = scenario.master_active("b");
    scenario.at_secs(1);
    // Clamped to t=2 as well: same last_active as `b`, larger id.
    let c = scenario.master_active("c");
    scenario.at_secs(2);
    scenario.master_active("b");
    scenario.at_secs(700);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![b, c]))));
}

#[test]
fn many_heartbeats_keep_exactly_the_live_masters_active() {
    // Lots of heartbeats leave many superseded index entries behind; expiry must still see
    // every master exactly once, at its latest heartbeat.
    let mut scenario = RegistryScenario::new();
    let names: Vec<String> = (0..50).map(|index| format!("m{index}")).collect();
    for second in 0..300 {
        scenario.at_secs(second);
        for (index, name) in names.iter().enumerate() {
            // Even masters heartbeat every second, odd ones only until t=100.
            if index % 2 == 0 || second < 100 {
                scenario.master_active(name);
            }
        }
    }
    scenario.at_secs(700);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    let Some(Ok(Reply::Expired(expired))) = drained.reply else { panic!("{drained:?}") };
    let expected: Vec<MasterId> = (0..50).filter(|i| i % 2 == 1).map(|i| MasterId(i + 1)).collect();
    assert_eq!(expired, expected);
    assert_eq!(scenario.registry.active_master_count(), 25);
    // The even masters last beat at t=299: alive at 899, expired at 900.
    scenario.at_secs(899);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![]))));
    scenario.at_secs(900);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    let Some(Ok(Reply::Expired(expired))) = drained.reply else { panic!("{drained:?}") };
    assert_eq!(expired.len(), 25);
    assert_eq!(scenario.registry.active_master_count(), 0);
    assert_eq!(scenario.registry.poll_timeout(), None);
}
