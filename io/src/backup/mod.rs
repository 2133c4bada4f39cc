//! Backup and restore of a single node's registry: `rollcall export` writes a dump (JSON
//! lines, see [`dump`]) of a running daemon (through its control socket, after a
//! committed batch, so the rows are one durable state) or of a stopped data dir (read
//! directly); `rollcall import` checks a whole dump and loads it into an empty data dir in
//! one durable batch.
//!
//! A cluster's registry lives in PostgreSQL, which has its own backups (`pg_dump`); both
//! commands refuse a `[cluster]` config and say so.

pub mod commands;
pub mod control;
pub mod dump;

use std::path::PathBuf;

use rollcall_core::RecoveryError;

use crate::storage::{StorageError, DATA_FORMAT_VERSION};
use dump::DUMP_FORMAT_VERSION;

/// Why an export or import failed. Nothing is imported unless every line was read and
/// checked.
#[derive(Debug)]
pub enum BackupError {
    Empty,
    NotADump,
    /// The dump's own layout is another release's.
    DumpFormat {
        found: u64,
    },
    /// The rows belong to another release's data directory layout.
    DataFormat {
        found: u32,
    },
    /// The input ended before the dump's end line.
    Truncated {
        rows_read: u64,
    },
    /// The header, the end line and the rows read disagree on how many rows there are.
    CountMismatch {
        header: u64,
        trailer: u64,
        read: u64,
    },
    /// One line is not what a dump holds there.
    Line {
        number: u64,
        why: String,
    },
    /// The rows are not a state the Registry could have written.
    Inconsistent(RecoveryError),
    /// Import loads only into an empty data dir.
    NotEmpty {
        directory: PathBuf,
        rows: usize,
    },
    /// There is no data dir to export.
    NoDataDir {
        directory: PathBuf,
    },
    /// Backups of a cluster are PostgreSQL's.
    Cluster,
    /// A running daemon holds the data dir, and its control socket did not answer.
    NoControlSocket {
        socket: PathBuf,
        error: std::io::Error,
    },
    /// The daemon refused the export.
    Daemon(String),
    Storage(StorageError),
    Read(std::io::Error),
    Write(std::io::Error),
    Encode(serde_json::Error),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::Empty => formatter.write_str("the dump is empty"),
            BackupError::NotADump => formatter
                .write_str("line 1 is not a rollcall dump's header (it has no \"rollcall_dump\")"),
            BackupError::DumpFormat { found } => write!(
                formatter,
                "the dump's format version is {found}, and this build reads \
                 {DUMP_FORMAT_VERSION}: import it with the rollcall release that wrote it"
            ),
            BackupError::DataFormat { found } => write!(
                formatter,
                "the dump holds data format version {found}, and this build reads \
                 {DATA_FORMAT_VERSION}: import it with the rollcall release that wrote it"
            ),
            BackupError::Truncated { rows_read } => write!(
                formatter,
                "the dump ends after {rows_read} rows without its end line: it was cut short \
                 (nothing was imported)"
            ),
            BackupError::CountMismatch { header, trailer, read } => write!(
                formatter,
                "the dump's header says {header} rows and its end line {trailer}, but it holds \
                 {read}: it is damaged"
            ),
            BackupError::Line { number, why } => write!(formatter, "line {number}: {why}"),
            BackupError::Inconsistent(error) => {
                write!(
                    formatter,
                    "the dump's rows are not a registry rollcall could have written: {error}"
                )
            }
            BackupError::NotEmpty { directory, rows } => write!(
                formatter,
                "{} already holds a registry ({rows} rows): import loads only into an empty \
                 data dir; move it away (or set master.data_dir to a new path) first",
                directory.display()
            ),
            BackupError::NoDataDir { directory } => {
                write!(
                    formatter,
                    "{} does not exist: there is no registry to export",
                    directory.display()
                )
            }
            BackupError::Cluster => formatter.write_str(
                "a cluster's registry lives in its PostgreSQL database: back that up with \
                 pg_dump (the rollcall_* tables), not with export and import",
            ),
            BackupError::NoControlSocket { socket, error } => write!(
                formatter,
                "a rollcall is running on this data dir, and its control socket {} does not \
                 answer ({error}): export it once that daemon is stopped, or restart it",
                socket.display()
            ),
            BackupError::Daemon(message) => write!(formatter, "the daemon refused: {message}"),
            BackupError::Storage(error) => error.fmt(formatter),
            BackupError::Read(error) => write!(formatter, "cannot read the dump: {error}"),
            BackupError::Write(error) => write!(formatter, "cannot write: {error}"),
            BackupError::Encode(error) => write!(formatter, "cannot encode a row: {error}"),
        }
    }
}

impl std::error::Error for BackupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BackupError::Storage(error) => Some(error),
            BackupError::NoControlSocket { error, .. }
            | BackupError::Read(error)
            | BackupError::Write(error) => Some(error),
            BackupError::Encode(error) => Some(error),
            _ => None,
        }
    }
}

impl From<StorageError> for BackupError {
    fn from(error: StorageError) -> Self {
        BackupError::Storage(error)
    }
}
