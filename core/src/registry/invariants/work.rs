//! Build requests, claims, the waiting index and builds: what each row says against what
//! the masters hold and what the allocators will hand out next.

use crate::invariant::ensure;
use crate::registry::invariants::{row, violation, MACHINE};
use crate::registry::tables::BuildRequest;
use crate::registry::Registry;
use crate::{BuildRequestId, InvariantViolation, Timestamp};

impl Registry {
    /// Every row against the waiting index (walked alongside, both in id order) and against
    /// its claimer's claims. Each incomplete claimed request is looked up in its claimer's
    /// set; the sets then hold exactly those when their sizes add up to as many, so the sets
    /// are only walked to name the culprit once the sizes disagree.
    pub(super) fn check_build_requests(&self) -> Result<(), InvariantViolation> {
        let next = self.build_request_ids.next_unassigned();
        if let Some((&last, _)) = self.build_requests.last_key_value() {
            ensure!(
                MACHINE,
                last.get() < next,
                "build request {last} exists but the next request id to assign is {next}"
            );
        }
        let now = self.clock.now();
        let mut waiting = self.waiting_requests.iter().copied().peekable();
        let mut held_claims = 0_usize;
        for (&id, request) in &self.build_requests {
            self.check_request_row(now, id, request)?;
            let claimable = !request.complete && request.claimed_by.is_none();
            match waiting.next_if(|&indexed| indexed <= id) {
                Some(indexed) if indexed < id => return Err(self.not_claimable(indexed)),
                Some(_) if !claimable => return Err(self.not_claimable(id)),
                None if claimable => {
                    return Err(violation(format!(
                        "build request {id} is incomplete and unclaimed but not in \
                         waiting_requests"
                    )));
                }
                _ => {}
            }
            let Some(master) = request.claimed_by else {
                continue;
            };
            let Some(master_row) = row(&self.masters, master.get()) else {
                return Err(violation(format!(
                    "build request {id} is claimed by unknown master {master}"
                )));
            };
            // A complete request keeps its claimer's id but is no longer the master's to
            // unclaim or give back.
            if !request.complete {
                ensure!(
                    MACHINE,
                    master_row.claimed_requests.contains(&id),
                    "build request {id} is claimed by master {master}, which does not hold it"
                );
                held_claims += 1;
            }
        }
        if let Some(indexed) = waiting.next() {
            return Err(self.not_claimable(indexed));
        }
        let claims: usize = self.masters.iter().map(|master| master.claimed_requests.len()).sum();
        if claims == held_claims {
            return Ok(());
        }
        for master in &self.masters {
            let master_id = master.record.id;
            for &id in &master.claimed_requests {
                let request = self.build_requests.get(&id);
                ensure!(
                    MACHINE,
                    request.is_some_and(|r| r.claimed_by == Some(master_id) && !r.complete),
                    "master {master_id} holds a claim on build request {id}, which is {}",
                    claim_state(request)
                );
            }
        }
        Err(violation(format!("masters hold {claims} claims for {held_claims} claimed requests")))
    }

    /// What one row says on its own: its key, its builder, its moments, and that its claim
    /// and completion fields come in pairs.
    fn check_request_row(
        &self,
        now: Timestamp,
        id: BuildRequestId,
        request: &BuildRequest,
    ) -> Result<(), InvariantViolation> {
        ensure!(MACHINE, request.id == id, "the request stored as {id} has id {}", request.id);
        ensure!(
            MACHINE,
            row(&self.builders, request.builder.get()).is_some(),
            "build request {id} is for unknown builder {}",
            request.builder
        );
        let latest = latest(request.submitted_at, [request.claimed_at, request.completed_at]);
        ensure!(
            MACHINE,
            latest <= now,
            "build request {id} records {latest}, after the registry's now {now} (submitted \
             at {}, claimed at {:?}, completed at {:?})",
            request.submitted_at,
            request.claimed_at,
            request.completed_at
        );
        ensure!(
            MACHINE,
            request.claimed_at.is_some() == request.claimed_by.is_some(),
            "build request {id} has claimed_by {:?} but claimed_at {:?}",
            request.claimed_by,
            request.claimed_at
        );
        ensure!(
            MACHINE,
            request.completed_at.is_some() == request.complete
                && request.results.is_some() == request.complete,
            "build request {id} has complete {} but completed_at {:?} and results {:?}",
            request.complete,
            request.completed_at,
            request.results
        );
        Ok(())
    }

