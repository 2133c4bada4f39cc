//! Cheap read-only views of the Registry, for the REST layer, the simulator's oracles and
//! tests. None of these change anything or allocate beyond the iterator.

use std::collections::{BTreeMap, BTreeSet};

use crate::registry::tables::dense_index;
use crate::registry::{
    BuildRecord, BuildRequestRecord, BuilderRecord, MasterRecord, Record, Registry, ServiceRecord,
    WorkerRecord,
};
use crate::{BuildId, BuildRequestId, BuilderId, ConnectionId, MasterId, WorkerId};

/// A worker and its relations to masters.
#[derive(Clone, Copy, Debug)]
pub struct WorkerView<'a> {
    pub record: &'a WorkerRecord,
    /// Masters whose configuration names this worker.
    pub configured_on: &'a BTreeSet<MasterId>,
    /// Masters this worker is attached to, with the connection that carries it.
    pub connected_to: &'a BTreeMap<MasterId, ConnectionId>,
}

impl Registry {
    /// Every master, active or not, in id order.
    pub fn masters(&self) -> impl ExactSizeIterator<Item = &MasterRecord> + '_ {
        self.masters.iter().map(|master| &master.record)
    }

    pub fn master(&self, id: MasterId) -> Option<&MasterRecord> {
        self.master_row(id).ok().map(|master| &master.record)
    }

    pub fn master_by_name(&self, name: &str) -> Option<&MasterRecord> {
        self.master(*self.master_ids_by_name.get(name)?)
    }

    pub fn master_count(&self) -> usize {
        self.masters.len()
    }

    pub fn active_master_count(&self) -> usize {
        self.active_master_count
    }

    /// Every builder in id order.
    pub fn builders(&self) -> impl ExactSizeIterator<Item = &BuilderRecord> + '_ {
        self.builders.iter().map(|builder| &builder.record)
    }

    pub fn builder(&self, id: BuilderId) -> Option<&BuilderRecord> {
        let builder = self.builders.get(dense_index(id.get())?)?;
        Some(&builder.record)
    }

    pub fn builder_by_name(&self, name: &str) -> Option<&BuilderRecord> {
        self.builder(*self.builder_ids_by_name.get(name)?)
    }

    /// The masters serving a builder, in id order; none for an unknown builder.
    pub fn masters_serving(&self, builder: BuilderId) -> impl Iterator<Item = &MasterRecord> + '_ {
        dense_index(builder.get())
            .and_then(|index| self.builders.get(index))
            .into_iter()
            .flat_map(|builder| builder.masters.iter())
            .filter_map(|&master| self.master(master))
    }

    /// The builders a master serves, in id order; none for an unknown master.
    pub fn builders_served_by(&self, master: MasterId) -> impl Iterator<Item = BuilderId> + '_ {
        self.master_row(master).ok().into_iter().flat_map(|master| master.builders.iter().copied())
    }

    /// Every scheduler and change source, in id order.
    pub fn services(&self) -> impl ExactSizeIterator<Item = &ServiceRecord> + '_ {
        self.services.values()
    }

    /// Every build request, in id order.
    pub fn build_requests(&self) -> impl ExactSizeIterator<Item = &BuildRequestRecord> + '_ {
        self.build_requests.values()
    }

    /// Every incomplete build request that no master has claimed, in id order: what a
    /// master may claim next. Costs what it returns, not a scan of every request.
    pub fn waiting_build_requests(&self) -> impl Iterator<Item = &BuildRequestRecord> + '_ {
        self.waiting_requests.iter().map(|id| &self.build_requests[id])
    }

    pub fn build_request(&self, id: BuildRequestId) -> Option<&BuildRequestRecord> {
        self.build_requests.get(&id)
    }

    /// Every build, in id order.
    pub fn builds(&self) -> impl ExactSizeIterator<Item = &BuildRecord> + '_ {
        self.builds.values()
    }

    pub fn build(&self, id: BuildId) -> Option<&BuildRecord> {
        self.builds.get(&id)
    }

    /// Every worker the registry has heard of, in id order.
    pub fn workers(&self) -> impl ExactSizeIterator<Item = WorkerView<'_>> + '_ {
        self.workers.iter().map(|worker| WorkerView {
            record: &worker.record,
            configured_on: &worker.configured_on,
            connected_to: &worker.connected_to,
        })
    }

    pub fn worker(&self, id: WorkerId) -> Option<WorkerView<'_>> {
        let worker = self.workers.get(dense_index(id.get())?)?;
        Some(WorkerView {
            record: &worker.record,
            configured_on: &worker.configured_on,
            connected_to: &worker.connected_to,
        })
    }

    pub fn worker_by_name(&self, name: &str) -> Option<WorkerView<'_>> {
        self.worker(*self.worker_ids_by_name.get(name)?)
    }

    /// Every persisted row, as storage should hold it now. Connection records are not rows:
    /// they never outlive the process.
    pub fn records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        records.extend(self.masters().cloned().map(Record::Master));
        records.extend(self.builders().cloned().map(Record::Builder));
        for builder in &self.builders {
            records.extend(
                builder
                    .masters
                    .iter()
                    .map(|&master| Record::BuilderMaster { builder: builder.record.id, master }),
            );
        }
        records.extend(self.services().cloned().map(Record::Service));
        records.extend(self.build_requests().cloned().map(Record::BuildRequest));
        records.extend(self.builds().cloned().map(Record::Build));
        for worker in &self.workers {
            records.push(Record::Worker(worker.record.clone()));
            records.extend(
                worker
                    .configured_on
                    .iter()
                    .map(|&master| Record::WorkerConfigured { worker: worker.record.id, master }),
            );
        }
        records
    }
}
