//! Rate limiting for logs that a misconfigured or hostile peer can trigger at will (a
//! rejected worker retries every couple of seconds, forever).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct LogLimiter {
    window: Duration,
    per_window: u32,
    window_start: Instant,
    logged: u32,
    suppressed: u64,
}

/// What to do with one more occurrence.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Log it; `suppressed` occurrences were dropped in the window that just ended.
    Log {
        suppressed: u64,
    },
    Suppress,
}

impl LogLimiter {
    pub(crate) fn new(window: Duration, per_window: u32) -> Self {
        LogLimiter { window, per_window, window_start: Instant::now(), logged: 0, suppressed: 0 }
    }

    pub(crate) fn check(&mut self, now: Instant) -> Verdict {
        let mut suppressed = 0;
        if now.duration_since(self.window_start) >= self.window {
            suppressed = std::mem::take(&mut self.suppressed);
            self.window_start = now;
            self.logged = 0;
        }
        if self.logged < self.per_window {
            self.logged += 1;
            Verdict::Log { suppressed }
        } else {
            self.suppressed += 1;
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_a_few_per_window_then_reports_what_it_dropped() {
        let start = Instant::now();
        let mut limiter = LogLimiter::new(Duration::from_secs(10), 2);
        assert_eq!(limiter.check(start), Verdict::Log { suppressed: 0 });
        assert_eq!(limiter.check(start), Verdict::Log { suppressed: 0 });
        assert_eq!(limiter.check(start), Verdict::Suppress);
        assert_eq!(limiter.check(start), Verdict::Suppress);
        let later = start + Duration::from_secs(11);
        assert_eq!(limiter.check(later), Verdict::Log { suppressed: 2 });
    }
}
