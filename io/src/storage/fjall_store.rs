//! The embedded default store: fjall 3 on local disk.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use rollcall_core::{Change, Record};

use crate::codec;
use crate::storage::keys::{self, ROW_KEYSPACES};
use crate::storage::{CommitStats, StorageError, Store};

/// fjall's default memtable is 64 MiB. Every heartbeat adds a version of its master's key,
/// so a memtable that large holds hundreds of thousands of entries, and each insert's
/// skiplist search (most of a commit's time under `perf`) walks a deep, cache-cold list.
/// At 8 MiB the median sweep-and-commit expiring 1,000 of 10,000 masters went from about
/// 4.5 ms to 2.4–3.4 ms (`benches/examples/probe_expiry.rs`), at the price of a flush
/// every 8 MiB of writes. fjall records this per keyspace when it creates one: older data
/// directories keep the size they were created with.
const MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// Registry rows in fjall keyspaces, one per kind of row.
///
/// There is no stored liveness index: the daemon never reads one back, because
/// `Registry::recover` rebuilds its in-memory index from the master rows it loads anyway.
/// A stored copy cost two extra memtable entries per heartbeat and per expiry (a tombstone
/// for the old key, the new key), which was most of a durable expiry sweep.
pub struct FjallStore {
    database: Database,
    keyspaces: HashMap<&'static str, Keyspace>,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("FjallStore").finish_non_exhaustive()
    }
}

impl FjallStore {
    /// Opens (or creates) the database in `directory`. fjall locks it: a second daemon on
    /// the same directory fails here instead of corrupting it.
    ///
    /// # Errors
    ///
    /// When the directory cannot be opened or locked.
    pub fn open(directory: &Path) -> Result<FjallStore, StorageError> {
        let database = Database::builder(directory).open()?;
        // Data directories written before the index was dropped still hold it; it is
        // derived data, so it goes rather than going stale.
        if database.keyspace_exists(keys::RETIRED_MASTERS_BY_LAST_ACTIVE) {
            let retired = database
                .keyspace(keys::RETIRED_MASTERS_BY_LAST_ACTIVE, KeyspaceCreateOptions::default)?;
            database.delete_keyspace(retired)?;
        }
        let mut keyspaces = HashMap::new();
        for name in ROW_KEYSPACES {
            let options = || KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
            keyspaces.insert(name, database.keyspace(name, options)?);
        }
        Ok(FjallStore { database, keyspaces })
    }

    fn keyspace(&self, name: &'static str) -> &Keyspace {
        match self.keyspaces.get(name) {
            Some(keyspace) => keyspace,
            None => unreachable!("every keyspace is opened in FjallStore::open"),
        }
    }
}

impl Store for FjallStore {
    fn load(&self) -> Result<Vec<Record>, StorageError> {
        let mut rows = Vec::new();
        for name in ROW_KEYSPACES {
            for entry in self.keyspace(name).iter() {
                let value = entry.value()?;
                let row: Record = codec::decode(&value).map_err(|error| StorageError::Corrupt {
                    keyspace: name,
                    why: error.to_string(),
                })?;
                rows.push(row);
            }
        }
        Ok(rows)
    }

    fn commit(&mut self, changes: &[Change]) -> Result<CommitStats, StorageError> {
        if changes.is_empty() {
            return Ok(CommitStats::default());
        }
        let mut batch = self.database.batch().durability(Some(PersistMode::SyncAll));
        for change in changes {
            match change {
                Change::Put(row) => {
                    let (name, key) = keys::locate(&row.key());
                    let value = codec::encode(row)
                        .map_err(|error| StorageError::Engine(error.to_string()))?;
                    batch.insert(self.keyspace(name), key, value);
                }
                Change::Delete(key) => {
                    let (name, key) = keys::locate(key);
                    batch.remove(self.keyspace(name), key);
                }
            }
        }
        let started = Instant::now();
        batch.commit()?;
        let sync_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(CommitStats { changes: changes.len(), sync_micros })
    }
}

#[cfg(test)]
mod tests {
    use rollcall_core::registry::MasterRecord;
    use rollcall_core::{BuilderId, MasterId, Timestamp};

    use super::*;

    fn master(id: u64, active: bool, last_active_ms: u64) -> Record {
        Record::Master(MasterRecord {
            id: MasterId(id),
            name: format!("m{id}:/srv"),
            active,
            last_active: Timestamp::from_millis(last_active_ms),
        })
    }

    fn sorted(mut rows: Vec<Record>) -> Vec<Record> {
        rows.sort_by_key(Record::key);
        rows
    }

    #[test]
    fn a_reopened_store_loads_the_latest_put_of_each_row_and_nothing_deleted() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let mut store = FjallStore::open(directory.path()).expect("open");
            let link = Record::BuilderMaster { builder: BuilderId(7), master: MasterId(1) };
            store
                .commit(&[
                    Change::Put(master(1, true, 1_000)),
                    Change::Put(master(2, true, 1_000)),
                    Change::Put(link.clone()),
                ])
                .expect("first batch");
            // A heartbeat, an expiry and a given-back link, all in one later batch.
            store
                .commit(&[
                    Change::Put(master(1, true, 2_000)),
                    Change::Put(master(2, false, 1_000)),
                    Change::Delete(link.key()),
                ])
                .expect("second batch");
        }
        let store = FjallStore::open(directory.path()).expect("reopen");
        assert_eq!(
            sorted(store.load().expect("load")),
            vec![master(1, true, 2_000), master(2, false, 1_000)]
        );
    }

    #[test]
    fn an_empty_batch_costs_nothing_and_changes_nothing() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut store = FjallStore::open(directory.path()).expect("open");
        assert_eq!(store.commit(&[]).expect("commit"), CommitStats::default());
        assert!(store.load().expect("load").is_empty());
    }

    #[test]
    fn a_directory_with_the_retired_liveness_index_opens_without_it_and_keeps_its_rows() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let mut store = FjallStore::open(directory.path()).expect("open");
            store.commit(&[Change::Put(master(1, true, 5))]).expect("commit");
            let retired = store
                .database
                .keyspace(keys::RETIRED_MASTERS_BY_LAST_ACTIVE, KeyspaceCreateOptions::default)
                .expect("create the old index");
            retired.insert([0_u8; 16], []).expect("an old index key");
            store.database.persist(PersistMode::SyncAll).expect("persist");
        }
        let store = FjallStore::open(directory.path()).expect("reopen");
        assert!(!store.database.keyspace_exists(keys::RETIRED_MASTERS_BY_LAST_ACTIVE));
        assert_eq!(store.load().expect("load"), vec![master(1, true, 5)]);
    }
}
