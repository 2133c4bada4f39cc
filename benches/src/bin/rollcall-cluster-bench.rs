//! The cluster's store, measured on a durable throw-away PostgreSQL 15 (fsync on,
//! synchronous commits), each figure beside its baseline in the same run:
//!
//! - `durable heartbeats`: batches of B masterActive of distinct existing masters, their
//!   logged inputs committed as one fenced transaction through `PostgresStore` (the
//!   leader's group commit), per heartbeat; beside the same batches' row changes committed
//!   with `FjallStore::commit`, the single node's durable path. B = 1, 64, 1024.
//! - `standby lag`: while the leader commits batches of 64 as fast as it can, a standby
//!   ticking every 50 ms: how many entries behind it is after each tick.
//! - `snapshot`: the caught-up standby snapshots its replica (taken, encoded, stored with
//!   the log it covers deleted), and a new node starts from it, beside the full replay.
//! - `failover`: a leader stops (as after `kill -9`: it neither renews nor releases); the
//!   time until a standby, ticking every 100 ms, has committed its first heartbeat, with
//!   the lease's defaults (10 s TTL, 3 s renewals), over `--takeovers` takeovers.
//!
//! Usage: rollcall-cluster-bench [--seconds 3] [--takeovers 10] [--masters 10000]
//! (`--takeovers 0` skips the failover figures)

use std::time::{Duration, Instant};

use rollcall_benches::fixture::{drain, master_active, master_name, registry_of};
use rollcall_benches::stats::{human, Summary};
use rollcall_core::lease::{LeaseEvent, LeaseTimings};
use rollcall_core::replication::Role;
use rollcall_core::{Registry, RegistryConfig, Timestamp};
use rollcall_io::cluster::{PostgresReplicator, PostgresStore};
use rollcall_io::storage::{FjallStore, Store};
use rollcall_test_postgres::Postgres;

const DEFAULTS: LeaseTimings = LeaseTimings { ttl_ms: 10_000, renew_interval_ms: 3_000 };

struct Options {
    seconds: u64,
    takeovers: usize,
    masters: usize,
}

fn options() -> Options {
    let mut options = Options { seconds: 3, takeovers: 10, masters: 10_000 };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value: usize = arguments
            .next()
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--seconds" => options.seconds = value as u64,
            "--takeovers" => options.takeovers = value,
            "--masters" => options.masters = value,
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

/// A snapshot of the caught-up standby's replica: how long taking, encoding and storing
/// it take (which prunes the whole log), how big it is, and how long a new node takes to
/// start from it, beside the full replay it replaces (`replay_seconds`).
fn snapshot_figures(
    postgres: &Postgres,
    clock: &Clock,
    timings: LeaseTimings,
    standby: &mut PostgresReplicator,
    replay_seconds: f64,
) {
    let seq = standby.applied_seq();
    let started = Instant::now();
    let snapshot = standby.replica().expect("a standby's replica").snapshot();
    let taken = started.elapsed().as_secs_f64();
    let bytes = rollcall_io::codec::encode(&snapshot).expect("a snapshot encodes").len();
    let written_started = Instant::now();
    let stored = rollcall_core::replication::SharedStore::write_snapshot(
        standby.store_mut(),
        seq,
        &snapshot,
    )
    .expect("the snapshot is stored");
    assert!(stored, "a newer snapshot was stored already");
    let written = written_started.elapsed().as_secs_f64();
    let mut fresh = replicator(postgres, clock, "bench-fresh", timings);
    let load_started = Instant::now();
    while fresh.applied_seq() < seq {
        fresh.tick(clock.now());
    }
    let loaded = load_started.elapsed().as_secs_f64();
    println!(
        "snapshot after entry {seq}: {} of {} rows, taken in {}, stored (the log up to it deleted) in {}; a new node starts from it in {} (the full replay above: {}, {:.0}x)",
        human(bytes as f64, "bytes"),
        snapshot.records.len(),
        human(taken, "s"),
        human(written, "s"),
        human(loaded, "s"),
        human(replay_seconds, "s"),
        replay_seconds / loaded
    );
}

/// Monotonic time for the lease, as the daemon would pass it.
struct Clock(Instant);

impl Clock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_000_000 + self.0.elapsed().as_millis() as u64)
    }
}

