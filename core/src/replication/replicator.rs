//! One node's side of replication: keep the lease (take it when it expires, renew it while
//! leading), commit the leader's batches fenced, and, while standing by, replay the log
//! into a replica of the Registry, so that a takeover hands the Node a registry already
//! caught up.
//!
//! No clock is read here: `now` is the caller's monotonic time, in which the lease's
//! acting window is counted (see [`crate::lease`]).

use super::{AppendRefused, SharedStore, Take};
use crate::lease::{
    LeaseAction, LeaseEvent, LeaseHolder, LeaseInput, LeaseTimings, LeaseTimingsError,
};
use crate::{LoggedInput, Registry, RegistryConfig, Timestamp};

/// Why a commit was not made durable. Nothing of it may be acknowledged.
#[derive(Debug)]
pub enum CommitRefused<E> {
    /// This node is not leading now (its acting window ran out, or it never led).
    NotLeader,
    /// The store fenced it: another node leads, or the lease expired.
    Fenced { epoch: u64, current_epoch: u64, holder: Option<String> },
    /// The log had moved on: another node wrote to it.
    LogMoved { expected_last: u64, found_last: u64 },
    /// The store failed, and whether the commit landed is unknown.
    Failed(E),
}

impl<E: std::fmt::Display> std::fmt::Display for CommitRefused<E> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitRefused::NotLeader => formatter.write_str("this node is not the leader"),
            CommitRefused::Fenced { epoch, current_epoch, holder } => write!(
                formatter,
                "commit fenced: this node led epoch {epoch}, the lease is at epoch \
                 {current_epoch} held by {}",
                holder.as_deref().unwrap_or("nobody")
            ),
            CommitRefused::LogMoved { expected_last, found_last } => write!(
                formatter,
                "the registry log ends at {found_last}, not at {expected_last} as this node \
                 wrote it: another writer appended"
            ),
            CommitRefused::Failed(error) => write!(formatter, "commit failed: {error}"),
        }
    }
}

impl<E: std::error::Error> std::error::Error for CommitRefused<E> {}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Leading at `epoch`, its registry taken: the Node may commit.
    Leader {
        epoch: u64,
    },
    Standby,
}

/// One node's replication, over its store `S`.
#[derive(Debug)]
pub struct Replicator<S> {
    store: S,
    holder: LeaseHolder,
    registry_config: RegistryConfig,
    /// While standing by: the log replayed up to `applied_seq`. Handed to the Node at a
    /// takeover; rebuilt from the log after stepping down.
    replica: Option<Registry>,
    /// The last log entry this node's state includes (the replica's, or the leader's own).
    applied_seq: u64,
    /// The store's last failure, for the status page; cleared by the next success.
    last_error: Option<String>,
    /// A standby writes a snapshot once its replica is this many entries past the newest
    /// one it knows of; 0: never.
    snapshot_every_entries: u64,
    /// The newest snapshot this node loaded or wrote.
    snapshot_seq: u64,
    /// The replica is new (empty, at 0): the newest snapshot is loaded before the log.
    replica_fresh: bool,
}

impl<S: SharedStore> Replicator<S> {
    /// A standby with an empty replica.
    ///
    /// # Errors
    ///
    /// When the lease timings cannot keep a leader leading.
    pub fn new(
        now: Timestamp,
        store: S,
        timings: LeaseTimings,
        registry_config: RegistryConfig,
    ) -> Result<Replicator<S>, LeaseTimingsError> {
        Ok(Replicator {
            store,
            holder: LeaseHolder::new(now, timings)?,
            registry_config,
            replica: Some(Registry::new(registry_config)),
            applied_seq: 0,
            last_error: None,
            snapshot_every_entries: 0,
            snapshot_seq: 0,
            replica_fresh: true,
        })
    }

    /// While standing by, write a snapshot of the replica every `entries` entries of the
    /// log, which drops the entries it covers (docs/cluster.md, "What is stored").
    #[must_use]
    pub fn with_snapshots_every(mut self, entries: u64) -> Replicator<S> {
        self.snapshot_every_entries = entries;
        self
    }

