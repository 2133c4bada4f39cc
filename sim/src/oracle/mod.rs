//! What must always hold, checked as the run goes, and what must hold once faults heal.

pub(crate) mod gateway;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use rollcall_core::{
    BuildId, BuildRequestId, Command, MasterId, Record, RecordKey, Registry, RegistryEvent, Reply,
    Timestamp,
};

/// Which promise broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    Correctness,
    Liveness,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            FailureKind::Correctness => "correctness",
            FailureKind::Liveness => "liveness",
        })
    }
}

/// A broken promise and when the run noticed it: the moment and event number let a replay
/// stop just before it, or a trace be searched for what led up to it.
#[derive(Clone, Debug)]
pub struct Violation {
    pub kind: FailureKind,
    pub message: String,
    /// Simulated milliseconds since the run's start.
    pub simulated_ms: u64,
    /// The same moment on the simulated clock, as the messages of the oracles print it.
    pub at: Timestamp,
    /// The number of the event being handled (`RunStats::events` then); at the end-of-run
    /// checks, the number of the run's last event.
    pub event: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hours, rest) = (self.simulated_ms / 3_600_000, self.simulated_ms % 3_600_000);
        let (minutes, rest) = (rest / 60_000, rest % 60_000);
        write!(
            formatter,
            "{} violation at {hours}h{minutes:02}m{:02}.{:03}s (event {}, timestamp {}): {}",
            self.kind,
            rest / 1000,
            rest % 1000,
            self.event,
            self.at,
            self.message
        )
    }
}

impl Violation {
    /// Stamps where the run was when this left it; the many places that find violations
    /// need not know.
    pub(crate) fn detected(self, at: Timestamp, simulated_ms: u64, event: u64) -> Violation {
        Violation { at, simulated_ms, event, ..self }
    }
}

pub(crate) type Verdict = Result<(), Violation>;

pub(crate) fn correctness(message: String) -> Violation {
    unstamped(FailureKind::Correctness, message)
}

pub(crate) fn liveness(message: String) -> Violation {
    unstamped(FailureKind::Liveness, message)
}

/// Until the loop stamps it (`Violation::detected`), a violation is at the epoch.
fn unstamped(kind: FailureKind, message: String) -> Violation {
    Violation { kind, message, simulated_ms: 0, at: Timestamp::EPOCH, event: 0 }
}

/// Something the registry acknowledged (its reply left after the commit): it must survive
/// any crash.
#[derive(Clone, Debug)]
enum Fact {
    MasterNamed(MasterId, String),
    RequestExists(BuildRequestId),
    RequestComplete(BuildRequestId),
    BuildExists(BuildId),
}

/// The registry-side oracle: fed the committed events and acknowledged replies.
#[derive(Debug, Default)]
pub(crate) struct RegistryOracle {
    claimed_by: BTreeMap<BuildRequestId, MasterId>,
    completions: BTreeMap<BuildRequestId, u32>,
    ids_by_name: BTreeMap<String, MasterId>,
    highest_master: u64,
    highest_request: u64,
    highest_build: u64,
    facts: Vec<Fact>,
    /// Per master (the high bits of the simulator's request ids), its last answered
    /// requests: a duplicate of one of them must get the same answer (exactly once).
    recent_answers: BTreeMap<u64, VecDeque<(u64, Reply)>>,
}

/// At least the answers the Node keeps per master, so that every duplicate it answers
/// from memory is one the oracle still knows.
const RECENT_ANSWERS_PER_MASTER: usize =
    2 * rollcall_core::registry::MAX_REMEMBERED_REPLIES_PER_MASTER;

