//! The core's [`SharedStore`] on PostgreSQL: the lease and the fenced log of this module,
//! over one session that is reopened (and the schema brought up to date) whenever the last
//! one failed.

use std::time::Duration;

use rollcall_core::replication::{AppendRefused, LogPage, SharedStore, Take};
use rollcall_core::LoggedInput;

use super::{connect, migrate, ClusterStoreError, Deadlines, LeaseStore, LogStore};
use crate::codec;

/// One node's store: its session, and its name and address as the lease's holder.
pub struct PostgresStore {
    url: String,
    deadlines: Deadlines,
    session: Option<postgres::Client>,
    lease: LeaseStore,
}

/// Never shows the connection string (it may hold a password).
impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresStore")
            .field("holder", &self.lease.holder())
            .field("connected", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects lazily, at the first call.
    pub fn new(url: String, node: &str, advertise: &str, ttl: Duration) -> PostgresStore {
        PostgresStore {
            url,
            deadlines: Deadlines::for_lease_ttl(ttl),
            session: None,
            lease: LeaseStore::new(node, advertise, ttl),
        }
    }

    /// The lease row as the database holds it now: who leads, where, at which epoch, and
    /// where the log ends.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn lease(&mut self) -> Result<super::LeaseRow, ClusterStoreError> {
        self.with_session(|_, session| LeaseStore::read(session))
    }

    /// Opens a session, and brings the schema up to date, unless one is open.
    fn open(&mut self) -> Result<(), ClusterStoreError> {
        if self.session.as_ref().is_some_and(postgres::Client::is_closed) {
            self.session = None;
        }
        if self.session.is_none() {
            let mut session = connect(&self.url, self.deadlines)?;
            migrate(&mut session)?;
            self.session = Some(session);
        }
        Ok(())
    }

    /// Runs `call` on the session; any failure drops the session, so the next call opens
    /// a new one (a failed statement may have left it unusable).
    fn with_session<T>(
        &mut self,
        call: impl FnOnce(&LeaseStore, &mut postgres::Client) -> Result<T, ClusterStoreError>,
    ) -> Result<T, ClusterStoreError> {
        let result = self.open().and_then(|()| match self.session.as_mut() {
            Some(session) => call(&self.lease, session),
            None => unreachable!("a session was just opened"),
        });
        if result.is_err() {
            self.session = None;
        }
        result
    }
}

impl SharedStore for PostgresStore {
    type Error = ClusterStoreError;

    fn try_take(&mut self) -> Result<Take, ClusterStoreError> {
        self.with_session(|lease, session| match lease.try_take(session)? {
            Some(epoch) => Ok(Take::Taken { epoch }),
            None => {
                let held = LeaseStore::read(session)?;
                Ok(Take::Held { remaining_ms: held.remaining_ms })
            }
        })
    }

    fn renew(&mut self, epoch: u64) -> Result<bool, ClusterStoreError> {
        self.with_session(|lease, session| lease.renew(session, epoch))
    }

    fn release(&mut self, epoch: u64) -> Result<bool, ClusterStoreError> {
        self.with_session(|lease, session| lease.release(session, epoch))
    }

    fn append_fenced(
        &mut self,
        epoch: u64,
        after_seq: u64,
        inputs: &[LoggedInput],
    ) -> Result<u64, AppendRefused<ClusterStoreError>> {
        let entries = inputs
            .iter()
            .map(codec::encode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| AppendRefused::Failed(ClusterStoreError::Encode(error)))?;
        let appended = self.with_session(|lease, session| {
            LogStore::append_fenced(session, lease.holder(), epoch, after_seq, &entries)
        });
        appended.map_err(|error| match error {
            ClusterStoreError::Fenced { current_epoch, holder, .. } => {
                AppendRefused::Fenced { current_epoch, holder }
            }
            ClusterStoreError::LogMoved { found_last, .. } => {
                AppendRefused::LogMoved { found_last }
            }
            other => AppendRefused::Failed(other),
        })
    }

    fn read_after(&mut self, after_seq: u64) -> Result<LogPage, ClusterStoreError> {
        let entries = self.with_session(|_, session| LogStore::read_after(session, after_seq))?;
        let more = entries.len() == super::MAX_ENTRIES_PER_READ;
        let decoded = entries
            .into_iter()
            .map(|entry| {
                let input = codec::decode(&entry.entry).map_err(|error| {
                    ClusterStoreError::BadEntry { seq: entry.seq, error: error.to_string() }
                })?;
                Ok((entry.seq, input))
            })
            .collect::<Result<Vec<_>, ClusterStoreError>>()?;
        Ok(LogPage { entries: decoded, more })
    }
}
