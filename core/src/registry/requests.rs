//! Build requests (submitted, claimed by at most one active master, unclaimed, completed)
//! and the builds that run them.

use std::collections::BTreeSet;

use crate::limits::MAX_REQUESTS_PER_COMMAND;
use crate::registry::{
    validate_count, validate_name, BuildRecord, BuildRequestRecord, Change, CommandError, Record,
    Registry, RegistryEvent, Reply,
};
use crate::{BuildId, BuildRequestId, MasterId, Results};

impl Registry {
    pub(super) fn submit_build_request(
        &mut self,
        master_id: MasterId,
        builder_name: String,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_name(&builder_name)?;
        let builder = self.find_or_create_builder(builder_name);
        let id = BuildRequestId(self.build_request_ids.allocate());
        let record = BuildRequestRecord {
            id,
            builder,
            submitted_at: self.clock.now(),
            claimed_by: None,
            claimed_at: None,
            complete: false,
            completed_at: None,
            results: None,
        };
        self.build_requests.insert(id, record.clone());
        self.waiting_requests.insert(id);
        self.persist(Change::Put(Record::BuildRequest(record)));
        self.emit(RegistryEvent::BuildRequestNew { request: id, builder });
        Ok(Reply::BuildRequest(id))
    }

    /// All or none: every request must exist, be incomplete and be unclaimed.
    pub(super) fn claim_build_requests(
        &mut self,
        master_id: MasterId,
        ids: &[BuildRequestId],
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        self.validate_request_list(ids)?;
        for id in ids {
            let request = &self.build_requests[id];
            if request.complete {
                return Err(CommandError::BuildRequestComplete(*id));
            }
            if let Some(by) = request.claimed_by {
                return Err(CommandError::BuildRequestAlreadyClaimed { request: *id, by });
            }
        }
        let now = self.clock.now();
        for &id in ids {
            self.update_request(id, |request| {
                request.claimed_by = Some(master_id);
                request.claimed_at = Some(now);
            });
            self.waiting_requests.remove(&id);
            self.master_mut(master_id)?.claimed_requests.insert(id);
            self.emit(RegistryEvent::BuildRequestClaimed { request: id, master: master_id });
        }
        Ok(Reply::Done)
    }

    /// Unclaims those requests this master holds; the others are left alone.
    pub(super) fn unclaim_build_requests(
        &mut self,
        master_id: MasterId,
        ids: &[BuildRequestId],
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        self.validate_request_list(ids)?;
        let mut unclaimed = Vec::new();
        for &id in ids {
            if !self.master_row(master_id)?.claimed_requests.contains(&id) {
                continue;
            }
            self.update_request(id, |request| {
                request.claimed_by = None;
                request.claimed_at = None;
            });
            self.waiting_requests.insert(id);
            self.master_mut(master_id)?.claimed_requests.remove(&id);
            self.emit(RegistryEvent::BuildRequestUnclaimed { request: id, master: master_id });
            unclaimed.push(id);
        }
        Ok(Reply::Unclaimed(unclaimed))
    }

    /// All or none: every request must be claimed by this master and incomplete.
    pub(super) fn complete_build_requests(
        &mut self,
        master_id: MasterId,
        ids: &[BuildRequestId],
        results: Results,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        self.validate_request_list(ids)?;
        for id in ids {
            let request = &self.build_requests[id];
            if request.complete {
                return Err(CommandError::BuildRequestComplete(*id));
            }
            if request.claimed_by != Some(master_id) {
                return Err(CommandError::BuildRequestNotClaimedByMaster(*id));
            }
        }
        let now = self.clock.now();
        for &id in ids {
            self.update_request(id, |request| {
                request.complete = true;
                request.completed_at = Some(now);
                request.results = Some(results);
            });
            self.master_mut(master_id)?.claimed_requests.remove(&id);
            self.emit(RegistryEvent::BuildRequestComplete { request: id, results });
        }
        Ok(Reply::Done)
    }

    pub(super) fn start_build(
        &mut self,
        master_id: MasterId,
        request_id: BuildRequestId,
        worker_name: String,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_name(&worker_name)?;
        let request = self
            .build_requests
            .get(&request_id)
            .ok_or(CommandError::UnknownBuildRequest(request_id))?;
        if request.complete {
            return Err(CommandError::BuildRequestComplete(request_id));
        }
        if request.claimed_by != Some(master_id) {
            return Err(CommandError::BuildRequestNotClaimedByMaster(request_id));
        }
        let builder_id = request.builder;
        let worker = self.find_or_create_worker(worker_name);
        let builder = self.builder_row_mut(builder_id);
        let number = builder.next_build_number;
        builder.next_build_number += 1;
        let id = BuildId(self.build_ids.allocate());
        let record = BuildRecord {
            id,
            number,
            builder: builder_id,
            request: request_id,
            master: master_id,
            worker,
            started_at: self.clock.now(),
            complete_at: None,
            results: None,
        };
        self.builds.insert(id, record.clone());
        self.master_mut(master_id)?.running_builds.insert(id);
        self.persist(Change::Put(Record::Build(record)));
        self.emit(RegistryEvent::BuildStarted { build: id, master: master_id, worker });
        Ok(Reply::Build(id))
    }

    pub(super) fn finish_build(
        &mut self,
        master_id: MasterId,
        build_id: BuildId,
        results: Results,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        let build = self.builds.get_mut(&build_id).ok_or(CommandError::UnknownBuild(build_id))?;
        if build.master != master_id {
            return Err(CommandError::BuildNotOwnedByMaster(build_id));
        }
        if build.results.is_some() {
            return Err(CommandError::BuildAlreadyFinished(build_id));
        }
        build.complete_at = Some(self.clock.now());
        build.results = Some(results);
        let record = build.clone();
        self.master_mut(master_id)?.running_builds.remove(&build_id);
        self.persist(Change::Put(Record::Build(record)));
        self.emit(RegistryEvent::BuildFinished { build: build_id, results });
        Ok(Reply::Done)
    }

    /// Not too many, no duplicates, all known.
    fn validate_request_list(&self, ids: &[BuildRequestId]) -> Result<(), CommandError> {
        validate_count(ids.len(), MAX_REQUESTS_PER_COMMAND)?;
        let mut seen = BTreeSet::new();
        for &id in ids {
            if !self.build_requests.contains_key(&id) {
                return Err(CommandError::UnknownBuildRequest(id));
            }
            if !seen.insert(id) {
                return Err(CommandError::DuplicateBuildRequest(id));
            }
        }
        Ok(())
    }

    fn update_request(&mut self, id: BuildRequestId, change: impl FnOnce(&mut BuildRequestRecord)) {
        let Some(request) = self.build_requests.get_mut(&id) else {
            unreachable!("callers validate request ids first");
        };
        change(request);
        let record = request.clone();
        self.persist(Change::Put(Record::BuildRequest(record)));
    }
}
