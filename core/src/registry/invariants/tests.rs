//! Each test builds a valid Registry through its public inputs, corrupts one piece of
//! private state, and checks that `check_invariants` names the problem.

use crate::deadline_queue::DeadlineQueue;
use crate::ids::IdAllocator;
use crate::registry::tables::dense_index;
use crate::registry::{
    BuildRequestRecord, BuilderRecord, Command, MasterRecord, Record, Registry, RegistryConfig,
    RegistryInput, Reply, ReplyToken,
};
use crate::{
    BuildRequestId, BuilderId, ConnectionId, MasterId, Results, ServiceId, ServiceKind, Timestamp,
    WorkerId,
};

const A: MasterId = MasterId(1);
const B: MasterId = MasterId(2);
const C: MasterId = MasterId(3);
const NOW: Timestamp = Timestamp::from_millis(50_000);

fn run(registry: &mut Registry, command: Command) -> Reply {
    registry.handle(NOW, RegistryInput { token: ReplyToken(0), command: command.clone() });
    let mut reply = None;
    while let Some(output) = registry.poll_output() {
        if let crate::RegistryOutput::Reply { result, .. } = output {
            reply = Some(result);
        }
    }
    match reply {
        Some(Ok(reply)) => reply,
        other => panic!("{command:?} was not accepted: {other:?}"),
    }
}

/// Masters a and b serve builders; a holds a builder link, a configured and a connected
/// worker, a scheduler, claims on requests 1 and 2 and a running build of request 1; b
/// submitted requests 1 to 3 (3 waits); c claimed request 3 and stopped, giving it back.
fn cluster() -> Registry {
    let mut registry = Registry::new(RegistryConfig::default());
    for name in ["a", "b", "c"] {
        run(&mut registry, Command::MasterActive { name: name.into() });
    }
    let names = vec!["x".to_string(), "y".to_string()];
    run(&mut registry, Command::SetBuilderList { master: A, builder_names: names });
    run(&mut registry, Command::SetConfiguredWorkers { master: A, worker_names: vec!["w".into()] });
    let scheduler =
        Command::ClaimService { master: A, kind: ServiceKind::Scheduler, name: "s".into() };
    run(&mut registry, scheduler);
    for builder in ["x", "y", "x"] {
        run(&mut registry, Command::SubmitBuildRequest { master: B, builder_name: builder.into() });
    }
    let (first, second, third) = (BuildRequestId(1), BuildRequestId(2), BuildRequestId(3));
    run(&mut registry, Command::ClaimBuildRequests { master: A, requests: vec![first, second] });
    run(&mut registry, Command::StartBuild { master: A, request: first, worker_name: "w".into() });
    let connected = Command::WorkerConnected {
        master: A,
        worker_name: "w".into(),
        connection: ConnectionId(7),
    };
    run(&mut registry, connected);
    run(&mut registry, Command::ClaimBuildRequests { master: C, requests: vec![third] });
    run(&mut registry, Command::MasterStopped { master: C });
    assert_eq!(registry.check_invariants(), Ok(()), "the cluster itself is valid");
    registry
}

/// What `check_invariants` reports, which must be something.
fn violation_of(registry: &Registry) -> String {
    match registry.check_invariants() {
        Ok(()) => panic!("the corruption went unnoticed"),
        Err(broken) => {
            assert_eq!(broken.machine, "registry");
            broken.what
        }
    }
}

fn assert_reports(registry: &Registry, expected: &str) {
    let what = violation_of(registry);
    assert!(what.contains(expected), "reported {what:?}, expected it to say {expected:?}");
}

fn master_index(id: MasterId) -> usize {
    dense_index(id.get()).unwrap_or(usize::MAX)
}

/// The counter of active masters must equal the number of masters marked active.
#[test]
fn an_active_master_count_off_by_one_is_reported() {
    let mut registry = cluster();
    registry.active_master_count += 1;
    assert_reports(&registry, "active_master_count is 3 but 2 masters are active");
}

/// The by-name index must send every master's name to that master, not another one.
#[test]
fn a_name_index_entry_pointing_at_the_wrong_master_is_reported() {
    let mut registry = cluster();
    registry.master_ids_by_name.insert("a".into(), B);
    assert_reports(&registry, "master 1 (\"a\") is found by name as Some(MasterId(2))");
}

