//! A cluster standby's own master: its registry commands go to the leader.
//!
//! A standby is a build master like any other, with its own Gateway and its own workers,
//! but the Registry is the leader's. So its own master's commands (the heartbeat, the
//! configured workers and builders, each worker's connection record) are sent to the
//! leader over a master session the driver keeps ([`NodeOutput::ToLeader`]), and their
//! answers come back as inputs. Nothing the Gateway decides waits on them: a worker
//! attaches to its own node whoever leads, and stays attached through a failover.
//!
//! Every command is a declaration of state, so a lost one is never re-sent: each time a
//! session to a leader opens (the first, after a takeover, after a lost session), the own
//! master registers and declares its whole state from the Gateway as it is then. Only the
//! connection records the leader may still hold for workers that left are remembered
//! here, because the Gateway no longer shows them: each is removed again on every new
//! session until a leader confirms it gone.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Command, CommandError, ConnectionId, Reply, Timestamp};

use super::{Node, NodeEvent, NodeOutput, RequestError};

/// The most requests awaiting the leader's answer; beyond it the session is given up and
/// a new one declares the whole state again (a leader that far behind holds nothing of
/// ours worth waiting for).
pub const MAX_IN_FLIGHT_TO_LEADER: usize = 4096;

/// Where the own master stands with the leader of the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// No session to a leader.
    Down,
    /// `MasterActive` sent; its answer gives the master's id.
    Registering { request_id: u64 },
    /// The master's row was active when this process first registered it: the last run
    /// ended without stopping. `MasterStopped` gives back what that run held.
    RecoveringCrash { request_id: u64 },
    /// Registered: commands go to the leader as they happen.
    Up,
    /// Shutdown: `MasterStopped` sent, its answer ends the Node.
    Stopping { request_id: u64 },
}

/// A request the leader has not answered yet.
#[derive(Clone, Debug)]
struct Sent {
    command: &'static str,
    at: Timestamp,
    /// A connection record it makes or removes, settled in [`Forwarder::maybe_recorded`]
    /// by the answer.
    record: Option<(String, ConnectionId, bool)>,
}

/// A standby's link from its own master to the leader.
#[derive(Debug)]
pub(super) struct Forwarder {
    link: Link,
    next_request_id: u64,
    in_flight: BTreeMap<u64, Sent>,
    /// Per worker: the connections some leader may hold a record of for this master (a
    /// `WorkerConnected` was sent for each, and no `WorkerDisconnected` confirmed). A
    /// confirmed connect supersedes the older ones (a transport numbers connections in
    /// increasing order, and the registry keeps one per worker and master); a confirmed
    /// disconnect removes its own. Entries are added only by requests sent, so this holds
    /// no more than the requests in flight and one per worker.
    maybe_recorded: BTreeMap<String, BTreeSet<ConnectionId>>,
    /// This process's master was registered (and a crashed run's hold given back) once:
    /// later registrations, after a takeover or a lost session, only declare.
    recovered: bool,
}

impl Forwarder {
    /// `first_request_id` should differ between runs of the process (the driver picks it
    /// at random): the leader answers a request id it has seen with its first answer.
    pub(super) fn new(first_request_id: u64, recovered: bool) -> Forwarder {
        Forwarder {
            link: Link::Down,
            next_request_id: first_request_id,
            in_flight: BTreeMap::new(),
            maybe_recorded: BTreeMap::new(),
            recovered,
        }
    }

    /// Connection records a leader may hold for the own master (a deposed leader's).
    pub(super) fn may_hold(&mut self, records: impl IntoIterator<Item = (String, ConnectionId)>) {
        for (worker, connection) in records {
            self.maybe_recorded.entry(worker).or_default().insert(connection);
        }
    }

    pub(super) fn recovered(&self) -> bool {
        self.recovered
    }

    pub(super) fn is_registered(&self) -> bool {
        self.link == Link::Up
    }

    /// Requests awaiting an answer.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Shutdown is done: the leader confirmed the stop, or there is no leader to tell.
    pub(super) fn stop_done(&self) -> bool {
        !matches!(self.link, Link::Stopping { .. })
    }

    /// When the oldest unanswered request is given up on.
    pub(super) fn deadline(&self, reply_deadline_ms: u64) -> Option<Timestamp> {
        self.in_flight.values().map(|sent| sent.at.plus_millis(reply_deadline_ms)).min()
    }
}

