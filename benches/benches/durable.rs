//! The durable path: the core's changes committed with `FjallStore` (fsync per commit) on
//! a temporary directory, as the daemon's core thread commits each batch.
//!
//! What, each beside a baseline measured in the same run:
//! - `durable_expiry`: expiring 1,000 of 10,000 masters, sweep plus commit of its changes.
//!   Baseline `naive-scan+fjall`: the naive full scan, committing the same master rows,
//!   with the same untimed writes between sweeps as the fixture makes.
//!   `commit-only` commits 1,000 master rows with no sweep at all: the storage floor.
//! - `durable_heartbeat/rollcall-fjall/B`: B heartbeats of distinct existing masters,
//!   their changes committed in one `FjallStore::commit` (group commit), per heartbeat.
//!   Baseline `fsync-floor/B`: writing as many bytes to a plain file and `fsync`ing it,
//!   the least any durable write of the batch can cost on this disk.
//! - `durable_registration/rollcall-fjall/B`: B first-time registrations, one commit.
//! - `durable_commit_rows/rollcall-fjall/K`: one `FjallStore::commit` of K master rows that
//!   each move their `last_active` index entry, on a fresh store holding those K masters;
//!   K = 1,000 and 64,000 show whether
//!   a commit's cost per row stays flat as the batch grows (it should: nothing in it needs
//!   to be worse than linear).
//!
//! Run: `cargo bench -p rollcall-benches --bench durable`

mod common;

use std::io::{Seek, Write};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rollcall_benches::fixture::{
    drain, master_active, master_name, ExpiryFixture, HeartbeatFeed, START, WINDOW_MS,
};
use rollcall_benches::naive::NaiveRegistry;
use rollcall_core::registry::MasterRecord;
use rollcall_core::{Change, MasterId, Record, Registry, RegistryConfig, Timestamp};
use rollcall_io::storage::{FjallStore, Store};

const SIZE: usize = 10_000;
const EXPIRED: usize = 1_000;
const BATCH_SIZES: [usize; 3] = [1, 64, 1024];

fn store() -> (tempfile::TempDir, FjallStore) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let store = FjallStore::open(&directory.path().join("data")).expect("a fresh fjall store");
    (directory, store)
}

fn commit(store: &mut FjallStore, changes: &[Change]) {
    store.commit(changes).expect("the commit succeeds");
}

fn expiry(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("durable_expiry");
    group.throughput(Throughput::Elements(EXPIRED as u64));
    let id = format!("{EXPIRED}_of_{SIZE}");

    let (_directory, mut store) = store();
    let mut fixture = ExpiryFixture::new(SIZE, EXPIRED);
    let mut changes = Vec::new();
    group.bench_function(BenchmarkId::new("rollcall-fjall", &id), |bencher| {
        bencher.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let now = fixture.prepare_sweep();
                commit(&mut store, &fixture.setup_changes);
                fixture.setup_changes.clear();
                changes.clear();
                let started = Instant::now();
                let drained = fixture.sweep(now, &mut changes);
                commit(&mut store, &changes);
                timed += started.elapsed();
                assert_eq!(drained.masters_stopped, EXPIRED);
            }
            timed
        });
    });
    drop(fixture);

    // The naive scan, committing the same rows the core would for what it expired. Between
    // sweeps it makes the same untimed writes as the fixture above (the masters the last
    // sweep expired come back; every tenth round all of them beat), so both variants time
    // their sweep on a store under the same write load, flushes included.
    let mut naive = NaiveRegistry::new(WINDOW_MS);
    for index in 0..SIZE {
        naive.master_active(&master_name(index), START.as_millis());
    }
    let (old_ms, fresh_ms) = (START.as_millis(), START.as_millis() + 100_000);
    let now_ms = old_ms + WINDOW_MS + 1;
    let stride = SIZE / EXPIRED;
    let active_row = |id: u64, name: &str, last_active_ms: u64| {
        Change::Put(Record::Master(MasterRecord {
            id: MasterId(id),
            name: name.to_owned(),
            active: true,
            last_active: Timestamp::from_millis(last_active_ms),
        }))
    };
    let mut revived: Vec<Change> = Vec::new();
    let mut round = 0_usize;
    group.bench_function(BenchmarkId::new("naive-scan+fjall", &id), |bencher| {
        bencher.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                for (index, master) in naive.masters.iter_mut().enumerate() {
                    master.active = true;
                    master.last_active_ms = if index % stride == 0 { old_ms } else { fresh_ms };
                }
                round += 1;
                if round % (SIZE / EXPIRED) == 0 {
                    revived = (naive.masters.iter().enumerate())
                        .map(|(index, master)| {
                            active_row(index as u64 + 1, &master.name, master.last_active_ms)
                        })
                        .collect();
                }
                commit(&mut store, &revived);
                revived.clear();
                let started = Instant::now();
                let expired = naive.expire(now_ms);
                let rows: Vec<Change> = expired
                    .iter()
                    .map(|&id| {
                        let master = &naive.masters[id as usize - 1];
                        Change::Put(Record::Master(MasterRecord {
                            id: MasterId(id),
                            name: master.name.clone(),
                            active: false,
                            last_active: Timestamp::from_millis(master.last_active_ms),
                        }))
                    })
                    .collect();
                commit(&mut store, &rows);
                timed += started.elapsed();
                assert_eq!(expired.len(), EXPIRED);
                revived.extend(expired.iter().map(|&id| {
                    let master = &naive.masters[id as usize - 1];
                    active_row(id, &master.name, now_ms)
                }));
            }
            timed
        });
    });

    let rows: Vec<Change> = (0..EXPIRED)
        .map(|index| {
            Change::Put(Record::Master(MasterRecord {
                id: MasterId(index as u64 * 10 + 1),
                name: master_name(index * 10),
                active: false,
                last_active: START,
            }))
        })
        .collect();
    group.bench_function(BenchmarkId::new("commit-only", &id), |bencher| {
        bencher.iter(|| commit(&mut store, &rows));
    });
    group.finish();
}

