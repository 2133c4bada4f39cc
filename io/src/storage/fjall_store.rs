//! The embedded default store: fjall 3 on local disk.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use rollcall_core::{Change, MasterId, Record, RecordKey, Timestamp};

use crate::codec;
use crate::storage::keys::{self, ROW_KEYSPACES};
use crate::storage::{CommitStats, StorageError, Store};

/// Registry rows in fjall keyspaces, one per kind of row, plus the `last_active` index of
/// active masters, written in the same atomic batch as the master rows.
pub struct FjallStore {
    database: Database,
    keyspaces: HashMap<&'static str, Keyspace>,
    /// The index key each active master has now, so a heartbeat can delete the old one.
    indexed_last_active: HashMap<MasterId, Timestamp>,
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
    /// When the directory cannot be opened or locked, or the index cannot be read.
    pub fn open(directory: &Path) -> Result<FjallStore, StorageError> {
        let database = Database::builder(directory).open()?;
        let mut keyspaces = HashMap::new();
        for name in ROW_KEYSPACES.into_iter().chain([keys::MASTERS_BY_LAST_ACTIVE]) {
            keyspaces.insert(name, database.keyspace(name, KeyspaceCreateOptions::default)?);
        }
        let mut store = FjallStore { database, keyspaces, indexed_last_active: HashMap::new() };
        store.indexed_last_active = store.read_liveness_index()?;
        Ok(store)
    }

    fn keyspace(&self, name: &'static str) -> &Keyspace {
        match self.keyspaces.get(name) {
            Some(keyspace) => keyspace,
            None => unreachable!("every keyspace is opened in FjallStore::open"),
        }
    }

    fn read_liveness_index(&self) -> Result<HashMap<MasterId, Timestamp>, StorageError> {
        let mut index = HashMap::new();
        for entry in self.keyspace(keys::MASTERS_BY_LAST_ACTIVE).iter() {
            let key = entry.key()?;
            let corrupt = || StorageError::Corrupt {
                keyspace: keys::MASTERS_BY_LAST_ACTIVE,
                why: format!("a key of {} bytes, not 16", key.len()),
            };
            let (moment, id) = key.split_at_checked(8).ok_or_else(corrupt)?;
            let moment = u64::from_be_bytes(moment.try_into().map_err(|_| corrupt())?);
            let id = u64::from_be_bytes(id.try_into().map_err(|_| corrupt())?);
            index.insert(MasterId(id), Timestamp::from_millis(moment));
        }
        Ok(index)
    }

    /// The liveness index as stored: `(last_active, master)` in key order. For tests and
    /// for engines that want the expiry order without loading every master.
    ///
    /// # Errors
    ///
    /// When the engine fails or an index key is malformed.
    pub fn liveness_index(&self) -> Result<Vec<(Timestamp, MasterId)>, StorageError> {
        let mut entries: Vec<(Timestamp, MasterId)> =
            self.read_liveness_index()?.into_iter().map(|(id, moment)| (moment, id)).collect();
        entries.sort();
        Ok(entries)
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
        // Index moves are applied to memory only after the batch is durable; within the
        // batch, the latest move of a master says where its index key is now.
        let mut index_moves: HashMap<MasterId, Option<Timestamp>> = HashMap::new();
        for change in changes {
            match change {
                Change::Put(row) => {
                    let (name, key) = keys::locate(&row.key());
                    let value = codec::encode(row)
                        .map_err(|error| StorageError::Engine(error.to_string()))?;
                    batch.insert(self.keyspace(name), key, value);
                    if let Record::Master(master) = row {
                        let index = self.keyspace(keys::MASTERS_BY_LAST_ACTIVE);
                        let previous = match index_moves.get(&master.id) {
                            Some(moved) => *moved,
                            None => self.indexed_last_active.get(&master.id).copied(),
                        };
                        if let Some(previous) = previous {
                            batch.remove(index, keys::liveness(previous, master.id));
                        }
                        let now_indexed = master.active.then_some(master.last_active);
                        if let Some(moment) = now_indexed {
                            batch.insert(index, keys::liveness(moment, master.id), []);
                        }
                        index_moves.insert(master.id, now_indexed);
                    }
                }
                Change::Delete(key) => {
                    assert!(
                        !matches!(key, RecordKey::Master(_)),
                        "masters are never deleted, so the liveness index never loses one"
                    );
                    let (name, key) = keys::locate(key);
                    batch.remove(self.keyspace(name), key);
                }
            }
        }
        let started = Instant::now();
        batch.commit()?;
        let sync_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        for (id, moment) in index_moves {
            match moment {
                Some(moment) => self.indexed_last_active.insert(id, moment),
                None => self.indexed_last_active.remove(&id),
            };
        }
        Ok(CommitStats { changes: changes.len(), sync_micros })
    }
}