fn replicator(
    postgres: &Postgres,
    clock: &Clock,
    node: &str,
    timings: LeaseTimings,
) -> PostgresReplicator {
    let ttl = Duration::from_millis(timings.ttl_ms);
    let store = PostgresStore::new(postgres.url(), node, &format!("{node}:7001"), ttl);
    PostgresReplicator::new(clock.now(), store, timings, RegistryConfig::default())
        .expect("valid timings")
}

/// Ticks `node` every `step` until it leads, and returns its registry.
fn lead(node: &mut PostgresReplicator, clock: &Clock, step: Duration) -> Registry {
    loop {
        let events = node.tick(clock.now());
        if events.iter().any(|event| matches!(event, LeaseEvent::Taken { .. })) {
            return node.take_registry(clock.now()).expect("a leader's registry");
        }
        std::thread::sleep(step);
    }
}

/// The leader's registry loaded with `masters` masters, committed untimed.
fn loaded_leader(node: &mut PostgresReplicator, clock: &Clock, masters: usize) -> Registry {
    let mut registry = lead(node, clock, Duration::from_millis(50));
    let at = Timestamp::from_millis(1_700_000_000_000);
    let mut changes = Vec::new();
    for chunk in (0..masters).collect::<Vec<_>>().chunks(1_024) {
        for &index in chunk {
            master_active(&mut registry, at, master_name(index));
        }
        drain(&mut registry, &mut changes);
        changes.clear();
        let inputs = registry.take_logged_inputs();
        node.commit(clock.now(), &inputs).expect("the load commits");
    }
    registry
}

