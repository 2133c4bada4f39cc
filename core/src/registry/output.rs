use serde::{Deserialize, Serialize};

use crate::registry::command::{CommandError, Reply, ReplyToken};
use crate::registry::records::Change;
use crate::{BuildId, BuildRequestId, BuilderId, MasterId, Results, ServiceId, WorkerId};

/// What the Registry asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryOutput {
    /// Persist this change; all changes of a drain form one atomic batch.
    Persist(Change),
    /// Something happened that logs, metrics and watchers care about.
    Event(RegistryEvent),
    /// The answer to the command tagged `token`. Send it only once the drain's changes are
    /// committed.
    Reply { token: ReplyToken, result: Result<Reply, CommandError> },
}

/// Why a master stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// `masterStopped` was called (a clean shutdown, or a restart cleaning up after itself).
    Requested,
    /// `expireMasters` found it silent for longer than the expiry window.
    Expired,
    /// Its own process started again and found it still active: the previous run ended
    /// without stopping it (a crash, `kill -9`, a lost host).
    CrashRecovered,
}

/// Buildbot's message-queue events, typed. [`RegistryEvent::topic`] gives Buildbot's
/// routing key (`masters/13/started`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryEvent {
    MasterStarted { master: MasterId, name: String },
    MasterStopped { master: MasterId, name: String, cause: StopCause },
    BuilderStarted { builder: BuilderId, master: MasterId },
    BuilderStopped { builder: BuilderId, master: MasterId },
    ServiceClaimed { service: ServiceId, master: MasterId },
    ServiceReleased { service: ServiceId, master: MasterId },
    BuildRequestNew { request: BuildRequestId, builder: BuilderId },
    BuildRequestClaimed { request: BuildRequestId, master: MasterId },
    BuildRequestUnclaimed { request: BuildRequestId, master: MasterId },
    BuildRequestComplete { request: BuildRequestId, results: Results },
    BuildStarted { build: BuildId, master: MasterId, worker: WorkerId },
    BuildFinished { build: BuildId, results: Results },
    WorkerConnected { worker: WorkerId, master: MasterId },
    WorkerDisconnected { worker: WorkerId, master: MasterId },
}

impl RegistryEvent {
    /// Buildbot's routing key for this event.
    pub fn topic(&self) -> String {
        match self {
            RegistryEvent::MasterStarted { master, .. } => format!("masters/{master}/started"),
            RegistryEvent::MasterStopped { master, .. } => format!("masters/{master}/stopped"),
            RegistryEvent::BuilderStarted { builder, .. } => format!("builders/{builder}/started"),
            RegistryEvent::BuilderStopped { builder, .. } => format!("builders/{builder}/stopped"),
            RegistryEvent::ServiceClaimed { service, .. } => format!("services/{service}/claimed"),
            RegistryEvent::ServiceReleased { service, .. } => {
                format!("services/{service}/released")
            }
            RegistryEvent::BuildRequestNew { request, .. } => {
                format!("buildrequests/{request}/new")
            }
            RegistryEvent::BuildRequestClaimed { request, .. } => {
                format!("buildrequests/{request}/claimed")
            }
            RegistryEvent::BuildRequestUnclaimed { request, .. } => {
                format!("buildrequests/{request}/unclaimed")
            }
            RegistryEvent::BuildRequestComplete { request, .. } => {
                format!("buildrequests/{request}/complete")
            }
            RegistryEvent::BuildStarted { build, .. } => format!("builds/{build}/new"),
            RegistryEvent::BuildFinished { build, .. } => format!("builds/{build}/finished"),
            RegistryEvent::WorkerConnected { worker, .. } => format!("workers/{worker}/connected"),
            RegistryEvent::WorkerDisconnected { worker, .. } => {
                format!("workers/{worker}/disconnected")
            }
        }
    }
}
