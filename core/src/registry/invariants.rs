//! `Registry::check_invariants`: the whole state, checked against itself.
//!
//! The Registry keeps most facts twice so that every command costs what it touches: a row
//! and its by-name index, a counter and the set it counts, both ends of every relation
//! (a master's holdings and the rows that name it). These checks visit every row once,
//! look each relation up from one end and add up the set sizes at the other (the other end
//! is walked only to name the culprit once the sizes disagree), so a check costs O(state
//! size), times the log of one small set's size per lookup, with no sorting and one
//! allocation (a flag per master).
//!
//! Everything is walked in id order (`Vec`s and `BTreeMap`s); the by-name hash maps are
//! only looked up, except when one holds names no row has: then the smallest such name is
//! reported. So the same state always gives the same report.
//!
//! What recovery accepts and the Registry never writes: an inactive master stored still
//! holding things. Recovery keeps such holdings for forced housekeeping to give back, so
//! for those masters alone "an inactive master holds nothing" waits until they have given
//! everything back (see `Master::holdings_await_housekeeping`).

mod links;
mod work;

#[cfg(test)]
mod tests;

use std::fmt::Display;

use crate::fast_hash::LookupMap;
use crate::invariant::{ensure, Smallest};
use crate::registry::tables::{dense_index, Master};
use crate::registry::Registry;
use crate::{InvariantViolation, MasterId};

const MACHINE: &str = "registry";

impl Registry {
    /// Checks that the whole state agrees with itself: every counter with the set it
    /// counts, every index with its rows, both ends of every relation, the liveness index
    /// with the active masters, the id allocators with the ids handed out, and that no
    /// inactive master holds anything (but see below). Reads only; costs O(state size).
    ///
    /// An inactive master that [`Registry::recover`] found still holding things may keep
    /// them until it gives them back, which `ExpireMasters { force_housekeeping: true }`
    /// makes every such master do.
    ///
    /// # Errors
    ///
    /// An [`InvariantViolation`] naming the first inconsistency found (in a fixed order, so
    /// the same state always gives the same report): a bug in the Registry.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_masters()?;
        self.check_liveness_index()?;
        self.check_builders()?;
        self.check_workers()?;
        self.check_services()?;
        self.check_build_requests()?;
        self.check_builds()?;
        self.check_remembered_replies()?;
        Ok(())
    }

    fn check_masters(&self) -> Result<(), InvariantViolation> {
        let now = self.clock.now();
        let mut active_count = 0_usize;
        for (position, master) in self.masters.iter().enumerate() {
            let id = master.record.id;
            ensure!(
                MACHINE,
                dense_index(id.get()) == Some(position),
                "the master at position {position} has id {id}: master ids are dense from 1"
            );
            let indexed = self.master_ids_by_name.get(master.record.name.as_str());
            ensure!(
                MACHINE,
                indexed == Some(&id),
                "master {id} ({:?}) is found by name as {indexed:?}",
                master.record.name
            );
            ensure!(
                MACHINE,
                master.record.last_active <= now,
                "master {id} was last active at {}, after the registry's now {now}",
                master.record.last_active
            );
            if master.record.active {
                active_count += 1;
            } else if !master.holdings_await_housekeeping {
                holds_nothing(master)?;
            }
        }
        ensure!(
            MACHINE,
            active_count == self.active_master_count,
            "active_master_count is {} but {active_count} masters are active",
            self.active_master_count
        );
        no_stray_names("master_ids_by_name", &self.master_ids_by_name, self.masters.len(), |id| {
            row(&self.masters, id.get()).map(|master| master.record.name.as_str())
        })
    }

    /// Every active master has a live entry `(last_active, id)`, so it will expire; entries
    /// are in time order and the front is live, so `poll_timeout` is exact. Stale entries
    /// (lazy deletion) may remain anywhere but the front.
    fn check_liveness_index(&self) -> Result<(), InvariantViolation> {
        let now = self.clock.now();
        // An active master may have several live entries (stopped and revived within one
        // millisecond), so counting them cannot show that none is missing: mark them.
        let mut has_live_entry = vec![false; self.masters.len()];
        let mut previous = None;
        for (position, (at, &id)) in self.liveness.iter().enumerate() {
            ensure!(
                MACHINE,
                previous.is_none_or(|previous| previous <= at),
                "liveness entry {position} (master {id} at {at}) is older than the one before"
            );
            previous = Some(at);
            ensure!(MACHINE, at <= now, "liveness entry for master {id} at {at} is after {now}");
            let row =
                dense_index(id.get()).and_then(|index| Some((index, self.masters.get(index)?)));
            let Some((index, master)) = row else {
                return Err(violation(format!("the liveness index names unknown master {id}")));
            };
            let live = master.record.active && master.record.last_active == at;
            ensure!(
                MACHINE,
                live || position > 0,
                "the liveness index's front (master {id} at {at}) is stale: poll_timeout is early"
            );
            if live {
                has_live_entry[index] = true;
            }
        }
        for (master, &has_entry) in self.masters.iter().zip(&has_live_entry) {
            ensure!(
                MACHINE,
                has_entry || !master.record.active,
                "active master {} (last active {}) has no live entry in the liveness index, so \
                 it would never expire",
                master.record.id,
                master.record.last_active
            );
        }
        Ok(())
    }
}

/// An inactive master holds nothing: stopping gives everything back and every command but
/// `masterActive` refuses an inactive master.
fn holds_nothing(master: &Master) -> Result<(), InvariantViolation> {
    let id = master.record.id;
    still_holds(id, "a link to builder", master.builders.first())?;
    still_holds(id, "service", master.services.first())?;
    still_holds(id, "a claim on build request", master.claimed_requests.first())?;
    still_holds(id, "running build", master.running_builds.first())?;
    still_holds(id, "configured worker", master.configured_workers.first())?;
    still_holds(id, "the connection record of worker", master.connected_workers.keys().next())
}

fn still_holds(
    id: MasterId,
    what: &str,
    held: Option<impl Display>,
) -> Result<(), InvariantViolation> {
    match held {
        None => Ok(()),
        Some(held) => Err(violation(format!("inactive master {id} still holds {what} {held}"))),
    }
}

/// Once every row was found under its own name, a by-name index can only be wrong by
/// holding names no row has; only then is it walked, reporting the smallest such name.
fn no_stray_names<'a, Id: Copy + Display>(
    index_name: &str,
    index: &'a LookupMap<Box<str>, Id>,
    row_count: usize,
    name_of: impl Fn(Id) -> Option<&'a str>,
) -> Result<(), InvariantViolation> {
    if index.len() == row_count {
        return Ok(());
    }
    let mut smallest = Smallest::new(MACHINE);
    for (name, &id) in index {
        if name_of(id) != Some(&**name) {
            smallest.offer(&**name, || {
                format!("{index_name} maps {name:?} to {id}, which is not named so")
            });
        }
    }
    smallest.into_result()?;
    Err(violation(format!("{index_name} holds {} names for {row_count} rows", index.len())))
}

/// The row with a dense id, if there is one.
fn row<T>(rows: &[T], id: u64) -> Option<&T> {
    rows.get(dense_index(id)?)
}

fn violation(what: String) -> InvariantViolation {
    InvariantViolation { machine: MACHINE, what }
}
