//! Durable Registry state.
//!
//! The Registry's storage sits behind the core's narrow [`Store`] interface: load every
//! row at startup, commit one batch of changes atomically and durably. The embedded
//! default is [`FjallStore`]; a shared engine (a PostgreSQL, as Buildbot's multi-master
//! setups use) implements the same two methods here, and the daemon's driver, generic over
//! `Store`, needs no change.

mod error;
mod fjall_store;
mod keys;

pub use rollcall_core::store::{CommitStats, Store};

pub use error::{StorageError, UnknownVersion};
pub use fjall_store::{FjallStore, DATA_FORMAT_VERSION};

/// The store the configuration names: fjall in `[master] data_dir`, the embedded default
/// and today the only engine.
///
/// # Errors
///
/// When the store cannot be opened.
pub fn open(config: &crate::config::Config) -> Result<FjallStore, StorageError> {
    FjallStore::open(&config.master.data_dir)
}
