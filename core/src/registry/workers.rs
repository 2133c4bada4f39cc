//! Workers: which masters have them configured and which they are connected to.

use std::collections::{BTreeMap, BTreeSet};

use crate::registry::builders::validate_distinct_names;
use crate::registry::tables::{dense_index, Worker};
use crate::registry::{
    validate_name, Change, CommandError, Record, RecordKey, Registry, RegistryEvent, Reply,
    WorkerRecord,
};
use crate::{ConnectionId, MasterId, WorkerId};

impl Registry {
    /// The master's configuration now names exactly these workers.
    pub(super) fn set_configured_workers(
        &mut self,
        master_id: MasterId,
        names: Vec<String>,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_distinct_names(&names)?;

        let wanted: BTreeSet<WorkerId> =
            names.into_iter().map(|name| self.find_or_create_worker(name)).collect();
        let current = self.master_row(master_id)?.configured_workers.clone();
        for &worker in current.difference(&wanted) {
            self.worker_row_mut(worker).configured_on.remove(&master_id);
            self.master_mut(master_id)?.configured_workers.remove(&worker);
            self.persist(Change::Delete(RecordKey::WorkerConfigured { worker, master: master_id }));
        }
        for &worker in wanted.difference(&current) {
            self.worker_row_mut(worker).configured_on.insert(master_id);
            self.master_mut(master_id)?.configured_workers.insert(worker);
            self.persist(Change::Put(Record::WorkerConfigured { worker, master: master_id }));
        }
        Ok(Reply::Done)
    }

    /// Records that the worker is attached to the master over `connection`. Connection
    /// records live in memory only: they describe sockets, which do not survive a restart.
    pub(super) fn worker_connected(
        &mut self,
        master_id: MasterId,
        name: String,
        connection: ConnectionId,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_name(&name)?;
        let worker = self.find_or_create_worker(name);
        self.worker_row_mut(worker).connected_to.insert(master_id, connection);
        self.master_mut(master_id)?.connected_workers.insert(worker, connection);
        self.emit(RegistryEvent::WorkerConnected { worker, master: master_id });
        Ok(Reply::Worker(worker))
    }

    /// Removes the connection record if it still names `connection`; a record of a newer
    /// connection is left alone. Reports about inactive masters or unknown workers are
    /// accepted and change nothing: the record they describe is already gone.
    pub(super) fn worker_disconnected(
        &mut self,
        master_id: MasterId,
        name: &str,
        connection: ConnectionId,
    ) -> Result<Reply, CommandError> {
        self.master_row(master_id)?;
        let Some(&worker) = self.worker_ids_by_name.get(name) else {
            return Ok(Reply::Done);
        };
        let row = self.worker_row_mut(worker);
        if row.connected_to.get(&master_id) != Some(&connection) {
            return Ok(Reply::Done);
        }
        row.connected_to.remove(&master_id);
        self.master_mut(master_id)?.connected_workers.remove(&worker);
        self.emit(RegistryEvent::WorkerDisconnected { worker, master: master_id });
        Ok(Reply::Done)
    }

    /// The worker's id, creating the worker on its first mention. The name must already be
    /// validated.
    pub(super) fn find_or_create_worker(&mut self, name: String) -> WorkerId {
        if let Some(&id) = self.worker_ids_by_name.get(name.as_str()) {
            return id;
        }
        let id = WorkerId(self.workers.len() as u64 + 1);
        let record = WorkerRecord { id, name: name.clone() };
        self.workers.push(Worker {
            record: record.clone(),
            configured_on: BTreeSet::new(),
            connected_to: BTreeMap::new(),
        });
        self.worker_ids_by_name.insert(name.into_boxed_str(), id);
        self.persist(Change::Put(Record::Worker(record)));
        id
    }

    pub(super) fn worker_row_mut(&mut self, id: WorkerId) -> &mut Worker {
        match dense_index(id.get()).and_then(|index| self.workers.get_mut(index)) {
            Some(worker) => worker,
            None => unreachable!("worker ids held by other rows always exist"),
        }
    }
}
