//! One node's side of the cluster store, on the storage thread: it keeps the lease (taking
//! it when it expires, renewing it while leading), commits the leader's batches fenced,
//! and, while standing by, replays the log into a replica of the Registry, so that a
//! takeover hands the Node a registry already caught up.
//!
//! It never reads a clock: `now` is the caller's monotonic time, which the lease's acting
//! window is counted in (see `rollcall_core::lease`). It never blocks longer than the
//! session's deadlines, and a broken session is dropped and reopened at the next tick.

use rollcall_core::lease::{LeaseAction, LeaseEvent, LeaseHolder, LeaseInput, LeaseTimings};
use rollcall_core::{LoggedInput, Registry, RegistryConfig, Timestamp};

use super::{connect, ClusterStoreError, Deadlines, LeaseStore, LogStore};
use crate::codec;

/// Why a commit was not made durable. Nothing of it may be acknowledged.
#[derive(Debug)]
pub enum CommitRefused {
    /// This node is not leading now (its acting window ran out, or it never led).
    NotLeader,
    /// The store refused it, or its outcome is unknown: the node has stepped down.
    SteppedDown(ClusterStoreError),
    /// An input could not be encoded (a bug: rollcall's inputs always encode).
    Encode(codec::CodecError),
}

impl std::fmt::Display for CommitRefused {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitRefused::NotLeader => formatter.write_str("this node is not the leader"),
            CommitRefused::SteppedDown(error) => write!(formatter, "stepped down: {error}"),
            CommitRefused::Encode(error) => write!(formatter, "cannot encode an input: {error}"),
        }
    }
}

impl std::error::Error for CommitRefused {}

/// A node's role as [`Replicator::tick`] leaves it.
#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    /// Leading at `epoch`: the Node may commit through [`Replicator::commit`].
    Leader {
        epoch: u64,
    },
    Standby,
}

pub struct Replicator {
    url: String,
    deadlines: Deadlines,
    session: Option<postgres::Client>,
    lease: LeaseStore,
    holder: LeaseHolder,
    registry_config: RegistryConfig,
    /// While standing by: the log replayed up to `applied_seq`. Handed to the Node when
    /// this node takes over; rebuilt from the log when it steps down.
    replica: Option<Registry>,
    /// The last log entry this node's state includes (the replica's, or the leader's own).
    applied_seq: u64,
    /// The store's last error, for the status page; cleared by the next success.
    last_error: Option<String>,
}

