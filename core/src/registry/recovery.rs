//! Rebuilding a Registry from persisted rows: the one load path shared by the daemon (after
//! a restart) and the simulator (after a simulated crash).

use std::collections::{BTreeMap, BTreeSet};

use crate::clock::MonotonicClock;
use crate::deadline_queue::DeadlineQueue;
use crate::registry::tables::{dense_index, Builder, Master, Worker};
use crate::registry::tables::{Build, BuildRequest};
use crate::registry::{Record, RecordKey, Registry, RegistryConfig};
use crate::{BuildId, BuildRequestId, MasterId, Timestamp};

/// Why persisted rows could not be loaded. Every variant means the storage holds something
/// the Registry never writes: a bug or a foreign writer, to be looked at, never guessed at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryError {
    /// Masters, builders and workers are never deleted, so their ids run from 1 without gaps.
    IdGap {
        kind: &'static str,
        missing: u64,
    },
    DuplicateKey(RecordKey),
    DuplicateName {
        kind: &'static str,
        name: String,
    },
    DanglingReference {
        record: RecordKey,
        missing: RecordKey,
    },
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryError::IdGap { kind, missing } => {
                write!(formatter, "stored {kind}s skip id {missing}, which is never deleted")
            }
            RecoveryError::DuplicateKey(key) => write!(formatter, "row {key:?} is stored twice"),
            RecoveryError::DuplicateName { kind, name } => {
                write!(formatter, "two stored {kind}s are named {name:?}")
            }
            RecoveryError::DanglingReference { record, missing } => {
                write!(formatter, "row {record:?} refers to {missing:?}, which is not stored")
            }
        }
    }
}

impl std::error::Error for RecoveryError {}

/// Build requests and builds as recovery meets them, in id order, until each table is
/// built whole.
struct SortedTables {
    build_requests: Vec<(BuildRequestId, BuildRequest)>,
    waiting_requests: Vec<BuildRequestId>,
    builds: Vec<(BuildId, Build)>,
}

impl SortedTables {
    fn with_capacity_for(rows: &[Record]) -> SortedTables {
        let (mut requests, mut builds) = (0, 0);
        for row in rows {
            match row {
                Record::BuildRequest(_) => requests += 1,
                Record::Build(_) => builds += 1,
                _ => {}
            }
        }
        SortedTables {
            build_requests: Vec::with_capacity(requests),
            waiting_requests: Vec::new(),
            builds: Vec::with_capacity(builds),
        }
    }
}

impl Registry {
    /// A registry holding exactly the given rows, in any order, with every index rebuilt.
    ///
    /// Anything an inactive master still holds is left in place for `expireMasters` with
    /// forced housekeeping to give back, as at every startup.
    ///
    /// # Errors
    ///
    /// A [`RecoveryError`] when the rows are not a state the Registry could have written.
    pub fn recover(
        config: RegistryConfig,
        rows: impl IntoIterator<Item = Record>,
    ) -> Result<Registry, RecoveryError> {
        let rows = sorted_by_key(rows)?;
        let mut registry = Registry::new(config);
        // Key order: every kind of row arrives sorted by id, and masters and builders come
        // before every row that refers to them. Workers come after builds, so a build's
        // worker is checked once every row is in.
        let mut tables = SortedTables::with_capacity_for(&rows);
        for row in rows {
            match row {
                Record::Master(record) => {
                    expect_next_id("master", registry.masters.len(), record.id.get())?;
                    if registry
                        .master_ids_by_name
                        .insert(record.name.clone().into_boxed_str(), record.id)
                        .is_some()
                    {
                        return Err(duplicate_name("master", record.name));
                    }
                    registry.masters.push(Master::new(record));
                }
                Record::Builder(record) => {
                    expect_next_id("builder", registry.builders.len(), record.id.get())?;
                    if registry
                        .builder_ids_by_name
                        .insert(record.name.clone().into_boxed_str(), record.id)
                        .is_some()
                    {
                        return Err(duplicate_name("builder", record.name));
                    }
                    registry.builders.push(Builder {
                        record,
                        masters: BTreeSet::new(),
                        next_build_number: 1,
                    });
                }
                Record::Worker(record) => {
                    expect_next_id("worker", registry.workers.len(), record.id.get())?;
                    if registry
                        .worker_ids_by_name
                        .insert(record.name.clone().into_boxed_str(), record.id)
                        .is_some()
                    {
                        return Err(duplicate_name("worker", record.name));
                    }
                    registry.workers.push(Worker {
                        record,
                        configured_on: BTreeSet::new(),
                        connected_to: BTreeMap::new(),
                    });
                }
                other => registry.restore_reference_row(other, &mut tables)?,
            }
        }
        for (id, build) in &tables.builds {
            registry.expect_worker(RecordKey::Build(*id), build.worker)?;
        }
        // Built from sorted runs in one pass each: inserting a row at a time costs a
        // descent per row and leaves half-empty nodes behind.
        registry.build_requests = tables.build_requests.into_iter().collect();
        registry.waiting_requests = tables.waiting_requests.into_iter().collect();
        registry.builds = tables.builds.into_iter().collect();
        registry.note_holdings_awaiting_housekeeping();
        registry.rebuild_liveness_index();
        registry.restore_clock();
        Ok(registry)
    }

