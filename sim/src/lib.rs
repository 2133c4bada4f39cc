//! rollcall-sim: the real Registry and Gateways under simulated time, network and disk.
//!
//! One u64 seed decides everything in a run: the cluster's size and timings, which faults
//! are on and how often (swarm testing), clock skew and drift, and every random choice of
//! the workload and the network. The loop jumps straight to the next event; no wall clock,
//! thread or OS randomness is involved, so a seed replays byte for byte. Oracles are
//! checked after every event (safety), and once more after a liveness phase in which every
//! fault is healed.

mod oracle;
mod rng;
mod settings;
mod trace;
mod world;

pub use oracle::{FailureKind, Violation};
pub use rng::Rng;
pub use settings::{Faults, Overrides, Settings};
pub use world::RunStats;

/// How one seed's run ended.
#[derive(Debug)]
pub enum Outcome {
    Passed {
        trace_hash: u64,
        stats: RunStats,
    },
    Failed {
        violation: Violation,
        trace_hash: u64,
        stats: RunStats,
    },
    /// The core (or the simulator) panicked: a failed assertion is a bug.
    Crashed {
        message: String,
    },
}

/// Runs one seed to its end.
pub fn run_seed(seed: u64, overrides: Overrides) -> (Settings, Outcome) {
    let settings = Settings::derive(seed, overrides);
    let world_settings = settings.clone();
    let outcome = std::panic::catch_unwind(move || world::World::new(world_settings).run());
    let outcome = match outcome {
        Ok((Ok(()), trace_hash, stats)) => Outcome::Passed { trace_hash, stats },
        Ok((Err(violation), trace_hash, stats)) => Outcome::Failed { violation, trace_hash, stats },
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|text| (*text).to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            Outcome::Crashed { message }
        }
    };
    (settings, outcome)
}
