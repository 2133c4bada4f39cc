//! `rollcall export` and `rollcall import`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rollcall_core::store::Store;
use rollcall_core::{Change, Registry};

use crate::backup::control::{socket_path, EXPORT_REQUEST};
use crate::backup::dump::{read_dump, write_dump, Header};
use crate::backup::BackupError;
use crate::config::Config;
use crate::storage::{FjallStore, StorageError};

/// How long `export` waits for a running daemon between two reads of its answer.
const DAEMON_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What an export wrote.
#[derive(Debug)]
pub struct Exported {
    pub rows: u64,
    /// `running daemon` or `stopped data dir`.
    pub source: String,
}

/// Writes a dump of the registry in the config's data dir to `out`: through the control
/// socket when a daemon runs there, else read from the stopped data dir.
///
/// # Errors
///
/// A [`BackupError`]; what was written to `out` by then is not a whole dump.
pub fn export(config: &Config, out: &mut dyn Write) -> Result<Exported, BackupError> {
    if config.cluster.is_some() {
        return Err(BackupError::Cluster);
    }
    let directory = &config.master.data_dir;
    if !directory.is_dir() {
        return Err(BackupError::NoDataDir { directory: directory.clone() });
    }
    let socket = socket_path(directory);
    let daemon_error = match UnixStream::connect(&socket) {
        Ok(stream) => return export_from_daemon(stream, out),
        Err(error) => error,
    };
    // No daemon answers: the data dir is read directly, unless a daemon holds it after all.
    match FjallStore::open(directory) {
        Ok(store) => {
            let rows = store.load()?;
            let count = rows.len() as u64;
            write_dump(out, rows, "stopped data dir")?;
            Ok(Exported { rows: count, source: "stopped data dir".into() })
        }
        Err(StorageError::Locked { .. }) => {
            Err(BackupError::NoControlSocket { socket, error: daemon_error })
        }
        Err(error) => Err(error.into()),
    }
}

/// Passes the daemon's dump through to `out`, checking all of it on the way.
fn export_from_daemon(stream: UnixStream, out: &mut dyn Write) -> Result<Exported, BackupError> {
    stream.set_read_timeout(Some(DAEMON_READ_TIMEOUT)).map_err(BackupError::Read)?;
    stream.set_write_timeout(Some(DAEMON_READ_TIMEOUT)).map_err(BackupError::Write)?;
    (&stream).write_all(EXPORT_REQUEST).map_err(BackupError::Write)?;
    let mut reader = BufReader::new(&stream);
    let dump = read_dump(&mut reader, Some(out))?;
    Ok(Exported { rows: dump.header.rows, source: dump.header.source })
}

/// What an import loaded.
#[derive(Debug)]
pub struct Imported {
    pub header: Header,
}

/// Loads a whole dump into the config's data dir, which must hold no registry yet: every
/// line is read and the rows checked as a registry before anything is written, and then
/// they are written in one durable batch, so a failed import leaves the data dir empty.
///
/// # Errors
///
/// A [`BackupError`]; nothing was imported then.
pub fn import(config: &Config, input: &mut dyn BufRead) -> Result<Imported, BackupError> {
    if config.cluster.is_some() {
        return Err(BackupError::Cluster);
    }
    let dump = read_dump(input, None)?;
    Registry::recover(config.registry_config(), dump.rows.iter().cloned())
        .map_err(BackupError::Inconsistent)?;
    let directory = &config.master.data_dir;
    let mut store = FjallStore::open(directory)?;
    let existing = store.load()?;
    if !existing.is_empty() {
        return Err(BackupError::NotEmpty { directory: directory.clone(), rows: existing.len() });
    }
    store.commit_owned(dump.rows.into_iter().map(Change::Put).collect())?;
    Ok(Imported { header: dump.header })
}