    /// Restores a row that refers to others, all loaded by now (but a build's worker, which
    /// the caller checks at the end); build requests and builds go to `tables`, in the key
    /// order they arrive in.
    fn restore_reference_row(
        &mut self,
        row: Record,
        tables: &mut SortedTables,
    ) -> Result<(), RecoveryError> {
        let key = row.key();
        match row {
            Record::BuilderMaster { builder, master } => {
                self.expect_master(key, master)?;
                self.expect_builder(key, builder)?;
                self.builder_row_mut(builder).masters.insert(master);
                self.masters_mut_unchecked(master).builders.insert(builder);
            }
            Record::WorkerConfigured { worker, master } => {
                self.expect_master(key, master)?;
                self.expect_worker(key, worker)?;
                self.worker_row_mut(worker).configured_on.insert(master);
                self.masters_mut_unchecked(master).configured_workers.insert(worker);
            }
            Record::Service(record) => {
                if let Some(owner) = record.owner {
                    self.expect_master(key, owner)?;
                    self.masters_mut_unchecked(owner).services.insert(record.id);
                }
                self.service_ids.observe(record.id.get());
                let name_key = (record.kind, record.name.clone().into_boxed_str());
                if self.service_ids_by_key.insert(name_key, record.id).is_some() {
                    return Err(duplicate_name("service", record.name));
                }
                self.services.insert(record.id, record);
            }
            Record::BuildRequest(record) => {
                self.expect_builder(key, record.builder)?;
                if let Some(master) = record.claimed_by {
                    self.expect_master(key, master)?;
                    if !record.complete {
                        self.masters_mut_unchecked(master).claimed_requests.insert(record.id);
                    }
                }
                self.build_request_ids.observe(record.id.get());
                if !record.complete && record.claimed_by.is_none() {
                    tables.waiting_requests.push(record.id);
                }
                tables.build_requests.push((record.id, record));
            }
            Record::Build(record) => {
                self.expect_master(key, record.master)?;
                self.expect_builder(key, record.builder)?;
                // Every build request sorts before every build, so all are in by now.
                let requests = &tables.build_requests;
                if requests.binary_search_by_key(&record.request, |(id, _)| *id).is_err() {
                    return Err(RecoveryError::DanglingReference {
                        record: key,
                        missing: RecordKey::BuildRequest(record.request),
                    });
                }
                if record.results.is_none() {
                    self.masters_mut_unchecked(record.master).running_builds.insert(record.id);
                }
                let builder = self.builder_row_mut(record.builder);
                builder.next_build_number = builder.next_build_number.max(record.number + 1);
                self.build_ids.observe(record.id.get());
                tables.builds.push((record.id, record));
            }
            Record::Master(_) | Record::Builder(_) | Record::Worker(_) => {
                unreachable!("entity rows are restored by the caller")
            }
        }
        Ok(())
    }