    /// The newest snapshot this node loaded or wrote.
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot_seq
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

    /// The store, for reads outside replication (the lease's holder and the log's end, for a
    /// status page). Never for writes: every write goes through the lease's rules here.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// When the lease next needs this node (a take, a renewal, or the end of its acting
    /// window). A standby also follows the log at every tick, so the caller ticks at
    /// least every renew interval.
    pub fn poll_timeout(&self) -> Timestamp {
        self.holder.poll_timeout()
    }

    /// Keeps the lease and the replica: takes or renews the lease when due, replays what
    /// the log gained while standing by. Returns the role changes, in order; on becoming
    /// leader, take the caught-up registry with [`Replicator::take_registry`].
    pub fn tick(&mut self, now: Timestamp) -> Vec<LeaseEvent> {
        self.holder.handle_timeout(now);
        // Stepped down: rebuilt before anything else, so that a take in this very tick
        // catches up a replica, not the registry the Node had (found by the simulator:
        // the take caught up nothing and handed over an empty registry).
        self.rebuild_if_deposed(now);
        if let Some(action) = self.holder.poll_action(now) {
            self.holder.request_sent(now);
            self.act(now, action);
        }
        if self.replica.is_some() && self.holder.leading_epoch(now).is_none() {
            match self.read_into_replica() {
                Ok(_) => self.snapshot_if_due(),
                Err(error) => self.last_error = Some(error),
            }
        }
        std::iter::from_fn(|| self.holder.poll_event()).collect()
    }

    /// The caught-up registry, once this node leads: the Node starts on it. Its input log
    /// is started, so that every batch's inputs can be committed.
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
    /// [`CommitRefused`]: the batch is not durable, and, but for `NotLeader`, this node
    /// has stepped down.
    pub fn commit(
        &mut self,
        now: Timestamp,
        inputs: &[LoggedInput],
    ) -> Result<u64, CommitRefused<S::Error>> {
        let Role::Leader { epoch } = self.role(now) else { return Err(CommitRefused::NotLeader) };
        let refused = match self.store.append_fenced(epoch, self.applied_seq, inputs) {
            Ok(last) => {
                assert_eq!(
                    last,
                    self.applied_seq + inputs.len() as u64,
                    "the store appended another number of entries than it was given"
                );
                self.applied_seq = last;
                self.last_error = None;
                return Ok(last);
            }
            Err(AppendRefused::Fenced { current_epoch, holder }) => {
                CommitRefused::Fenced { epoch, current_epoch, holder }
            }
            Err(AppendRefused::LogMoved { found_last }) => {
                CommitRefused::LogMoved { expected_last: self.applied_seq, found_last }
            }
            Err(AppendRefused::Failed(error)) => CommitRefused::Failed(error),
        };
        let input = match refused {
            CommitRefused::Failed(_) => LeaseInput::CommitFailed { epoch },
            _ => LeaseInput::Fenced { epoch },
        };
        self.last_error = Some(refused.to_string());
        self.holder.handle(now, input);
        self.rebuild_if_deposed(now);
        Err(refused)
    }

    /// Gives the lease up at once (a clean stop), so that a standby need not wait for it.
    pub fn release(&mut self, now: Timestamp) {
        let Role::Leader { epoch } = self.role(now) else { return };
        if let Err(error) = self.store.release(epoch) {
            self.last_error = Some(error.to_string());
        }
    }

