//! Model-based property test of the Registry.
//!
//! Random sequences of commands, time jumps (forward and backward), timeouts and
//! crash-recoveries are fed both to the real Registry and to a deliberately simple
//! reference model below, which keeps plain vectors and sets and finds everything by full
//! scans. After every step the test checks that both gave the same reply and the same
//! events in the same order, that they hold the same rows, that the persisted change stream
//! rebuilds exactly those rows, the invariants docs/design.md promises, and the Registry's own
//! `check_invariants`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::drain_registry;
use proptest::prelude::*;
use rollcall_core::registry::{
    BuildRecord, BuildRequestRecord, BuilderRecord, MasterRecord, RegistryInput, ServiceRecord,
    WorkerRecord,
};
use rollcall_core::{
    BuildId, BuildRequestId, BuilderId, Change, Command, CommandError, ConnectionId, MasterId,
    Record, RecordKey, Registry, RegistryConfig, RegistryEvent, Reply, ReplyToken, Results,
    ServiceId, ServiceKind, StopCause, Timestamp, WorkerId,
};

const MASTER_NAMES: [&str; 6] = ["a", "b", "A", "c:/srv", "d", ""];
const BUILDER_NAMES: [&str; 4] = ["x", "y", "z", ""];
const WORKER_NAMES: [&str; 3] = ["w1", "w2", "w3"];
const SERVICE_NAMES: [&str; 2] = ["nightly", "git"];

#[derive(Clone, Debug)]
enum Step {
    Command(Command),
    Forward { millis: u64 },
    Backward { millis: u64 },
    Timeout,
    CrashAndRecover,
}

// ---------------------------------------------------------------------------------------
// The reference model: plain data, full scans, no indexes.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Model {
    window_ms: u64,
    latest: u64,
    masters: Vec<MasterRecord>,
    builders: Vec<String>,
    links: BTreeSet<(BuilderId, MasterId)>,
    workers: Vec<String>,
    configured: BTreeSet<(WorkerId, MasterId)>,
    connected: BTreeMap<(WorkerId, MasterId), ConnectionId>,
    services: Vec<ServiceRecord>,
    requests: Vec<BuildRequestRecord>,
    builds: Vec<BuildRecord>,
    events: Vec<RegistryEvent>,
}

type Outcome = Result<Reply, CommandError>;