impl Node {
    /// How long a standby waits for the leader's answer before it gives the session up
    /// and declares itself again on a new one: short enough that a master whose every
    /// heartbeat is answered within it is never silent for a whole expiry window.
    pub(super) fn leader_reply_deadline_ms(&self) -> u64 {
        let interval = self.config.heartbeat_interval_ms;
        let window = self.config.registry.expiry_window_ms;
        (window.saturating_sub(interval)).min(interval.saturating_mul(2)).max(1)
    }

    pub(super) fn forwarder_mut(&mut self) -> Option<&mut Forwarder> {
        match &mut self.seat {
            super::Seat::Forwarding(forwarder) => Some(forwarder),
            super::Seat::Serving(_) => None,
        }
    }

    /// The driver's session to the leader is open (it said Hello and was welcomed).
    pub(super) fn leader_session_opened(&mut self, now: Timestamp) {
        let Some(forwarder) = self.forwarder_mut() else { return };
        forwarder.in_flight.clear();
        let name = self.config.master_name.clone();
        let sent = self.send_to_leader(now, "MasterActive", Command::MasterActive { name });
        if let (Some(request_id), Some(forwarder)) = (sent, self.forwarder_mut()) {
            forwarder.link = Link::Registering { request_id };
        }
    }

    /// The session to the leader ended: nothing in flight will be answered.
    pub(super) fn leader_session_closed(&mut self) {
        let Some(forwarder) = self.forwarder_mut() else { return };
        forwarder.in_flight.clear();
        forwarder.link = Link::Down;
    }

    pub(super) fn leader_reply(
        &mut self,
        now: Timestamp,
        request_id: u64,
        result: Result<Reply, RequestError>,
    ) {
        let Some(forwarder) = self.forwarder_mut() else { return };
        // An answer on an earlier session, or to nothing we sent: nothing waits for it.
        let Some(sent) = forwarder.in_flight.remove(&request_id) else { return };
        if let (Some((worker, connection, connected)), Ok(_)) = (&sent.record, &result) {
            let known = forwarder.maybe_recorded.entry(worker.clone()).or_default();
            if *connected {
                known.retain(|other| other >= connection);
            } else {
                known.remove(connection);
            }
            if known.is_empty() {
                forwarder.maybe_recorded.remove(worker);
            }
        }
        let link = forwarder.link;
        match (link, result) {
            (Link::Registering { request_id: awaited }, Ok(Reply::Master(master)))
                if awaited == request_id =>
            {
                self.master = master;
                self.registered_at_leader(now);
            }
            (Link::Registering { request_id: awaited }, Err(error)) if awaited == request_id => {
                // Refused registration: a new session tries again (the driver backs off).
                let event = NodeEvent::LeaderRefused { command: sent.command, error };
                self.batches.hold(NodeOutput::Event(event));
                self.leader_session_closed();
                self.batches.hold(NodeOutput::CloseLeaderSession);
            }
            (Link::RecoveringCrash { request_id: awaited }, _) if awaited == request_id => {
                // Stopped (or refused, as already stopped): register it active again.
                self.leader_session_opened(now);
            }
            (Link::Stopping { request_id: awaited }, _) if awaited == request_id => {
                if let Some(forwarder) = self.forwarder_mut() {
                    forwarder.link = Link::Down;
                }
            }
            (_, Ok(_)) => {}
            (_, Err(error)) => {
                let expired =
                    matches!(error, RequestError::Refused(CommandError::MasterInactive(_)));
                let event = NodeEvent::LeaderRefused { command: sent.command, error };
                self.batches.hold(NodeOutput::Event(event));
                if expired && link == Link::Up {
                    // The leader expired this master (it was silent too long): revive it
                    // and declare everything again.
                    self.leader_session_opened(now);
                }
            }
        }
    }