/// Heartbeats per second in batches of `batch`, for `seconds`, through `commit`.
fn heartbeats(
    registry: &mut Registry,
    masters: usize,
    batch: usize,
    seconds: u64,
    moment: &mut u64,
    mut commit: impl FnMut(&mut Registry, Vec<rollcall_core::Change>),
) -> f64 {
    let mut next = 0;
    let mut done = 0_usize;
    let started = Instant::now();
    let mut changes = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        // A later moment for every batch, so that every heartbeat changes its row.
        *moment += 1;
        let at = Timestamp::from_millis(*moment);
        for _ in 0..batch {
            master_active(registry, at, master_name(next % masters));
            next += 1;
        }
        drain(registry, &mut changes);
        commit(registry, std::mem::take(&mut changes));
        done += batch;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let options = options();
    let postgres = Postgres::start_durable();
    let clock = Clock(Instant::now());
    let fast = LeaseTimings { ttl_ms: 3_000, renew_interval_ms: 1_000 };

    println!("durable heartbeats, {} masters, {} s per figure:", options.masters, options.seconds);
    let mut leader = replicator(&postgres, &clock, "bench-leader", fast);
    let mut registry = loaded_leader(&mut leader, &clock, options.masters);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut fjall = FjallStore::open(&directory.path().join("data")).expect("a fjall store");
    let mut fjall_registry =
        registry_of(options.masters, Timestamp::from_millis(1_700_000_000_000));
    let (mut postgres_moment, mut fjall_moment) = (1_700_000_100_000, 1_700_000_100_000);
    for batch in [1, 64, 1_024] {
        let postgres_rate = heartbeats(
            &mut registry,
            options.masters,
            batch,
            options.seconds,
            &mut postgres_moment,
            |registry, _| {
                let inputs = registry.take_logged_inputs();
                leader.tick(clock.now());
                leader.commit(clock.now(), &inputs).expect("the leader commits");
            },
        );
        let fjall_rate = heartbeats(
            &mut fjall_registry,
            options.masters,
            batch,
            options.seconds,
            &mut fjall_moment,
            |_, changes| {
                fjall.commit(&changes).expect("fjall commits");
                // The leader's lease is kept meanwhile, as its storage thread keeps it.
                leader.tick(clock.now());
            },
        );
        println!(
            "  batch {batch:>5}: heartbeats through the PostgreSQL leader {}, through fjall {} ({:.2}x fjall)",
            human(postgres_rate, "ops/s"),
            human(fjall_rate, "ops/s"),
            postgres_rate / fjall_rate
        );
    }

    // A new standby replays the whole log, untimed by the lag figure but timed itself.
    let mut standby = replicator(&postgres, &clock, "bench-standby", fast);
    let replay_started = Instant::now();
    while standby.applied_seq() < leader.applied_seq() {
        standby.tick(clock.now());
        leader.tick(clock.now());
    }
    let replayed = standby.applied_seq();
    let replay_seconds = replay_started.elapsed().as_secs_f64();
    println!(
        "standby catch-up: {replayed} log entries replayed in {} ({})",
        human(replay_seconds, "s"),
        human(replayed as f64 / replay_seconds, "ops/s")
    );
    snapshot_figures(&postgres, &clock, fast, &mut standby, replay_seconds);
    // Standby lag while the leader commits batches of 64 flat out.
    let mut lags = Vec::new();
    let mut behind_after = Vec::new();
    let started = Instant::now();
    let mut last_tick = Instant::now();
    let mut changes = Vec::new();
    let mut moment = postgres_moment;
    let mut next = 0;
    while started.elapsed() < Duration::from_secs(options.seconds) {
        moment += 1;
        for _ in 0..64 {
            master_active(
                &mut registry,
                Timestamp::from_millis(moment),
                master_name(next % options.masters),
            );
            next += 1;
        }
        drain(&mut registry, &mut changes);
        changes.clear();
        let inputs = registry.take_logged_inputs();
        leader.tick(clock.now());
        leader.commit(clock.now(), &inputs).expect("the leader commits");
        if last_tick.elapsed() >= Duration::from_millis(50) {
            // What the standby has not seen as it wakes (the staleness a read of it can
            // show), and what it still has not after its tick.
            lags.push((leader.applied_seq() - standby.applied_seq()) as f64);
            standby.tick(clock.now());
            last_tick = Instant::now();
            behind_after.push((leader.applied_seq() - standby.applied_seq()) as f64);
        }
    }
    {
        let lag = Summary::of(&lags);
        let after = Summary::of(&behind_after);
        println!(
            "standby lag, leader committing batches of 64, standby ticking every 50 ms: \
             {:.0} entries unseen as it wakes (median; min {:.0}, max {:.0}; {} samples), \
             {:.0} after its tick (max {:.0})",
            lag.median, lag.min, lag.max, lag.repeats, after.median, after.max
        );
    }
    drop(standby);
    leader.release(clock.now());
    drop(leader);
    if options.takeovers == 0 {
        // `--takeovers 0`: the throughput and lag figures alone.
        return;
    }

    // Failover with the lease's defaults.
    println!(
        "failover with the defaults (10 s TTL, 3 s renewals), {} takeovers:",
        options.takeovers
    );
    let mut current = replicator(&postgres, &clock, "node-0", DEFAULTS);
    let mut current_registry = lead(&mut current, &clock, Duration::from_millis(100));
    let mut seconds = Vec::new();
    for takeover in 1..=options.takeovers {
        let mut successor = replicator(&postgres, &clock, &format!("node-{takeover}"), DEFAULTS);
        // The leader's last heartbeat, committed and renewed; then it stops dead.
        master_active(
            &mut current_registry,
            Timestamp::from_millis(1_700_001_000_000),
            master_name(0),
        );
        drain(&mut current_registry, &mut changes);
        changes.clear();
        current.tick(clock.now());
        let inputs = current_registry.take_logged_inputs();
        current.commit(clock.now(), &inputs).expect("the leader commits");
        let killed = Instant::now();
        drop(current);
        let mut registry = lead(&mut successor, &clock, Duration::from_millis(100));
        master_active(&mut registry, Timestamp::from_millis(1_700_001_000_000), master_name(1));
        drain(&mut registry, &mut changes);
        changes.clear();
        let inputs = registry.take_logged_inputs();
        successor.commit(clock.now(), &inputs).expect("the new leader commits");
        assert!(matches!(successor.role(clock.now()), Role::Leader { .. }));
        let took = killed.elapsed().as_secs_f64();
        println!("  takeover {takeover}: first heartbeat acknowledged {took:.2} s after the leader stopped");
        seconds.push(took);
        current = successor;
        current_registry = registry;
    }
    let failover = Summary::of(&seconds);
    println!(
        "failover: median {} (min {}, max {}) over {} takeovers; anchors' defaults: Kubernetes 15 s, Vault 15 s, Patroni 30 s, Buildbot's expiry 600 s",
        human(failover.median, "s"),
        human(failover.min, "s"),
        human(failover.max, "s"),
        failover.repeats
    );
}
