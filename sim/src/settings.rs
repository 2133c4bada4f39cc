//! Everything one seed decides before the run starts: the cluster's size, its timings, and
//! which faults are on at which rates (swarm testing: some runs have a fault off entirely,
//! which finds bugs that a constant mix of every fault hides).

use std::fmt;

use rollcall_core::DuplicatePolicy;

use crate::rng::Rng;

#[derive(Clone, Debug)]
pub struct Settings {
    pub seed: u64,
    pub masters: usize,
    pub workers: usize,
    pub builders: usize,
    /// Simulated time with faults, then the liveness phase with every fault healed.
    pub safety_phase_ms: u64,
    pub liveness_phase_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub expiry_window_ms: u64,
    pub keepalive_interval_ms: u64,
    pub keepalive_timeout_ms: u64,
    pub ping_timeout_ms: u64,
    pub missing_timeout_ms: u64,
    pub policies: Vec<DuplicatePolicy>,
    pub faults: Faults,
    /// The most inputs the Node process takes into one batch before it commits (the
    /// daemon's is 4,096): each batch's size is drawn between 1 and this.
    pub max_batch_inputs: u64,
    /// Full-state invariant checks after every event (else amortized: see `invariants.rs`).
    pub invariants_every_step: bool,
}

/// Fault rates, per million opportunities, and delays. Zero means off for this seed.
#[derive(Clone, Debug)]
pub struct Faults {
    pub message_loss: u64,
    pub message_duplication: u64,
    /// Extra random delay on master/registry messages, which reorders them.
    pub reorder_jitter_ms: u64,
    pub network_delay_ms: u64,
    pub partition: u64,
    pub master_crash: u64,
    pub master_freeze: u64,
    pub registry_crash: u64,
    pub connection_drop: u64,
    pub clock_skew_ms: u64,
    pub clock_drift_ppm: u64,
    pub duplicate_connect: u64,
    pub bad_credentials: u64,
    pub reconfig: u64,
}

/// Options a person can override from the command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    pub masters: Option<usize>,
    pub workers: Option<usize>,
    pub hours: Option<u64>,
    /// Check the machines' full-state invariants after every event, not amortized.
    pub invariants_every_step: bool,
}

const HOUR_MS: u64 = 3_600_000;

impl Settings {
    pub fn derive(seed: u64, overrides: Overrides) -> Settings {
        let mut rng = Rng::new(seed).fork(0x5e771);
        let masters = overrides.masters.unwrap_or_else(|| rng.between(2, 12) as usize);
        let workers =
            overrides.workers.unwrap_or_else(|| rng.between(masters as u64, 120) as usize);
        let heartbeat_interval_ms = rng.between(5, 60) * 1000;
        let expiry_window_ms = heartbeat_interval_ms * rng.between(3, 10);
        let keepalive_interval_ms = rng.between(10, 60) * 1000;
        let keepalive_timeout_ms = keepalive_interval_ms * rng.between(2, 4);
        let mut on = |rate: u64| if rng.chance(650_000) { rng.between(1, rate) } else { 0 };
        let faults = Faults {
            message_loss: on(50_000),
            message_duplication: on(50_000),
            reorder_jitter_ms: on(5_000),
            network_delay_ms: 1 + on(200),
            partition: on(20_000),
            master_crash: on(20_000),
            master_freeze: on(20_000),
            registry_crash: on(10_000),
            connection_drop: on(30_000),
            clock_skew_ms: on(30_000),
            clock_drift_ppm: on(20_000),
            duplicate_connect: on(100_000),
            bad_credentials: on(100_000),
            reconfig: on(30_000),
        };
        let policies = (0..masters)
            .map(|_| {
                if rng.chance(500_000) {
                    DuplicatePolicy::DropOlder
                } else {
                    DuplicatePolicy::PingOld
                }
            })
            .collect();
        let safety_hours = overrides.hours.unwrap_or_else(|| rng.between(1, 4));
        let builders = rng.between(1, 8) as usize;
        let ping_timeout_ms = rng.between(1, 10) * 1000;
        let missing_timeout_ms = rng.between(60, 3600) * 1000;
        // Drawn last, so the draws above stay what they were.
        let max_batch_inputs = if rng.chance(250_000) { 1 } else { rng.between(2, 4_096) };
        Settings {
            seed,
            masters,
            workers,
            builders,
            safety_phase_ms: safety_hours * HOUR_MS,
            liveness_phase_ms: expiry_window_ms + 3 * heartbeat_interval_ms + keepalive_timeout_ms,
            heartbeat_interval_ms,
            expiry_window_ms,
            keepalive_interval_ms,
            keepalive_timeout_ms,
            ping_timeout_ms,
            missing_timeout_ms,
            policies,
            faults,
            max_batch_inputs,
            invariants_every_step: overrides.invariants_every_step,
        }
    }

    pub fn simulated_ms(&self) -> u64 {
        self.safety_phase_ms + self.liveness_phase_ms
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "seed {}: {} masters, {} workers, {} builders, {} h + {} s liveness; heartbeat {} s, \
             window {} s, keepalive {}/{} s, ping {} s, missing {} s; batches of 1 to {}; \
             faults {:?}",
            self.seed,
            self.masters,
            self.workers,
            self.builders,
            self.safety_phase_ms / HOUR_MS,
            self.liveness_phase_ms / 1000,
            self.heartbeat_interval_ms / 1000,
            self.expiry_window_ms / 1000,
            self.keepalive_interval_ms / 1000,
            self.keepalive_timeout_ms / 1000,
            self.ping_timeout_ms / 1000,
            self.missing_timeout_ms / 1000,
            self.max_batch_inputs,
            self.faults
        )
    }
}
