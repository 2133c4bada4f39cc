//! What a stopped master gives back, in the order docs/design.md gives.

use crate::registry::{Change, Record, RecordKey, Registry, RegistryEvent};
use crate::{MasterId, Results};

impl Registry {
    /// Gives back everything the master holds, in this order: workers configured through
    /// it; its builder links; its schedulers and change sources; its unfinished builds
    /// (finished with RETRY); its claimed, incomplete build requests (unclaimed, by *its*
    /// id); the records of workers connected to it. Within each kind, in id order.
    pub(super) fn give_back_holdings(&mut self, id: MasterId) {
        let Ok(master) = self.master_mut(id) else {
            unreachable!("give_back_holdings is only called with ids of existing masters");
        };
        let configured_workers = std::mem::take(&mut master.configured_workers);
        let builders = std::mem::take(&mut master.builders);
        let services = std::mem::take(&mut master.services);
        let running_builds = std::mem::take(&mut master.running_builds);
        let claimed_requests = std::mem::take(&mut master.claimed_requests);
        let connected_workers = std::mem::take(&mut master.connected_workers);
        master.holdings_await_housekeeping = false;
        let now = self.clock.now();

        for worker in configured_workers {
            self.worker_row_mut(worker).configured_on.remove(&id);
            self.persist(Change::Delete(RecordKey::WorkerConfigured { worker, master: id }));
        }
        for builder in builders {
            self.builder_row_mut(builder).masters.remove(&id);
            self.persist(Change::Delete(RecordKey::BuilderMaster { builder, master: id }));
            self.emit(RegistryEvent::BuilderStopped { builder, master: id });
        }
        for service_id in services {
            let Some(service) = self.services.get_mut(&service_id) else {
                unreachable!("a master only holds services that exist");
            };
            assert_eq!(service.owner, Some(id), "a master holds only the services it owns");
            service.owner = None;
            let record = service.clone();
            self.persist(Change::Put(Record::Service(record)));
            self.emit(RegistryEvent::ServiceReleased { service: service_id, master: id });
        }
        for build_id in running_builds {
            let Some(build) = self.builds.get_mut(&build_id) else {
                unreachable!("a master only holds builds that exist");
            };
            assert!(build.results.is_none(), "a running build has no result yet");
            build.complete_at = Some(now);
            build.results = Some(Results::RETRY);
            let record = build.clone();
            self.persist(Change::Put(Record::Build(record)));
            self.emit(RegistryEvent::BuildFinished { build: build_id, results: Results::RETRY });
        }
        for request_id in claimed_requests {
            let Some(request) = self.build_requests.get_mut(&request_id) else {
                unreachable!("a master only holds build requests that exist");
            };
            assert_eq!(request.claimed_by, Some(id), "a master holds only its own claims");
            assert!(!request.complete, "a master holds only incomplete claims");
            request.claimed_by = None;
            request.claimed_at = None;
            self.waiting_requests.insert(request_id);
            let record = request.clone();
            self.persist(Change::Put(Record::BuildRequest(record)));
            self.emit(RegistryEvent::BuildRequestUnclaimed { request: request_id, master: id });
        }
        for (worker, _connection) in connected_workers {
            self.worker_row_mut(worker).connected_to.remove(&id);
            self.emit(RegistryEvent::WorkerDisconnected { worker, master: id });
        }
    }
}
