//! The Registry: the cluster's state and Buildbot's rules for it.
//!
//! # Use
//!
//! - Input: [`Registry::handle`] takes one [`RegistryInput`] (a [`Command`] and the caller's
//!   [`ReplyToken`]); [`Registry::handle_timeout`] runs the expiry sweep when the moment from
//!   [`Registry::poll_timeout`] has come.
//! - Output: after every input, drain [`Registry::poll_output`] until `None`. Persist every
//!   [`Change`] of the drain as one atomic batch, then act on events and send replies.
//! - Reads: the query methods (`masters`, `masters_serving`, `workers`, ...) are cheap and
//!   never change anything.

mod builders;
mod command;
mod housekeeping;
mod input_log;
mod invariants;
mod liveness;
mod output;
mod query;
mod records;
mod recovery;
mod replies;
mod requests;
mod services;
mod snapshot;
mod tables;
mod workers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::clock::MonotonicClock;
use crate::deadline_queue::DeadlineQueue;
use crate::fast_hash::LookupMap;
use crate::ids::IdAllocator;
use crate::limits::MAX_NAME_BYTES;
use crate::{BuildId, BuildRequestId, MasterId, ServiceId, Timestamp};

pub use command::{Command, CommandError, RegistryInput, Reply, ReplyToken, ServiceKind};
pub use input_log::LoggedInput;
pub use output::{RegistryEvent, RegistryOutput, StopCause};
pub use query::WorkerView;
pub use records::{
    BuildRecord, BuildRequestRecord, BuilderRecord, Change, MasterRecord, Record, RecordKey,
    ServiceRecord, WorkerRecord,
};
pub use recovery::RecoveryError;
pub use replies::{KeptAnswer, MasterAnswers, RequestKey, MAX_REMEMBERED_REPLIES_PER_MASTER};
pub use snapshot::{RegistrySnapshot, SnapshotError, WorkerConnection};

use tables::{Build, BuildRequest, Builder, Master, Service, Worker};

/// Buildbot's expiry window: ten minutes of silence.
pub const DEFAULT_EXPIRY_WINDOW_MS: u64 = 600_000;

/// The Registry's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryConfig {
    /// A master whose `last_active` is older than `now - expiry_window_ms` is expired;
    /// exactly `now - expiry_window_ms` is still alive.
    pub expiry_window_ms: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig { expiry_window_ms: DEFAULT_EXPIRY_WINDOW_MS }
    }
}

/// The cluster's state: masters, builders, services, build requests, builds and workers.
///
/// See the [module documentation](self) for the order in which to call its methods.
#[derive(Debug)]
pub struct Registry {
    config: RegistryConfig,
    clock: MonotonicClock,

    masters: Vec<Master>,
    master_ids_by_name: LookupMap<Box<str>, MasterId>,
    /// `(last_active, id)` of active masters, oldest first (see `liveness.rs`).
    liveness: DeadlineQueue<MasterId>,
    active_master_count: usize,

    builders: Vec<Builder>,
    builder_ids_by_name: LookupMap<Box<str>, crate::BuilderId>,

    workers: Vec<Worker>,
    worker_ids_by_name: LookupMap<Box<str>, crate::WorkerId>,

    services: BTreeMap<ServiceId, Service>,
    service_ids_by_key: LookupMap<(ServiceKind, Box<str>), ServiceId>,
    service_ids: IdAllocator,

    build_requests: BTreeMap<BuildRequestId, BuildRequest>,
    /// Incomplete requests nobody has claimed: what a master may claim next.
    waiting_requests: BTreeSet<BuildRequestId>,
    build_request_ids: IdAllocator,

    builds: BTreeMap<BuildId, Build>,
    build_ids: IdAllocator,

    outputs: VecDeque<RegistryOutput>,
    /// No master is expired before this moment: set by a cluster's takeover, so that a
    /// master heartbeating to the old leader has time to find the new one.
    expiry_not_before: Timestamp,
    /// Every input since the last `take_logged_inputs`, once a cluster leader started it.
    input_log: Option<Vec<LoggedInput>>,
    /// The last answers to each remote master, for its retries (`replies.rs`).
    replies: replies::RememberedReplies,
}

impl Registry {
    /// An empty registry. Use [`Registry::recover`] to start from persisted records.
    pub fn new(config: RegistryConfig) -> Self {
        Registry {
            config,
            clock: MonotonicClock::default(),
            masters: Vec::new(),
            master_ids_by_name: LookupMap::default(),
            liveness: DeadlineQueue::new(),
            active_master_count: 0,
            builders: Vec::new(),
            builder_ids_by_name: LookupMap::default(),
            workers: Vec::new(),
            worker_ids_by_name: LookupMap::default(),
            services: BTreeMap::new(),
            service_ids_by_key: LookupMap::default(),
            service_ids: IdAllocator::new(),
            build_requests: BTreeMap::new(),
            waiting_requests: BTreeSet::new(),
            build_request_ids: IdAllocator::new(),
            builds: BTreeMap::new(),
            build_ids: IdAllocator::new(),
            outputs: VecDeque::new(),
            expiry_not_before: Timestamp::EPOCH,
            input_log: None,
            replies: replies::RememberedReplies::default(),
        }
    }

