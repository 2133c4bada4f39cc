//! The embedded default store: fjall 3 on local disk.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use rollcall_core::{Change, MasterId, Record, RecordKey, Timestamp};

use crate::codec::{self, CodecError};
use crate::storage::keys::{self, ROW_KEYSPACES};
use crate::storage::{CommitStats, StorageError, Store, UnknownVersion};

/// fjall's default memtable is 64 MiB. Every heartbeat adds a version of its master's row
/// and index keys, so a memtable that large holds hundreds of thousands of entries, and each
/// insert's skiplist search (most of a commit's time under `perf`) walks a deep, cache-cold
/// list. At 8 MiB a durable sweep expiring 1,000 of 10,000 masters is markedly faster (see
/// `benches/examples/probe_expiry.rs` and BENCHMARKS.md), at the price of a flush every
/// 8 MiB of writes. fjall records this per keyspace when it creates one: older data
/// directories keep the size they were created with.
const MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// The file fjall 3 locks (`flock`, exclusive, non-blocking) for as long as a database is
/// open, named in its `file.rs` but not exported. A test checks it is there once open.
const FJALL_LOCK_FILE: &str = "lock";

/// Registry rows in fjall keyspaces, one per kind of row, plus the `last_active` index of
/// active masters, written in the same atomic batch as the master rows.
///
/// The daemon's own recovery rebuilds its in-memory index from the master rows, so the
/// stored index is for whoever reads the store without loading every master (tools, a
/// shared engine's expiry query). `FjallStore::open` checks it against the master rows and
/// rewrites whatever disagrees, so it can never go stale unnoticed.
pub struct FjallStore {
    /// The data directory, for messages that must name it.
    directory: PathBuf,
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
    /// [`StorageError::Locked`] when another store holds the directory (fjall tries for
    /// about 200 ms first), [`StorageError::NotADirectory`] or
    /// [`StorageError::CannotCreate`] when there is no directory to use,
    /// [`StorageError::UnknownVersion`] when the database, the directory's layout or a
    /// master row was written in a format this build does not read; otherwise when a master row or index key cannot be
    /// read, or the index cannot be repaired.
    pub fn open(directory: &Path) -> Result<FjallStore, StorageError> {
        create_private_directory(directory)?;
        let database = Database::builder(directory)
            .open()
            .map_err(|error| refusal_to_open(directory, error))?;
        // Before any row keyspace is made or read: a newer layout is refused untouched.
        let meta = database.keyspace(format::META, KeyspaceCreateOptions::default)?;
        format::check_or_record(directory, &database, &meta)?;
        let mut keyspaces = HashMap::new();
        for name in ROW_KEYSPACES.into_iter().chain([keys::MASTERS_BY_LAST_ACTIVE]) {
            let options = || KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
            keyspaces.insert(name, database.keyspace(name, options)?);
        }
        let mut store = FjallStore {
            directory: directory.to_path_buf(),
            database,
            keyspaces,
            indexed_last_active: HashMap::new(),
        };
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
            if let Record::Master(master) = self.decode_row(keys::MASTERS, &value)? {
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

    /// A stored row; one of an unknown version is refused as such, not as corruption, so the
    /// operator learns that another release wrote it.
    fn decode_row(&self, keyspace: &'static str, bytes: &[u8]) -> Result<Record, StorageError> {
        codec::decode(bytes).map_err(|error| match error {
            CodecError::UnknownVersion(version) => StorageError::UnknownVersion {
                directory: self.directory.clone(),
                found: UnknownVersion::Row { keyspace, version },
            },
            // This release writes bincode rows only: another encoding is another release's.
            CodecError::WrongEncoding { found, .. } => StorageError::UnknownVersion {
                directory: self.directory.clone(),
                found: UnknownVersion::Row { keyspace, version: found.byte() },
            },
            error => StorageError::Corrupt { keyspace, error },
        })
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
                rows.push(self.decode_row(name, &value)?);
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
                    let value = codec::encode(row).map_err(StorageError::Encode)?;
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

/// fjall's refusals that an operator can act on, named as such; the rest as they are.
fn refusal_to_open(directory: &Path, error: fjall::Error) -> StorageError {
    match error {
        fjall::Error::Locked => StorageError::Locked {
            directory: directory.to_path_buf(),
            lock_file: directory.join(FJALL_LOCK_FILE),
        },
        fjall::Error::InvalidVersion(version) => StorageError::UnknownVersion {
            directory: directory.to_path_buf(),
            found: UnknownVersion::Database { version },
        },
        error => StorageError::Engine(error),
    }
}

/// Creates the data directory (and missing parents) readable by this user only: the rows
/// name every worker and master. An existing directory is left as the operator made it,
/// with a warning when others can read it.
fn create_private_directory(directory: &Path) -> Result<(), StorageError> {
    let cannot = |error: std::io::Error| StorageError::CannotCreate {
        directory: directory.to_path_buf(),
        error,
    };
    if directory.exists() {
        // fjall would fail on it too, but with an I/O error naming a file inside it.
        if !directory.is_dir() {
            return Err(StorageError::NotADirectory { directory: directory.to_path_buf() });
        }
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

mod format;
pub use format::DATA_FORMAT_VERSION;

#[cfg(test)]
mod refusals;
#[cfg(test)]
mod tests;
