//! The discrete-event queue: events in time order, ties in the order they were scheduled.
//!
//! Simulated time never goes backwards, and every event is scheduled at or after the moment
//! being processed, so the keys `(at, sequence)` come out in increasing order: a radix heap
//! (Ahuja, Mehlhorn, Orlin and Tarjan) orders them with a few vector pushes per event, where a
//! binary heap pays a cache-missing sift of a dozen levels. Events live in a slab whose slots
//! are reused, so scheduling allocates nothing once the run has warmed up.

use rollcall_core::Timestamp;

use crate::world::Event;

/// Bits of a key's low word that name the slab slot; above them sits the sequence number.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u128 = (1 << SLOT_BITS) - 1;
/// One bucket per bit a key can differ from the last one taken in, plus bucket 0 for the
/// key equal to it.
const BUCKETS: usize = 129;

#[derive(Debug)]
pub(super) struct EventQueue {
    /// Bucket `i > 0` holds keys whose highest bit differing from `last` is bit `i - 1`;
    /// bucket 0 holds the key equal to `last`. A key is `at << 64 | sequence << 24 | slot`:
    /// sequence numbers are unique, so the slot never decides the order.
    buckets: Vec<Vec<u128>>,
    /// Bit `i` set when bucket `i` is not empty.
    occupied: [u64; 3],
    /// The last key taken (or a lower bound for every key in the queue).
    last: u128,
    len: usize,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    sequence: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue {
            buckets: vec![Vec::new(); BUCKETS],
            occupied: [0; 3],
            last: 0,
            len: 0,
            slots: Vec::new(),
            free: Vec::new(),
            sequence: 0,
        }
    }
}

impl EventQueue {
    /// Queues `event` for `at`, which must not be before the last event taken.
    pub(super) fn push(&mut self, at: Timestamp, event: Event) {
        self.sequence += 1;
        assert!(self.sequence < 1 << (64 - SLOT_BITS), "sequence numbers ran out");
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
        assert!((slot as u128) <= SLOT_MASK, "more than 2^24 events pending at once");
        let key = (u128::from(at.as_millis()) << 64)
            | (u128::from(self.sequence) << SLOT_BITS)
            | slot as u128;
        assert!(key > self.last, "an event was scheduled before the present");
        self.insert(key);
        self.len += 1;
    }

    /// The earliest event's moment, without taking it.
    pub(super) fn peek_at(&mut self) -> Option<Timestamp> {
        self.settle()?;
        Some(Timestamp::from_millis((self.last >> 64) as u64))
    }

    pub(super) fn pop(&mut self) -> Option<(Timestamp, Event)> {
        self.settle()?;
        let Some(key) = self.buckets[0].pop() else {
            unreachable!("a settled queue has its least key in bucket 0");
        };
        self.mark(0, false);
        self.len -= 1;
        let slot = (key & SLOT_MASK) as usize;
        let Some(event) = self.slots[slot].take() else {
            unreachable!("a queued key names an occupied slot");
        };
        self.free.push(slot);
        Some((Timestamp::from_millis((key >> 64) as u64), event))
    }

    /// Brings the least key into bucket 0 (and makes it `last`); `None` when empty.
    fn settle(&mut self) -> Option<()> {
        if self.len == 0 {
            return None;
        }
        if self.occupied[0] & 1 == 1 {
            return Some(());
        }
        let index = self.first_occupied();
        let mut keys = std::mem::take(&mut self.buckets[index]);
        self.mark(index, false);
        let Some(&least) = keys.iter().min() else {
            unreachable!("an occupied bucket has keys");
        };
        self.last = least;
        // Every key of the bucket now differs from `last` in a lower bit than before.
        for key in keys.drain(..) {
            self.insert(key);
        }
        // Keep the emptied vector's capacity for the next keys that land there.
        if self.buckets[index].is_empty() {
            self.buckets[index] = keys;
        }
        Some(())
    }

    fn insert(&mut self, key: u128) {
        let index = (128 - (key ^ self.last).leading_zeros()) as usize;
        self.buckets[index].push(key);
        self.mark(index, true);
    }

    fn first_occupied(&self) -> usize {
        for (word, bits) in self.occupied.iter().enumerate() {
            if *bits != 0 {
                return word * 64 + bits.trailing_zeros() as usize;
            }
        }
        unreachable!("a non-empty queue has an occupied bucket");
    }

    fn mark(&mut self, index: usize, occupied: bool) {
        let (word, bit) = (index / 64, index % 64);
        if occupied {
            self.occupied[word] |= 1 << bit;
        } else {
            self.occupied[word] &= !(1 << bit);
        }
    }
}
