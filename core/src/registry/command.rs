use serde::{Deserialize, Serialize};

use crate::{BuildId, BuildRequestId, BuilderId, ConnectionId, MasterId, Results, ServiceId};

/// The caller's tag for one command, echoed in its [`Reply`](crate::RegistryOutput::Reply)
/// so that replies can be matched to requests (the daemon uses it to find the connection to
/// answer; the simulator to find the simulated master).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplyToken(pub u64);

/// One input to the [`Registry`](crate::Registry): a command with the caller's tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryInput {
    pub token: ReplyToken,
    pub command: Command,
}

/// Whether a service is a scheduler or a change source: both follow the same ownership
/// rule (one owner at a time, free to take once the owner is inactive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Scheduler,
    ChangeSource,
}

/// Everything a master (local or remote) can ask of the Registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Buildbot's `masterActive(name)`: find or create the master by its exact name and
    /// record a heartbeat. Replies [`Reply::Master`].
    MasterActive { name: String },
    /// Buildbot's `masterStopped`: deactivate the master and give back what it held.
    /// A master already inactive is left alone. Replies [`Reply::Done`].
    MasterStopped { master: MasterId },
    /// Buildbot's `expireMasters`: stop every active master silent for longer than the
    /// expiry window. With `force_housekeeping`, also give back anything an inactive master
    /// still holds (run once at startup). Replies [`Reply::Expired`].
    ExpireMasters { force_housekeeping: bool },
    /// The master now serves exactly these builders (created by name on first mention).
    /// Replies [`Reply::Builders`] with their ids in the order given.
    SetBuilderList { master: MasterId, builder_names: Vec<String> },
    /// The master now has exactly these workers in its configuration (created by name on
    /// first mention). Replies [`Reply::Done`].
    SetConfiguredWorkers { master: MasterId, worker_names: Vec<String> },
    /// Take ownership of a scheduler or change source (created on first mention). Allowed
    /// when it is unowned, already ours, or its owner is inactive. Replies [`Reply::Service`].
    ClaimService { master: MasterId, kind: ServiceKind, name: String },
    /// Give up ownership of a service this master owns. Replies [`Reply::Done`].
    ReleaseService { master: MasterId, service: ServiceId },
    /// Submit a build request for a builder (created by name on first mention).
    /// Replies [`Reply::BuildRequest`].
    SubmitBuildRequest { master: MasterId, builder_name: String },
    /// Claim build requests, all or none: each must exist, be incomplete and unclaimed.
    /// Replies [`Reply::Done`].
    ClaimBuildRequests { master: MasterId, requests: Vec<BuildRequestId> },
    /// Unclaim those of the given requests this master has claimed and not completed; the
    /// others are left alone. Replies [`Reply::Unclaimed`] with the ones unclaimed.
    UnclaimBuildRequests { master: MasterId, requests: Vec<BuildRequestId> },
    /// Complete build requests, all or none: each must be claimed by this master and
    /// incomplete. Replies [`Reply::Done`].
    CompleteBuildRequests { master: MasterId, requests: Vec<BuildRequestId>, results: Results },
    /// Start a build for a request this master has claimed, on a worker (created by name on
    /// first mention). Replies [`Reply::Build`].
    StartBuild { master: MasterId, request: BuildRequestId, worker_name: String },
    /// Finish a running build of this master. Replies [`Reply::Done`].
    FinishBuild { master: MasterId, build: BuildId, results: Results },
    /// A worker attached to this master over `connection`. Replies [`Reply::Worker`].
    WorkerConnected { master: MasterId, worker_name: String, connection: ConnectionId },
    /// The worker's `connection` to this master is gone. A record that names a newer
    /// connection is left alone, so a late report can never detach a replacement.
    /// Replies [`Reply::Done`].
    WorkerDisconnected { master: MasterId, worker_name: String, connection: ConnectionId },
    /// Buildbot's `findMasterId`: find or create the master by its exact name *without*
    /// activating it (a new row is inactive). The first step of a Node's startup.
    /// Replies [`Reply::Master`].
    RegisterMaster { name: String },
    /// The second step of a Node's startup: a master whose row is still active when its
    /// own process starts did not stop cleanly last time, so it is stopped (cause
    /// [`StopCause::CrashRecovered`](crate::StopCause::CrashRecovered)) and gives back
    /// what it held. A master already inactive is left alone. Replies [`Reply::Done`].
    RecoverCrashedMaster { master: MasterId },
}

