//! A registry restored from a snapshot behaves as the one it was taken of: fed the same
//! inputs afterwards, both give the same outputs (every change, event and reply), the same
//! next deadline and, at the end, the same snapshot. Random inputs: commands of every kind
//! (from the Node's own master and as remote requests that may be retried), time forward
//! and back, expiry sweeps, takeovers and reconfigurations.

use proptest::prelude::*;
use rollcall_core::registry::{RegistryInput, RequestKey};
use rollcall_core::{
    BuildId, BuildRequestId, Command, ConnectionId, MasterId, Registry, RegistryConfig,
    RegistryOutput, ReplyToken, Results, ServiceId, ServiceKind, Timestamp,
};

const MASTERS: [&str; 3] = ["m0", "m1", "m2"];
const BUILDERS: [&str; 3] = ["b0", "b1", "b2"];
const WORKERS: [&str; 3] = ["w0", "w1", "w2"];

#[derive(Clone, Debug)]
enum Step {
    Command(Command),
    /// A remote master's request under a small id, so that retries happen.
    Request {
        request_id: u64,
        command: Command,
    },
    Forward {
        millis: u64,
    },
    Backward {
        millis: u64,
    },
    Timeout,
    TakeOver {
        grace_ms: u64,
    },
    Reconfig {
        expiry_window_ms: u64,
    },
}

fn command() -> impl Strategy<Value = Command> {
    let name = |pool: &'static [&'static str]| prop::sample::select(pool).prop_map(String::from);
    let names = |pool: &'static [&'static str]| {
        prop::collection::vec(prop::sample::select(pool).prop_map(String::from), 0..3)
    };
    let master = || (1_u64..=3).prop_map(MasterId);
    let requests = || prop::collection::vec((1_u64..=6).prop_map(BuildRequestId), 0..3);
    let results = || (0_u8..=4).prop_map(Results);
    let kind = prop_oneof![Just(ServiceKind::Scheduler), Just(ServiceKind::ChangeSource)];
    prop_oneof![
        5 => name(&MASTERS).prop_map(|name| Command::MasterActive { name }),
        1 => master().prop_map(|master| Command::MasterStopped { master }),
        1 => name(&MASTERS).prop_map(|name| Command::RegisterMaster { name }),
        1 => master().prop_map(|master| Command::RecoverCrashedMaster { master }),
        1 => any::<bool>().prop_map(|force_housekeeping| Command::ExpireMasters { force_housekeeping }),
        2 => (master(), names(&BUILDERS)).prop_map(|(master, builder_names)| Command::SetBuilderList { master, builder_names }),
        1 => (master(), names(&WORKERS)).prop_map(|(master, worker_names)| Command::SetConfiguredWorkers { master, worker_names }),
        1 => (master(), kind, name(&BUILDERS)).prop_map(|(master, kind, name)| Command::ClaimService { master, kind, name }),
        1 => (master(), (1_u64..=3).prop_map(ServiceId)).prop_map(|(master, service)| Command::ReleaseService { master, service }),
        3 => (master(), name(&BUILDERS)).prop_map(|(master, builder_name)| Command::SubmitBuildRequest { master, builder_name }),
        2 => (master(), requests()).prop_map(|(master, requests)| Command::ClaimBuildRequests { master, requests }),
        1 => (master(), requests()).prop_map(|(master, requests)| Command::UnclaimBuildRequests { master, requests }),
        1 => (master(), requests(), results()).prop_map(|(master, requests, results)| Command::CompleteBuildRequests { master, requests, results }),
        2 => (master(), (1_u64..=6).prop_map(BuildRequestId), name(&WORKERS)).prop_map(|(master, request, worker_name)| Command::StartBuild { master, request, worker_name }),
        1 => (master(), (1_u64..=4).prop_map(BuildId), results()).prop_map(|(master, build, results)| Command::FinishBuild { master, build, results }),
        2 => (master(), name(&WORKERS), (1_u64..=3).prop_map(ConnectionId)).prop_map(|(master, worker_name, connection)| Command::WorkerConnected { master, worker_name, connection }),
        1 => (master(), name(&WORKERS), (1_u64..=3).prop_map(ConnectionId)).prop_map(|(master, worker_name, connection)| Command::WorkerDisconnected { master, worker_name, connection }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => command().prop_map(Step::Command),
        6 => ((1_u64..=8), command()).prop_map(|(request_id, command)| Step::Request { request_id, command }),
        3 => (0_u64..=30_000).prop_map(|millis| Step::Forward { millis }),
        1 => (0_u64..=10_000).prop_map(|millis| Step::Backward { millis }),
        2 => Just(Step::Timeout),
        1 => (0_u64..=20_000).prop_map(|grace_ms| Step::TakeOver { grace_ms }),
        1 => (1_000_u64..=40_000).prop_map(|expiry_window_ms| Step::Reconfig { expiry_window_ms }),
    ]
}