    /// `MasterActive` was answered with the master's id.
    fn registered_at_leader(&mut self, now: Timestamp) {
        let master = self.master;
        let attached: BTreeMap<String, ConnectionId> =
            self.gateway.attached_workers().into_iter().collect();
        let Some(forwarder) = self.forwarder_mut() else { return };
        if !forwarder.recovered {
            forwarder.recovered = true;
            let sent = self.send_to_leader(now, "MasterStopped", Command::MasterStopped { master });
            if let (Some(request_id), Some(forwarder)) = (sent, self.forwarder_mut()) {
                forwarder.link = Link::RecoveringCrash { request_id };
            }
            return;
        }
        forwarder.link = Link::Up;
        let stale: Vec<(String, ConnectionId)> = forwarder
            .maybe_recorded
            .iter()
            .flat_map(|(worker, connections)| {
                connections.iter().map(move |connection| (worker.clone(), *connection))
            })
            .filter(|(worker, connection)| attached.get(worker) != Some(connection))
            .collect();
        self.batches.hold(NodeOutput::Event(NodeEvent::RegisteredAtLeader { master }));
        self.declare_configuration(now);
        for (worker_name, connection) in stale {
            let command = Command::WorkerDisconnected { master, worker_name, connection };
            self.forward(now, "WorkerDisconnected", command);
        }
        for (worker_name, connection) in attached {
            let command = Command::WorkerConnected { master, worker_name, connection };
            self.forward(now, "WorkerConnected", command);
        }
    }

    /// An own command, sent now if the master is registered; otherwise the next
    /// registration declares the state it describes.
    pub(super) fn forward(&mut self, now: Timestamp, name: &'static str, command: Command) {
        if self.forwarder_mut().is_some_and(|forwarder| forwarder.is_registered()) {
            let _ = self.send_to_leader(now, name, command);
        }
    }

    /// The heartbeat of a standby's own master: `MasterActive` to the leader (which runs
    /// the expiry sweeps), or a new registration while the last one is unanswered.
    pub(super) fn forwarded_heartbeat(&mut self, now: Timestamp) {
        let registered = self.forwarder_mut().is_some_and(|forwarder| forwarder.is_registered());
        if registered {
            let name = self.config.master_name.clone();
            let _ = self.send_to_leader(now, "MasterActive", Command::MasterActive { name });
        }
    }

    /// Shutdown: the leader is told the master stopped, if there is a leader to tell.
    pub(super) fn forwarded_stop(&mut self, now: Timestamp) {
        let master = self.master;
        let registered = self.forwarder_mut().is_some_and(|forwarder| forwarder.is_registered());
        if registered {
            let sent = self.send_to_leader(now, "MasterStopped", Command::MasterStopped { master });
            if let (Some(request_id), Some(forwarder)) = (sent, self.forwarder_mut()) {
                forwarder.link = Link::Stopping { request_id };
            }
        }
    }

    /// Gives up the session once its oldest request is unanswered for too long, or when
    /// too many are: a new session declares the whole state again.
    pub(super) fn forwarder_timeout(&mut self, now: Timestamp) {
        let deadline_ms = self.leader_reply_deadline_ms();
        let Some(forwarder) = self.forwarder_mut() else { return };
        if forwarder.deadline(deadline_ms).is_some_and(|due| due <= now) {
            forwarder.in_flight.clear();
            let stopping = matches!(forwarder.link, Link::Stopping { .. });
            forwarder.link = Link::Down;
            if !stopping {
                self.batches.hold(NodeOutput::CloseLeaderSession);
            }
        }
    }

    /// The request's id, or `None` when too many are in flight: then the session is
    /// given up, and the next one declares everything again.
    fn send_to_leader(
        &mut self,
        now: Timestamp,
        name: &'static str,
        command: Command,
    ) -> Option<u64> {
        let Some(forwarder) = self.forwarder_mut() else {
            unreachable!("only a forwarding node sends to the leader")
        };
        if forwarder.in_flight.len() >= MAX_IN_FLIGHT_TO_LEADER {
            forwarder.in_flight.clear();
            forwarder.link = Link::Down;
            self.batches.hold(NodeOutput::CloseLeaderSession);
            return None;
        }
        let request_id = forwarder.next_request_id;
        forwarder.next_request_id = forwarder.next_request_id.wrapping_add(1);
        let record = match &command {
            Command::WorkerConnected { worker_name, connection, .. } => {
                let known = forwarder.maybe_recorded.entry(worker_name.clone()).or_default();
                known.insert(*connection);
                Some((worker_name.clone(), *connection, true))
            }
            Command::WorkerDisconnected { worker_name, connection, .. } => {
                Some((worker_name.clone(), *connection, false))
            }
            _ => None,
        };
        forwarder.in_flight.insert(request_id, Sent { command: name, at: now, record });
        self.batches.hold(NodeOutput::ToLeader { request_id, command });
        Some(request_id)
    }
}
