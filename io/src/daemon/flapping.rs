//! Telling a worker that flaps from one that restarted: under drop-older, each new
//! connection for a name replaces the last. Once is a restart; the same name replaced
//! again and again within a period is two processes sharing one name, which the operator
//! should hear about.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The period replacements are counted over.
const PERIOD: Duration = Duration::from_secs(60);
/// Replacements of one name within a period that make it flapping.
const FLAPPING_AFTER: u32 = 3;
/// Names tracked at once; beyond it, periods that ended are forgotten first.
const MAX_NAMES: usize = 4_096;

#[derive(Debug, Default)]
pub(crate) struct Flapping {
    /// Per name: when its period began, and its replacements since.
    by_name: HashMap<String, (Instant, u32)>,
}

impl Flapping {
    /// Counts one replacement of `name` at `now`; `true` when that makes it flapping.
    pub(crate) fn replaced(&mut self, name: &str, now: Instant) -> bool {
        if self.by_name.len() >= MAX_NAMES && !self.by_name.contains_key(name) {
            self.by_name.retain(|_, (start, _)| now.duration_since(*start) < PERIOD);
            if self.by_name.len() >= MAX_NAMES {
                return false;
            }
        }
        let entry = self.by_name.entry(name.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= PERIOD {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 >= FLAPPING_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_is_not_flapping_but_the_third_replacement_in_a_period_is() {
        let mut flapping = Flapping::default();
        let start = Instant::now();
        assert!(!flapping.replaced("w1", start));
        assert!(!flapping.replaced("w1", start + Duration::from_secs(1)));
        assert!(flapping.replaced("w1", start + Duration::from_secs(2)));
        assert!(!flapping.replaced("w2", start + Duration::from_secs(2)), "per name");
        assert!(!flapping.replaced("w1", start + PERIOD * 2), "a new period starts over");
    }
}
