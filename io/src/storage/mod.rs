//! Durable Registry state.
//!
//! The Registry's storage sits behind the narrow [`Store`] interface: load every row at
//! startup, commit one batch of changes atomically and durably. The embedded default is
//! [`FjallStore`]; a shared engine (a PostgreSQL, as Buildbot's multi-master setups use)
//! would implement the same two methods without touching the core.

mod error;
mod fjall_store;
mod keys;

use rollcall_core::{Change, Record};

pub use error::{StorageError, UnknownVersion};
pub use fjall_store::FjallStore;

/// What one commit cost, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub changes: usize,
    /// Time spent making the batch durable (the fsync), in microseconds.
    pub sync_micros: u64,
}

/// The Registry's storage.
pub trait Store {
    /// Every persisted row, in any order.
    ///
    /// # Errors
    ///
    /// When the engine fails or a row cannot be decoded.
    fn load(&self) -> Result<Vec<Record>, StorageError>;

    /// Applies the changes as one atomic batch and makes it durable before returning.
    /// An empty batch costs nothing.
    ///
    /// # Errors
    ///
    /// When the engine fails; nothing of the batch may then be assumed written.
    fn commit(&mut self, changes: &[Change]) -> Result<CommitStats, StorageError>;
}
