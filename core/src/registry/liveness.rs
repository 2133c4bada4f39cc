//! masterActive, masterStopped and expireMasters, and the index that makes expiry cheap.
//!
//! The liveness index holds `(last_active, id)` for every active master, oldest first, with
//! lazy deletion (see `deadline_queue.rs`): an entry is live while its master is active and
//! its `last_active` still equals the entry's moment. A heartbeat appends one entry in O(1);
//! a sweep pops only the entries that are due, so a sweep that expires nothing looks at one
//! entry however many masters are registered.

use crate::registry::tables::{dense_index, Master};
use crate::registry::{
    validate_name, Change, CommandError, MasterRecord, Record, Registry, RegistryEvent, Reply,
    StopCause,
};
use crate::{MasterId, Timestamp};

impl Registry {
    pub(super) fn master_active(&mut self, name: String) -> Result<Reply, CommandError> {
        validate_name(&name)?;
        let now = self.clock.now();
        let Some(&id) = self.master_ids_by_name.get(name.as_str()) else {
            return Ok(Reply::Master(self.register_master(name, now)));
        };
        let master = self.master_mut(id)?;
        let was_active = master.record.active;
        if was_active && master.record.last_active == now {
            return Ok(Reply::Master(id));
        }
        master.record.active = true;
        master.record.last_active = now;
        // The row is the one copy a heartbeat makes; the name is copied again only for
        // the rare `started` event.
        let row = Record::Master(master.record.clone());
        let started_name = (!was_active).then(|| master.record.name.clone());
        self.liveness.push(now, id);
        self.persist(Change::Put(row));
        if let Some(name) = started_name {
            self.active_master_count += 1;
            self.emit(RegistryEvent::MasterStarted { master: id, name });
        }
        Ok(Reply::Master(id))
    }

    fn register_master(&mut self, name: String, now: Timestamp) -> MasterId {
        let id = self.insert_master_row(name.clone(), true, now);
        self.liveness.push(now, id);
        self.active_master_count += 1;
        self.emit(RegistryEvent::MasterStarted { master: id, name });
        id
    }

    fn insert_master_row(&mut self, name: String, active: bool, now: Timestamp) -> MasterId {
        let id = MasterId(self.masters.len() as u64 + 1);
        let record = MasterRecord { id, name: name.clone(), active, last_active: now };
        self.masters.push(Master::new(record.clone()));
        self.master_ids_by_name.insert(name.into_boxed_str(), id);
        self.persist(Change::Put(Record::Master(record)));
        id
    }

    /// Buildbot's `findMasterId`: a new row is created inactive, so the startup's
    /// `masterStopped` that follows is a no-op and only `masterActive` says `started`.
    pub(super) fn register_inactive(&mut self, name: String) -> Result<Reply, CommandError> {
        validate_name(&name)?;
        if let Some(&id) = self.master_ids_by_name.get(name.as_str()) {
            return Ok(Reply::Master(id));
        }
        let now = self.clock.now();
        Ok(Reply::Master(self.insert_master_row(name, false, now)))
    }

    pub(super) fn recover_crashed(&mut self, id: MasterId) -> Result<Reply, CommandError> {
        self.master_row(id)?;
        self.stop_master(id, StopCause::CrashRecovered);
        Ok(Reply::Done)
    }

    pub(super) fn master_stopped(&mut self, id: MasterId) -> Result<Reply, CommandError> {
        self.master_row(id)?;
        self.stop_master(id, StopCause::Requested);
        Ok(Reply::Done)
    }

    /// Deactivates an active master (keeping its `last_active`), gives back what it held,
    /// then announces `masters/<id>/stopped`. An inactive master is left alone.
    fn stop_master(&mut self, id: MasterId, cause: StopCause) {
        let Ok(master) = self.master_mut(id) else {
            unreachable!("stop_master is only called with ids of existing masters");
        };
        if !master.record.active {
            return;
        }
        master.record.active = false;
        let record = master.record.clone();
        self.active_master_count -= 1;
        self.persist(Change::Put(Record::Master(record.clone())));
        self.give_back_holdings(id);
        self.emit(RegistryEvent::MasterStopped { master: id, name: record.name, cause });
    }

    /// Stops every active master whose `last_active` is older than `now - window`, oldest
    /// first (ties by id). With `force_housekeeping`, also makes every inactive master give
    /// back anything it still holds (state recovered from an older or foreign writer).
    pub(super) fn expire_masters(&mut self, force_housekeeping: bool) -> Vec<MasterId> {
        let expired = self.take_due_masters();
        for &id in &expired {
            self.stop_master(id, StopCause::Expired);
        }
        if force_housekeeping {
            let holders: Vec<MasterId> = self
                .masters
                .iter()
                .filter(|master| !master.record.active && master.holds_anything())
                .map(|master| master.record.id)
                .collect();
            for id in holders {
                self.give_back_holdings(id);
            }
        }
        expired
    }

    /// Pops the live entries that are due from the index, in (last_active, id) order.
    fn take_due_masters(&mut self) -> Vec<MasterId> {
        let now = self.clock.now();
        if now < self.expiry_not_before {
            return Vec::new();
        }
        let mut due = Vec::new();
        while let Some((last_active, &id)) = self.liveness.front() {
            if !entry_is_live(&self.masters, last_active, id) {
                self.liveness.pop_front();
                continue;
            }
            if !is_expired(last_active, now, self.config.expiry_window_ms) {
                break;
            }
            self.liveness.pop_front();
            due.push((last_active, id));
        }
        // Equal moments sit in heartbeat order; sort so the order is a function of state.
        due.sort_unstable();
        due.dedup();
        due.into_iter().map(|(_, id)| id).collect()
    }

    pub(super) fn next_expiry(&self) -> Option<Timestamp> {
        let (last_active, _) = self.liveness.front()?;
        let due = last_active.plus_millis(self.config.expiry_window_ms).plus_millis(1);
        Some(due.max(self.expiry_not_before))
    }

    /// Keeps the index's front live (so `poll_timeout` is exact) and its size within a
    /// constant factor of the number of active masters.
    pub(super) fn tidy_liveness_index(&mut self) {
        let masters = &self.masters;
        let is_live = |last_active, id: &MasterId| entry_is_live(masters, last_active, *id);
        self.liveness.discard_stale_front(is_live);
        self.liveness.compact_if_needed(self.active_master_count, is_live);
    }
}

fn entry_is_live(masters: &[Master], last_active: Timestamp, id: MasterId) -> bool {
    dense_index(id.get())
        .and_then(|index| masters.get(index))
        .is_some_and(|master| master.record.active && master.record.last_active == last_active)
}

/// The boundary is inclusive: exactly `window` old is still alive.
pub(crate) fn is_expired(last_active: Timestamp, now: Timestamp, window_ms: u64) -> bool {
    last_active.as_millis().saturating_add(window_ms) < now.as_millis()
}
