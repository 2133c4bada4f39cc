//! Builders, services, build requests, builds and worker records: the rules a master
//! follows while it is alive.

mod common;

use common::RegistryScenario;
use rollcall_core::{
    BuildId, BuildRequestId, BuilderId, Command, CommandError, ConnectionId, MasterId,
    RegistryEvent, Reply, Results, ServiceId, ServiceKind, WorkerId,
};

fn two_masters() -> (RegistryScenario, MasterId, MasterId) {
    let mut scenario = RegistryScenario::new();
    let a = scenario.master_active("a");
    let b = scenario.master_active("b");
    (scenario, a, b)
}

fn submit(scenario: &mut RegistryScenario, master: MasterId, builder: &str) -> BuildRequestId {
    match scenario.ok(Command::SubmitBuildRequest { master, builder_name: builder.into() }) {
        Reply::BuildRequest(id) => id,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn builder_lists_create_builders_once_and_announce_only_changes() {
    let (mut scenario, a, b) = two_masters();
    let first = scenario.run(Command::SetBuilderList {
        master: a,
        builder_names: vec!["mac".into(), "linux".into()],
    });
    assert_eq!(first.reply, Some(Ok(Reply::Builders(vec![BuilderId(1), BuilderId(2)]))));
    assert_eq!(
        first.events,
        vec![
            RegistryEvent::BuilderStarted { builder: BuilderId(1), master: a },
            RegistryEvent::BuilderStarted { builder: BuilderId(2), master: a },
        ]
    );
    let same = scenario.run(Command::SetBuilderList {
        master: a,
        builder_names: vec!["linux".into(), "mac".into()],
    });
    assert!(same.events.is_empty() && same.changes.is_empty(), "an unchanged list is a no-op");

    let shrink =
        scenario.run(Command::SetBuilderList { master: a, builder_names: vec!["linux".into()] });
    assert_eq!(
        shrink.events,
        vec![RegistryEvent::BuilderStopped { builder: BuilderId(1), master: a }]
    );
    scenario.ok(Command::SetBuilderList { master: b, builder_names: vec!["mac".into()] });
    assert_eq!(scenario.registry.builders().count(), 2, "builders are never duplicated");
    let serving: Vec<MasterId> =
        scenario.registry.masters_serving(BuilderId(1)).map(|m| m.id).collect();
    assert_eq!(serving, vec![b]);
    assert_eq!(scenario.registry.masters_serving(BuilderId(99)).count(), 0);
    assert_eq!(scenario.registry.builder_by_name("linux").map(|b| b.id), Some(BuilderId(2)));
}

#[test]
fn builder_lists_with_duplicates_or_bad_names_are_refused_whole() {
    let (mut scenario, a, _) = two_masters();
    assert_eq!(
        scenario.refused(Command::SetBuilderList {
            master: a,
            builder_names: vec!["x".into(), "x".into()]
        }),
        CommandError::DuplicateName("x".into())
    );
    assert_eq!(
        scenario.refused(Command::SetBuilderList {
            master: a,
            builder_names: vec!["ok".into(), String::new()]
        }),
        CommandError::EmptyName
    );
    assert_eq!(scenario.registry.builders().count(), 0, "nothing was created");
}

#[test]
fn a_service_has_one_owner_and_is_released_only_by_it() {
    let (mut scenario, a, b) = two_masters();
    let claim = |master| Command::ClaimService {
        master,
        kind: ServiceKind::Scheduler,
        name: "nightly".into(),
    };
    assert_eq!(scenario.ok(claim(a)), Reply::Service(ServiceId(1)));
    assert_eq!(scenario.ok(claim(a)), Reply::Service(ServiceId(1)), "claiming again is fine");
    assert_eq!(
        scenario.refused(claim(b)),
        CommandError::ServiceOwnedByAnother { service: ServiceId(1), owner: a }
    );
    assert_eq!(
        scenario.refused(Command::ReleaseService { master: b, service: ServiceId(1) }),
        CommandError::ServiceNotOwned(ServiceId(1))
    );
    scenario.ok(Command::ReleaseService { master: a, service: ServiceId(1) });
    assert_eq!(scenario.ok(claim(b)), Reply::Service(ServiceId(1)));
    // A change source of the same name is a different service.
    let source = Command::ClaimService {
        master: a,
        kind: ServiceKind::ChangeSource,
        name: "nightly".into(),
    };
    assert_eq!(scenario.ok(source), Reply::Service(ServiceId(2)));
}

#[test]
fn claims_are_all_or_nothing_and_never_double() {
    let (mut scenario, a, b) = two_masters();
    let first = submit(&mut scenario, a, "linux");
    let second = submit(&mut scenario, a, "linux");
    scenario.ok(Command::ClaimBuildRequests { master: a, requests: vec![first] });
    assert_eq!(
        scenario.refused(Command::ClaimBuildRequests { master: b, requests: vec![second, first] }),
        CommandError::BuildRequestAlreadyClaimed { request: first, by: a }
    );
    assert_eq!(
        scenario.registry.build_request(second).and_then(|r| r.claimed_by),
        None,
        "the claim of `second` was rolled back with the rest"
    );
    assert_eq!(
        scenario.refused(Command::ClaimBuildRequests { master: b, requests: vec![second, second] }),
        CommandError::DuplicateBuildRequest(second)
    );
    assert_eq!(
        scenario
            .refused(Command::ClaimBuildRequests { master: b, requests: vec![BuildRequestId(77)] }),
        CommandError::UnknownBuildRequest(BuildRequestId(77))
    );
}

#[test]
fn unclaim_touches_only_the_callers_claims() {
    let (mut scenario, a, b) = two_masters();
    let mine = submit(&mut scenario, a, "linux");
    let theirs = submit(&mut scenario, a, "linux");
    scenario.ok(Command::ClaimBuildRequests { master: a, requests: vec![mine] });
    scenario.ok(Command::ClaimBuildRequests { master: b, requests: vec![theirs] });
    assert_eq!(
        scenario.ok(Command::UnclaimBuildRequests { master: a, requests: vec![mine, theirs] }),
        Reply::Unclaimed(vec![mine])
    );
    assert_eq!(scenario.registry.build_request(theirs).and_then(|r| r.claimed_by), Some(b));
}

#[test]
fn completion_requires_the_claim_and_happens_once() {
    let (mut scenario, a, b) = two_masters();
    let request = submit(&mut scenario, a, "linux");
    let complete = |master| Command::CompleteBuildRequests {
        master,
        requests: vec![request],
        results: Results::SUCCESS,
    };
    assert_eq!(
        scenario.refused(complete(a)),
        CommandError::BuildRequestNotClaimedByMaster(request)
    );
    scenario.ok(Command::ClaimBuildRequests { master: a, requests: vec![request] });
    assert_eq!(
        scenario.refused(complete(b)),
        CommandError::BuildRequestNotClaimedByMaster(request)
    );
    scenario.ok(complete(a));
    assert_eq!(scenario.refused(complete(a)), CommandError::BuildRequestComplete(request));
    let record = scenario.registry.build_request(request).expect("exists");
    assert!(record.complete);
    assert_eq!(record.results, Some(Results::SUCCESS));
    assert_eq!(
        scenario.refused(Command::ClaimBuildRequests { master: b, requests: vec![request] }),
        CommandError::BuildRequestComplete(request)
    );
}

#[test]
fn builds_run_for_claimed_requests_and_finish_once() {
    let (mut scenario, a, b) = two_masters();
    let request = submit(&mut scenario, a, "linux");
    let start = |master| Command::StartBuild { master, request, worker_name: "w1".into() };
    assert_eq!(scenario.refused(start(a)), CommandError::BuildRequestNotClaimedByMaster(request));
    scenario.ok(Command::ClaimBuildRequests { master: a, requests: vec![request] });
    assert_eq!(scenario.ok(start(a)), Reply::Build(BuildId(1)));
    assert_eq!(scenario.ok(start(a)), Reply::Build(BuildId(2)));
    let numbers: Vec<u64> = scenario.registry.builds().map(|build| build.number).collect();
    assert_eq!(numbers, vec![1, 2], "builds are numbered per builder");

    let finish =
        |master| Command::FinishBuild { master, build: BuildId(1), results: Results::FAILURE };
    assert_eq!(scenario.refused(finish(b)), CommandError::BuildNotOwnedByMaster(BuildId(1)));
    scenario.ok(finish(a));
    assert_eq!(scenario.refused(finish(a)), CommandError::BuildAlreadyFinished(BuildId(1)));
    assert_eq!(
        scenario.refused(Command::FinishBuild {
            master: a,
            build: BuildId(9),
            results: Results::SUCCESS
        }),
        CommandError::UnknownBuild(BuildId(9))
    );
}

#[test]
fn a_late_disconnect_report_never_removes_a_newer_connection_record() {
    let (mut scenario, a, _) = two_masters();
    let connect = |connection| Command::WorkerConnected {
        master: a,
        worker_name: "w1".into(),
        connection: ConnectionId(connection),
    };
    assert_eq!(scenario.ok(connect(1)), Reply::Worker(WorkerId(1)));
    scenario.ok(connect(2));
    let stale = scenario.run(Command::WorkerDisconnected {
        master: a,
        worker_name: "w1".into(),
        connection: ConnectionId(1),
    });
    assert!(stale.events.is_empty());
    let worker = scenario.registry.worker_by_name("w1").expect("known");
    assert_eq!(worker.connected_to.get(&a), Some(&ConnectionId(2)));

    let current = scenario.run(Command::WorkerDisconnected {
        master: a,
        worker_name: "w1".into(),
        connection: ConnectionId(2),
    });
    assert_eq!(
        current.events,
        vec![RegistryEvent::WorkerDisconnected { worker: WorkerId(1), master: a }]
    );
    assert!(scenario.registry.worker(WorkerId(1)).expect("known").connected_to.is_empty());
}

#[test]
fn configured_workers_follow_the_latest_list() {
    let (mut scenario, a, b) = two_masters();
    scenario.ok(Command::SetConfiguredWorkers {
        master: a,
        worker_names: vec!["w1".into(), "w2".into()],
    });
    scenario.ok(Command::SetConfiguredWorkers { master: b, worker_names: vec!["w2".into()] });
    scenario.ok(Command::SetConfiguredWorkers { master: a, worker_names: vec!["w2".into()] });
    let w1 = scenario.registry.worker_by_name("w1").expect("known");
    let w2 = scenario.registry.worker_by_name("w2").expect("known");
    assert!(w1.configured_on.is_empty());
    assert_eq!(w2.configured_on.iter().copied().collect::<Vec<_>>(), vec![a, b]);
}