/// The by-name index must hold no name that no master has; with two such names, the
/// smallest is reported whatever order they were inserted in.
#[test]
fn stray_names_in_the_index_are_reported_smallest_first() {
    let mut forward = cluster();
    forward.master_ids_by_name.insert("ghost".into(), A);
    forward.master_ids_by_name.insert("phantom".into(), B);
    let mut backward = cluster();
    backward.master_ids_by_name.insert("phantom".into(), B);
    backward.master_ids_by_name.insert("ghost".into(), A);
    assert_reports(&forward, "master_ids_by_name maps \"ghost\" to 1");
    assert_eq!(violation_of(&forward), violation_of(&backward));
}

/// Master ids are dense from 1: the row at position p has id p + 1.
#[test]
fn a_row_with_the_wrong_id_for_its_position_is_reported() {
    let mut registry = cluster();
    registry.builders[1].record.id = BuilderId(5);
    assert_reports(&registry, "the builder at position 1 has id 5");
}

/// A builder link is recorded at both ends: a master serving a builder the builder does
/// not list is reported.
#[test]
fn a_builder_link_recorded_at_one_end_only_is_reported() {
    let mut registry = cluster();
    registry.builders[0].masters.remove(&A);
    assert_reports(&registry, "master 1 serves builder 1, which does not list the master");
}

/// Both ends of a connection record name the same connection.
#[test]
fn connection_records_naming_different_connections_are_reported() {
    let mut registry = cluster();
    registry.workers[0].connected_to.insert(A, ConnectionId(8));
    assert_reports(
        &registry,
        "worker 1 is connected to master 1 over connection 8, but the master records \
         Some(ConnectionId(7))",
    );
}

/// A stopped master gives its claims back: a claim left on an inactive master is reported.
#[test]
fn a_claim_left_on_an_inactive_master_is_reported() {
    let mut registry = cluster();
    let third = BuildRequestId(3);
    // Put back, consistently at both ends, the claim that stopping master c gave back.
    if let Some(request) = registry.build_requests.get_mut(&third) {
        request.claimed_by = Some(C);
        request.claimed_at = Some(NOW);
    }
    registry.waiting_requests.remove(&third);
    registry.masters[master_index(C)].claimed_requests.insert(third);
    assert_reports(&registry, "inactive master 3 still holds a claim on build request 3");
}

/// A service owned by a master that is not active is reported, even with both ends of the
/// ownership consistent.
#[test]
fn a_service_left_on_an_inactive_master_is_reported() {
    let mut registry = cluster();
    let service = ServiceId(1);
    if let Some(record) = registry.services.get_mut(&service) {
        record.owner = Some(C);
    }
    registry.masters[master_index(A)].services.remove(&service);
    registry.masters[master_index(C)].services.insert(service);
    assert_reports(&registry, "inactive master 3 still holds service 1");
}

/// A service's owner must hold it: an owner field naming another master is reported.
#[test]
fn a_service_owner_that_does_not_hold_the_service_is_reported() {
    let mut registry = cluster();
    if let Some(record) = registry.services.get_mut(&ServiceId(1)) {
        record.owner = Some(B);
    }
    assert_reports(&registry, "service 1 is owned by master 2, which does not hold it");
}

/// Every incomplete, unclaimed request is in the waiting index, or no master would ever
/// be offered it.
#[test]
fn a_claimable_request_missing_from_the_waiting_index_is_reported() {
    let mut registry = cluster();
    registry.waiting_requests.remove(&BuildRequestId(3));
    assert_reports(&registry, "build request 3 is incomplete and unclaimed but not in waiting");
}

/// A completed request must not be claimable.
#[test]
fn a_complete_request_in_the_waiting_index_is_reported() {
    let mut registry = cluster();
    let second = BuildRequestId(2);
    let complete =
        Command::CompleteBuildRequests { master: A, requests: vec![second], results: Results(0) };
    run(&mut registry, complete);
    assert_eq!(registry.check_invariants(), Ok(()));
    registry.waiting_requests.insert(second);
    assert_reports(&registry, "waiting_requests holds build request 2, which is complete");
}

/// A running build is among its master's running builds, or stopping the master would
/// leave it running forever.
#[test]
fn a_running_build_missing_from_its_master_is_reported() {
    let mut registry = cluster();
    registry.masters[master_index(A)].running_builds.clear();
    assert_reports(&registry, "running build 1 is missing from master 1's running builds");
}

/// Every active master has a live entry in the liveness index, or it would never expire.
#[test]
fn an_active_master_missing_from_the_liveness_index_is_reported() {
    let mut registry = cluster();
    registry.liveness = DeadlineQueue::new();
    assert_reports(&registry, "active master 1 (last active 50.000s) has no live entry");
}

