//! The discrete-event queue: events in time order, ties in the order they were scheduled.
//!
//! A calendar queue (R. Brown, 1988): time is cut into days of `DAY_MS`, and a year of
//! `DAYS` days is a ring of buckets, each kept sorted by `(at, sequence)`. Simulated time
//! only moves forward and every event is scheduled at or after the moment being processed,
//! so taking the next event is a walk forward from the present day, and scheduling one is
//! almost always a push onto the back of a bucket that holds one or two: constant time,
//! where a binary heap pays a cache-missing sift of a dozen levels per event. A burst (a
//! crashed master's connections all closing within a network delay) lands in a few
//! buckets and costs a binary search each. Events live in a slab whose slots are reused,
//! so scheduling allocates nothing once the run has warmed up; worker ticks, the most
//! common event, need no slot at all.

use std::collections::VecDeque;

use rollcall_core::Timestamp;

use crate::world::Event;

/// One day of the calendar, in milliseconds: about one event per day in a large cluster.
const DAY_MS: u64 = 16;
/// Days in a year; an event further ahead than a year waits in its bucket for its year.
const DAYS: usize = 4096;
/// Bits of a key that name the slab slot; above them the sequence number, above that
/// (in the high 64 bits) the moment. Sequence numbers are unique, so the slot never
/// decides the order.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;
/// Set in a key's slot bits when the event is a worker tick, the most common event, whose
/// only field (the worker) then rides in the remaining slot bits instead of the slab: taking
/// it touches no memory but the bucket.
const TICK_FLAG: u128 = 1 << (SLOT_BITS - 1);

#[derive(Debug)]
pub(super) struct EventQueue {
    /// Each day's keys, `at << 64 | sequence << 24 | slot`, in increasing order.
    buckets: Vec<VecDeque<u128>>,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    /// The start of the day being looked at: no pending event is before it.
    today: u64,
    len: usize,
    sequence: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            buckets: vec![VecDeque::new(); DAYS],
            slots: Vec::new(),
            free: Vec::new(),
            today: 0,
            len: 0,
            sequence: 0,
        }
    }
}

fn bucket_of(at: u64) -> usize {
    (at / DAY_MS) as usize % DAYS
}

fn moment(key: u128) -> u64 {
    (key >> 64) as u64
}

impl EventQueue {
    /// Queues `event` for `at`, which must not be before the last event taken.
    pub(super) fn push(&mut self, at: Timestamp, event: Event) {
        let at = at.as_millis();
        assert!(at >= self.today, "an event was scheduled before the present");
        self.sequence += 1;
        assert!(self.sequence < 1 << (64 - SLOT_BITS), "sequence numbers ran out");
        let payload = match event {
            Event::WorkerTick { worker } if (worker as u128) < TICK_FLAG => {
                TICK_FLAG | worker as u128
            }
            event => self.store(event),
        };
        let key = (u128::from(at) << 64) | (u128::from(self.sequence) << SLOT_BITS) | payload;
        let bucket = &mut self.buckets[bucket_of(at)];
        // The newest key is the largest for its moment: usually the bucket's last.
        if bucket.back().is_none_or(|&last| last < key) {
            bucket.push_back(key);
        } else {
            let position = bucket.partition_point(|&other| other < key);
            bucket.insert(position, key);
        }
        self.len += 1;
    }

    /// Puts an event in the slab and returns its slot.
    fn store(&mut self, event: Event) -> u128 {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        assert!((slot as u128) < TICK_FLAG, "more than 2^23 events pending at once");
        slot as u128
    }

    /// Whether an event is queued for exactly `at`, which must be the moment of the last
    /// event taken (so nothing earlier is left). Unlike `peek_at`, never moves the present.
    pub(super) fn has_event_at(&self, at: Timestamp) -> bool {
        let at = at.as_millis();
        self.buckets[bucket_of(at)].front().is_some_and(|&key| moment(key) == at)
    }

    /// The earliest event's moment, without taking it.
    pub(super) fn peek_at(&mut self) -> Option<Timestamp> {
        let bucket = self.settle()?;
        self.buckets[bucket].front().map(|&key| Timestamp::from_millis(moment(key)))
    }

    pub(super) fn pop(&mut self) -> Option<(Timestamp, Event)> {
        let bucket = self.settle()?;
        let Some(key) = self.buckets[bucket].pop_front() else {
            unreachable!("a settled bucket holds the earliest key");
        };
        self.len -= 1;
        let payload = key & SLOT_MASK;
        let event = if payload & TICK_FLAG != 0 {
            Event::WorkerTick { worker: (payload & !TICK_FLAG) as usize }
        } else {
            let slot = payload as usize;
            let Some(event) = self.slots[slot].take() else {
                unreachable!("a queued key names an occupied slot");
            };
            self.free.push(slot);
            event
        };
        Some((Timestamp::from_millis(moment(key)), event))
    }

    /// Moves `today` to the day of the earliest event and returns its bucket, at whose
    /// front that event is; `None` when the queue is empty.
    fn settle(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        for _ in 0..DAYS {
            let bucket = bucket_of(self.today);
            if self.buckets[bucket].front().is_some_and(|&key| moment(key) < self.today + DAY_MS) {
                return Some(bucket);
            }
            self.today += DAY_MS;
        }
        // A whole year without an event: jump straight to the earliest one.
        let Some(earliest) = self.buckets.iter().filter_map(|bucket| bucket.front()).min() else {
            unreachable!("a non-empty queue has a bucket with a key");
        };
        let earliest = moment(*earliest);
        self.today = earliest - earliest % DAY_MS;
        Some(bucket_of(earliest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event `index`: a worker tick (kept in the key) when even, a thaw (kept in the slab)
    /// when odd, so both paths are exercised.
    fn event(index: usize) -> Event {
        if index % 2 == 0 {
            Event::WorkerTick { worker: index }
        } else {
            Event::Thaw { master: index }
        }
    }

    fn index_of(event: &Event) -> usize {
        match event {
            Event::WorkerTick { worker } => *worker,
            Event::Thaw { master } => *master,
            other => unreachable!("only ticks and thaws are queued, not {other:?}"),
        }
    }

    /// Events come out in `(at, order scheduled)` order however far apart they are: within
    /// a day, across the year's ring, and beyond a year.
    #[test]
    fn events_come_out_in_time_then_schedule_order() {
        let mut queue = EventQueue::default();
        let moments = [5, 3, 3, 70_000, 17, 3, 1_000_000, 16, 65_536, 5, 70_000];
        for (index, &at) in moments.iter().enumerate() {
            queue.push(Timestamp::from_millis(at), event(index));
        }
        let mut expected: Vec<(u64, usize)> =
            moments.iter().enumerate().map(|(index, &at)| (at, index)).collect();
        expected.sort();
        let mut taken = Vec::new();
        while let Some((at, event)) = queue.pop() {
            let index = index_of(&event);
            taken.push((at.as_millis(), index));
            // Scheduling at the present keeps the order too.
            if index == 0 {
                for late in [98, 99] {
                    queue.push(at, self::event(late));
                    let position = expected.iter().position(|&(t, _)| t > 5).unwrap_or(0);
                    expected.insert(position, (5, late));
                }
            }
        }
        assert_eq!(taken, expected);
    }
}
