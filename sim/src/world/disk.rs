//! The simulated disk: a [`Store`] that keeps exactly the committed batches, so a crash
//! at any instant loses the open batch whole and nothing else.

use std::collections::BTreeMap;
use std::convert::Infallible;

use rollcall_core::store::{CommitStats, Store};
use rollcall_core::{Change, Record, RecordKey};

#[derive(Debug, Default)]
pub(super) struct SimDisk {
    pub(super) rows: BTreeMap<RecordKey, Record>,
}

impl Store for SimDisk {
    type Error = Infallible;

    fn load(&self) -> Result<Vec<Record>, Infallible> {
        Ok(self.rows.values().cloned().collect())
    }

    fn commit(&mut self, changes: &[Change]) -> Result<CommitStats, Infallible> {
        for change in changes {
            match change {
                Change::Put(record) => {
                    self.rows.insert(record.key(), record.clone());
                }
                Change::Delete(key) => {
                    self.rows.remove(key);
                }
            }
        }
        Ok(CommitStats { changes: changes.len(), sync_micros: 0 })
    }

    /// Moves the rows in: a simulated day commits millions of them.
    fn commit_owned(&mut self, changes: Vec<Change>) -> Result<CommitStats, Infallible> {
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