/// Feeds `step` at `*clock_ms` and returns everything the registry output for it.
fn feed(registry: &mut Registry, clock_ms: &mut u64, step: &Step) -> Vec<RegistryOutput> {
    let now = || Timestamp::from_millis(1_700_000_000_000);
    let at = |clock_ms: u64| now().plus_millis(clock_ms);
    match step {
        Step::Command(command) => {
            let input = RegistryInput { token: ReplyToken(1), command: command.clone() };
            registry.handle(at(*clock_ms), input);
        }
        Step::Request { request_id, command } => {
            let input = RegistryInput { token: ReplyToken(2), command: command.clone() };
            let key = RequestKey { master: "remote".into(), request_id: *request_id };
            registry.handle_request(at(*clock_ms), input, key);
        }
        Step::Forward { millis } => *clock_ms += millis,
        Step::Backward { millis } => *clock_ms = clock_ms.saturating_sub(*millis),
        Step::Timeout => registry.handle_timeout(at(*clock_ms)),
        Step::TakeOver { grace_ms } => registry.take_over(at(*clock_ms), *grace_ms),
        Step::Reconfig { expiry_window_ms } => {
            registry.set_config(RegistryConfig { expiry_window_ms: *expiry_window_ms });
        }
    }
    std::iter::from_fn(|| registry.poll_output()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(500), ..ProptestConfig::default() })]

    /// Restored at any point, a registry goes on exactly as the original.
    #[test]
    fn a_restored_registry_goes_on_as_the_original(
        before in prop::collection::vec(step(), 0..120),
        after in prop::collection::vec(step(), 0..120),
    ) {
        let mut original = Registry::new(RegistryConfig { expiry_window_ms: 20_000 });
        let mut clock_ms = 0;
        for step in &before {
            feed(&mut original, &mut clock_ms, step);
        }
        let snapshot = original.snapshot();
        let mut restored = Registry::from_snapshot(snapshot.clone())
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(&restored.snapshot(), &snapshot);
        let mut restored_clock_ms = clock_ms;
        for step in &after {
            let expected = feed(&mut original, &mut clock_ms, step);
            let got = feed(&mut restored, &mut restored_clock_ms, step);
            prop_assert_eq!(got, expected, "after {:?}", step);
            prop_assert_eq!(restored.poll_timeout(), original.poll_timeout());
        }
        prop_assert_eq!(restored.snapshot(), original.snapshot());
        restored.check_invariants().map_err(|error| TestCaseError::fail(error.to_string()))?;
    }
}

/// A snapshot whose connection names a worker with no row is refused, and so is one whose
/// clock is before a moment its rows hold.
#[test]
fn a_snapshot_that_disagrees_with_itself_is_refused() {
    let mut registry = Registry::new(RegistryConfig::default());
    let at = Timestamp::from_millis(1_700_000_000_000);
    registry.handle(
        at,
        RegistryInput {
            token: ReplyToken(1),
            command: Command::MasterActive { name: "m0".into() },
        },
    );
    let snapshot = registry.snapshot();

    let mut dangling = snapshot.clone();
    dangling.connections.push(rollcall_core::registry::WorkerConnection {
        worker: rollcall_core::WorkerId(9),
        master: MasterId(1),
        connection: ConnectionId(1),
    });
    assert!(Registry::from_snapshot(dangling).is_err());

    let mut early = snapshot;
    early.clock = Timestamp::from_millis(1);
    assert!(Registry::from_snapshot(early).is_err());
}
