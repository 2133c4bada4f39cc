//! What a cluster's shared store must do: a lease judged by the store's own clock, and an
//! append-only log of Registry inputs whose appends are fenced by the lease.

use crate::{LoggedInput, RegistrySnapshot};

/// One read of the log: entries in order with their sequence numbers, whether the page
/// was full (so more may follow), and the entry the newest snapshot includes (entries up
/// to it may be gone: a reader behind it starts from the snapshot).
#[derive(Debug, Default)]
pub struct LogPage {
    pub entries: Vec<(u64, LoggedInput)>,
    pub more: bool,
    pub snapshot_seq: u64,
}

/// What a take found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The lease was expired and is now this node's, at `epoch`.
    Taken { epoch: u64 },
    /// Another node (or this one, in an earlier life) holds it for `remaining_ms` more, by
    /// the store's clock.
    Held { remaining_ms: u64 },
}

/// Why an append did not happen.
#[derive(Debug)]
pub enum AppendRefused<E> {
    /// The lease is not the writer's at its epoch, or it expired: nothing was written.
    Fenced { current_epoch: u64, holder: Option<String> },
    /// The log does not end at `after_seq`: another writer appended; nothing was written.
    LogMoved { found_last: u64 },
    /// The store failed; whether the append landed is unknown.
    Failed(E),
}

/// The shared store of one node: its implementation knows the node's name (the lease's
/// holder), its advertised address and the lease's TTL.
///
/// Every call is a round trip to the store and may fail; a failed call's effect is
/// unknown, except where a method says otherwise.
pub trait SharedStore {
    type Error: std::error::Error;

    /// Takes the lease if it has expired (by the store's clock), at the next epoch; else
    /// says how long it is still held, by anyone.
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn try_take(&mut self) -> Result<Take, Self::Error>;

    /// Extends this node's lease of `epoch` by a TTL, unless it expired or was taken:
    /// `false` then.
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn renew(&mut self, epoch: u64) -> Result<bool, Self::Error>;

    /// Ends this node's lease of `epoch` at once (a clean stop).
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn release(&mut self, epoch: u64) -> Result<bool, Self::Error>;

    /// Appends `inputs` after `after_seq`, all or nothing, if the lease is this node's at
    /// `epoch` and unexpired, checked in the same atomic step as the write (the fence).
    /// Returns the sequence number of the last.
    ///
    /// # Errors
    ///
    /// [`AppendRefused`].
    fn append_fenced(
        &mut self,
        epoch: u64,
        after_seq: u64,
        inputs: &[LoggedInput],
    ) -> Result<u64, AppendRefused<Self::Error>>;

    /// Entries after `after_seq`, in order, with their sequence numbers; at most a page.
    /// Entries a snapshot covers may be gone: the page then starts after `after_seq + 1`.
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn read_after(&mut self, after_seq: u64) -> Result<LogPage, Self::Error>;

    /// The newest snapshot, and the sequence number of the last entry it includes.
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn read_snapshot(&mut self) -> Result<Option<(u64, RegistrySnapshot)>, Self::Error>;

    /// Stores `snapshot`, the registry's state after entry `seq` of the log, unless a
    /// snapshot as new is stored already, and drops the entries it covers. Needs no lease:
    /// the state after `seq` is the same whoever computes it. `false` when not stored.
    ///
    /// # Errors
    ///
    /// The store's failure.
    fn write_snapshot(
        &mut self,
        seq: u64,
        snapshot: &RegistrySnapshot,
    ) -> Result<bool, Self::Error>;
}
