//! Durable Registry state.
//!
//! The Registry's storage sits behind the core's narrow [`Store`] interface: load every
//! row at startup, commit one batch of changes atomically and durably. The embedded
//! default is [`FjallStore`]; a shared engine (a PostgreSQL, as Buildbot's multi-master
//! setups use) implements the same two methods here, and the daemon's driver, generic over
//! `Store`, needs no change.

mod fjall_store;
mod keys;

pub use rollcall_core::store::{CommitStats, Store};

pub use fjall_store::FjallStore;

/// The store the configuration names: fjall in `[master] data_dir`, the embedded default
/// and today the only engine.
///
/// # Errors
///
/// When the store cannot be opened.
pub fn open(config: &crate::config::Config) -> Result<FjallStore, StorageError> {
    FjallStore::open(&config.master.data_dir)
}

/// Why storage failed. Any of these is fatal for the daemon: it cannot acknowledge anything
/// it cannot make durable.
#[derive(Debug)]
pub enum StorageError {
    Engine(String),
    Corrupt { keyspace: &'static str, why: String },
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::Engine(why) => write!(formatter, "storage engine failed: {why}"),
            StorageError::Corrupt { keyspace, why } => {
                write!(formatter, "stored data in {keyspace:?} is unreadable: {why}")
            }
        }
    }
}

impl std::error::Error for StorageError {}

impl From<fjall::Error> for StorageError {
    fn from(error: fjall::Error) -> Self {
        StorageError::Engine(error.to_string())
    }
}