    fn act(&mut self, now: Timestamp, action: LeaseAction) {
        let input = match action {
            LeaseAction::Take => match self.store.try_take() {
                // Caught up before leading: the previous leader's last commits are in the
                // log and not yet in the replica.
                Ok(Take::Taken { epoch }) => match self.catch_up_all() {
                    Ok(()) => LeaseInput::Taken { epoch, sent_at: now },
                    Err(error) => {
                        self.last_error = Some(error);
                        LeaseInput::Unanswered
                    }
                },
                Ok(Take::Held { remaining_ms }) => LeaseInput::Held { remaining_ms },
                Err(error) => {
                    self.last_error = Some(error.to_string());
                    LeaseInput::Unanswered
                }
            },
            LeaseAction::Renew { epoch } => match self.store.renew(epoch) {
                Ok(true) => LeaseInput::Renewed { epoch, sent_at: now },
                Ok(false) => LeaseInput::Lost { epoch },
                Err(error) => {
                    self.last_error = Some(error.to_string());
                    LeaseInput::Unanswered
                }
            },
        };
        self.holder.handle(now, input);
    }

    fn catch_up_all(&mut self) -> Result<(), String> {
        while self.read_into_replica()? {}
        Ok(())
    }

    /// Applies one page of the log to the replica; `true` if there may be more. A fresh
    /// replica starts from the newest snapshot; so does one the log was pruned past.
    fn read_into_replica(&mut self) -> Result<bool, String> {
        if self.replica.is_none() {
            return Ok(false);
        }
        if std::mem::take(&mut self.replica_fresh) {
            if let Err(error) = self.load_snapshot() {
                self.replica_fresh = true;
                return Err(error);
            }
        }
        let mut page =
            self.store.read_after(self.applied_seq).map_err(|error| error.to_string())?;
        if page.snapshot_seq > self.applied_seq {
            // A snapshot ahead of this replica, and the log it covers maybe pruned (even to
            // an empty page): start from it.
            self.load_snapshot()?;
            page = self.store.read_after(self.applied_seq).map_err(|error| error.to_string())?;
        }
        let Some(replica) = self.replica.as_mut() else { return Ok(false) };
        for (seq, input) in page.entries {
            if seq != self.applied_seq + 1 {
                return Err(format!(
                    "the registry log skips from entry {} to {seq}, and no snapshot covers \
                     the gap",
                    self.applied_seq
                ));
            }
            replica.replay(input);
            self.applied_seq = seq;
        }
        self.last_error = None;
        Ok(page.more)
    }

    /// Replaces the replica with the newest snapshot, if it is ahead of it.
    fn load_snapshot(&mut self) -> Result<(), String> {
        let Some((seq, snapshot)) = self.store.read_snapshot().map_err(|e| e.to_string())? else {
            return Ok(());
        };
        self.snapshot_seq = self.snapshot_seq.max(seq);
        if seq <= self.applied_seq {
            return Ok(());
        }
        let registry = Registry::from_snapshot(snapshot)
            .map_err(|error| format!("the snapshot after entry {seq}: {error}"))?;
        self.replica = Some(registry);
        self.applied_seq = seq;
        Ok(())
    }

    /// A standby's snapshot of its replica, once it is far enough past the newest known.
    /// A failure is only reported: the log keeps everything until a snapshot lands.
    fn snapshot_if_due(&mut self) {
        let every = self.snapshot_every_entries;
        if every == 0 || self.applied_seq < self.snapshot_seq.saturating_add(every) {
            return;
        }
        let Some(replica) = self.replica.as_ref() else { return };
        let snapshot = replica.snapshot();
        match self.store.write_snapshot(self.applied_seq, &snapshot) {
            // Not stored: another node's is as new; either way none is due before `every`.
            Ok(_) => self.snapshot_seq = self.applied_seq,
            Err(error) => self.last_error = Some(format!("writing a snapshot: {error}")),
        }
    }

    /// After stepping down, whatever the Node did since its last commit is lost; the
    /// replica starts over from the newest snapshot and the log after it.
    fn rebuild_if_deposed(&mut self, now: Timestamp) {
        if self.replica.is_none() && self.holder.leading_epoch(now).is_none() {
            self.replica = Some(Registry::new(self.registry_config));
            self.applied_seq = 0;
            self.replica_fresh = true;
        }
    }
}
