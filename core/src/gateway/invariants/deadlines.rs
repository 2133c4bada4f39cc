//! The three deadline queues against what they time.
//!
//! Lazy deletion leaves stale entries anywhere but at the front (the machine discards
//! stale fronts after every input, so `poll_timeout` is exact). What must hold is that
//! everything timed has a live entry: every attached connection a keepalive entry at its
//! `last_heard`, every waiting connection a ping entry at its `ping_sent_at`, and every
//! worker disconnected and not yet reported missing a missing entry at its
//! `disconnected_since`. A key can have several live entries (a connection id reused, or a
//! worker detached twice, within one millisecond), so counting live entries cannot show
//! that none is missing; each queue's live keys go into a hash set instead, sized to what
//! the queue times, and are only looked up, never iterated.

use std::hash::Hash;

use crate::deadline_queue::DeadlineQueue;
use crate::fast_hash::LookupSet;
use crate::gateway::invariants::MACHINE;
use crate::gateway::timers::{keepalive_live, missing_live, ping_live};
use crate::gateway::{ConnectionState, Gateway};
use crate::invariant::{ensure, Smallest};
use crate::{InvariantViolation, Timestamp};

impl Gateway {
    pub(super) fn check_deadlines(&self) -> Result<(), InvariantViolation> {
        let now = self.clock.now();
        let (connections, slots) = (&self.connections, &self.slots);
        let waiting_count = connections.len().saturating_sub(self.attached_count);
        let keepalive = live_keys(
            "keepalive",
            &self.keepalive_deadlines,
            now,
            self.attached_count,
            |at, connection| keepalive_live(connections, at, connection),
        )?;
        let ping =
            live_keys("ping", &self.ping_deadlines, now, waiting_count, |at, connection| {
                ping_live(connections, at, connection)
            })?;
        let missing =
            live_keys("missing", &self.missing_deadlines, now, slots.len(), |at, name| {
                missing_live(slots, at, name)
            })?;

        let mut untimed_connection = Smallest::new(MACHINE);
        for (connection, held) in connections {
            let (timed, queue, since) = match held.state {
                ConnectionState::Attached { last_heard } => {
                    (keepalive.contains(connection), "keepalive", last_heard)
                }
                ConnectionState::WaitingForPing { ping_sent_at, .. } => {
                    (ping.contains(connection), "ping", ping_sent_at)
                }
            };
            if !timed {
                untimed_connection.offer(*connection, || {
                    format!(
                        "connection {connection} (worker {:?}) has no live {queue} deadline \
                         at {since}, so it never times out",
                        held.worker
                    )
                });
            }
        }
        untimed_connection.into_result()?;

        let mut untimed_worker = Smallest::new(MACHINE);
        for (name, slot) in slots {
            if slot.attached.is_none() && !slot.missing_reported && !missing.contains(name) {
                let since = slot.disconnected_since.unwrap_or_default();
                untimed_worker.offer(&**name, || {
                    format!(
                        "worker {name:?}, disconnected since {since}, has no live missing \
                         deadline, so it is never reported missing"
                    )
                });
            }
        }
        untimed_worker.into_result()
    }
}

/// Checks that the queue is in time order, holds nothing after `now` and has a live front,
/// and returns the keys of its live entries.
fn live_keys<'a, K: Eq + Hash + std::fmt::Debug>(
    queue_name: &str,
    queue: &'a DeadlineQueue<K>,
    now: Timestamp,
    timed_count: usize,
    is_live: impl Fn(Timestamp, &K) -> bool,
) -> Result<LookupSet<&'a K>, InvariantViolation> {
    let mut live = LookupSet::with_capacity_and_hasher(timed_count, Default::default());
    let mut previous = None;
    for (position, (at, key)) in queue.iter().enumerate() {
        ensure!(
            MACHINE,
            previous.is_none_or(|previous| previous <= at),
            "{queue_name} deadline {position} ({key:?} at {at}) is older than the one before"
        );
        previous = Some(at);
        ensure!(MACHINE, at <= now, "{queue_name} deadline for {key:?} at {at} is after {now}");
        if is_live(at, key) {
            live.insert(key);
        } else {
            ensure!(
                MACHINE,
                position > 0,
                "the {queue_name} queue's front ({key:?} at {at}) is stale: poll_timeout is early"
            );
        }
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue whose front is stale, or which holds an entry after now, is reported; a
    /// live entry's key is returned.
    #[test]
    fn a_stale_front_and_an_entry_after_now_are_reported() {
        let queue = DeadlineQueue::from_unordered(vec![(Timestamp::from_millis(1), 1_u8)]);
        let live = live_keys("test", &queue, Timestamp::from_millis(5), 1, |_, _| true);
        assert!(live.is_ok_and(|keys| keys.contains(&1)));
        let stale_front = live_keys("test", &queue, Timestamp::from_millis(5), 1, |_, _| false);
        let what = stale_front.err().map(|broken| broken.what);
        assert!(what.is_some_and(|what| what.contains("front")));
        let future = live_keys("test", &queue, Timestamp::EPOCH, 1, |_, _| true);
        let what = future.err().map(|broken| broken.what);
        assert!(what.is_some_and(|what| what.contains("after")));
    }
}