impl RegistryOracle {
    /// Events of a committed batch, in order.
    pub(crate) fn observe_event(&mut self, event: &RegistryEvent) -> Verdict {
        match event {
            RegistryEvent::BuildRequestClaimed { request, master } => {
                if let Some(holder) = self.claimed_by.insert(*request, *master) {
                    return Err(correctness(format!(
                        "request {request} claimed by master {master} while master {holder} held it"
                    )));
                }
            }
            RegistryEvent::BuildRequestUnclaimed { request, master }
                if self.claimed_by.remove(request) != Some(*master) =>
            {
                return Err(correctness(format!(
                    "request {request} unclaimed for master {master}, who did not hold it"
                )));
            }
            RegistryEvent::BuildRequestComplete { request, .. } => {
                self.claimed_by.remove(request);
                let count = self.completions.entry(*request).or_default();
                *count += 1;
                if *count > 1 {
                    return Err(correctness(format!("request {request} completed {count} times")));
                }
            }
            RegistryEvent::MasterStopped { master, .. } => {
                if let Some((request, _)) =
                    self.claimed_by.iter().find(|(_, holder)| **holder == *master)
                {
                    return Err(correctness(format!(
                        "master {master} stopped while still holding request {request}"
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The Node restarted: it remembers no answers, so a duplicate runs again.
    pub(crate) fn forget_answers(&mut self) {
        self.recent_answers.clear();
    }

    /// A reply the registry sent after committing. A duplicate of a request answered
    /// before (the network delivered it twice) gets the first answer again, unchanged:
    /// never a second build request, build or claim.
    pub(crate) fn observe_reply(
        &mut self,
        request_id: u64,
        command: &Command,
        reply: &Reply,
    ) -> Verdict {
        if !matches!(command, Command::MasterActive { .. }) {
            let answers = self.recent_answers.entry(request_id >> 40).or_default();
            if let Some((_, first)) = answers.iter().find(|(id, _)| *id == request_id) {
                if first != reply {
                    return Err(correctness(format!(
                        "request {request_id} ({command:?}) was answered {first:?}, and \
                         {reply:?} the second time"
                    )));
                }
                return Ok(());
            }
            if answers.len() == RECENT_ANSWERS_PER_MASTER {
                answers.pop_front();
            }
            answers.push_back((request_id, reply.clone()));
        }
        match (command, reply) {
            (Command::MasterActive { name }, Reply::Master(id)) => {
                match self.ids_by_name.get(name) {
                    Some(known) if known != id => {
                        return Err(correctness(format!("{name:?} was master {known}, now {id}")));
                    }
                    Some(_) => {}
                    None => {
                        if id.get() <= self.highest_master {
                            return Err(correctness(format!(
                                "new master {name:?} got reused id {id}"
                            )));
                        }
                        self.highest_master = id.get();
                        self.ids_by_name.insert(name.clone(), *id);
                        // Every later acknowledgement of this name repeats this fact.
                        self.facts.push(Fact::MasterNamed(*id, name.clone()));
                    }
                }
            }
            (Command::SubmitBuildRequest { .. }, Reply::BuildRequest(id)) => {
                if id.get() <= self.highest_request {
                    return Err(correctness(format!("build request id {id} handed out twice")));
                }
                self.highest_request = id.get();
                self.facts.push(Fact::RequestExists(*id));
            }
            (Command::CompleteBuildRequests { requests, .. }, Reply::Done) => {
                self.facts.extend(requests.iter().map(|id| Fact::RequestComplete(*id)));
            }
            (Command::StartBuild { .. }, Reply::Build(id)) => {
                if id.get() <= self.highest_build {
                    return Err(correctness(format!("build id {id} handed out twice")));
                }
                self.highest_build = id.get();
                self.facts.push(Fact::BuildExists(*id));
            }
            _ => {}
        }
        Ok(())
    }

    /// After a recovery: the rows on disk are exactly the state, everything acknowledged is
    /// there, and the oracle's view of claims is the recovered one.
    pub(crate) fn check_recovered(
        &mut self,
        registry: &Registry,
        disk: &BTreeMap<RecordKey, Record>,
    ) -> Verdict {
        let mut rows = registry.records();
        rows.sort_by_key(Record::key);
        if rows.len() != disk.len() || rows.iter().zip(disk.values()).any(|(a, b)| a != b) {
            return Err(correctness(
                "the recovered registry differs from the committed rows".into(),
            ));
        }
        self.check_facts(registry)?;
        self.claimed_by = registry
            .build_requests()
            .filter(|request| !request.complete)
            .filter_map(|request| Some((request.id, request.claimed_by?)))
            .collect();
        Ok(())
    }

    pub(crate) fn check_facts(&self, registry: &Registry) -> Verdict {
        for fact in &self.facts {
            let holds = match fact {
                Fact::MasterNamed(id, name) => {
                    registry.master(*id).is_some_and(|m| &m.name == name)
                }
                Fact::RequestExists(id) => registry.build_request(*id).is_some(),
                Fact::RequestComplete(id) => {
                    registry.build_request(*id).is_some_and(|r| r.complete)
                }
                Fact::BuildExists(id) => registry.build(*id).is_some(),
            };
            if !holds {
                return Err(correctness(format!("acknowledged {fact:?} is missing")));
            }
        }
        Ok(())
    }

    /// The design's startup (docs/design.md), once its batch is durable: the Node's own master is active, every
    /// other master silent for longer than the window was expired, and no inactive master
    /// holds anything (forced housekeeping).
    pub(crate) fn check_after_startup(
        registry: &Registry,
        own: MasterId,
        now: rollcall_core::Timestamp,
        expiry_window_ms: u64,
    ) -> Verdict {
        if !registry.master(own).is_some_and(|row| row.active) {
            return Err(correctness(format!(
                "the node's own master {own} is inactive after its startup"
            )));
        }
        let overdue = registry.masters().find(|row| {
            row.id != own
                && row.active
                && row.last_active.as_millis().saturating_add(expiry_window_ms) < now.as_millis()
        });
        if let Some(row) = overdue {
            return Err(correctness(format!(
                "master {} silent since {} is still active after the startup at {now} (window {expiry_window_ms} ms)",
                row.id, row.last_active
            )));
        }
        Self::check_state(registry)
    }

    /// Full-state invariants, for the end of a run.
    pub(crate) fn check_state(registry: &Registry) -> Verdict {
        for request in registry.build_requests().filter(|r| !r.complete) {
            if let Some(master) = request.claimed_by {
                if !registry.master(master).is_some_and(|m| m.active) {
                    return Err(correctness(format!(
                        "request {} claimed by inactive master {master}",
                        request.id
                    )));
                }
            }
        }
        for build in registry.builds().filter(|b| b.results.is_none()) {
            if !registry.master(build.master).is_some_and(|m| m.active) {
                return Err(correctness(format!(
                    "build {} runs on inactive master {}",
                    build.id, build.master
                )));
            }
        }
        let names: BTreeSet<&str> = registry.masters().map(|m| m.name.as_str()).collect();
        if names.len() != registry.master_count() {
            return Err(correctness("two masters share a name".into()));
        }
        Ok(())
    }
}
