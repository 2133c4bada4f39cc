//! The core's [`SharedStore`] on PostgreSQL: the lease and the fenced log of this module,
//! over one session that is reopened (and the schema brought up to date) whenever the last
//! one failed, every call bounded by the session's deadline (`session.rs`).

use std::sync::Arc;
use std::time::Duration;

use rollcall_core::replication::{AppendRefused, LogPage, SharedStore, Take};
use rollcall_core::{LoggedInput, RegistrySnapshot};

use super::session::{Answer, Call, LiveSessions, Session};
use super::{ClusterStoreError, Deadlines, LeaseStore, LogStore, PostgresTls, SnapshotStore};
use crate::codec;

/// One node's store: its session, and its name and address as the lease's holder.
pub struct PostgresStore {
    url: String,
    deadlines: Deadlines,
    session: Option<Session>,
    live_sessions: LiveSessions,
    tls: Option<PostgresTls>,
    lease: Arc<LeaseStore>,
}

/// Never shows the connection string (it may hold a password).
impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresStore")
            .field("holder", &self.lease.holder())
            .field("connected", &self.session.is_some())
            .field("tls", &self.tls.is_some())
            .field("live_sessions", &self.live_sessions.count())
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
            live_sessions: LiveSessions::default(),
            tls: None,
            lease: Arc::new(LeaseStore::new(node, advertise, ttl)),
        }
    }

    /// Every session over `tls` (encrypted, the server verified), or in the clear.
    #[must_use]
    pub fn with_tls(mut self, tls: Option<PostgresTls>) -> PostgresStore {
        self.tls = tls;
        self
    }

    /// The store's deadlines (each call's, the connection's, the server's).
    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    /// Session threads alive: the current session's, and those of calls given up on that
    /// are still stalled (at most [`super::MAX_LIVE_SESSIONS`]).
    pub fn live_sessions(&self) -> usize {
        self.live_sessions.count()
    }

    /// The lease row as the database holds it now: who leads, where, at which epoch, and
    /// where the log ends.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn lease(&mut self) -> Result<super::LeaseRow, ClusterStoreError> {
        self.with_session("reading the lease", |_, session| LeaseStore::read(session))
    }

    /// Runs `call` on the session (opened first if there is none) within the call deadline.
    /// Any failure drops the session, so the next call opens a new one: a failed statement
    /// may have left it unusable, and an unanswered one may still be running. A session
    /// found closed before the call reached it is replaced and the call made once more
    /// (nothing of it had been sent).
    fn with_session<T: Send + 'static>(
        &mut self,
        what: &'static str,
        call: impl Fn(&LeaseStore, &mut postgres::Client) -> Result<T, ClusterStoreError>
            + Send
            + Sync
            + 'static,
    ) -> Result<T, ClusterStoreError> {
        let lease = Arc::clone(&self.lease);
        let call: Call<T> = Arc::new(move |session| call(&lease, session));
        let mut result = self.call_once(what, &call);
        if matches!(result, Ok(Answer::Closed)) {
            self.session = None;
            result = self.call_once(what, &call);
        }
        let result = match result {
            Ok(Answer::Done(result)) => result,
            Ok(Answer::Closed) => Err(ClusterStoreError::SessionEnded),
            Err(error) => Err(error),
        };
        if result.is_err() {
            self.session = None;
        }
        result
    }

    fn call_once<T: Send + 'static>(
        &mut self,
        what: &'static str,
        call: &Call<T>,
    ) -> Result<Answer<T>, ClusterStoreError> {
        if self.session.is_none() {
            self.session = Some(Session::open(
                &self.url,
                self.deadlines,
                self.tls.as_ref(),
                &self.live_sessions,
            )?);
        }
        match &self.session {
            Some(session) => session.call(what, call),
            None => unreachable!("a session was just opened"),
        }
    }
}

impl SharedStore for PostgresStore {
    type Error = ClusterStoreError;

    fn try_take(&mut self) -> Result<Take, ClusterStoreError> {
        self.with_session("taking the lease", |lease, session| match lease.try_take(session)? {
            Some(epoch) => Ok(Take::Taken { epoch }),
            None => {
                let held = LeaseStore::read(session)?;
                Ok(Take::Held { remaining_ms: held.remaining_ms })
            }
        })
    }

    fn renew(&mut self, epoch: u64) -> Result<bool, ClusterStoreError> {
        self.with_session("renewing the lease", move |lease, session| lease.renew(session, epoch))
    }

    fn release(&mut self, epoch: u64) -> Result<bool, ClusterStoreError> {
        self.with_session("releasing the lease", move |lease, session| {
            lease.release(session, epoch)
        })
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
        let appended = self.with_session("appending to the log", move |lease, session| {
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
        let (entries, snapshot_seq) = self.with_session("reading the log", move |_, session| {
            let entries = LogStore::read_after(session, after_seq)?;
            Ok((entries, SnapshotStore::newest_seq(session)?))
        })?;
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
        Ok(LogPage { entries: decoded, more, snapshot_seq })
    }

    fn read_snapshot(&mut self) -> Result<Option<(u64, RegistrySnapshot)>, ClusterStoreError> {
        let newest = self
            .with_session("reading a snapshot", |_, session| SnapshotStore::read_newest(session))?;
        newest
            .map(|(seq, body)| {
                let snapshot = codec::decode(&body).map_err(|error| {
                    ClusterStoreError::BadSnapshot { seq, error: error.to_string() }
                })?;
                Ok((seq, snapshot))
            })
            .transpose()
    }

    fn write_snapshot(
        &mut self,
        seq: u64,
        snapshot: &RegistrySnapshot,
    ) -> Result<bool, ClusterStoreError> {
        let body = codec::encode(snapshot).map_err(ClusterStoreError::Encode)?;
        self.with_session("writing a snapshot", move |_, session| {
            SnapshotStore::write(session, seq, &body)
        })
    }
}
