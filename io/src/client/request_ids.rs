//! Request ids for a master's requests: unique across the whole life of this process (one
//! counter for every session it opens), and starting at a random number, so that a retry
//! is the only request a daemon ever sees twice under one id, even from a new process of
//! the same master (the daemon answers a retry with its first answer:
//! `core/src/registry/replies.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ring::rand::{SecureRandom, SystemRandom};

static NEXT_REQUEST_ID: OnceLock<AtomicU64> = OnceLock::new();

/// A request id this process never used before.
pub fn next_request_id() -> u64 {
    NEXT_REQUEST_ID.get_or_init(|| AtomicU64::new(random_start())).fetch_add(1, Ordering::Relaxed)
}

/// A random start below 2^63, so the counter never wraps within a process's life.
fn random_start() -> u64 {
    let mut bytes = [0_u8; 8];
    // Without the OS's randomness, ids are still unique within this process; only a
    // retry's recognition across processes of one master would weaken.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 1;
    }
    (u64::from_le_bytes(bytes) >> 1).max(1)
}

#[cfg(test)]
mod tests {
    use super::next_request_id;

    /// Ids only grow within a process, so none repeats.
    #[test]
    fn request_ids_never_repeat_within_a_process() {
        let first = next_request_id();
        let second = next_request_id();
        assert!(second > first);
    }
}
