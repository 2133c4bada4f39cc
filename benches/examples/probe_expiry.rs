//! Where the time of a durable expiry goes: 150 rounds of expiring 1,000 of 10,000 masters
//! on one `FjallStore`, each timed in two parts, the core's sweep and the commit of its
//! changes, as the daemon's core thread would do them. Prints the medians, the 90th
//! percentile and the worst round: the criterion benchmark (`durable_expiry`) gives one
//! number, this shows whether a change moved the sweep, the commit or the tail.
//!
//! Run: `cargo run --release -p rollcall-benches --example probe_expiry`

use std::time::{Duration, Instant};

use rollcall_benches::fixture::ExpiryFixture;
use rollcall_io::storage::{FjallStore, Store};

const ROUNDS: usize = 150;
/// The first rounds run on a fresh store, before its memtables fill: not counted.
const WARM_UP_ROUNDS: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let directory = tempfile::tempdir()?;
    let mut store = FjallStore::open(&directory.path().join("data"))?;
    let mut fixture = ExpiryFixture::new(10_000, 1_000);
    let mut changes = Vec::new();
    let (mut sweeps, mut commits, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let now = fixture.prepare_sweep();
        store.commit(&fixture.setup_changes)?;
        fixture.setup_changes.clear();
        changes.clear();
        let started = Instant::now();
        let drained = fixture.sweep(now, &mut changes);
        let swept = Instant::now();
        store.commit(&changes)?;
        let committed = Instant::now();
        assert_eq!(drained.masters_stopped, 1_000, "every round expires exactly 1,000");
        if round >= WARM_UP_ROUNDS {
            sweeps.push(swept - started);
            commits.push(committed - swept);
            totals.push(committed - started);
        }
    }
    for (what, samples) in [("sweep", sweeps), ("commit", commits), ("total", totals)] {
        println!("{what:>6}: {}", summary(samples));
    }
    Ok(())
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
    format!(
        "median {:.2} ms, p90 {:.2} ms, max {:.2} ms over {} rounds",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        samples.len()
    )
}
