//! The rows of the Registry: what is persisted, what queries return.

use serde::{Deserialize, Serialize};

use crate::{
    BuildId, BuildRequestId, BuilderId, MasterId, Results, ServiceId, ServiceKind, Timestamp,
    WorkerId,
};

/// A master, as Buildbot's `master` resource describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterRecord {
    pub id: MasterId,
    /// Exact and case-sensitive; by convention `hostname:basedir`.
    pub name: String,
    pub active: bool,
    pub last_active: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderRecord {
    pub id: BuilderId,
    pub name: String,
}

/// A scheduler or change source and the master that owns it, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub id: ServiceId,
    pub kind: ServiceKind,
    pub name: String,
    pub owner: Option<MasterId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequestRecord {
    pub id: BuildRequestId,
    pub builder: BuilderId,
    pub submitted_at: Timestamp,
    /// The master holding the claim, while the request is claimed.
    pub claimed_by: Option<MasterId>,
    pub claimed_at: Option<Timestamp>,
    pub complete: bool,
    pub completed_at: Option<Timestamp>,
    pub results: Option<Results>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub id: BuildId,
    /// Numbered per builder from 1, as Buildbot numbers builds.
    pub number: u64,
    pub builder: BuilderId,
    pub request: BuildRequestId,
    pub master: MasterId,
    pub worker: WorkerId,
    pub started_at: Timestamp,
    pub complete_at: Option<Timestamp>,
    pub results: Option<Results>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub id: WorkerId,
    pub name: String,
}

/// One persisted row. Storage keeps the latest `Put` for each [`RecordKey`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    Master(MasterRecord),
    Builder(BuilderRecord),
    /// The master serves the builder.
    BuilderMaster {
        builder: BuilderId,
        master: MasterId,
    },
    Service(ServiceRecord),
    BuildRequest(BuildRequestRecord),
    Build(BuildRecord),
    Worker(WorkerRecord),
    /// The worker is in the master's configuration.
    WorkerConfigured {
        worker: WorkerId,
        master: MasterId,
    },
}

/// The identity of a persisted row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKey {
    Master(MasterId),
    Builder(BuilderId),
    BuilderMaster { builder: BuilderId, master: MasterId },
    Service(ServiceId),
    BuildRequest(BuildRequestId),
    Build(BuildId),
    Worker(WorkerId),
    WorkerConfigured { worker: WorkerId, master: MasterId },
}

impl Record {
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Master(master) => RecordKey::Master(master.id),
            Record::Builder(builder) => RecordKey::Builder(builder.id),
            Record::BuilderMaster { builder, master } => {
                RecordKey::BuilderMaster { builder: *builder, master: *master }
            }
            Record::Service(service) => RecordKey::Service(service.id),
            Record::BuildRequest(request) => RecordKey::BuildRequest(request.id),
            Record::Build(build) => RecordKey::Build(build.id),
            Record::Worker(worker) => RecordKey::Worker(worker.id),
            Record::WorkerConfigured { worker, master } => {
                RecordKey::WorkerConfigured { worker: *worker, master: *master }
            }
        }
    }
}

/// One durable change. The changes of one drain form one atomic batch, to be committed
/// before any reply of that drain is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Put(Record),
    Delete(RecordKey),
}
