//! The daemon's only clock: the system time, turned into the core's `Timestamp`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rollcall_core::Timestamp;

pub(crate) fn now() -> Timestamp {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// The `Instant` at which the wall clock will read `deadline` (now, if it already has).
pub(crate) fn instant_of(deadline: Timestamp) -> Instant {
    let wait_ms = deadline.as_millis().saturating_sub(now().as_millis());
    Instant::now() + Duration::from_millis(wait_ms)
}
