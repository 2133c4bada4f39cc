//! masterActive in the core: heartbeats of existing masters and first-time registrations,
//! beside a naive registry measured in the same run.
//!
//! What: `Registry::handle` of one `MasterActive` and the drain of its outputs (the change
//! to persist, the reply), for registries of 10k and 1M masters. Heartbeats go round robin
//! and the clock moves one millisecond per round, so every heartbeat really moves
//! `last_active` (a second one in the same millisecond is a no-op by design). The command
//! is built outside the timing (on the daemon it comes decoded off the wire).
//! Baseline: `NaiveRegistry::master_active`, a hash lookup and two stores, the least any
//! registry can do for a heartbeat.
//!
//! Run: `cargo bench -p rollcall-benches --bench heartbeat`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rollcall_benches::fixture::{drain, master_name, HeartbeatFeed, START};
use rollcall_benches::naive::NaiveRegistry;
use rollcall_core::registry::RegistryInput;
use rollcall_core::{Command, Registry, RegistryConfig, ReplyToken};

const SIZES: [usize; 2] = [10_000, 1_000_000];

/// Registrations per fresh registry: the registry is replaced (untimed) after this many,
/// so its size stays within what the heartbeat benchmark covers.
const REGISTRATIONS_PER_REGISTRY: usize = 100_000;

fn heartbeats(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("heartbeat");
    group.throughput(Throughput::Elements(1));
    for size in SIZES {
        let (mut registry, mut feed) = HeartbeatFeed::new(size);
        let mut changes = Vec::new();
        group.bench_function(BenchmarkId::new("rollcall", size), |bencher| {
            bencher.iter_batched(
                || feed.next_input(),
                |(now, input)| {
                    registry.handle(now, input);
                    let drained = drain(&mut registry, &mut changes);
                    changes.clear();
                    drained
                },
                BatchSize::SmallInput,
            );
        });
        drop(registry);

        let mut naive = NaiveRegistry::new(rollcall_benches::fixture::WINDOW_MS);
        let names: Vec<String> = (0..size).map(master_name).collect();
        for name in &names {
            naive.master_active(name, START.as_millis());
        }
        let (mut next, mut now_ms) = (0, START.as_millis());
        group.bench_function(BenchmarkId::new("naive", size), |bencher| {
            bencher.iter(|| {
                if next == names.len() {
                    next = 0;
                    now_ms += 1;
                }
                next += 1;
                naive.master_active(black_box(&names[next - 1]), now_ms)
            });
        });
    }
    group.finish();
}

fn registrations(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("first_registration");
    group.throughput(Throughput::Elements(1));
    let names: Vec<String> = (0..REGISTRATIONS_PER_REGISTRY).map(master_name).collect();
    group.bench_function("rollcall", |bencher| {
        let mut registry = Registry::new(RegistryConfig::default());
        let mut next = 0;
        let mut changes = Vec::new();
        bencher.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            let mut left = iterations as usize;
            while left > 0 {
                if next == names.len() {
                    registry = Registry::new(RegistryConfig::default());
                    next = 0;
                }
                let chunk = left.min(names.len() - next);
                let inputs: Vec<RegistryInput> = names[next..next + chunk]
                    .iter()
                    .map(|name| RegistryInput {
                        token: ReplyToken(0),
                        command: Command::MasterActive { name: name.clone() },
                    })
                    .collect();
                let started = Instant::now();
                for input in inputs {
                    registry.handle(START, input);
                    let drained = drain(&mut registry, &mut changes);
                    debug_assert_eq!(drained.masters_started, 1);
                    changes.clear();
                }
                timed += started.elapsed();
                next += chunk;
                left -= chunk;
            }
            timed
        });
    });
    group.bench_function("naive", |bencher| {
        let mut naive = NaiveRegistry::new(rollcall_benches::fixture::WINDOW_MS);
        let mut next = 0;
        bencher.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            let mut left = iterations as usize;
            while left > 0 {
                if next == names.len() {
                    naive = NaiveRegistry::new(rollcall_benches::fixture::WINDOW_MS);
                    next = 0;
                }
                let chunk = left.min(names.len() - next);
                let started = Instant::now();
                for name in &names[next..next + chunk] {
                    black_box(naive.master_active(black_box(name), START.as_millis()));
                }
                timed += started.elapsed();
                next += chunk;
                left -= chunk;
            }
            timed
        });
    });
    group.finish();
}

criterion_group! { name = benches; config = common::settings(); targets = heartbeats, registrations }
criterion_main!(benches);