    /// Marks the inactive masters that were stored still holding something: theirs is the
    /// one state in which an inactive master may hold anything (see `check_invariants`).
    fn note_holdings_awaiting_housekeeping(&mut self) {
        for master in &mut self.masters {
            master.holdings_await_housekeeping = !master.record.active && master.holds_anything();
        }
    }

    fn rebuild_liveness_index(&mut self) {
        let entries: Vec<(Timestamp, MasterId)> = self
            .masters
            .iter()
            .filter(|master| master.record.active)
            .map(|master| (master.record.last_active, master.record.id))
            .collect();
        self.active_master_count = entries.len();
        self.liveness = DeadlineQueue::from_unordered(entries);
    }

    /// Time inside the registry must not run behind anything it has already written, even
    /// if the system clock stepped back across the restart.
    fn restore_clock(&mut self) {
        let masters = self.masters.iter().map(|master| master.record.last_active);
        let requests = self.build_requests.values().flat_map(|request| {
            [Some(request.submitted_at), request.claimed_at, request.completed_at]
        });
        let builds =
            self.builds.values().flat_map(|build| [Some(build.started_at), build.complete_at]);
        let latest = masters.chain(requests.chain(builds).flatten()).max().unwrap_or_default();
        self.clock = MonotonicClock::starting_at(latest);
    }

    fn masters_mut_unchecked(&mut self, id: MasterId) -> &mut Master {
        match self.master_mut(id) {
            Ok(master) => master,
            Err(_) => unreachable!("callers check the master exists first"),
        }
    }

    fn expect_master(&self, record: RecordKey, id: MasterId) -> Result<(), RecoveryError> {
        match self.master_row(id) {
            Ok(_) => Ok(()),
            Err(_) => {
                Err(RecoveryError::DanglingReference { record, missing: RecordKey::Master(id) })
            }
        }
    }

    fn expect_builder(&self, record: RecordKey, id: crate::BuilderId) -> Result<(), RecoveryError> {
        match dense_index(id.get()).and_then(|index| self.builders.get(index)) {
            Some(_) => Ok(()),
            None => {
                Err(RecoveryError::DanglingReference { record, missing: RecordKey::Builder(id) })
            }
        }
    }

    fn expect_worker(&self, record: RecordKey, id: crate::WorkerId) -> Result<(), RecoveryError> {
        match dense_index(id.get()).and_then(|index| self.workers.get(index)) {
            Some(_) => Ok(()),
            None => {
                Err(RecoveryError::DanglingReference { record, missing: RecordKey::Worker(id) })
            }
        }
    }
}

/// The rows in key order. Rows usually come sorted already (storage iterates in key order),
/// which costs one pass to confirm, and a vector of them is sorted where it lies.
///
/// # Errors
///
/// [`RecoveryError::DuplicateKey`] for the first row, in the order given, whose key an
/// earlier row already had.
fn sorted_by_key(rows: impl IntoIterator<Item = Record>) -> Result<Vec<Record>, RecoveryError> {
    let mut rows: Vec<Record> = rows.into_iter().collect();
    if rows.windows(2).all(|pair| pair[0].key() < pair[1].key()) {
        return Ok(rows);
    }
    // Positions in key order, ties in the order given: within each run of equal keys,
    // every position after the first is a duplicate.
    let keys: Vec<RecordKey> = rows.iter().map(Record::key).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    let first_duplicate =
        order.windows(2).filter(|pair| keys[pair[0]] == keys[pair[1]]).map(|pair| pair[1]).min();
    if let Some(position) = first_duplicate {
        return Err(RecoveryError::DuplicateKey(keys[position]));
    }
    rows.sort_unstable_by_key(Record::key);
    Ok(rows)
}

fn expect_next_id(kind: &'static str, loaded: usize, id: u64) -> Result<(), RecoveryError> {
    let expected = loaded as u64 + 1;
    if id == expected {
        Ok(())
    } else {
        Err(RecoveryError::IdGap { kind, missing: expected })
    }
}

fn duplicate_name(kind: &'static str, name: String) -> RecoveryError {
    RecoveryError::DuplicateName { kind, name }
}
