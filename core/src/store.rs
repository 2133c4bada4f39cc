//! The interface a Node's driver stores the Registry through: load every row at startup,
//! commit one batch of changes atomically and durably. The Node never calls it (it is
//! sans-IO): its drivers do, the daemon with fjall on disk, the simulator with a simulated
//! disk, so both live by the same contract.

use crate::{Change, Record};

/// What one commit cost, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub changes: usize,
    /// Time spent making the batch durable (the fsync), in microseconds; 0 where no time
    /// is measured.
    pub sync_micros: u64,
}

/// The Registry's storage.
pub trait Store {
    /// Why the engine failed. Any failure is fatal to the process: nothing may be
    /// acknowledged that cannot be made durable.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every stored row, in any order.
    ///
    /// # Errors
    ///
    /// When the engine fails or a row cannot be decoded.
    fn load(&self) -> Result<Vec<Record>, Self::Error>;

    /// Applies the changes as one atomic batch and makes it durable before returning.
    /// An empty batch costs nothing.
    ///
    /// # Errors
    ///
    /// When the engine fails; nothing of the batch may then be assumed written.
    fn commit(&mut self, changes: &[Change]) -> Result<CommitStats, Self::Error>;

    /// [`Store::commit`] of a batch the caller hands over: a store that keeps rows in
    /// memory may move them instead of copying. The same contract.
    ///
    /// # Errors
    ///
    /// As [`Store::commit`].
    fn commit_owned(&mut self, changes: Vec<Change>) -> Result<CommitStats, Self::Error> {
        self.commit(&changes)
    }
}

/// A store in memory that keeps exactly what was committed: the simulator's disk (a crash
/// loses only the batch not yet committed) and the tests' storage double.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    rows: std::collections::BTreeMap<crate::RecordKey, Record>,
}

impl MemoryStore {
    /// The committed rows, in key order.
    pub fn rows(&self) -> &std::collections::BTreeMap<crate::RecordKey, Record> {
        &self.rows
    }
}

impl Store for MemoryStore {
    type Error = std::convert::Infallible;

    fn load(&self) -> Result<Vec<Record>, Self::Error> {
        Ok(self.rows.values().cloned().collect())
    }

    fn commit(&mut self, changes: &[Change]) -> Result<CommitStats, Self::Error> {
        self.commit_owned(changes.to_vec())
    }

    /// Moves the rows in: a simulated day commits millions of them.
    fn commit_owned(&mut self, changes: Vec<Change>) -> Result<CommitStats, Self::Error> {
        let count = changes.len();
        for change in changes {
            match change {
                Change::Put(record) => {
                    self.rows.insert(record.key(), record);
                }
                Change::Delete(key) => {
                    self.rows.remove(&key);
                }
            }
        }
        Ok(CommitStats { changes: count, sync_micros: 0 })
    }
}
