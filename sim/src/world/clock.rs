//! A master's own clock: skewed and drifting against simulated time, as a real host's
//! is. Its Gateway and its timers run on it.

use rollcall_core::Timestamp;

use crate::world::master::MasterNode;

impl MasterNode {
    /// This master's clock: skewed and drifting, but never backwards.
    pub(super) fn local_time(&self, now: Timestamp) -> Timestamp {
        let millis = now.as_millis() as i64;
        let local = millis
            + self.skew_ms
            + millis.saturating_sub(super::START_MS as i64) * self.drift_ppm / 1_000_000;
        Timestamp::from_millis(local.max(0) as u64)
    }

    /// The global moment this master's clock reads `local` (rounded up).
    pub(super) fn global_time(&self, local: Timestamp) -> Timestamp {
        let start = super::START_MS as i64;
        let shifted = local.as_millis() as i64 - self.skew_ms - start;
        let global =
            start + (shifted * 1_000_000 + 999_999 + self.drift_ppm) / (1_000_000 + self.drift_ppm);
        Timestamp::from_millis(global.max(0) as u64)
    }
}