impl Model {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.latest)
    }

    fn master(&mut self, id: MasterId) -> Option<&mut MasterRecord> {
        self.masters.iter_mut().find(|master| master.id == id)
    }

    fn require_active(&mut self, id: MasterId) -> Result<(), CommandError> {
        match self.master(id) {
            None => Err(CommandError::UnknownMaster(id)),
            Some(master) if !master.active => Err(CommandError::MasterInactive(id)),
            Some(_) => Ok(()),
        }
    }

    fn builder_id(&mut self, name: &str) -> BuilderId {
        if let Some(index) = self.builders.iter().position(|known| known == name) {
            return BuilderId(index as u64 + 1);
        }
        self.builders.push(name.to_string());
        BuilderId(self.builders.len() as u64)
    }

    fn worker_id(&mut self, name: &str) -> WorkerId {
        if let Some(index) = self.workers.iter().position(|known| known == name) {
            return WorkerId(index as u64 + 1);
        }
        self.workers.push(name.to_string());
        WorkerId(self.workers.len() as u64)
    }

    fn apply(&mut self, command: &Command) -> Outcome {
        match command.clone() {
            Command::MasterActive { name } => {
                check_name(&name)?;
                let now = self.now();
                match self.masters.iter().position(|master| master.name == name) {
                    None => {
                        let id = MasterId(self.masters.len() as u64 + 1);
                        self.masters.push(MasterRecord {
                            id,
                            name: name.clone(),
                            active: true,
                            last_active: now,
                        });
                        self.events.push(RegistryEvent::MasterStarted { master: id, name });
                        Ok(Reply::Master(id))
                    }
                    Some(index) => {
                        let master = &mut self.masters[index];
                        let was_active = master.active;
                        master.active = true;
                        master.last_active = now;
                        if !was_active {
                            let event = RegistryEvent::MasterStarted { master: master.id, name };
                            self.events.push(event);
                        }
                        Ok(Reply::Master(MasterId(index as u64 + 1)))
                    }
                }
            }
            Command::MasterStopped { master } => {
                if self.master(master).is_none() {
                    return Err(CommandError::UnknownMaster(master));
                }
                self.stop(master, StopCause::Requested);
                Ok(Reply::Done)
            }
            Command::RegisterMaster { name } => {
                check_name(&name)?;
                if let Some(index) = self.masters.iter().position(|master| master.name == name) {
                    return Ok(Reply::Master(MasterId(index as u64 + 1)));
                }
                let id = MasterId(self.masters.len() as u64 + 1);
                let last_active = self.now();
                self.masters.push(MasterRecord { id, name, active: false, last_active });
                Ok(Reply::Master(id))
            }
            Command::RecoverCrashedMaster { master } => {
                if self.master(master).is_none() {
                    return Err(CommandError::UnknownMaster(master));
                }
                self.stop(master, StopCause::CrashRecovered);
                Ok(Reply::Done)
            }
            Command::ExpireMasters { force_housekeeping } => {
                Ok(Reply::Expired(self.expire(force_housekeeping)))
            }
            Command::SetBuilderList { master, builder_names } => {
                self.require_active(master)?;
                check_distinct(&builder_names)?;
                let ids: Vec<BuilderId> =
                    builder_names.iter().map(|n| self.builder_id(n)).collect();
                let wanted: BTreeSet<BuilderId> = ids.iter().copied().collect();
                let current: Vec<BuilderId> =
                    self.links.iter().filter(|l| l.1 == master).map(|l| l.0).collect();
                for builder in current.iter().filter(|b| !wanted.contains(b)) {
                    self.links.remove(&(*builder, master));
                    self.events.push(RegistryEvent::BuilderStopped { builder: *builder, master });
                }
                for builder in wanted.iter().filter(|b| !current.contains(b)) {
                    self.links.insert((*builder, master));
                    self.events.push(RegistryEvent::BuilderStarted { builder: *builder, master });
                }
                Ok(Reply::Builders(ids))
            }
            Command::SetConfiguredWorkers { master, worker_names } => {
                self.require_active(master)?;
                check_distinct(&worker_names)?;
                let wanted: BTreeSet<WorkerId> =
                    worker_names.iter().map(|n| self.worker_id(n)).collect();
                self.configured.retain(|&(worker, on)| on != master || wanted.contains(&worker));
                for worker in wanted {
                    self.configured.insert((worker, master));
                }
                Ok(Reply::Done)
            }
            Command::ClaimService { master, kind, name } => {
                self.require_active(master)?;
                check_name(&name)?;
                let index =
                    match self.services.iter().position(|s| s.kind == kind && s.name == name) {
                        Some(index) => index,
                        None => {
                            let id = ServiceId(self.services.len() as u64 + 1);
                            self.services.push(ServiceRecord { id, kind, name, owner: None });
                            self.services.len() - 1
                        }
                    };
                let id = self.services[index].id;
                let owner = self.services[index].owner;
                match owner {
                    Some(owner) if owner == master => return Ok(Reply::Service(id)),
                    Some(owner) if self.master(owner).is_some_and(|m| m.active) => {
                        return Err(CommandError::ServiceOwnedByAnother { service: id, owner });
                    }
                    _ => {}
                }
                self.services[index].owner = Some(master);
                self.events.push(RegistryEvent::ServiceClaimed { service: id, master });
                Ok(Reply::Service(id))
            }
            Command::ReleaseService { master, service } => {
                self.require_active(master)?;
                let record = self
                    .services
                    .iter_mut()
                    .find(|s| s.id == service)
                    .ok_or(CommandError::UnknownService(service))?;
                if record.owner != Some(master) {
                    return Err(CommandError::ServiceNotOwned(service));
                }
                record.owner = None;
                self.events.push(RegistryEvent::ServiceReleased { service, master });
                Ok(Reply::Done)
            }
            Command::SubmitBuildRequest { master, builder_name } => {
                self.require_active(master)?;
                check_name(&builder_name)?;
                let builder = self.builder_id(&builder_name);
                let id = BuildRequestId(self.requests.len() as u64 + 1);
                self.requests.push(BuildRequestRecord {
                    id,
                    builder,
                    submitted_at: self.now(),
                    claimed_by: None,
                    claimed_at: None,
                    complete: false,
                    completed_at: None,
                    results: None,
                });
                self.events.push(RegistryEvent::BuildRequestNew { request: id, builder });
                Ok(Reply::BuildRequest(id))
            }
            Command::ClaimBuildRequests { master, requests } => {
                self.require_active(master)?;
                self.check_requests(&requests)?;
                for id in &requests {
                    let request = &self.requests[index_of(id.get())];
                    if request.complete {
                        return Err(CommandError::BuildRequestComplete(*id));
                    }
                    if let Some(by) = request.claimed_by {
                        return Err(CommandError::BuildRequestAlreadyClaimed { request: *id, by });
                    }
                }
                let now = self.now();
                for id in requests {
                    let request = &mut self.requests[index_of(id.get())];
                    request.claimed_by = Some(master);
                    request.claimed_at = Some(now);
                    self.events.push(RegistryEvent::BuildRequestClaimed { request: id, master });
                }
                Ok(Reply::Done)
            }
            Command::UnclaimBuildRequests { master, requests } => {
                self.require_active(master)?;
                self.check_requests(&requests)?;
                let mut unclaimed = Vec::new();
                for id in requests {
                    let request = &mut self.requests[index_of(id.get())];
                    if request.claimed_by == Some(master) && !request.complete {
                        request.claimed_by = None;
                        request.claimed_at = None;
                        self.events
                            .push(RegistryEvent::BuildRequestUnclaimed { request: id, master });
                        unclaimed.push(id);
                    }
                }
                Ok(Reply::Unclaimed(unclaimed))
            }
            Command::CompleteBuildRequests { master, requests, results } => {
                self.require_active(master)?;
                self.check_requests(&requests)?;
                for id in &requests {
                    let request = &self.requests[index_of(id.get())];
                    if request.complete {
                        return Err(CommandError::BuildRequestComplete(*id));
                    }
                    if request.claimed_by != Some(master) {
                        return Err(CommandError::BuildRequestNotClaimedByMaster(*id));
                    }
                }
                let now = self.now();
                for id in requests {
                    let request = &mut self.requests[index_of(id.get())];
                    request.complete = true;
                    request.completed_at = Some(now);
                    request.results = Some(results);
                    self.events.push(RegistryEvent::BuildRequestComplete { request: id, results });
                }
                Ok(Reply::Done)
            }
            Command::StartBuild { master, request, worker_name } => {
                self.require_active(master)?;
                check_name(&worker_name)?;
                let record = self
                    .requests
                    .iter()
                    .find(|r| r.id == request)
                    .ok_or(CommandError::UnknownBuildRequest(request))?;
                if record.complete {
                    return Err(CommandError::BuildRequestComplete(request));
                }
                if record.claimed_by != Some(master) {
                    return Err(CommandError::BuildRequestNotClaimedByMaster(request));
                }
                let builder = record.builder;
                let worker = self.worker_id(&worker_name);
                let number = self.builds.iter().filter(|b| b.builder == builder).count() as u64 + 1;
                let id = BuildId(self.builds.len() as u64 + 1);
                self.builds.push(BuildRecord {
                    id,
                    number,
                    builder,
                    request,
                    master,
                    worker,
                    started_at: self.now(),
                    complete_at: None,
                    results: None,
                });
                self.events.push(RegistryEvent::BuildStarted { build: id, master, worker });
                Ok(Reply::Build(id))
            }
            Command::FinishBuild { master, build, results } => {
                self.require_active(master)?;
                let now = self.now();
                let record = self
                    .builds
                    .iter_mut()
                    .find(|b| b.id == build)
                    .ok_or(CommandError::UnknownBuild(build))?;
                if record.master != master {
                    return Err(CommandError::BuildNotOwnedByMaster(build));
                }
                if record.results.is_some() {
                    return Err(CommandError::BuildAlreadyFinished(build));
                }
                record.complete_at = Some(now);
                record.results = Some(results);
                self.events.push(RegistryEvent::BuildFinished { build, results });
                Ok(Reply::Done)
            }
            Command::WorkerConnected { master, worker_name, connection } => {
                self.require_active(master)?;
                check_name(&worker_name)?;
                let worker = self.worker_id(&worker_name);
                self.connected.insert((worker, master), connection);
                self.events.push(RegistryEvent::WorkerConnected { worker, master });
                Ok(Reply::Worker(worker))
            }
            Command::WorkerDisconnected { master, worker_name, connection } => {
                if self.master(master).is_none() {
                    return Err(CommandError::UnknownMaster(master));
                }
                let Some(index) = self.workers.iter().position(|w| *w == worker_name) else {
                    return Ok(Reply::Done);
                };
                let worker = WorkerId(index as u64 + 1);
                if self.connected.get(&(worker, master)) == Some(&connection) {
                    self.connected.remove(&(worker, master));
                    self.events.push(RegistryEvent::WorkerDisconnected { worker, master });
                }
                Ok(Reply::Done)
            }
        }
    }

    fn check_requests(&self, ids: &[BuildRequestId]) -> Result<(), CommandError> {
        let mut seen = BTreeSet::new();
        for &id in ids {
            if !self.requests.iter().any(|r| r.id == id) {
                return Err(CommandError::UnknownBuildRequest(id));
            }
            if !seen.insert(id) {
                return Err(CommandError::DuplicateBuildRequest(id));
            }
        }
        Ok(())
    }

    fn expire(&mut self, force_housekeeping: bool) -> Vec<MasterId> {
        let now = self.latest;
        let mut due: Vec<(Timestamp, MasterId)> = self
            .masters
            .iter()
            .filter(|m| m.active && m.last_active.as_millis() + self.window_ms < now)
            .map(|m| (m.last_active, m.id))
            .collect();
        due.sort();
        for &(_, id) in &due {
            self.stop(id, StopCause::Expired);
        }
        if force_housekeeping {
            let inactive: Vec<MasterId> =
                self.masters.iter().filter(|m| !m.active).map(|m| m.id).collect();
            for id in inactive {
                self.give_back(id);
            }
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    fn stop(&mut self, id: MasterId, cause: StopCause) {
        let Some(master) = self.master(id) else {
            return;
        };
        if !master.active {
            return;
        }
        master.active = false;
        let name = master.name.clone();
        self.give_back(id);
        self.events.push(RegistryEvent::MasterStopped { master: id, name, cause });
    }

    fn give_back(&mut self, id: MasterId) {
        let now = self.now();
        self.configured.retain(|&(_, master)| master != id);
        let links: Vec<BuilderId> = self.links.iter().filter(|l| l.1 == id).map(|l| l.0).collect();
        for builder in links {
            self.links.remove(&(builder, id));
            self.events.push(RegistryEvent::BuilderStopped { builder, master: id });
        }
        for service in self.services.iter_mut().filter(|s| s.owner == Some(id)) {
            service.owner = None;
            self.events.push(RegistryEvent::ServiceReleased { service: service.id, master: id });
        }
        for build in self.builds.iter_mut().filter(|b| b.master == id && b.results.is_none()) {
            build.results = Some(Results::RETRY);
            build.complete_at = Some(now);
            self.events
                .push(RegistryEvent::BuildFinished { build: build.id, results: Results::RETRY });
        }
        for request in self.requests.iter_mut().filter(|r| r.claimed_by == Some(id) && !r.complete)
        {
            request.claimed_by = None;
            request.claimed_at = None;
            self.events
                .push(RegistryEvent::BuildRequestUnclaimed { request: request.id, master: id });
        }
        let connected: Vec<WorkerId> =
            self.connected.keys().filter(|k| k.1 == id).map(|k| k.0).collect();
        for worker in connected {
            self.connected.remove(&(worker, id));
            self.events.push(RegistryEvent::WorkerDisconnected { worker, master: id });
        }
    }

    /// The latest moment any row records: all a recovered registry knows of time.
    fn latest_recorded_moment(&self) -> u64 {
        let masters = self.masters.iter().map(|m| Some(m.last_active));
        let requests =
            self.requests.iter().flat_map(|r| [Some(r.submitted_at), r.claimed_at, r.completed_at]);
        let builds = self.builds.iter().flat_map(|b| [Some(b.started_at), b.complete_at]);
        masters.chain(requests).chain(builds).flatten().map(Timestamp::as_millis).max().unwrap_or(0)
    }

    fn next_expiry(&self) -> Option<Timestamp> {
        self.masters
            .iter()
            .filter(|m| m.active)
            .map(|m| Timestamp::from_millis(m.last_active.as_millis() + self.window_ms + 1))
            .min()
    }

    /// The rows, in the order `Registry::records` lists them.
    fn records(&self) -> Vec<Record> {
        let mut records: Vec<Record> = self.masters.iter().cloned().map(Record::Master).collect();
        records.extend(self.builders.iter().enumerate().map(|(index, name)| {
            Record::Builder(BuilderRecord { id: BuilderId(index as u64 + 1), name: name.clone() })
        }));
        records.extend(
            self.links.iter().map(|&(builder, master)| Record::BuilderMaster { builder, master }),
        );
        records.extend(self.services.iter().cloned().map(Record::Service));
        records.extend(self.requests.iter().cloned().map(Record::BuildRequest));
        records.extend(self.builds.iter().cloned().map(Record::Build));
        for (index, name) in self.workers.iter().enumerate() {
            let id = WorkerId(index as u64 + 1);
            records.push(Record::Worker(WorkerRecord { id, name: name.clone() }));
            records.extend(
                self.configured
                    .iter()
                    .filter(|c| c.0 == id)
                    .map(|&(worker, master)| Record::WorkerConfigured { worker, master }),
            );
        }
        records
    }
}

fn index_of(id: u64) -> usize {
    (id - 1) as usize
}

fn check_name(name: &str) -> Result<(), CommandError> {
    if name.is_empty() {
        Err(CommandError::EmptyName)
    } else {
        Ok(())
    }
}

fn check_distinct(names: &[String]) -> Result<(), CommandError> {
    let mut seen = BTreeSet::new();
    for name in names {
        check_name(name)?;
        if !seen.insert(name) {
            return Err(CommandError::DuplicateName(name.clone()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Generators: small pools of names and ids, so that collisions and conflicts are common.
// ---------------------------------------------------------------------------------------

fn master_id() -> impl Strategy<Value = MasterId> {
    (1_u64..=7).prop_map(MasterId)
}

fn request_ids() -> impl Strategy<Value = Vec<BuildRequestId>> {
    prop::collection::vec((1_u64..=8).prop_map(BuildRequestId), 0..3)
}

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(pool).prop_map(String::from), 0..4)
}

fn results() -> impl Strategy<Value = Results> {
    (0_u8..=6).prop_map(Results)
}

fn command() -> impl Strategy<Value = Command> {
    let name = |pool: &'static [&'static str]| prop::sample::select(pool).prop_map(String::from);
    let kind = prop_oneof![Just(ServiceKind::Scheduler), Just(ServiceKind::ChangeSource)];
    prop_oneof![
        6 => name(&MASTER_NAMES).prop_map(|name| Command::MasterActive { name }),
        2 => master_id().prop_map(|master| Command::MasterStopped { master }),
        1 => name(&MASTER_NAMES).prop_map(|name| Command::RegisterMaster { name }),
        1 => master_id().prop_map(|master| Command::RecoverCrashedMaster { master }),
        2 => any::<bool>().prop_map(|force_housekeeping| Command::ExpireMasters { force_housekeeping }),
        2 => (master_id(), names(&BUILDER_NAMES)).prop_map(|(master, builder_names)| Command::SetBuilderList { master, builder_names }),
        1 => (master_id(), names(&WORKER_NAMES)).prop_map(|(master, worker_names)| Command::SetConfiguredWorkers { master, worker_names }),
        2 => (master_id(), kind, name(&SERVICE_NAMES)).prop_map(|(master, kind, name)| Command::ClaimService { master, kind, name }),
        1 => (master_id(), (1_u64..=4).prop_map(ServiceId)).prop_map(|(master, service)| Command::ReleaseService { master, service }),
        3 => (master_id(), name(&BUILDER_NAMES)).prop_map(|(master, builder_name)| Command::SubmitBuildRequest { master, builder_name }),
        3 => (master_id(), request_ids()).prop_map(|(master, requests)| Command::ClaimBuildRequests { master, requests }),
        1 => (master_id(), request_ids()).prop_map(|(master, requests)| Command::UnclaimBuildRequests { master, requests }),
        2 => (master_id(), request_ids(), results()).prop_map(|(master, requests, results)| Command::CompleteBuildRequests { master, requests, results }),
        2 => (master_id(), (1_u64..=8).prop_map(BuildRequestId), name(&WORKER_NAMES)).prop_map(|(master, request, worker_name)| Command::StartBuild { master, request, worker_name }),
        2 => (master_id(), (1_u64..=8).prop_map(BuildId), results()).prop_map(|(master, build, results)| Command::FinishBuild { master, build, results }),
        2 => (master_id(), name(&WORKER_NAMES), (1_u64..=3).prop_map(ConnectionId)).prop_map(|(master, worker_name, connection)| Command::WorkerConnected { master, worker_name, connection }),
        2 => (master_id(), name(&WORKER_NAMES), (1_u64..=3).prop_map(ConnectionId)).prop_map(|(master, worker_name, connection)| Command::WorkerDisconnected { master, worker_name, connection }),
    ]
}

fn step(window_ms: u64) -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => command().prop_map(Step::Command),
        3 => (0..=window_ms / 2).prop_map(|millis| Step::Forward { millis }),
        2 => (window_ms - 1..=window_ms + 1).prop_map(|millis| Step::Forward { millis }),
        1 => (0..=window_ms * 3).prop_map(|millis| Step::Forward { millis }),
        1 => (0..=window_ms).prop_map(|millis| Step::Backward { millis }),
        2 => Just(Step::Timeout),
        1 => Just(Step::CrashAndRecover),
    ]
}

fn scenario() -> impl Strategy<Value = (u64, Vec<Step>)> {
    (1_u64..=20_000).prop_flat_map(|window_ms| {
        (Just(window_ms), prop::collection::vec(step(window_ms), 1..150))
    })
}

// ---------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------

struct Run {
    registry: Registry,
    model: Model,
    disk: BTreeMap<RecordKey, Record>,
    clock_ms: u64,
    token: u64,
    max_ids: BTreeMap<&'static str, u64>,
}

impl Run {
    fn new(window_ms: u64) -> Self {
        Run {
            registry: Registry::new(RegistryConfig { expiry_window_ms: window_ms }),
            model: Model { window_ms, ..Model::default() },
            disk: BTreeMap::new(),
            clock_ms: 0,
            token: 0,
            max_ids: BTreeMap::new(),
        }
    }

    fn config(&self) -> RegistryConfig {
        self.registry.config()
    }

    /// Runs one step and checks everything. Returns the outputs, for the determinism check.
    fn step(&mut self, step: &Step) -> Result<String, TestCaseError> {
        let mut log = String::new();
        match step {
            Step::Forward { millis } => self.clock_ms += millis,
            Step::Backward { millis } => self.clock_ms = self.clock_ms.saturating_sub(*millis),
            Step::Timeout => {
                self.model.latest = self.model.latest.max(self.clock_ms);
                self.registry.handle_timeout(Timestamp::from_millis(self.clock_ms));
                let drained = drain_registry(&mut self.registry);
                prop_assert!(drained.reply.is_none());
                self.model.expire(false);
                self.compare_events(&drained.events)?;
                self.apply_to_disk(&drained.changes);
                self.check_no_master_overdue()?;
                log = format!("{drained:?}");
            }
            Step::CrashAndRecover => {
                let rows: Vec<Record> = self.disk.values().cloned().collect();
                self.registry = Registry::recover(self.config(), rows)
                    .map_err(|error| TestCaseError::fail(format!("recovery failed: {error}")))?;
                // Sockets do not survive a crash, and neither does the memory of the latest
                // moment beyond what the rows record.
                self.model.connected.clear();
                self.model.latest = self.model.latest_recorded_moment();
            }
            Step::Command(command) => {
                self.model.latest = self.model.latest.max(self.clock_ms);
                self.token += 1;
                let input =
                    RegistryInput { token: ReplyToken(self.token), command: command.clone() };
                self.registry.handle(Timestamp::from_millis(self.clock_ms), input);
                let drained = drain_registry(&mut self.registry);
                let expected = self.model.apply(command);
                prop_assert_eq!(drained.reply.as_ref(), Some(&expected), "reply to {:?}", command);
                if expected.is_err() {
                    prop_assert!(drained.changes.is_empty(), "a refused command persisted");
                }
                self.compare_events(&drained.events)?;
                self.apply_to_disk(&drained.changes);
                self.check_ids_fresh(&expected)?;
                if matches!(command, Command::ExpireMasters { .. }) {
                    self.check_no_master_overdue()?;
                }
                log = format!("{drained:?}");
            }
        }
        self.check_state()?;
        Ok(log)
    }

    fn compare_events(&mut self, events: &[RegistryEvent]) -> Result<(), TestCaseError> {
        let expected = std::mem::take(&mut self.model.events);
        prop_assert_eq!(events, &expected[..]);
        Ok(())
    }

    fn apply_to_disk(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Put(record) => {
                    self.disk.insert(record.key(), record.clone());
                }
                Change::Delete(key) => {
                    self.disk.remove(key);
                }
            }
        }
    }

    /// Ids handed out in replies are new: never below one handed out before.
    fn check_ids_fresh(&mut self, outcome: &Outcome) -> Result<(), TestCaseError> {
        let (kind, id) = match outcome {
            Ok(Reply::BuildRequest(id)) => ("request", id.get()),
            Ok(Reply::Build(id)) => ("build", id.get()),
            _ => return Ok(()),
        };
        let previous = self.max_ids.insert(kind, id).unwrap_or(0);
        prop_assert!(id > previous, "{} id {} handed out after {}", kind, id, previous);
        Ok(())
    }

    /// After a sweep, every active master is within the window.
    fn check_no_master_overdue(&self) -> Result<(), TestCaseError> {
        let now = self.registry.now().as_millis();
        for master in self.registry.masters().filter(|m| m.active) {
            prop_assert!(
                master.last_active.as_millis() + self.config().expiry_window_ms >= now,
                "master {} still active after a sweep",
                master.id
            );
        }
        Ok(())
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        let registry = &self.registry;
        // The Registry's own cross-checks of its indexes and counters, after every step
        // (including right after a recovery).
        registry.check_invariants().map_err(|broken| TestCaseError::fail(broken.to_string()))?;
        // Same rows as the model, and the change stream rebuilt exactly them.
        prop_assert_eq!(registry.records(), self.model.records());
        let mut on_disk: Vec<Record> = registry.records();
        on_disk.sort_by_key(Record::key);
        let disk: Vec<Record> = self.disk.values().cloned().collect();
        prop_assert_eq!(on_disk, disk, "persisted changes drifted from the state");
        prop_assert_eq!(registry.poll_timeout(), self.model.next_expiry());
        let connected: BTreeMap<(WorkerId, MasterId), ConnectionId> = registry
            .workers()
            .flat_map(|w| w.connected_to.iter().map(move |(&m, &c)| ((w.record.id, m), c)))
            .collect();
        prop_assert_eq!(&connected, &self.model.connected);

        // The index of waiting requests is exactly the incomplete, unclaimed ones.
        let waiting: Vec<BuildRequestId> =
            registry.waiting_build_requests().map(|r| r.id).collect();
        let unclaimed: Vec<BuildRequestId> = registry
            .build_requests()
            .filter(|r| !r.complete && r.claimed_by.is_none())
            .map(|r| r.id)
            .collect();
        prop_assert_eq!(waiting, unclaimed, "waiting_build_requests drifted");

        // Nothing is held by an inactive master.
        let active = |id: MasterId| registry.master(id).is_some_and(|m| m.active);
        for request in registry.build_requests().filter(|r| !r.complete) {
            if let Some(master) = request.claimed_by {
                prop_assert!(
                    active(master),
                    "request {} claimed by inactive {}",
                    request.id,
                    master
                );
            }
        }
        for build in registry.builds().filter(|b| b.results.is_none()) {
            prop_assert!(
                active(build.master),
                "build {} runs on inactive {}",
                build.id,
                build.master
            );
        }
        for service in registry.services() {
            if let Some(owner) = service.owner {
                prop_assert!(active(owner), "service {} owned by inactive {}", service.id, owner);
            }
        }
        for builder in registry.builders() {
            prop_assert!(registry.masters_serving(builder.id).all(|m| m.active));
        }
        for &(_, master) in connected.keys() {
            prop_assert!(active(master));
        }
        prop_assert_eq!(
            registry.active_master_count(),
            registry.masters().filter(|m| m.active).count()
        );
        Ok(())
    }
}

proptest! {
    // proptest's default reads PROPTEST_CASES; at least 1,000 cases run when it is unset.
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(1_000), ..ProptestConfig::default() })]

    /// The Registry agrees with the reference model step for step, keeps its invariants,
    /// and gives identical outputs when the same steps are run twice.
    #[test]
    fn registry_matches_the_reference_model((window_ms, steps) in scenario()) {
        let mut first = Run::new(window_ms);
        let mut second = Run::new(window_ms);
        for step in &steps {
            let first_log = first.step(step)?;
            let second_log = second.step(step)?;
            prop_assert_eq!(first_log, second_log, "the same inputs gave different outputs");
        }
    }
}