    pub fn config(&self) -> RegistryConfig {
        self.config
    }

    /// New settings from a reconfig: the next sweep judges silence by the new window.
    pub fn set_config(&mut self, config: RegistryConfig) {
        self.log_input(|| LoggedInput::Config(config));
        self.config = config;
    }

    /// Feeds one command. A refused command changes nothing and replies with the reason.
    pub fn handle(&mut self, now: Timestamp, input: RegistryInput) {
        self.log_input(|| LoggedInput::Command { at: now, command: input.command.clone() });
        self.clock.advance(now);
        let result = self.execute(input.command);
        self.outputs.push_back(RegistryOutput::Reply { token: input.token, result });
        self.tidy_liveness_index();
    }

    /// Runs the expiry sweep (without forced housekeeping). Idempotent: a second call at
    /// the same moment finds nothing more to expire.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.log_input(|| LoggedInput::Timeout { at: now });
        self.clock.advance(now);
        self.expire_masters(false);
        self.tidy_liveness_index();
    }

    /// The next output to act on; drain until `None` after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<RegistryOutput> {
        self.outputs.pop_front()
    }

    /// The moment the oldest active master will have been silent for longer than the expiry
    /// window, if any master is active.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.next_expiry()
    }

    /// The latest moment this registry has been told about.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn execute(&mut self, command: Command) -> Result<Reply, CommandError> {
        match command {
            Command::MasterActive { name } => self.master_active(name),
            Command::MasterStopped { master } => self.master_stopped(master),
            Command::ExpireMasters { force_housekeeping } => {
                Ok(Reply::Expired(self.expire_masters(force_housekeeping)))
            }
            Command::SetBuilderList { master, builder_names } => {
                self.set_builder_list(master, builder_names)
            }
            Command::SetConfiguredWorkers { master, worker_names } => {
                self.set_configured_workers(master, worker_names)
            }
            Command::ClaimService { master, kind, name } => self.claim_service(master, kind, name),
            Command::ReleaseService { master, service } => self.release_service(master, service),
            Command::SubmitBuildRequest { master, builder_name } => {
                self.submit_build_request(master, builder_name)
            }
            Command::ClaimBuildRequests { master, requests } => {
                self.claim_build_requests(master, &requests)
            }
            Command::UnclaimBuildRequests { master, requests } => {
                self.unclaim_build_requests(master, &requests)
            }
            Command::CompleteBuildRequests { master, requests, results } => {
                self.complete_build_requests(master, &requests, results)
            }
            Command::StartBuild { master, request, worker_name } => {
                self.start_build(master, request, worker_name)
            }
            Command::FinishBuild { master, build, results } => {
                self.finish_build(master, build, results)
            }
            Command::WorkerConnected { master, worker_name, connection } => {
                self.worker_connected(master, worker_name, connection)
            }
            Command::WorkerDisconnected { master, worker_name, connection } => {
                self.worker_disconnected(master, &worker_name, connection)
            }
            Command::RegisterMaster { name } => self.register_inactive(name),
            Command::RecoverCrashedMaster { master } => self.recover_crashed(master),
        }
    }

    fn persist(&mut self, change: Change) {
        self.outputs.push_back(RegistryOutput::Persist(change));
    }

    fn emit(&mut self, event: RegistryEvent) {
        self.outputs.push_back(RegistryOutput::Event(event));
    }

    fn master_mut(&mut self, id: MasterId) -> Result<&mut Master, CommandError> {
        tables::dense_index(id.get())
            .and_then(|index| self.masters.get_mut(index))
            .ok_or(CommandError::UnknownMaster(id))
    }

    fn master_row(&self, id: MasterId) -> Result<&Master, CommandError> {
        tables::dense_index(id.get())
            .and_then(|index| self.masters.get(index))
            .ok_or(CommandError::UnknownMaster(id))
    }

    /// Everything but `masterActive` must come from an active master: that is what keeps
    /// an inactive master from ever holding anything.
    fn require_active(&self, id: MasterId) -> Result<(), CommandError> {
        if self.master_row(id)?.record.active {
            Ok(())
        } else {
            Err(CommandError::MasterInactive(id))
        }
    }
}

pub(crate) fn validate_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() {
        return Err(CommandError::EmptyName);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(CommandError::NameTooLong { bytes: name.len(), limit: MAX_NAME_BYTES });
    }
    Ok(())
}

fn validate_count(count: usize, limit: usize) -> Result<(), CommandError> {
    if count > limit {
        return Err(CommandError::TooManyItems { count, limit });
    }
    Ok(())
}