/// A successful answer to a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Done,
    Master(MasterId),
    Expired(Vec<MasterId>),
    Builders(Vec<BuilderId>),
    Service(ServiceId),
    BuildRequest(BuildRequestId),
    Unclaimed(Vec<BuildRequestId>),
    Build(BuildId),
    Worker(crate::WorkerId),
}

/// Why a [`Command`] was refused. A refused command changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandError {
    UnknownMaster(MasterId),
    /// Only `MasterActive` revives an inactive master; everything else it asks is refused,
    /// so that nothing is ever held by an inactive master.
    MasterInactive(MasterId),
    EmptyName,
    NameTooLong {
        bytes: usize,
        limit: usize,
    },
    TooManyItems {
        count: usize,
        limit: usize,
    },
    DuplicateName(String),
    ServiceOwnedByAnother {
        service: ServiceId,
        owner: MasterId,
    },
    UnknownService(ServiceId),
    ServiceNotOwned(ServiceId),
    UnknownBuildRequest(BuildRequestId),
    /// The same build request is named twice in one command.
    DuplicateBuildRequest(BuildRequestId),
    BuildRequestAlreadyClaimed {
        request: BuildRequestId,
        by: MasterId,
    },
    BuildRequestNotClaimedByMaster(BuildRequestId),
    BuildRequestComplete(BuildRequestId),
    UnknownBuild(BuildId),
    BuildNotOwnedByMaster(BuildId),
    BuildAlreadyFinished(BuildId),
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::UnknownMaster(id) => write!(formatter, "no master with id {id}"),
            CommandError::MasterInactive(id) => {
                write!(formatter, "master {id} is inactive: send masterActive first")
            }
            CommandError::EmptyName => formatter.write_str("a name must not be empty"),
            CommandError::NameTooLong { bytes, limit } => {
                write!(formatter, "a name of {bytes} bytes is longer than the limit of {limit}")
            }
            CommandError::TooManyItems { count, limit } => {
                write!(formatter, "{count} items in one command, more than the limit of {limit}")
            }
            CommandError::DuplicateName(name) => write!(formatter, "{name:?} is listed twice"),
            CommandError::ServiceOwnedByAnother { service, owner } => {
                write!(formatter, "service {service} is owned by active master {owner}")
            }
            CommandError::UnknownService(id) => write!(formatter, "no service with id {id}"),
            CommandError::ServiceNotOwned(id) => {
                write!(formatter, "service {id} is not owned by this master")
            }
            CommandError::UnknownBuildRequest(id) => {
                write!(formatter, "no build request with id {id}")
            }
            CommandError::DuplicateBuildRequest(id) => {
                write!(formatter, "build request {id} is named twice")
            }
            CommandError::BuildRequestAlreadyClaimed { request, by } => {
                write!(formatter, "build request {request} is already claimed by master {by}")
            }
            CommandError::BuildRequestNotClaimedByMaster(id) => {
                write!(formatter, "build request {id} is not claimed by this master")
            }
            CommandError::BuildRequestComplete(id) => {
                write!(formatter, "build request {id} is already complete")
            }
            CommandError::UnknownBuild(id) => write!(formatter, "no build with id {id}"),
            CommandError::BuildNotOwnedByMaster(id) => {
                write!(formatter, "build {id} does not run on this master")
            }
            CommandError::BuildAlreadyFinished(id) => {
                write!(formatter, "build {id} has already finished")
            }
        }
    }
}

impl std::error::Error for CommandError {}