/// The liveness index's front is live, so that `poll_timeout` is not early.
#[test]
fn a_stale_front_of_the_liveness_index_is_reported() {
    let mut registry = cluster();
    let mut entries: Vec<(Timestamp, MasterId)> =
        registry.liveness.iter().map(|(at, &id)| (at, id)).collect();
    entries.push((Timestamp::from_millis(1), C));
    registry.liveness = DeadlineQueue::from_unordered(entries);
    assert_reports(&registry, "the liveness index's front (master 3 at 0.001s) is stale");
}

/// No id handed out is at or above the next id to assign, or it would be handed out twice.
#[test]
fn an_id_at_or_above_the_next_one_to_assign_is_reported() {
    let mut registry = cluster();
    registry.build_request_ids = IdAllocator::new();
    assert_reports(&registry, "build request 3 exists but the next request id to assign is 1");
}

/// A builder's next build number is above every number its builds have.
#[test]
fn a_build_number_that_would_repeat_is_reported() {
    let mut registry = cluster();
    registry.builders[0].next_build_number = 1;
    assert_reports(&registry, "build 1 has number 1 but builder 1 would number its next build 1");
}

/// Nothing is recorded after the registry's now: time never runs backwards inside it.
#[test]
fn a_moment_after_now_is_reported() {
    let mut registry = cluster();
    registry.masters[master_index(B)].record.last_active = NOW.plus_millis(1);
    assert_reports(&registry, "master 2 was last active at 50.001s, after the registry's now");
}

/// Rows a foreign writer left behind: master 1 stored inactive, still holding a builder
/// link and a claim. Recovery marks it; the invariants allow its holdings until forced
/// housekeeping gives them back, and only for it.
fn recovered_with_inactive_holder() -> Registry {
    let rows = vec![
        Record::Master(MasterRecord {
            id: A,
            name: "crashed".into(),
            active: false,
            last_active: Timestamp::from_secs(5),
        }),
        Record::Master(MasterRecord {
            id: B,
            name: "idle".into(),
            active: false,
            last_active: Timestamp::from_secs(5),
        }),
        Record::Builder(BuilderRecord { id: BuilderId(1), name: "x".into() }),
        Record::BuilderMaster { builder: BuilderId(1), master: A },
        Record::BuildRequest(BuildRequestRecord {
            id: BuildRequestId(1),
            builder: BuilderId(1),
            submitted_at: Timestamp::from_secs(1),
            claimed_by: Some(A),
            claimed_at: Some(Timestamp::from_secs(2)),
            complete: false,
            completed_at: None,
            results: None,
        }),
        Record::Worker(crate::registry::WorkerRecord { id: WorkerId(1), name: "w".into() }),
    ];
    match Registry::recover(RegistryConfig::default(), rows) {
        Ok(registry) => registry,
        Err(error) => panic!("valid rows: {error}"),
    }
}

/// Right after recovery, an inactive master stored holding things is allowed to hold
/// them (it is marked), and an unmarked one is not.
#[test]
fn recovered_holdings_of_an_inactive_master_are_allowed_only_while_marked() {
    let mut registry = recovered_with_inactive_holder();
    assert!(registry.masters[master_index(A)].holdings_await_housekeeping);
    assert!(!registry.masters[master_index(B)].holdings_await_housekeeping, "b holds nothing");
    assert_eq!(registry.check_invariants(), Ok(()));
    registry.masters[master_index(A)].holdings_await_housekeeping = false;
    assert_reports(&registry, "inactive master 1 still holds a link to builder 1");
}

/// Forced housekeeping makes the marked master give everything back and clears its mark,
/// so from then on it is held to "an inactive master holds nothing" like every other.
#[test]
fn forced_housekeeping_clears_the_recovery_mark() {
    let mut registry = recovered_with_inactive_holder();
    run(&mut registry, Command::ExpireMasters { force_housekeeping: false });
    assert!(registry.masters[master_index(A)].holdings_await_housekeeping, "not without force");
    run(&mut registry, Command::ExpireMasters { force_housekeeping: true });
    assert!(!registry.masters[master_index(A)].holdings_await_housekeeping);
    assert_eq!(registry.check_invariants(), Ok(()));
    registry.masters[master_index(A)].configured_workers.insert(WorkerId(1));
    registry.workers[0].configured_on.insert(A);
    assert_reports(&registry, "inactive master 1 still holds configured worker 1");
}
