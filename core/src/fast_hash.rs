//! A small, deterministic hasher for the core's lookup tables.
//!
//! The standard library's default hasher is seeded from the operating system, which would
//! make a run depend on something no seed controls. The core only ever *looks up* through
//! hash maps and never iterates them, so a fixed-seed multiplicative hash (the one rustc
//! uses, "FxHash") is both deterministic and fast. Ordered data lives in `BTreeMap`s.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut tail = [0_u8; 8];
        let remainder = chunks.remainder();
        tail[..remainder.len()].copy_from_slice(remainder);
        self.add(u64::from_le_bytes(tail));
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map for lookups only: never iterate it where order could leak into outputs.
pub(crate) type LookupMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A hash set for membership tests only: never iterate it where order could leak.
pub(crate) type LookupSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;