impl std::fmt::Debug for Replicator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Replicator")
            .field("holder", &self.lease.holder())
            .field("applied_seq", &self.applied_seq)
            .field("connected", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl Replicator {
    /// A standby with an empty replica, not yet connected.
    ///
    /// # Errors
    ///
    /// When the lease timings cannot keep a leader leading.
    pub fn new(
        now: Timestamp,
        url: String,
        node: &str,
        advertise: &str,
        timings: LeaseTimings,
        registry_config: RegistryConfig,
    ) -> Result<Replicator, rollcall_core::lease::LeaseTimingsError> {
        let holder = LeaseHolder::new(now, timings)?;
        let ttl = std::time::Duration::from_millis(timings.ttl_ms);
        Ok(Replicator {
            url,
            deadlines: Deadlines::for_lease_ttl(ttl),
            session: None,
            lease: LeaseStore::new(node, advertise, ttl),
            holder,
            registry_config,
            replica: Some(Registry::new(registry_config)),
            applied_seq: 0,
            last_error: None,
        })
    }

    /// The role at `now`.
    pub fn role(&self, now: Timestamp) -> Role {
        match self.holder.leading_epoch(now) {
            Some(epoch) if self.replica.is_none() => Role::Leader { epoch },
            _ => Role::Standby,
        }
    }

    /// The last log entry this node's state includes.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    /// The standby's replica (`None` while leading: the Node holds the registry then).
    pub fn replica(&self) -> Option<&Registry> {
        self.replica.as_ref()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// When [`Replicator::tick`] next has something to do (a standby also polls the log
    /// at every tick, so the caller ticks at least this often).
    pub fn poll_timeout(&self) -> Timestamp {
        self.holder.poll_timeout()
    }

    /// Keeps the lease and the replica: takes or renews the lease when due, replays what
    /// the log gained while standing by. Returns the role changes, in order; on becoming
    /// leader, the caught-up registry is to be taken with [`Replicator::take_registry`].
    pub fn tick(&mut self, now: Timestamp) -> Vec<LeaseEvent> {
        self.holder.handle_timeout(now);
        if self.ensure_session().is_ok() {
            if let Some(action) = self.holder.poll_action(now) {
                self.holder.request_sent(now);
                self.act(now, action);
            }
            if self.replica.is_some() && self.holder.leading_epoch(now).is_none() {
                self.catch_up_logged();
            }
        }
        let mut events = Vec::new();
        while let Some(event) = self.holder.poll_event() {
            if matches!(event, LeaseEvent::Lost { .. } | LeaseEvent::SteppedDown { .. }) {
                self.rebuild_replica();
            }
            events.push(event);
        }
        events
    }

    /// The caught-up registry, once this node leads: the Node starts on it. Its input log
    /// is started, so every batch's inputs can be committed.
    pub fn take_registry(&mut self, now: Timestamp) -> Option<Registry> {
        self.holder.leading_epoch(now)?;
        let mut registry = self.replica.take()?;
        registry.start_input_log();
        Some(registry)
    }

    /// Commits one batch's logged inputs, fenced by this node's epoch. Only after `Ok` may
    /// the batch's outputs be released.
    ///
    /// # Errors
    ///
    /// [`CommitRefused`]: the batch is not durable, and this node no longer leads.
    pub fn commit(&mut self, now: Timestamp, inputs: &[LoggedInput]) -> Result<u64, CommitRefused> {
        let Role::Leader { epoch } = self.role(now) else { return Err(CommitRefused::NotLeader) };
        let entries = inputs
            .iter()
            .map(codec::encode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CommitRefused::Encode)?;
        let result = self.ensure_session().and_then(|()| match self.session.as_mut() {
            Some(session) => LogStore::append_fenced(
                session,
                self.lease.holder(),
                epoch,
                self.applied_seq,
                &entries,
            ),
            None => unreachable!("ensure_session opened one"),
        });
        match result {
            Ok(last) => {
                self.applied_seq = last;
                self.last_error = None;
                Ok(last)
            }
            Err(error) => {
                let input = match error {
                    ClusterStoreError::Fenced { .. } | ClusterStoreError::LogMoved { .. } => {
                        LeaseInput::Fenced { epoch }
                    }
                    _ => {
                        self.session = None;
                        LeaseInput::CommitFailed { epoch }
                    }
                };
                self.last_error = Some(error.to_string());
                self.holder.handle(now, input);
                Err(CommitRefused::SteppedDown(error))
            }
        }
    }

    /// Gives the lease up at once (a clean stop), so that a standby need not wait for it.
    pub fn release(&mut self, now: Timestamp) {
        let Role::Leader { epoch } = self.role(now) else { return };
        if self.ensure_session().is_err() {
            return;
        }
        if let Some(session) = self.session.as_mut() {
            if let Err(error) = self.lease.release(session, epoch) {
                self.last_error = Some(error.to_string());
            }
        }
    }

    fn act(&mut self, now: Timestamp, action: LeaseAction) {
        let Some(session) = self.session.as_mut() else { return };
        let input = match action {
            LeaseAction::Take => match self.lease.try_take(session) {
                // Catch up before leading: the previous leader's last commits are in the
                // log and not yet in the replica.
                Ok(Some(epoch)) => match self.catch_up_all() {
                    Ok(()) => LeaseInput::Taken { epoch, sent_at: now },
                    Err(error) => {
                        self.failed(error);
                        LeaseInput::Unanswered
                    }
                },
                Ok(None) => LeaseInput::Held,
                Err(error) => {
                    self.failed(error);
                    LeaseInput::Unanswered
                }
            },
            LeaseAction::Renew { epoch } => match self.lease.renew(session, epoch) {
                Ok(true) => LeaseInput::Renewed { epoch, sent_at: now },
                Ok(false) => LeaseInput::Lost { epoch },
                Err(error) => {
                    self.failed(error);
                    LeaseInput::Unanswered
                }
            },
        };
        self.holder.handle(now, input);
    }

    /// One read of the log into the replica (a standby's step).
    fn catch_up_logged(&mut self) {
        if let Err(error) = self.read_into_replica() {
            self.failed(error);
        }
    }

    /// Reads the log to its end into the replica.
    fn catch_up_all(&mut self) -> Result<(), ClusterStoreError> {
        while self.read_into_replica()? {}
        Ok(())
    }

    /// Applies one page of the log; `true` if there may be more.
    fn read_into_replica(&mut self) -> Result<bool, ClusterStoreError> {
        let (Some(session), Some(replica)) = (self.session.as_mut(), self.replica.as_mut()) else {
            return Ok(false);
        };
        let entries = LogStore::read_after(session, self.applied_seq)?;
        for entry in &entries {
            if entry.seq != self.applied_seq + 1 {
                return Err(ClusterStoreError::LogMoved {
                    expected_last: self.applied_seq + 1,
                    found_last: entry.seq,
                });
            }
            let input: LoggedInput = codec::decode(&entry.entry).map_err(|error| {
                ClusterStoreError::BadEntry { seq: entry.seq, error: error.to_string() }
            })?;
            replica.replay(input);
            self.applied_seq = entry.seq;
        }
        self.last_error = None;
        Ok(entries.len() == super::MAX_ENTRIES_PER_READ)
    }

    /// After stepping down, whatever the Node did since its last commit is lost; the
    /// replica starts over from the log (snapshots will shorten this).
    fn rebuild_replica(&mut self) {
        self.replica = Some(Registry::new(self.registry_config));
        self.applied_seq = 0;
    }

    /// Opens a session (and brings the schema up to date) unless one is open.
    fn ensure_session(&mut self) -> Result<(), ClusterStoreError> {
        if self.session.as_ref().is_some_and(postgres::Client::is_closed) {
            self.session = None;
        }
        if self.session.is_some() {
            return Ok(());
        }
        let opened = connect(&self.url, self.deadlines).and_then(|mut session| {
            super::migrate(&mut session)?;
            Ok(session)
        });
        match opened {
            Ok(session) => {
                self.session = Some(session);
                Ok(())
            }
            Err(error) => {
                self.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    fn failed(&mut self, error: ClusterStoreError) {
        self.last_error = Some(error.to_string());
        // Any failure may have left the session unusable: open a new one next time.
        self.session = None;
    }
}