    /// Whether the build requests' ids are exactly 1 up to the next id to assign, as they
    /// are unless recovery loaded rows with gaps: ids are handed out from 1 and requests
    /// are never deleted. Then a request exists if its id is in range, without a lookup.
    fn build_request_ids_are_dense(&self) -> bool {
        let next = self.build_request_ids.next_unassigned();
        let (Some((first, _)), Some((last, _))) =
            (self.build_requests.first_key_value(), self.build_requests.last_key_value())
        else {
            return false;
        };
        // Distinct ids, all in 1..next, and as many as that range holds: all of it.
        let in_range = first.get() == 1 && last.get() < next;
        in_range && u64::try_from(self.build_requests.len()).is_ok_and(|len| len == next - 1)
    }

    /// The waiting index holds `id`, which is not an incomplete unclaimed request: a master
    /// could be offered something it cannot claim.
    fn not_claimable(&self, id: BuildRequestId) -> InvariantViolation {
        violation(format!(
            "waiting_requests holds build request {id}, which is {}",
            claim_state(self.build_requests.get(&id))
        ))
    }

    /// Every row against its master's running builds, as for claims: each running build
    /// is looked up in its master's set, and the sets are walked only if their sizes do not
    /// add up to the number of running builds.
    pub(super) fn check_builds(&self) -> Result<(), InvariantViolation> {
        let next_request = self.build_request_ids.next_unassigned();
        let next = self.build_ids.next_unassigned();
        if let Some((&last, _)) = self.builds.last_key_value() {
            ensure!(
                MACHINE,
                last.get() < next,
                "build {last} exists but the next build id to assign is {next}"
            );
        }
        let now = self.clock.now();
        let requests_are_dense = self.build_request_ids_are_dense();
        let mut running_count = 0_usize;
        for (&id, build) in &self.builds {
            ensure!(MACHINE, build.id == id, "the build stored as {id} has id {}", build.id);
            let Some(builder) = row(&self.builders, build.builder.get()) else {
                return Err(violation(format!(
                    "build {id} is of unknown builder {}",
                    build.builder
                )));
            };
            ensure!(
                MACHINE,
                build.number < builder.next_build_number,
                "build {id} has number {} but builder {} would number its next build {}",
                build.number,
                build.builder,
                builder.next_build_number
            );
            ensure!(
                MACHINE,
                row(&self.workers, build.worker.get()).is_some(),
                "build {id} ran on unknown worker {}",
                build.worker
            );
            let request = build.request.get();
            let request_exists = if requests_are_dense {
                request >= 1 && request < next_request
            } else {
                self.build_requests.contains_key(&build.request)
            };
            ensure!(MACHINE, request_exists, "build {id} is for unknown build request {request}");
            let latest = latest(build.started_at, [build.complete_at]);
            ensure!(
                MACHINE,
                latest <= now,
                "build {id} records {latest}, after the registry's now {now} (started at {}, \
                 complete at {:?})",
                build.started_at,
                build.complete_at
            );
            ensure!(
                MACHINE,
                build.complete_at.is_some() == build.results.is_some(),
                "build {id} has complete_at {:?} but results {:?}",
                build.complete_at,
                build.results
            );
            let Some(master) = row(&self.masters, build.master.get()) else {
                return Err(violation(format!(
                    "build {id} ran on unknown master {}",
                    build.master
                )));
            };
            if build.results.is_none() {
                ensure!(
                    MACHINE,
                    master.running_builds.contains(&id),
                    "running build {id} is missing from master {}'s running builds",
                    build.master
                );
                running_count += 1;
            }
        }
        let counted: usize = self.masters.iter().map(|master| master.running_builds.len()).sum();
        if counted == running_count {
            return Ok(());
        }
        for master in &self.masters {
            let master_id = master.record.id;
            for &id in &master.running_builds {
                let build = self.builds.get(&id);
                ensure!(
                    MACHINE,
                    build.is_some_and(|b| b.master == master_id && b.results.is_none()),
                    "master {master_id} counts build {id} as running, but it {}",
                    match build {
                        None => "does not exist".to_string(),
                        Some(b) if b.master != master_id => format!("runs on master {}", b.master),
                        Some(_) => "has finished".to_string(),
                    }
                );
            }
        }
        Err(violation(format!("masters count {counted} running builds for {running_count}")))
    }
}

/// The latest of a row's moments. Time never runs backwards inside the Registry, and
/// recovery starts its clock at the latest moment any row records, so no row records a
/// moment after `now`.
fn latest<const N: usize>(first: Timestamp, rest: [Option<Timestamp>; N]) -> Timestamp {
    rest.into_iter().flatten().fold(first, Ord::max)
}

fn claim_state(request: Option<&BuildRequest>) -> String {
    match request {
        None => "unknown".to_string(),
        Some(request) if request.complete => "complete".to_string(),
        Some(request) => match request.claimed_by {
            Some(master) => format!("claimed by master {master}"),
            None => "unclaimed".to_string(),
        },
    }
}
