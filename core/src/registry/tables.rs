//! The Registry's in-memory rows, each with the relations that make housekeeping cheap:
//! a master knows everything it holds, so stopping it costs what it held, not a scan.

use std::collections::{BTreeMap, BTreeSet};

use crate::registry::records::{
    BuildRecord, BuildRequestRecord, BuilderRecord, MasterRecord, ServiceRecord, WorkerRecord,
};
use crate::{BuildId, BuildRequestId, BuilderId, ConnectionId, MasterId, ServiceId, WorkerId};

#[derive(Clone, Debug)]
pub(crate) struct Master {
    pub(crate) record: MasterRecord,
    pub(crate) builders: BTreeSet<BuilderId>,
    pub(crate) services: BTreeSet<ServiceId>,
    /// Incomplete build requests this master has claimed.
    pub(crate) claimed_requests: BTreeSet<BuildRequestId>,
    /// Builds on this master that have not finished.
    pub(crate) running_builds: BTreeSet<BuildId>,
    pub(crate) configured_workers: BTreeSet<WorkerId>,
    pub(crate) connected_workers: BTreeMap<WorkerId, ConnectionId>,
    /// Recovery found this master stored inactive yet holding something. The Registry never
    /// writes that (a stop and its give-back are one atomic batch), but an older or foreign
    /// writer may have, and recovery keeps such holdings for forced housekeeping to give
    /// back at startup. Until this master gives them back, and for it alone, the invariant
    /// "an inactive master holds nothing" is suspended. Cleared by `give_back_holdings`;
    /// a master revived meanwhile keeps the mark, which does not matter while it is active,
    /// until it stops and gives everything back.
    pub(crate) holdings_await_housekeeping: bool,
}

impl Master {
    pub(crate) fn new(record: MasterRecord) -> Self {
        Master {
            record,
            builders: BTreeSet::new(),
            services: BTreeSet::new(),
            claimed_requests: BTreeSet::new(),
            running_builds: BTreeSet::new(),
            configured_workers: BTreeSet::new(),
            connected_workers: BTreeMap::new(),
            holdings_await_housekeeping: false,
        }
    }

    pub(crate) fn holds_anything(&self) -> bool {
        !(self.builders.is_empty()
            && self.services.is_empty()
            && self.claimed_requests.is_empty()
            && self.running_builds.is_empty()
            && self.configured_workers.is_empty()
            && self.connected_workers.is_empty())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Builder {
    pub(crate) record: BuilderRecord,
    pub(crate) masters: BTreeSet<MasterId>,
    pub(crate) next_build_number: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Worker {
    pub(crate) record: WorkerRecord,
    pub(crate) configured_on: BTreeSet<MasterId>,
    pub(crate) connected_to: BTreeMap<MasterId, ConnectionId>,
}

pub(crate) type Service = ServiceRecord;
pub(crate) type BuildRequest = BuildRequestRecord;
pub(crate) type Build = BuildRecord;

/// Rows whose ids are dense from 1 and never deleted live in a `Vec` at index `id - 1`.
pub(crate) fn dense_index(id: u64) -> Option<usize> {
    usize::try_from(id.checked_sub(1)?).ok()
}
