//! A running hash of everything that happened in a run: two runs of one seed must end
//! with the same hash, byte for byte (FNV-1a, 64 bits: deterministic and dependency-free).

use std::fmt::Write;

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
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.hash ^= u64::from(*byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn number(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// Hashes a value's `Debug` form (outputs have no `Hash`; their `Debug` is stable).
    pub(crate) fn debug(&mut self, value: &impl std::fmt::Debug) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value:?}");
        self.bytes(scratch.as_bytes());
        self.scratch = scratch;
    }

    /// Hashes a value through `std::hash::Hash` with fixed keys: much cheaper than `Debug`.
    pub(crate) fn hashed(&mut self, value: &impl std::hash::Hash) {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let digest = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(value);
        self.number(digest);
    }

    pub(crate) fn value(&self) -> u64 {
        self.hash
    }
}
