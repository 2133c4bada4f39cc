//! Violations leave a run stamped with the moment and event number at which they were
//! found. Each test plants an acknowledgement in the oracle that the real run contradicts,
//! so the violation comes from the ordinary checks rather than a test-only path.

use rollcall_core::{BuildRequestId, Command, MasterId, Reply, Results, Timestamp};

use super::{World, START_MS};
use crate::oracle::{FailureKind, Violation};
use crate::settings::{Overrides, Settings};

fn one_hour(seed: u64) -> Settings {
    Settings::derive(seed, Overrides { hours: Some(1), ..Overrides::default() })
}

fn failed(world: World) -> (Violation, super::RunStats) {
    let (verdict, _, stats) = world.run();
    match verdict {
        Err(violation) => (violation, stats),
        Ok(()) => panic!("the planted contradiction went unnoticed: {stats:?}"),
    }
}

/// A violation found inside the event loop carries the simulated moment and the number of
/// the event that found it (the loop stops there, so they are the run's last), and both
/// replay identically.
#[test]
fn a_violation_in_the_loop_carries_its_moment_and_event_number() {
    let planted = |settings: Settings| {
        let mut world = World::new(settings);
        // A master id far above any the registry will hand out: its first real new master
        // then looks like a reused id.
        let name = "planted".to_string();
        let verdict = world.oracle.observe_reply(
            u64::MAX,
            &Command::MasterActive { name },
            &Reply::Master(MasterId(1 << 40)),
        );
        assert!(verdict.is_ok());
        failed(world)
    };
    let settings = one_hour(3);
    let run_ms = settings.simulated_ms();
    let (violation, stats) = planted(settings.clone());
    assert_eq!(violation.kind, FailureKind::Correctness);
    assert!(violation.message.contains("got reused id"), "{violation}");
    assert_eq!(violation.event, stats.events);
    assert!(violation.event > 1, "a master's first heartbeat needs a network trip");
    assert_eq!(violation.simulated_ms, stats.simulated_ms);
    assert!(0 < violation.simulated_ms && violation.simulated_ms < run_ms, "{violation}");
    assert_eq!(violation.at, Timestamp::from_millis(START_MS + violation.simulated_ms));
    let (again, _) = planted(settings);
    assert_eq!((again.event, again.simulated_ms), (violation.event, violation.simulated_ms));
    let shown = violation.to_string();
    assert!(
        shown.starts_with("correctness violation at 0h00m"),
        "reported within the first minute, when masters first register: {shown}"
    );
    assert!(shown.contains(&format!("(event {}, timestamp {}): ", stats.events, violation.at)));
}

/// A violation found by the end-of-run checks carries the run's end (safety plus liveness
/// phase) and the number of its last event.
#[test]
fn an_end_of_run_violation_carries_the_end_and_the_last_event_number() {
    let mut settings = one_hour(3);
    // A registry restart would re-check the acknowledged facts inside the loop.
    settings.faults.registry_crash = 0;
    let run_ms = settings.simulated_ms();
    let mut world = World::new(settings);
    let completed = Command::CompleteBuildRequests {
        master: MasterId(1),
        requests: vec![BuildRequestId(1 << 40)],
        results: Results(0),
    };
    // A request id of no simulated master (the masters' ids are their index above bit 40).
    assert!(world.oracle.observe_reply(u64::MAX, &completed, &Reply::Done).is_ok());
    let (violation, stats) = failed(world);
    assert_eq!(violation.kind, FailureKind::Correctness);
    assert!(violation.message.contains("is missing"), "{violation}");
    assert_eq!(violation.simulated_ms, run_ms);
    assert_eq!(violation.at, Timestamp::from_millis(START_MS + run_ms));
    assert_eq!(violation.event, stats.events);
    assert!(violation.event > 1_000, "{stats:?}");
}

/// The report's moment reads as hours, minutes and seconds with milliseconds.
#[test]
fn the_moment_reads_as_hours_minutes_and_seconds() {
    let violation = crate::oracle::liveness("stuck".into()).detected(
        Timestamp::from_millis(START_MS + 11_525_250),
        11_525_250,
        1_234_567,
    );
    assert_eq!(
        violation.to_string(),
        "liveness violation at 3h12m05.250s (event 1234567, timestamp 1700011525.250s): stuck"
    );
}
