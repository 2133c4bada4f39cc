//! A running hash of everything that happened in a run: two runs of one seed must end
//! with the same hash, byte for byte. Deterministic and dependency-free: each 64-bit word
//! is folded in with a rotate, an xor and one multiply by an odd constant (so a step never
//! maps two different states, or two different words, to the same state), and the result
//! is avalanched once at the end. Frames and events are the bulk of a run, so they are fed
//! as numbers and raw bytes, never through `Debug` formatting.

use std::fmt::Write;
use std::hash::Hasher;

use rollcall_core::GatewayEvent;

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Clone, Debug)]
pub(crate) struct TraceHash {
    hash: u64,
    scratch: String,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash { hash: 0xcbf2_9ce4_8422_2325, scratch: String::new() }
    }
}

impl TraceHash {
    pub(crate) fn number(&mut self, value: u64) {
        self.hash = (self.hash.rotate_left(23) ^ value).wrapping_mul(MULTIPLIER);
    }

    /// Eight bytes at a time, then the length, so that no two byte strings feed the same
    /// words.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.number(u64::from_le_bytes(word));
        }
        let remainder = chunks.remainder();
        if !remainder.is_empty() {
            let mut word = [0_u8; 8];
            word[..remainder.len()].copy_from_slice(remainder);
            self.number(u64::from_le_bytes(word));
        }
        self.number(bytes.len() as u64);
    }

    /// Hashes a value's `Debug` form, for rare values with no cheaper stable form.
    pub(crate) fn debug(&mut self, value: &impl std::fmt::Debug) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value:?}");
        self.bytes(scratch.as_bytes());
        self.scratch = scratch;
    }

    /// Hashes a value through `std::hash::Hash`, fed straight into the trace.
    pub(crate) fn hashed(&mut self, value: &impl std::hash::Hash) {
        value.hash(&mut Feed(self));
    }

    /// A Gateway event: a tag, then its fields.
    pub(crate) fn gateway_event(&mut self, event: &GatewayEvent) {
        match event {
            GatewayEvent::Attached { worker, connection } => {
                self.number(1);
                self.bytes(worker.as_bytes());
                self.number(connection.get());
            }
            GatewayEvent::Detached { worker, connection, reason } => {
                self.number(2);
                self.bytes(worker.as_bytes());
                self.number(connection.get());
                self.number(*reason as u64);
            }
            GatewayEvent::Rejected { worker, connection, cause } => {
                self.number(3);
                self.bytes(worker.as_bytes());
                self.number(connection.get());
                self.number(*cause as u64);
            }
            GatewayEvent::DuplicateResolved { worker, policy, kept, dropped } => {
                self.number(4);
                self.bytes(worker.as_bytes());
                self.number(*policy as u64);
                self.number(kept.get());
                self.number(dropped.get());
            }
            GatewayEvent::Missing { worker } => {
                self.number(5);
                self.bytes(worker.as_bytes());
            }
            GatewayEvent::Reconfigured { .. } | GatewayEvent::ReconfigRejected { .. } => {
                self.number(6);
                self.debug(event);
            }
        }
    }

    pub(crate) fn value(&self) -> u64 {
        // SplitMix64's finaliser: every input bit reaches every output bit.
        let mut mixed = self.hash;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }
}

/// `std::hash::Hasher` over a trace: whatever a value hashes goes into the trace.
struct Feed<'a>(&'a mut TraceHash);

impl Hasher for Feed<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.bytes(bytes);
    }

    fn write_u8(&mut self, value: u8) {
        self.0.number(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.0.number(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0.number(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.0.number(value as u64);
    }

    fn write_isize(&mut self, value: isize) {
        self.0.number(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_streams_give_different_hashes() {
        let hash = |feed: &dyn Fn(&mut TraceHash)| {
            let mut trace = TraceHash::default();
            feed(&mut trace);
            trace.value()
        };
        assert_eq!(hash(&|t| t.number(7)), hash(&|t| t.number(7)));
        assert_ne!(hash(&|t| t.number(7)), hash(&|t| t.number(8)));
        assert_ne!(hash(&|t| t.number(0)), hash(&|_| {}));
        assert_ne!(hash(&|t| t.bytes(b"ab")), hash(&|t| t.bytes(b"ab\0")));
        assert_ne!(hash(&|t| t.bytes(b"worker-1")), hash(&|t| t.bytes(b"worker-2")));
        assert_ne!(
            hash(&|t| {
                t.number(1);
                t.number(2)
            }),
            hash(&|t| {
                t.number(2);
                t.number(1)
            })
        );
    }
}
