//! Counters the daemon keeps for `/metrics` and for the logs. Shared between the core
//! thread and the connection tasks, so they are atomics; relaxed ordering is enough for
//! counters that are only ever read for reporting.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds, in microseconds, of the fsync latency histogram's buckets.
pub const FSYNC_BUCKETS_MICROS: [u64; 12] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000];

#[derive(Debug, Default)]
pub struct Metrics {
    pub attaches: AtomicU64,
    pub rejected_unknown_worker: AtomicU64,
    pub rejected_wrong_password: AtomicU64,
    pub rejected_duplicate: AtomicU64,
    pub rejected_handshake_limit: AtomicU64,
    pub duplicates_resolved: AtomicU64,
    pub keepalive_timeouts: AtomicU64,
    pub masters_expired: AtomicU64,
    pub frames_rejected: AtomicU64,
    pub outbound_overflows: AtomicU64,
    pub storage_batches: AtomicU64,
    pub storage_changes: AtomicU64,
    pub fsync_micros_sum: AtomicU64,
    /// Cumulative counts per bucket of [`FSYNC_BUCKETS_MICROS`], plus one for `+Inf`.
    pub fsync_buckets: [AtomicU64; FSYNC_BUCKETS_MICROS.len() + 1],
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn observe_fsync(&self, micros: u64) {
        Metrics::add(&self.fsync_micros_sum, micros);
        let bucket = FSYNC_BUCKETS_MICROS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(FSYNC_BUCKETS_MICROS.len());
        for counter in &self.fsync_buckets[bucket..] {
            Metrics::add(counter, 1);
        }
    }
}
