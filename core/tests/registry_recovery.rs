//! Recovery: the rows the Registry persists are enough to rebuild it exactly, and rows it
//! could never have written are refused with a reason.

mod common;

use std::collections::BTreeMap;

use common::{drain_registry, RegistryScenario};
use rollcall_core::registry::{MasterRecord, RegistryInput};
use rollcall_core::{
    Change, Command, ConnectionId, MasterId, Record, RecordKey, RecoveryError, Registry,
    RegistryConfig, Reply, ReplyToken, Results, ServiceKind, Timestamp,
};

/// A storage double: the latest `Put` per key, deletes applied.
#[derive(Default)]
struct Disk {
    rows: BTreeMap<RecordKey, Record>,
}

impl Disk {
    fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Put(record) => {
                    self.rows.insert(record.key(), record.clone());
                }
                Change::Delete(key) => {
                    self.rows.remove(key);
                }
            }
        }
    }
}

fn busy_cluster(disk: &mut Disk) -> Registry {
    let mut registry = Registry::new(RegistryConfig::default());
    let mut token = 0;
    let mut run = |registry: &mut Registry, seconds: u64, command: Command| {
        token += 1;
        registry.handle(
            Timestamp::from_secs(seconds),
            RegistryInput { token: ReplyToken(token), command },
        );
        assert_eq!(registry.check_invariants(), Ok(()));
        let drained = drain_registry(registry);
        assert!(matches!(drained.reply, Some(Ok(_))), "{drained:?}");
        disk.apply(&drained.changes);
    };
    let (a, b) = (MasterId(1), MasterId(2));
    run(&mut registry, 1, Command::MasterActive { name: "a".into() });
    run(&mut registry, 1, Command::MasterActive { name: "b".into() });
    run(
        &mut registry,
        2,
        Command::SetBuilderList { master: a, builder_names: vec!["x".into(), "y".into()] },
    );
    run(
        &mut registry,
        2,
        Command::SetConfiguredWorkers { master: a, worker_names: vec!["w".into()] },
    );
    run(
        &mut registry,
        3,
        Command::ClaimService { master: b, kind: ServiceKind::Scheduler, name: "s".into() },
    );
    run(&mut registry, 4, Command::SubmitBuildRequest { master: b, builder_name: "x".into() });
    run(&mut registry, 4, Command::SubmitBuildRequest { master: b, builder_name: "y".into() });
    run(
        &mut registry,
        5,
        Command::ClaimBuildRequests { master: a, requests: vec![rollcall_core::BuildRequestId(1)] },
    );
    run(
        &mut registry,
        6,
        Command::StartBuild {
            master: a,
            request: rollcall_core::BuildRequestId(1),
            worker_name: "w".into(),
        },
    );
    run(
        &mut registry,
        7,
        Command::FinishBuild {
            master: a,
            build: rollcall_core::BuildId(1),
            results: Results::FAILURE,
        },
    );
    run(
        &mut registry,
        8,
        Command::StartBuild {
            master: a,
            request: rollcall_core::BuildRequestId(1),
            worker_name: "w".into(),
        },
    );
    run(
        &mut registry,
        9,
        Command::WorkerConnected {
            master: a,
            worker_name: "w".into(),
            connection: ConnectionId(3),
        },
    );
    run(&mut registry, 10, Command::SetBuilderList { master: a, builder_names: vec!["x".into()] });
    run(&mut registry, 11, Command::MasterStopped { master: b });
    registry
}

#[test]
fn persisted_changes_rebuild_the_same_registry() {
    let mut disk = Disk::default();
    let original = busy_cluster(&mut disk);
    let on_disk: Vec<Record> = disk.rows.values().cloned().collect();
    let mut expected = original.records();
    expected.sort_by_key(Record::key);
    assert_eq!(on_disk, expected, "the change stream and the state agree row for row");

    let recovered = Registry::recover(RegistryConfig::default(), on_disk).expect("recovers");
    assert_eq!(recovered.check_invariants(), Ok(()), "every index is rebuilt consistently");
    assert_eq!(recovered.records(), original.records());
    assert_eq!(recovered.poll_timeout(), original.poll_timeout());
    assert_eq!(recovered.active_master_count(), 1);
    assert!(
        recovered.workers().all(|worker| worker.connected_to.is_empty()),
        "connection records describe sockets and do not survive a restart"
    );
}

