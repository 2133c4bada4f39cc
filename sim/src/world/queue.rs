//! The discrete-event queue: events in time order, ties in the order they were scheduled.
//!
//! A binary heap of 128-bit keys (moment, sequence number, slot): with the thousand or two
//! events a large cluster keeps pending, the keys fit in the first-level caches, so a sift
//! of a dozen levels costs less than a calendar queue's walk through thousands of bucket
//! buffers did (measured on `--masters 50 --workers 500 --hours 24`: 8% less CPU; a 4-ary
//! heap was slower again). Events live in a slab whose slots are reused, so scheduling
//! allocates nothing once the run has warmed up; worker ticks, the most common event, need
//! no slot at all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rollcall_core::Timestamp;

use crate::world::Event;

/// Bits of a key that name the slab slot; above them the sequence number, above that
/// (in the high 64 bits) the moment. Sequence numbers are unique, so the slot never
/// decides the order.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;
/// Set in a key's slot bits when the event is a worker tick, the most common event, whose
/// only field (the worker) then rides in the remaining slot bits instead of the slab: taking
/// it touches no memory but the heap.
const TICK_FLAG: u128 = 1 << (SLOT_BITS - 1);

#[derive(Debug, Default)]
pub(super) struct EventQueue {
    /// Keys, `at << 64 | sequence << 24 | slot`: the smallest is the next event.
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    /// The moment of the last event taken: nothing may be scheduled before it.
    present_ms: u64,
    sequence: u64,
}

fn moment(key: u128) -> u64 {
    (key >> 64) as u64
}

impl EventQueue {
    /// Queues `event` for `at`, which must not be before the last event taken.
    pub(super) fn push(&mut self, at: Timestamp, event: Event) {
        let at = at.as_millis();
        assert!(at >= self.present_ms, "an event was scheduled before the present");
        self.sequence += 1;
        assert!(self.sequence < 1 << (64 - SLOT_BITS), "sequence numbers ran out");
        let payload = match event {
            Event::WorkerTick { worker } if (worker as u128) < TICK_FLAG => {
                TICK_FLAG | worker as u128
            }
            event => self.store(event),
        };
        let key = (u128::from(at) << 64) | (u128::from(self.sequence) << SLOT_BITS) | payload;
        self.heap.push(Reverse(key));
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

    /// Whether an event is queued for exactly `at`, the moment of the last event taken.
    pub(super) fn has_event_at(&self, at: Timestamp) -> bool {
        self.heap.peek().is_some_and(|&Reverse(key)| moment(key) == at.as_millis())
    }

    /// The earliest event's moment, without taking it.
    pub(super) fn peek_at(&mut self) -> Option<Timestamp> {
        self.heap.peek().map(|&Reverse(key)| Timestamp::from_millis(moment(key)))
    }

    pub(super) fn pop(&mut self) -> Option<(Timestamp, Event)> {
        let Reverse(key) = self.heap.pop()?;
        self.present_ms = moment(key);
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

    /// Events come out in `(at, order scheduled)` order, from the same moment to moments a
    /// long way apart, also when scheduled at the present while the queue is drained.
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
