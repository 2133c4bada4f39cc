//! rollcall-sim: the real Registry and Gateways under simulated time, network and disk.
//!
//! One u64 seed decides everything in a run: the cluster's size and timings, which faults
//! are on and how often (swarm testing), clock skew and drift, and every random choice of
//! the workload and the network. The loop jumps straight to the next event; no wall clock,
//! thread or OS randomness is involved, so a seed replays byte for byte. Oracles are
//! checked after every event (safety), and once more after a liveness phase in which every
//! fault is healed.

pub mod cluster;
mod oracle;
mod panics;
mod rng;
mod settings;
mod trace;
mod world;

pub use oracle::{FailureKind, Violation};
pub use panics::PanicLocation;
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
        /// Where it panicked; None only for a panic no hook saw (see `PanicLocation`).
        location: Option<PanicLocation>,
    },
}

/// Runs one seed to its end. A panic inside the run is reported quietly as
/// `Outcome::Crashed` with its location; deriving the settings happens outside that net
/// (the runner reports a thread that dies there).
pub fn run_seed(seed: u64, overrides: Overrides) -> (Settings, Outcome) {
    let settings = Settings::derive(seed, overrides);
    let outcome = run_catching(settings.clone(), |settings| world::World::new(settings).run());
    (settings, outcome)
}

/// The body is a parameter so that tests can plant a panic at a known place.
fn run_catching(
    settings: Settings,
    body: impl FnOnce(Settings) -> (oracle::Verdict, u64, RunStats) + std::panic::UnwindSafe,
) -> Outcome {
    match panics::catch(move || body(settings)) {
        Ok((Ok(()), trace_hash, stats)) => Outcome::Passed { trace_hash, stats },
        Ok((Err(violation), trace_hash, stats)) => Outcome::Failed { violation, trace_hash, stats },
        Err(caught) => Outcome::Crashed { message: caught.message, location: caught.location },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that panics is reported as a crash at the panic's own file and line (the
    /// test process installed no hook of its own, like a library user).
    #[test]
    fn a_panicking_run_reports_where_it_panicked() {
        let settings = Settings::derive(1, Overrides::default());
        let line = line!() + 1;
        let outcome = run_catching(settings, |_| panic!("planted at a known place"));
        let Outcome::Crashed { message, location: Some(location) } = outcome else {
            panic!("expected a crash with a location, got {outcome:?}");
        };
        assert_eq!(message, "planted at a known place");
        assert_eq!((location.file.as_str(), location.line), (file!(), line));
        assert!(location.to_string().starts_with(&format!("sim/src/lib.rs:{line}:")));
    }
}