fn heartbeats(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("durable_heartbeat");
    let (_directory, mut store) = store();
    let (mut registry, mut feed) = HeartbeatFeed::new(SIZE);
    let mut changes = Vec::new();
    // The store must hold what the registry holds, so its liveness index stays right.
    commit(&mut store, &registry_rows(&registry));
    for batch in BATCH_SIZES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("rollcall-fjall", batch), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let inputs: Vec<_> = (0..batch).map(|_| feed.next_input()).collect();
                    changes.clear();
                    let started = Instant::now();
                    for (now, input) in inputs {
                        registry.handle(now, input);
                        drain(&mut registry, &mut changes);
                    }
                    commit(&mut store, &changes);
                    timed += started.elapsed();
                    assert_eq!(changes.len(), batch);
                }
                timed
            });
        });

        let (_floor_directory, mut file) = floor_file();
        // What one heartbeat's row takes in fjall's journal, roughly: key, value, index.
        let bytes = vec![0x5a_u8; batch * 80];
        group.bench_function(BenchmarkId::new("fsync-floor", batch), |bencher| {
            bencher.iter(|| {
                // Append, as a journal does, but wrap around before the file grows large.
                if file.stream_position().expect("a position") > 64 << 20 {
                    file.rewind().expect("the rewind succeeds");
                }
                file.write_all(&bytes).expect("the write succeeds");
                file.sync_all().expect("the fsync succeeds");
            });
        });
    }
    group.finish();
}

fn registrations(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("durable_registration");
    for batch in [1, 1024] {
        group.throughput(Throughput::Elements(batch as u64));
        let (_directory, mut store) = store();
        let mut registry = Registry::new(RegistryConfig::default());
        let mut next = 0;
        let mut changes = Vec::new();
        group.bench_function(BenchmarkId::new("rollcall-fjall", batch), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    let names: Vec<String> = (next..next + batch).map(master_name).collect();
                    next += batch;
                    changes.clear();
                    let started = Instant::now();
                    for name in names {
                        master_active(&mut registry, START, name);
                        drain(&mut registry, &mut changes);
                    }
                    commit(&mut store, &changes);
                    timed += started.elapsed();
                }
                timed
            });
        });
    }
    group.finish();
}

fn commit_rows(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("durable_commit_rows");
    // One commit of 64,000 rows takes about a second: a few flat samples suffice.
    group.sampling_mode(criterion::SamplingMode::Flat).sample_size(10);
    for rows in [1_000_usize, 64_000] {
        group.throughput(Throughput::Elements(rows as u64));
        let batch = |at: Timestamp| -> Vec<Change> {
            (0..rows)
                .map(|index| {
                    Change::Put(Record::Master(MasterRecord {
                        id: MasterId(index as u64 + 1),
                        name: master_name(index),
                        active: true,
                        last_active: at,
                    }))
                })
                .collect()
        };
        group.bench_function(BenchmarkId::new("rollcall-fjall", rows), |bencher| {
            bencher.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    // A fresh store each time, so the memtable's size is the same for both
                    // batch sizes and only the batch differs.
                    let (_directory, mut store) = store();
                    commit(&mut store, &batch(START));
                    let changes = batch(START.plus_millis(1));
                    let started = Instant::now();
                    commit(&mut store, &changes);
                    timed += started.elapsed();
                }
                timed
            });
        });
    }
    group.finish();
}

fn registry_rows(registry: &Registry) -> Vec<Change> {
    registry.records().into_iter().map(Change::Put).collect()
}

fn floor_file() -> (tempfile::TempDir, std::fs::File) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let file = std::fs::File::create(directory.path().join("floor")).expect("a file");
    (directory, file)
}

criterion_group! { name = benches; config = common::settings(); targets = expiry, heartbeats, registrations, commit_rows }
criterion_main!(benches);
