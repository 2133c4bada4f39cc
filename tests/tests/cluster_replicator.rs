//! Two nodes' replicators on one real PostgreSQL 15: one leads and commits, the other
//! stands by with a replica that follows the log; when the leader stops renewing, the
//! standby takes over with every committed change, and the old leader's late commit is
//! fenced (issue #13).

use std::time::{Duration, Instant};

use rollcall_core::lease::{LeaseEvent, LeaseTimings};
use rollcall_core::registry::RegistryInput;
use rollcall_core::replication::{CommitRefused, Role};
use rollcall_core::{Command, MasterId, Registry, RegistryConfig, ReplyToken, Timestamp};
use rollcall_io::cluster::{PostgresReplicator, PostgresStore};
use rollcall_test_postgres::Postgres;

const TIMINGS: LeaseTimings = LeaseTimings { ttl_ms: 3_000, renew_interval_ms: 1_000 };
const CONFIG: RegistryConfig = RegistryConfig { expiry_window_ms: 600_000 };

struct Clock(Instant);

impl Clock {
    /// Monotonic time as the lease counts it.
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_000_000 + self.0.elapsed().as_millis() as u64)
    }
}

fn node(postgres: &Postgres, clock: &Clock, name: &str) -> PostgresReplicator {
    let ttl = Duration::from_millis(TIMINGS.ttl_ms);
    let store = PostgresStore::new(postgres.url(), name, &format!("{name}:7001"), ttl);
    PostgresReplicator::new(clock.now(), store, TIMINGS, CONFIG).expect("valid timings")
}

/// Feeds commands to the leader's registry and returns their logged inputs.
fn run(
    registry: &mut Registry,
    at: Timestamp,
    commands: Vec<Command>,
) -> Vec<rollcall_core::LoggedInput> {
    for (index, command) in commands.into_iter().enumerate() {
        registry.handle(at, RegistryInput { token: ReplyToken(index as u64), command });
    }
    while registry.poll_output().is_some() {}
    registry.take_logged_inputs()
}

/// Ticks `node` until `done` holds or `limit` passes.
fn tick_until(
    node: &mut PostgresReplicator,
    clock: &Clock,
    limit: Duration,
    mut done: impl FnMut(&mut PostgresReplicator, &[LeaseEvent]) -> bool,
) {
    let start = Instant::now();
    loop {
        let events = node.tick(clock.now());
        if done(node, &events) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "not done within {limit:?}: {node:?}, last error {:?}",
            node.last_error()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_standby_follows_the_log_takes_over_with_every_commit_and_the_old_leader_is_fenced() {
    let postgres = Postgres::start();
    let clock = Clock(Instant::now());
    let mut a = node(&postgres, &clock, "a");
    let mut b = node(&postgres, &clock, "b");

    // a takes the free lease at epoch 1; b finds it held.
    let a_took = Instant::now();
    let a_took_at = clock.now();
    let events = a.tick(a_took_at);
    assert_eq!(events, vec![LeaseEvent::Taken { epoch: 1 }]);
    let mut leader = a.take_registry(clock.now()).expect("the caught-up registry");
    assert_eq!(a.role(clock.now()), Role::Leader { epoch: 1 });
    assert_eq!(b.tick(clock.now()), vec![]);
    assert_eq!(b.role(clock.now()), Role::Standby);

    let wall = Timestamp::from_millis(1_700_000_000_000);
    let inputs = run(
        &mut leader,
        wall,
        vec![
            Command::MasterActive { name: "m1".into() },
            Command::SubmitBuildRequest { master: MasterId(1), builder_name: "b".into() },
        ],
    );
    assert_eq!(a.commit(clock.now(), &inputs).expect("committed"), 2);

    // b's replica follows the log.
    tick_until(&mut b, &clock, Duration::from_secs(5), |b, _| b.applied_seq() == 2);
    assert_eq!(b.replica().expect("a standby's replica").records(), leader.records());

    // a stops renewing (paused); b takes over once the lease expires by the database's
    // clock, no sooner than the TTL after a took it.
    let mut taken = None;
    tick_until(&mut b, &clock, Duration::from_secs(10), |_, events| {
        taken = events.iter().find_map(|event| match event {
            LeaseEvent::Taken { epoch } => Some(*epoch),
            _ => None,
        });
        taken.is_some()
    });
    assert_eq!(taken, Some(2));
    assert!(a_took.elapsed() >= Duration::from_millis(2_900), "taken after {:?}", a_took.elapsed());
    let mut successor = b.take_registry(clock.now()).expect("b leads");
    assert_eq!(successor.records(), leader.records(), "every committed change is there");
    let more = run(
        &mut successor,
        wall.plus_millis(5_000),
        vec![Command::MasterActive { name: "m2".into() }],
    );
    assert_eq!(b.commit(clock.now(), &more).expect("b commits"), 3);

    // a, resumed, has run out its acting window by its own clock: it does not commit.
    let late = run(
        &mut leader,
        wall.plus_millis(6_000),
        vec![Command::MasterActive { name: "late".into() }],
    );
    assert!(matches!(a.commit(clock.now(), &late), Err(CommitRefused::NotLeader)));
    // Were its clock so slow that it still believed it led, the store's fence refuses it,
    // names the epoch that replaced it, and writes nothing.
    let slow_clock = a_took_at.plus_millis(1);
    match a.commit(slow_clock, &late) {
        Err(CommitRefused::Fenced { epoch: 1, current_epoch: 2, holder }) => {
            assert_eq!(holder.as_deref(), Some("b"));
        }
        other => panic!("expected the store to fence a, got {other:?}"),
    }
    assert_eq!(a.role(slow_clock), Role::Standby, "a fenced commit deposes at once");

    // a stands by and rebuilds its replica from the log: b's state, without a's late change.
    tick_until(&mut a, &clock, Duration::from_secs(5), |a, _| a.applied_seq() == 3);
    assert_eq!(a.role(clock.now()), Role::Standby);
    assert_eq!(a.replica().expect("a's replica").records(), successor.records());
    assert!(a.replica().expect("a's replica").master_by_name("late").is_none());
}
