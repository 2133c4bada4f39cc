//! A short sweep inside `cargo test`: a handful of seeds must pass every oracle, and a seed
//! run twice must leave the same trace. The long sweeps run from `.ci/run` in release mode.

use rollcall_sim::{run_seed, Outcome, Overrides};

fn one_hour() -> Overrides {
    Overrides { hours: Some(1), ..Overrides::default() }
}

#[test]
fn a_few_seeds_pass_every_oracle() {
    for seed in 0..6 {
        let (settings, outcome) = run_seed(seed, one_hour());
        match outcome {
            Outcome::Passed { stats, .. } => {
                assert!(stats.events > 1_000, "seed {seed} did almost nothing: {stats:?}");
                assert!(stats.attaches > 0, "seed {seed} attached no worker: {stats:?}");
            }
            other => panic!("{settings}\n{other:?}"),
        }
    }
}

#[test]
fn the_same_seed_leaves_the_same_trace_and_another_seed_does_not() {
    let trace = |seed| match run_seed(seed, one_hour()).1 {
        Outcome::Passed { trace_hash, .. } => trace_hash,
        other => panic!("seed {seed}: {other:?}"),
    };
    assert_eq!(trace(42), trace(42));
    assert_ne!(trace(42), trace(43));
}
