//! A queue of (moment, key) entries in time order, with lazy deletion.
//!
//! Every deadline in the core is "a moment plus one fixed delay": a master expires a fixed
//! window after its last heartbeat, a connection times out a fixed delay after it was last
//! heard, a worker goes missing a fixed delay after it disconnected. Since time never goes
//! backwards inside a machine, those moments arrive in order, so appending to the back keeps
//! the queue sorted: refreshing a deadline is O(1), and finding what is due only looks at
//! the front. Superseded entries are not searched for and removed; the owner recognises them
//! as stale when they reach the front, and compacts the queue when stale entries outnumber
//! live ones, which keeps memory within a constant factor of the live set.

use std::collections::VecDeque;

use crate::Timestamp;

/// Compaction runs when the queue holds more than this many entries per live key (plus a
/// small constant so tiny queues are never compacted needlessly).
const STALE_FACTOR: usize = 2;
const COMPACTION_SLACK: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct DeadlineQueue<K> {
    entries: VecDeque<(Timestamp, K)>,
    /// The length right after the last compaction. Compaction waits until the queue has
    /// doubled past it too, so that a compaction that could remove little is not repeated
    /// on every input: compaction stays amortised O(1) per push.
    compacted_length: usize,
}

impl<K> DeadlineQueue<K> {
    pub(crate) fn new() -> Self {
        DeadlineQueue { entries: VecDeque::new(), compacted_length: 0 }
    }

    /// Builds a queue from entries in any order (used when state is recovered from disk).
    pub(crate) fn from_unordered(mut entries: Vec<(Timestamp, K)>) -> Self
    where
        K: Ord,
    {
        entries.sort_unstable();
        DeadlineQueue { entries: entries.into(), compacted_length: 0 }
    }

    /// Appends an entry. `at` must not be earlier than the newest entry: callers pass the
    /// machine's monotonic `now`.
    pub(crate) fn push(&mut self, at: Timestamp, key: K) {
        if let Some(&(newest, _)) = self.entries.back() {
            assert!(newest <= at, "deadline queue pushed out of order: {newest} > {at}");
        }
        self.entries.push_back((at, key));
    }

    pub(crate) fn front(&self) -> Option<(Timestamp, &K)> {
        self.entries.front().map(|(at, key)| (*at, key))
    }

    pub(crate) fn pop_front(&mut self) -> Option<(Timestamp, K)> {
        self.entries.pop_front()
    }

    /// Every entry, oldest first, stale ones included: for the invariant checks.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (Timestamp, &K)> + '_ {
        self.entries.iter().map(|(at, key)| (*at, key))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops stale entries from the front so that the front, if any, is live.
    pub(crate) fn discard_stale_front(&mut self, mut is_live: impl FnMut(Timestamp, &K) -> bool) {
        while let Some((at, key)) = self.entries.front() {
            if is_live(*at, key) {
                break;
            }
            self.entries.pop_front();
        }
    }

    /// Removes every stale entry when they outnumber the live ones.
    pub(crate) fn compact_if_needed(
        &mut self,
        live_count: usize,
        mut is_live: impl FnMut(Timestamp, &K) -> bool,
    ) {
        let floor = live_count.max(self.compacted_length);
        let threshold = floor.saturating_mul(STALE_FACTOR).saturating_add(COMPACTION_SLACK);
        if self.entries.len() > threshold {
            self.entries.retain(|(at, key)| is_live(*at, key));
            self.compacted_length = self.entries.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_is_the_earliest_and_stale_entries_are_skipped() {
        let mut queue = DeadlineQueue::new();
        queue.push(Timestamp::from_millis(1), 'a');
        queue.push(Timestamp::from_millis(2), 'b');
        queue.push(Timestamp::from_millis(3), 'a');
        // 'a' was refreshed at 3, so its entry at 1 is stale.
        queue.discard_stale_front(|at, key| !(*key == 'a' && at.as_millis() == 1));
        assert_eq!(queue.front(), Some((Timestamp::from_millis(2), &'b')));
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn compaction_keeps_only_live_entries_once_stale_ones_dominate() {
        let mut queue = DeadlineQueue::new();
        for moment in 0..200 {
            queue.push(Timestamp::from_millis(moment), 7_u32);
        }
        // Only the newest entry is live.
        queue.compact_if_needed(1, |at, _| at.as_millis() == 199);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.front(), Some((Timestamp::from_millis(199), &7)));
    }

    #[test]
    fn compaction_waits_while_stale_entries_are_few() {
        let mut queue = DeadlineQueue::new();
        for moment in 0..10 {
            queue.push(Timestamp::from_millis(moment), moment);
        }
        queue.compact_if_needed(5, |_, key| key % 2 == 0);
        assert_eq!(queue.len(), 10);
    }

    #[test]
    fn entries_that_all_look_live_are_not_rescanned_on_every_push() {
        // Duplicates that compaction cannot tell from live entries (the same moment and key
        // pushed again): after one fruitless compaction, the next waits for the queue to
        // double, so the cost per push stays constant.
        let mut queue = DeadlineQueue::new();
        let mut scans = 0;
        for _ in 0..10_000 {
            queue.push(Timestamp::from_millis(1), 'w');
            queue.compact_if_needed(1, |_, _| {
                scans += 1;
                true
            });
        }
        assert!(scans < 40_000, "{scans} liveness checks for 10,000 pushes");
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn pushing_into_the_past_is_a_bug() {
        let mut queue = DeadlineQueue::new();
        queue.push(Timestamp::from_millis(5), ());
        queue.push(Timestamp::from_millis(4), ());
    }
}
