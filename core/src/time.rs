use serde::{Deserialize, Serialize};

/// A moment, in milliseconds since the Unix epoch, always supplied by the caller.
///
/// The core never reads a clock: the daemon passes the system time, the simulator passes
/// its simulated time, and tests pass whatever the story needs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// A timestamp `seconds` seconds after the Unix epoch.
    pub const fn from_secs(seconds: u64) -> Self {
        Timestamp(seconds.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch, rounded down (Buildbot's REST shape).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// This moment plus `millis`, saturating at the end of time.
    #[must_use]
    pub const fn plus_millis(self, millis: u64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// This moment minus `millis`, saturating at the epoch.
    #[must_use]
    pub const fn minus_millis(self, millis: u64) -> Self {
        Timestamp(self.0.saturating_sub(millis))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}
