use crate::Timestamp;

/// The latest moment a machine has been told about.
///
/// Callers may hand a machine an earlier `now` than before (a stepped system clock, skew
/// between threads); the machines' deadline queues rely on time never going backwards, so
/// every `now` passes through here first and is clamped to the latest moment seen.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MonotonicClock {
    latest: Timestamp,
}

impl MonotonicClock {
    pub(crate) fn starting_at(start: Timestamp) -> Self {
        MonotonicClock { latest: start }
    }

    /// Records `now` and returns the moment the machine must act at.
    pub(crate) fn advance(&mut self, now: Timestamp) -> Timestamp {
        if now > self.latest {
            self.latest = now;
        }
        self.latest
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.latest
    }
}
