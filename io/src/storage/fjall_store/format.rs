//! The data directory's own format version, kept in the `meta` keyspace beside the rows.
//!
//! fjall's `version` file says how fjall lays out its files; each row's leading byte says
//! how that row is encoded. Neither says what rollcall keeps where (which keyspaces, which
//! keys, which index), so a release that changes that layout bumps
//! [`DATA_FORMAT_VERSION`], upgrades older directories on open, and an older release
//! refuses the newer directory by name instead of misreading it.

use std::path::Path;

use fjall::{Database, Keyspace, PersistMode};

use crate::storage::{StorageError, UnknownVersion};

/// The layout this build writes and reads. Version 1: one keyspace per kind of row and the
/// `masters_by_last_active` index (every data directory made before the version was
/// recorded is in this layout).
pub const DATA_FORMAT_VERSION: u32 = 1;

/// The keyspace of the directory's own facts.
pub(super) const META: &str = "meta";

/// The key of the format version: a `u32`, big-endian.
const FORMAT_VERSION_KEY: &[u8] = b"data_format_version";

/// Checks the directory's recorded version, recording this build's in a directory that has
/// none (a new one, or one made before the version was recorded, which is version 1).
///
/// # Errors
///
/// [`StorageError::UnknownVersion`] for a version newer than this build's (or 0, which no
/// release writes); [`StorageError::Engine`] when it cannot be read or recorded.
pub(super) fn check_or_record(
    directory: &Path,
    database: &Database,
    meta: &Keyspace,
) -> Result<(), StorageError> {
    let refuse = |version| StorageError::UnknownVersion {
        directory: directory.to_path_buf(),
        found: UnknownVersion::DataFormat { version },
    };
    match meta.get(FORMAT_VERSION_KEY)? {
        Some(bytes) => {
            let Ok(bytes) = <[u8; 4]>::try_from(&bytes[..]) else {
                return Err(StorageError::MalformedMeta {
                    directory: directory.to_path_buf(),
                    key: "data_format_version",
                });
            };
            match u32::from_be_bytes(bytes) {
                DATA_FORMAT_VERSION => Ok(()),
                // The first version: there is nothing older to upgrade from yet. A release
                // that bumps the version upgrades older directories here, in one batch.
                version => Err(refuse(version)),
            }
        }
        None => {
            let mut batch = database.batch().durability(Some(PersistMode::SyncAll));
            batch.insert(meta, FORMAT_VERSION_KEY, DATA_FORMAT_VERSION.to_be_bytes());
            batch.commit()?;
            Ok(())
        }
    }
}
