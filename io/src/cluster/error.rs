//! Why the cluster's store failed or refused.

/// Why the cluster's store failed or refused. A leader steps down on any of them; what it
/// had not committed is not acknowledged.
#[derive(Debug)]
pub enum ClusterStoreError {
    /// `[cluster] postgres` is not a libpq connection string or URL.
    BadUrl { error: postgres::Error },
    /// The server could not be reached, or refused the session.
    Connect { target: String, error: postgres::Error },
    /// A statement failed (the server went away, a deadline passed, ...).
    Database(postgres::Error),
    /// The database was migrated by a newer rollcall than this one.
    SchemaTooNew { found: i64, supported: i64 },
    /// A value in the store is outside what rollcall writes (a negative epoch, say).
    Corrupt { what: &'static str, value: i64 },
    /// The commit's epoch is no longer the lease's, or the lease expired: this node was
    /// deposed, and nothing of the commit was written.
    Fenced { epoch: u64, current_epoch: u64, holder: Option<String> },
    /// The log does not end where this writer's copy of it ends: another writer appended.
    LogMoved { expected_last: u64, found_last: u64 },
    /// A log entry does not decode: written by a newer rollcall, or damaged.
    BadEntry { seq: u64, error: String },
    /// The snapshot after entry `seq` does not decode: written by a newer rollcall, or
    /// damaged.
    BadSnapshot { seq: u64, error: String },
    /// An input could not be encoded (a bug: rollcall's inputs always encode).
    Encode(crate::codec::CodecError),
    /// The server did not answer `what` within the call deadline: the outcome is unknown,
    /// and the session is abandoned.
    Unanswered { what: &'static str, after_ms: u64 },
    /// `alive` sessions are still stalled in calls that were given up on: no new one is
    /// opened until one of them ends.
    StalledSessions { alive: usize },
    /// The session's thread ended, or its connection closed.
    SessionEnded,
    /// No thread could be started for a session.
    Thread(std::io::Error),
}

impl std::fmt::Display for ClusterStoreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterStoreError::BadUrl { error } => write!(
                formatter,
                "cluster.postgres is not a PostgreSQL connection string or URL: {error}"
            ),
            ClusterStoreError::Connect { target, error } => {
                write!(formatter, "cannot open a session to {target}: {error}")
            }
            ClusterStoreError::Database(error) => {
                write!(formatter, "the cluster's PostgreSQL failed: {error}")
            }
            ClusterStoreError::SchemaTooNew { found, supported } => write!(
                formatter,
                "the cluster's database has rollcall schema version {found}, and this build \
                 knows versions up to {supported}: run the newer rollcall that migrated it"
            ),
            ClusterStoreError::Corrupt { what, value } => write!(
                formatter,
                "the cluster's database holds {what} = {value}, which rollcall never writes"
            ),
            ClusterStoreError::Fenced { epoch, current_epoch, holder } => write!(
                formatter,
                "commit fenced: this node led epoch {epoch}, the lease is at epoch \
                 {current_epoch} held by {}",
                holder.as_deref().unwrap_or("nobody")
            ),
            ClusterStoreError::LogMoved { expected_last, found_last } => write!(
                formatter,
                "the registry log ends at {found_last}, not at {expected_last} as this node \
                 wrote it: another writer appended"
            ),
            ClusterStoreError::BadEntry { seq, error } => write!(
                formatter,
                "registry log entry {seq} does not decode ({error}): written by a newer \
                 rollcall, or damaged"
            ),
            ClusterStoreError::BadSnapshot { seq, error } => write!(
                formatter,
                "the registry snapshot after entry {seq} does not decode ({error}): written by \
                 a newer rollcall, or damaged"
            ),
            ClusterStoreError::Encode(error) => {
                write!(formatter, "cannot encode a registry input or snapshot: {error}")
            }
            ClusterStoreError::Unanswered { what, after_ms } => write!(
                formatter,
                "the cluster's PostgreSQL did not answer {what} within {after_ms} ms: the \
                 session is abandoned and its outcome unknown"
            ),
            ClusterStoreError::StalledSessions { alive } => write!(
                formatter,
                "{alive} sessions to the cluster's PostgreSQL are stalled in calls given up \
                 on: no new session until one ends"
            ),
            ClusterStoreError::SessionEnded => {
                formatter.write_str("the session to the cluster's PostgreSQL ended")
            }
            ClusterStoreError::Thread(error) => {
                write!(formatter, "cannot start a thread for a PostgreSQL session: {error}")
            }
        }
    }
}

impl std::error::Error for ClusterStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClusterStoreError::BadUrl { error }
            | ClusterStoreError::Connect { error, .. }
            | ClusterStoreError::Database(error) => Some(error),
            ClusterStoreError::Encode(error) => Some(error),
            ClusterStoreError::Thread(error) => Some(error),
            _ => None,
        }
    }
}

impl From<postgres::Error> for ClusterStoreError {
    fn from(error: postgres::Error) -> Self {
        ClusterStoreError::Database(error)
    }
}

/// A stored bigint that rollcall only ever writes non-negative.
pub(super) fn unsigned(what: &'static str, value: i64) -> Result<u64, ClusterStoreError> {
    u64::try_from(value).map_err(|_| ClusterStoreError::Corrupt { what, value })
}

/// A count or id for a bigint column: rollcall's never reach 2^63.
pub(super) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
