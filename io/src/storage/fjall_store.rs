//! The embedded default store: fjall 3 on local disk.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use rollcall_core::{Change, MasterId, Record, RecordKey, Timestamp};

use crate::codec;
use crate::storage::keys::{self, ROW_KEYSPACES};
use crate::storage::{CommitStats, StorageError, Store};

/// fjall's default memtable is 64 MiB. Every heartbeat adds a version of its master's row
/// and index keys, so a memtable that large holds hundreds of thousands of entries, and each
/// insert's skiplist search (most of a commit's time under `perf`) walks a deep, cache-cold
/// list. At 8 MiB a durable sweep expiring 1,000 of 10,000 masters is markedly faster (see
/// `benches/examples/probe_expiry.rs` and BENCHMARKS.md), at the price of a flush every
/// 8 MiB of writes. fjall records this per keyspace when it creates one: older data
/// directories keep the size they were created with.
const MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// Registry rows in fjall keyspaces, one per kind of row, plus the `last_active` index of
/// active masters, written in the same atomic batch as the master rows.
///
/// The daemon's own recovery rebuilds its in-memory index from the master rows, so the
/// stored index is for whoever reads the store without loading every master (tools, a
/// shared engine's expiry query). `FjallStore::open` checks it against the master rows and
/// rewrites whatever disagrees, so it can never go stale unnoticed.
pub struct FjallStore {
    database: Database,
    keyspaces: HashMap<&'static str, Keyspace>,
    /// The index key each active master has now, so a heartbeat can delete the old one.
    indexed_last_active: HashMap<MasterId, Timestamp>,
}

/// `(last_active, master)` entries of the stored liveness index.
type IndexEntries = BTreeSet<(Timestamp, MasterId)>;

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
    /// When the directory cannot be opened or locked, a master row or index key cannot be
    /// read, or the index cannot be repaired.
    pub fn open(directory: &Path) -> Result<FjallStore, StorageError> {
        create_private_directory(directory)?;
        let database = Database::builder(directory).open()?;
        let mut keyspaces = HashMap::new();
        for name in ROW_KEYSPACES.into_iter().chain([keys::MASTERS_BY_LAST_ACTIVE]) {
            let options = || KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
            keyspaces.insert(name, database.keyspace(name, options)?);
        }
        let mut store = FjallStore { database, keyspaces, indexed_last_active: HashMap::new() };
        store.indexed_last_active = store.checked_liveness_index()?;
        Ok(store)
    }

    fn keyspace(&self, name: &'static str) -> &Keyspace {
        match self.keyspaces.get(name) {
            Some(keyspace) => keyspace,
            None => unreachable!("every keyspace is opened in FjallStore::open"),
        }
    }

    /// The index as the master rows say it must be. Keys that disagree or are malformed
    /// (left by a damaged store or a foreign writer) are fixed in one durable batch, with a
    /// warning: the index is derived, so it never keeps a store with good rows from opening.
    fn checked_liveness_index(&self) -> Result<HashMap<MasterId, Timestamp>, StorageError> {
        let (stored, malformed) = self.stored_liveness_keys()?;
        let mut expected = BTreeSet::new();
        for entry in self.keyspace(keys::MASTERS).iter() {
            let value = entry.value()?;
            let row: Record = codec::decode(&value).map_err(|error| StorageError::Corrupt {
                keyspace: keys::MASTERS,
                why: error.to_string(),
            })?;
            if let Record::Master(master) = row {
                if master.active {
                    expected.insert((master.last_active, master.id));
                }
            }
        }
        if stored != expected || !malformed.is_empty() {
            let index = self.keyspace(keys::MASTERS_BY_LAST_ACTIVE);
            let mut batch = self.database.batch().durability(Some(PersistMode::SyncAll));
            let stale: Vec<_> = stored.difference(&expected).collect();
            let missing: Vec<_> = expected.difference(&stored).collect();
            tracing::warn!(
                stale = stale.len(),
                missing = missing.len(),
                malformed = malformed.len(),
                "the stored liveness index disagreed with the master rows: rewritten from them"
            );
            for &(moment, id) in stale {
                batch.remove(index, keys::liveness(moment, id));
            }
            for key in malformed {
                batch.remove(index, key);
            }
            for &(moment, id) in missing {
                batch.insert(index, keys::liveness(moment, id), []);
            }
            batch.commit()?;
        }
        Ok(expected.into_iter().map(|(moment, id)| (id, moment)).collect())
    }

    /// The well-formed index entries, and the raw keys that are not 16 bytes.
    fn stored_liveness_keys(&self) -> Result<(IndexEntries, Vec<Vec<u8>>), StorageError> {
        let mut keys_found = BTreeSet::new();
        let mut malformed = Vec::new();
        for entry in self.keyspace(keys::MASTERS_BY_LAST_ACTIVE).iter() {
            let key = entry.key()?;
            match <[u8; 16]>::try_from(&key[..]) {
                Ok(bytes) => {
                    let (mut moment, mut id) = ([0_u8; 8], [0_u8; 8]);
                    moment.copy_from_slice(&bytes[..8]);
                    id.copy_from_slice(&bytes[8..]);
                    let moment = Timestamp::from_millis(u64::from_be_bytes(moment));
                    keys_found.insert((moment, MasterId(u64::from_be_bytes(id))));
                }
                Err(_) => malformed.push(key.to_vec()),
            }
        }
        Ok((keys_found, malformed))
    }

    /// The liveness index as stored: `(last_active, master)` in key order, for tools and
    /// engines that want the expiry order without loading every master.
    ///
    /// # Errors
    ///
    /// When the engine fails.
    pub fn liveness_index(&self) -> Result<Vec<(Timestamp, MasterId)>, StorageError> {
        Ok(self.stored_liveness_keys()?.0.into_iter().collect())
    }
}

