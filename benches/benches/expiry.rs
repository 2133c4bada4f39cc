//! Expiry sweeps in the core, beside a naive full-scan registry measured in the same run.
//!
//! What: one `Registry::handle_timeout` sweep, drained (changes collected, events looked
//! at), over registries of 10k, 100k and 1M active masters, when 0, 1% or 10% of them are
//! older than the window. Baseline: `NaiveRegistry::expire`, Buildbot's loop (look at every
//! master, compare, deactivate) over a `Vec`, with no database: the fastest a full scan can
//! be.
//!
//! How each sweep really expires the intended number: see `ExpiryFixture` (masters are
//! split into groups that heartbeat a millisecond apart; each sweep is timed at the moment
//! exactly one group is past the window; the expired group heartbeats again, untimed,
//! before the next sweep). Every sweep's count is checked; only the sweep is timed.
//!
//! Run: `cargo bench -p rollcall-benches --bench expiry`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rollcall_benches::fixture::{master_name, ExpiryFixture, START, WINDOW_MS};
use rollcall_benches::naive::NaiveRegistry;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const EXPIRED_PERCENTS: [usize; 3] = [0, 1, 10];

fn rollcall_sweeps(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("expiry");
    for size in SIZES {
        for percent in EXPIRED_PERCENTS {
            let expired = size * percent / 100;
            let mut fixture = ExpiryFixture::new(size, expired);
            fixture.setup_changes = Vec::new();
            let mut changes = Vec::with_capacity(expired * 2);
            // Masters expired per second; zero for the sweeps that expire nothing.
            group.throughput(Throughput::Elements(expired as u64));
            let id = BenchmarkId::new(format!("rollcall-{percent}pct"), size);
            if expired == 0 {
                let quiet = fixture.quiet_moment();
                group.bench_function(id, |bencher| {
                    bencher.iter(|| {
                        let drained = fixture.sweep(black_box(quiet), &mut changes);
                        assert_eq!(drained.masters_stopped, 0);
                    });
                });
            } else {
                group.bench_function(id, |bencher| {
                    bencher.iter_custom(|iterations| {
                        let mut timed = Duration::ZERO;
                        for _ in 0..iterations {
                            let now = fixture.prepare_sweep();
                            fixture.setup_changes.clear();
                            changes.clear();
                            let started = Instant::now();
                            let drained = fixture.sweep(now, &mut changes);
                            timed += started.elapsed();
                            assert_eq!(drained.masters_stopped, expired);
                        }
                        timed
                    });
                });
            }
        }
    }
    group.finish();
}

fn naive_sweeps(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("expiry");
    for size in SIZES {
        let mut naive = NaiveRegistry::new(WINDOW_MS);
        for index in 0..size {
            naive.master_active(&master_name(index), START.as_millis());
        }
        let old_ms = START.as_millis();
        let fresh_ms = old_ms + 100_000;
        let now_ms = old_ms + WINDOW_MS + 1;
        for percent in EXPIRED_PERCENTS {
            let expired = size * percent / 100;
            // Every stride-th master is old; with nothing to expire, none is.
            let stride = size.checked_div(expired);
            // Masters expired per second; zero for the sweeps that expire nothing.
            group.throughput(Throughput::Elements(expired as u64));
            let id = BenchmarkId::new(format!("naive-{percent}pct"), size);
            group.bench_function(id, |bencher| {
                // Every master fresh, then the chosen ones old (untimed).
                let rearm = |naive: &mut NaiveRegistry| {
                    for (index, master) in naive.masters.iter_mut().enumerate() {
                        master.active = true;
                        let old = stride.is_some_and(|stride| index % stride == 0);
                        master.last_active_ms = if old { old_ms } else { fresh_ms };
                    }
                };
                rearm(&mut naive);
                bencher.iter_custom(|iterations| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iterations {
                        let started = Instant::now();
                        let stopped = naive.expire(black_box(now_ms));
                        timed += started.elapsed();
                        assert_eq!(stopped.len(), expired);
                        if expired > 0 {
                            rearm(&mut naive);
                        }
                    }
                    timed
                });
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = common::settings(); targets = rollcall_sweeps, naive_sweeps }
criterion_main!(benches);
