//! What a stopped or expired master gives back, and in which order (docs/design.md).

mod common;

use common::RegistryScenario;
use rollcall_core::registry::{BuildRequestRecord, MasterRecord};
use rollcall_core::{
    BuildId, BuildRequestId, BuilderId, Command, ConnectionId, MasterId, Record, Registry,
    RegistryConfig, RegistryEvent, Reply, Results, ServiceId, ServiceKind, StopCause, Timestamp,
    WorkerId,
};

/// One master holding one of everything, and a second, healthy master beside it.
struct Cluster {
    scenario: RegistryScenario,
    doomed: MasterId,
    healthy: MasterId,
    running_request: BuildRequestId,
    waiting_request: BuildRequestId,
    build: BuildId,
}

fn cluster() -> Cluster {
    let mut scenario = RegistryScenario::new();
    scenario.at_secs(1);
    let doomed = scenario.master_active("doomed:/srv");
    let healthy = scenario.master_active("healthy:/srv");
    scenario.ok(Command::SetConfiguredWorkers {
        master: doomed,
        worker_names: vec!["w1".into(), "w2".into()],
    });
    scenario.ok(Command::SetBuilderList {
        master: doomed,
        builder_names: vec!["linux".into(), "mac".into()],
    });
    scenario.ok(Command::SetBuilderList { master: healthy, builder_names: vec!["linux".into()] });
    scenario.ok(Command::ClaimService {
        master: doomed,
        kind: ServiceKind::Scheduler,
        name: "nightly".into(),
    });
    scenario.ok(Command::ClaimService {
        master: doomed,
        kind: ServiceKind::ChangeSource,
        name: "git".into(),
    });
    let Reply::BuildRequest(running_request) =
        scenario.ok(Command::SubmitBuildRequest { master: healthy, builder_name: "linux".into() })
    else {
        panic!("expected a build request id")
    };
    let Reply::BuildRequest(waiting_request) =
        scenario.ok(Command::SubmitBuildRequest { master: healthy, builder_name: "mac".into() })
    else {
        panic!("expected a build request id")
    };
    scenario.ok(Command::ClaimBuildRequests {
        master: doomed,
        requests: vec![running_request, waiting_request],
    });
    let Reply::Build(build) = scenario.ok(Command::StartBuild {
        master: doomed,
        request: running_request,
        worker_name: "w1".into(),
    }) else {
        panic!("expected a build id")
    };
    scenario.ok(Command::WorkerConnected {
        master: doomed,
        worker_name: "w1".into(),
        connection: ConnectionId(9),
    });
    Cluster { scenario, doomed, healthy, running_request, waiting_request, build }
}

#[test]
fn a_stopped_master_gives_everything_back_in_order() {
    let Cluster { mut scenario, doomed, healthy, running_request, waiting_request, build } =
        cluster();
    scenario.at_secs(50);
    // The healthy master asks: the unclaim must use the *stopped* master's id, never the
    // caller's (Buildbot's bug).
    let drained = scenario.run(Command::MasterStopped { master: doomed });
    assert_eq!(drained.reply, Some(Ok(Reply::Done)));

    let (linux, mac) = (BuilderId(1), BuilderId(2));
    assert_eq!(
        drained.events,
        vec![
            RegistryEvent::BuilderStopped { builder: linux, master: doomed },
            RegistryEvent::BuilderStopped { builder: mac, master: doomed },
            RegistryEvent::ServiceReleased { service: ServiceId(1), master: doomed },
            RegistryEvent::ServiceReleased { service: ServiceId(2), master: doomed },
            RegistryEvent::BuildFinished { build, results: Results::RETRY },
            RegistryEvent::BuildRequestUnclaimed { request: running_request, master: doomed },
            RegistryEvent::BuildRequestUnclaimed { request: waiting_request, master: doomed },
            RegistryEvent::WorkerDisconnected { worker: WorkerId(1), master: doomed },
            RegistryEvent::MasterStopped {
                master: doomed,
                name: "doomed:/srv".into(),
                cause: StopCause::Requested
            },
        ]
    );

    let registry = &scenario.registry;
    assert!(registry.workers().all(|w| w.configured_on.is_empty()), "configuration released");
    assert!(registry.workers().all(|w| w.connected_to.is_empty()), "connection records gone");
    let serving_linux: Vec<MasterId> = registry.masters_serving(linux).map(|m| m.id).collect();
    assert_eq!(serving_linux, vec![healthy], "only the doomed master's links go");
    assert_eq!(registry.masters_serving(mac).count(), 0);
    assert!(registry.services().all(|service| service.owner.is_none()));
    let finished = registry.build(build).expect("build exists");
    assert_eq!(finished.results, Some(Results::RETRY));
    assert_eq!(finished.complete_at, Some(Timestamp::from_secs(50)));
    for request in [running_request, waiting_request] {
        let record = registry.build_request(request).expect("request exists");
        assert_eq!(record.claimed_by, None);
        assert!(!record.complete, "unclaimed requests wait to be retried");
    }
}