impl Store for FjallStore {
    type Error = StorageError;

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

/// Creates the data directory (and missing parents) readable by this user only: the rows
/// name every worker and master. An existing directory is left as the operator made it,
/// with a warning when others can read it.
fn create_private_directory(directory: &Path) -> Result<(), StorageError> {
    let cannot = |error: std::io::Error| {
        StorageError::Engine(format!("cannot create {}: {error}", directory.display()))
    };
    if directory.exists() {
        #[cfg(unix)]
        if let Ok(metadata) = std::fs::metadata(directory) {
            use std::os::unix::fs::PermissionsExt;
            if metadata.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    directory = %directory.display(),
                    mode = format!("{:o}", metadata.permissions().mode() & 0o777),
                    "the data directory is readable by other users; chmod 700 it"
                );
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory).map_err(cannot)
}

#[cfg(test)]
mod tests {
    use rollcall_core::registry::MasterRecord;
    use rollcall_core::BuilderId;

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

    fn index_entry(last_active_ms: u64, id: u64) -> (Timestamp, MasterId) {
        (Timestamp::from_millis(last_active_ms), MasterId(id))
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
    fn the_stored_index_holds_exactly_the_active_masters_at_their_last_active() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let mut store = FjallStore::open(directory.path()).expect("open");
            store
                .commit(&[
                    Change::Put(master(1, true, 10)),
                    Change::Put(master(2, true, 10)),
                    Change::Put(master(3, true, 10)),
                ])
                .expect("registrations");
            // Master 1 beats twice in one batch: only its latest moment stays indexed.
            store
                .commit(&[
                    Change::Put(master(1, true, 20)),
                    Change::Put(master(1, true, 30)),
                    Change::Put(master(2, false, 10)),
                ])
                .expect("heartbeats and an expiry");
            assert_eq!(
                store.liveness_index().expect("index"),
                vec![index_entry(10, 3), index_entry(30, 1)]
            );
            // A stopped master that comes back is indexed again.
            store.commit(&[Change::Put(master(2, true, 40))]).expect("revival");
        }
        let store = FjallStore::open(directory.path()).expect("reopen");
        assert_eq!(
            store.liveness_index().expect("index"),
            vec![index_entry(10, 3), index_entry(30, 1), index_entry(40, 2)]
        );
    }

    #[test]
    fn an_index_that_disagrees_with_the_master_rows_is_rewritten_on_open() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let mut store = FjallStore::open(directory.path()).expect("open");
            store
                .commit(&[Change::Put(master(1, true, 10)), Change::Put(master(2, true, 10))])
                .expect("registrations");
            // Damage behind the store's back: a stale key, a missing one, a malformed one.
            let index = store.keyspace(keys::MASTERS_BY_LAST_ACTIVE);
            index
                .insert(keys::liveness(Timestamp::from_millis(5), MasterId(9)), [])
                .expect("stale");
            index.remove(keys::liveness(Timestamp::from_millis(10), MasterId(2))).expect("missing");
            index.insert([7_u8; 5], []).expect("malformed");
            store.database.persist(PersistMode::SyncAll).expect("persist");
        }
        let mut store = FjallStore::open(directory.path()).expect("reopen");
        assert_eq!(
            store.liveness_index().expect("index"),
            vec![index_entry(10, 1), index_entry(10, 2)]
        );
        assert!(store.stored_liveness_keys().expect("keys").1.is_empty(), "malformed key removed");
        // And the repaired index moves on correctly with the next heartbeat.
        store.commit(&[Change::Put(master(2, true, 20))]).expect("heartbeat");
        assert_eq!(
            store.liveness_index().expect("index"),
            vec![index_entry(10, 1), index_entry(20, 2)]
        );
    }

    #[test]
    fn an_empty_batch_costs_nothing_and_changes_nothing() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut store = FjallStore::open(directory.path()).expect("open");
        assert_eq!(store.commit(&[]).expect("commit"), CommitStats::default());
        assert!(store.load().expect("load").is_empty());
    }
}
