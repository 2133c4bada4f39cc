//! The clock a node's lease is counted in: monotonic, unlike the wall clock the Registry
//! is fed. A stepped wall clock must never stretch a leader's acting window.

use std::time::{Duration, Instant};

use rollcall_core::Timestamp;

#[derive(Clone, Copy, Debug)]
pub(super) struct LeaseClock {
    origin: Instant,
}

impl LeaseClock {
    pub(super) fn start() -> LeaseClock {
        LeaseClock { origin: Instant::now() }
    }

    /// Milliseconds since the node started.
    pub(super) fn now(&self) -> Timestamp {
        let elapsed_ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(elapsed_ms)
    }

    /// The `Instant` this clock reads `moment` at.
    pub(super) fn instant_of(&self, moment: Timestamp) -> Instant {
        self.origin + Duration::from_millis(moment.as_millis())
    }
}