#[test]
fn an_expired_master_gives_everything_back_too() {
    let Cluster { mut scenario, doomed, healthy, running_request, build, .. } = cluster();
    scenario.at_secs(400);
    scenario.master_active("healthy:/srv");
    scenario.at_secs(602);
    let drained = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert_eq!(drained.reply, Some(Ok(Reply::Expired(vec![doomed]))));
    assert!(drained.events.contains(&RegistryEvent::MasterStopped {
        master: doomed,
        name: "doomed:/srv".into(),
        cause: StopCause::Expired,
    }));
    assert_eq!(scenario.registry.build(build).and_then(|b| b.results), Some(Results::RETRY));
    assert_eq!(scenario.registry.build_request(running_request).and_then(|r| r.claimed_by), None);
    // The freed request can be claimed by the survivor at once.
    scenario.ok(Command::ClaimBuildRequests { master: healthy, requests: vec![running_request] });
}

#[test]
fn released_services_can_be_claimed_by_another_master() {
    let Cluster { mut scenario, doomed, healthy, .. } = cluster();
    let taken = Command::ClaimService {
        master: healthy,
        kind: ServiceKind::Scheduler,
        name: "nightly".into(),
    };
    assert!(matches!(
        scenario.refused(taken.clone()),
        rollcall_core::CommandError::ServiceOwnedByAnother { owner, .. } if owner == doomed
    ));
    scenario.ok(Command::MasterStopped { master: doomed });
    assert_eq!(scenario.ok(taken), Reply::Service(ServiceId(1)));
}

#[test]
fn an_inactive_master_is_refused_everything_but_master_active() {
    let Cluster { mut scenario, doomed, running_request, .. } = cluster();
    scenario.ok(Command::MasterStopped { master: doomed });
    let refusals = [
        Command::SetBuilderList { master: doomed, builder_names: vec!["linux".into()] },
        Command::ClaimBuildRequests { master: doomed, requests: vec![running_request] },
        Command::SubmitBuildRequest { master: doomed, builder_name: "linux".into() },
        Command::ClaimService {
            master: doomed,
            kind: ServiceKind::Scheduler,
            name: "other".into(),
        },
        Command::WorkerConnected {
            master: doomed,
            worker_name: "w1".into(),
            connection: ConnectionId(1),
        },
    ];
    for command in refusals {
        assert_eq!(scenario.refused(command), rollcall_core::CommandError::MasterInactive(doomed));
    }
}

#[test]
fn forced_housekeeping_cleans_up_after_inactive_masters_found_on_disk() {
    // Rows as a crashed foreign writer might leave them: master 1 is inactive yet still
    // holds a claim and a builder link.
    let rows = vec![
        Record::Master(MasterRecord {
            id: MasterId(1),
            name: "crashed".into(),
            active: false,
            last_active: Timestamp::from_secs(5),
        }),
        Record::Builder(rollcall_core::registry::BuilderRecord {
            id: BuilderId(1),
            name: "linux".into(),
        }),
        Record::BuilderMaster { builder: BuilderId(1), master: MasterId(1) },
        Record::BuildRequest(BuildRequestRecord {
            id: BuildRequestId(1),
            builder: BuilderId(1),
            submitted_at: Timestamp::from_secs(1),
            claimed_by: Some(MasterId(1)),
            claimed_at: Some(Timestamp::from_secs(2)),
            complete: false,
            completed_at: None,
            results: None,
        }),
    ];
    let registry = Registry::recover(RegistryConfig::default(), rows).expect("valid rows");
    // The one state in which an inactive master may hold anything: the invariants allow it
    // for this master until it has given everything back (the scenario checks them after
    // recovery and after every command).
    assert_eq!(registry.check_invariants(), Ok(()));
    let mut scenario = RegistryScenario::with(registry);
    scenario.at_secs(10);

    let plain = scenario.run(Command::ExpireMasters { force_housekeeping: false });
    assert!(plain.events.is_empty(), "without force, inactive masters are left alone");

    let forced = scenario.run(Command::ExpireMasters { force_housekeeping: true });
    assert_eq!(forced.reply, Some(Ok(Reply::Expired(vec![]))));
    assert_eq!(
        forced.events,
        vec![
            RegistryEvent::BuilderStopped { builder: BuilderId(1), master: MasterId(1) },
            RegistryEvent::BuildRequestUnclaimed {
                request: BuildRequestId(1),
                master: MasterId(1)
            },
        ],
        "housekeeping of an already inactive master announces no second stop"
    );
    assert_eq!(scenario.registry.build_request(BuildRequestId(1)).and_then(|r| r.claimed_by), None);
}
