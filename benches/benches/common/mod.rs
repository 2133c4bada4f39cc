//! What every criterion benchmark here shares.

use std::time::Duration;

use criterion::Criterion;

/// Short enough for the whole suite to run in minutes on two cores, with 20 samples so each
/// row's min–max shows the machine's noise.
pub(crate) fn settings() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}