#[test]
fn a_recovered_registry_never_reuses_ids_and_keeps_numbering_builds() {
    let mut disk = Disk::default();
    busy_cluster(&mut disk);
    let recovered =
        Registry::recover(RegistryConfig::default(), disk.rows.into_values()).expect("recovers");
    let mut scenario = RegistryScenario::with(recovered);
    scenario.at_secs(20);
    assert_eq!(scenario.master_active("c"), MasterId(3));
    let Reply::BuildRequest(request) =
        scenario.ok(Command::SubmitBuildRequest { master: MasterId(1), builder_name: "x".into() })
    else {
        panic!("expected a request")
    };
    assert_eq!(request, rollcall_core::BuildRequestId(3));
    scenario.ok(Command::ClaimBuildRequests { master: MasterId(1), requests: vec![request] });
    let Reply::Build(build) =
        scenario.ok(Command::StartBuild { master: MasterId(1), request, worker_name: "w".into() })
    else {
        panic!("expected a build")
    };
    assert_eq!(build, rollcall_core::BuildId(3));
    assert_eq!(scenario.registry.build(build).map(|b| b.number), Some(3));
    let Reply::Service(service) = scenario.ok(Command::ClaimService {
        master: MasterId(1),
        kind: ServiceKind::ChangeSource,
        name: "new".into(),
    }) else {
        panic!("expected a service")
    };
    assert_eq!(service, rollcall_core::ServiceId(2));
}

#[test]
fn a_recovered_registry_keeps_expiring_on_schedule() {
    let mut disk = Disk::default();
    let original = busy_cluster(&mut disk);
    let recovered =
        Registry::recover(RegistryConfig::default(), disk.rows.into_values()).expect("recovers");
    // Master `a` last beat at t=1 s; `b` is stopped.
    assert_eq!(recovered.poll_timeout(), Some(Timestamp::from_millis(601_001)));
    assert_eq!(original.poll_timeout(), recovered.poll_timeout());
    let mut scenario = RegistryScenario::with(recovered);
    scenario.at_millis(601_001);
    let fired = scenario.timeout();
    assert!(!fired.events.is_empty());
    assert!(!scenario.master(MasterId(1)).active);
}

fn master(id: u64, name: &str) -> Record {
    Record::Master(MasterRecord {
        id: MasterId(id),
        name: name.into(),
        active: true,
        last_active: Timestamp::EPOCH,
    })
}

#[test]
fn rows_the_registry_could_not_have_written_are_refused() {
    let config = RegistryConfig::default();
    assert_eq!(
        Registry::recover(config, vec![master(2, "b")]).err(),
        Some(RecoveryError::IdGap { kind: "master", missing: 1 })
    );
    assert_eq!(
        Registry::recover(config, vec![master(1, "a"), master(2, "a")]).err(),
        Some(RecoveryError::DuplicateName { kind: "master", name: "a".into() })
    );
    assert_eq!(
        Registry::recover(config, vec![master(1, "a"), master(1, "a")]).err(),
        Some(RecoveryError::DuplicateKey(RecordKey::Master(MasterId(1))))
    );
    // Rows in any order: the duplicate named is the first row whose key came before.
    let rows = vec![master(3, "c"), master(2, "b"), master(2, "b"), master(1, "a"), master(3, "c")];
    assert_eq!(
        Registry::recover(config, rows).err(),
        Some(RecoveryError::DuplicateKey(RecordKey::Master(MasterId(2))))
    );
    let unordered = vec![master(2, "b"), master(3, "c"), master(1, "a")];
    let recovered = Registry::recover(config, unordered).expect("any order recovers");
    assert_eq!(recovered.master_count(), 3);
    assert_eq!(recovered.check_invariants(), Ok(()));
    let link = Record::BuilderMaster { builder: rollcall_core::BuilderId(1), master: MasterId(1) };
    assert_eq!(
        Registry::recover(config, vec![master(1, "a"), link.clone()]).err(),
        Some(RecoveryError::DanglingReference {
            record: link.key(),
            missing: RecordKey::Builder(rollcall_core::BuilderId(1)),
        })
    );
}
