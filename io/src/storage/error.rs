//! Why storage failed: the engine's own errors kept typed, and the refusals an operator
//! fixes by hand, each naming the path at fault and what to do.

use std::path::PathBuf;

use crate::codec::{CodecError, FORMAT_VERSION};

/// Why storage failed. Any of these is fatal for the daemon: it cannot acknowledge anything
/// it cannot make durable.
///
/// Each message carries the text of its source too: the daemon prints one line
/// (`rollcall: <error>`) and that line alone must say what failed; `source()` keeps the
/// typed error for code that inspects it.
#[derive(Debug)]
pub enum StorageError {
    /// The engine failed in a way no operator action names (I/O, a damaged journal...).
    Engine(fjall::Error),
    /// fjall's lock on the directory is held: by another daemon, or another store of this
    /// process.
    Locked { directory: PathBuf, lock_file: PathBuf },
    /// The data directory's path names something that is not a directory.
    NotADirectory { directory: PathBuf },
    /// The data directory did not exist and could not be made.
    CannotCreate { directory: PathBuf, error: std::io::Error },
    /// The directory was written by a build this one cannot read.
    UnknownVersion { directory: PathBuf, found: UnknownVersion },
    /// A fact the directory keeps about itself (its `meta` keyspace) that does not decode.
    MalformedMeta { directory: PathBuf, key: &'static str },
    /// A row of a known version that does not decode.
    Corrupt { keyspace: &'static str, error: CodecError },
    /// A row that cannot be encoded (none of rollcall's rows; the codec's error says which).
    Encode(CodecError),
}

/// What carries the version this build does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownVersion {
    /// fjall's `version` file names another on-disk format of fjall's (`None`: no format it
    /// knows at all, a newer fjall's or not fjall's).
    Database { version: Option<fjall::FormatVersion> },
    /// The data directory's recorded layout (see `fjall_store/format.rs`) is not this
    /// build's: a newer release wrote it.
    DataFormat { version: u32 },
    /// A row's leading format byte (see `codec.rs`) is not this build's.
    Row { keyspace: &'static str, version: u8 },
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::Engine(error) => write!(formatter, "storage engine failed: {error}"),
            StorageError::Locked { directory, lock_file } => write!(
                formatter,
                "another rollcall is running on {} (its lock file is {}): stop it first, or give \
                 this one another master.data_dir",
                directory.display(),
                lock_file.display()
            ),
            StorageError::NotADirectory { directory } => write!(
                formatter,
                "{} is not a directory: move it away, or set master.data_dir to a directory (or \
                 to a path where one can be created)",
                directory.display()
            ),
            StorageError::CannotCreate { directory, error } => write!(
                formatter,
                "cannot create {}: {error}: create it by hand (mode 700), or set \
                 master.data_dir to a path this user can create",
                directory.display()
            ),
            StorageError::UnknownVersion { directory, found } => write!(
                formatter,
                "{} holds data from an unknown format version: {found}; run the rollcall release \
                 that wrote it, or move the directory away to start with an empty registry",
                directory.display()
            ),
            StorageError::MalformedMeta { directory, key } => write!(
                formatter,
                "{} is damaged: its {key:?} in the \"meta\" keyspace is unreadable; restore it \
                 from a backup (`rollcall import`)",
                directory.display()
            ),
            StorageError::Corrupt { keyspace, error } => {
                write!(formatter, "stored data in {keyspace:?} is unreadable: {error}")
            }
            StorageError::Encode(error) => write!(formatter, "cannot store a row: {error}"),
        }
    }
}

impl std::fmt::Display for UnknownVersion {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownVersion::Database { version: Some(version) } => write!(
                formatter,
                "its fjall database has on-disk format {version}, and this build reads {}",
                fjall::FormatVersion::V3
            ),
            UnknownVersion::Database { version: None } => write!(
                formatter,
                "its fjall version file names no on-disk format fjall knows, and this build \
                 reads {}",
                fjall::FormatVersion::V3
            ),
            UnknownVersion::DataFormat { version } => write!(
                formatter,
                "its data format version is {version}, and this build reads {}{}",
                super::DATA_FORMAT_VERSION,
                if *version > super::DATA_FORMAT_VERSION {
                    " (a newer rollcall wrote it)"
                } else {
                    ""
                }
            ),
            UnknownVersion::Row { keyspace, version } => write!(
                formatter,
                "a row in {keyspace:?} has format version {version}, and this build reads \
                 {FORMAT_VERSION}"
            ),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Engine(error) => Some(error),
            StorageError::CannotCreate { error, .. } => Some(error),
            StorageError::Corrupt { error, .. } | StorageError::Encode(error) => Some(error),
            StorageError::Locked { .. }
            | StorageError::NotADirectory { .. }
            | StorageError::MalformedMeta { .. }
            | StorageError::UnknownVersion { .. } => None,
        }
    }
}

impl From<fjall::Error> for StorageError {
    fn from(error: fjall::Error) -> Self {
        StorageError::Engine(error)
    }
}
