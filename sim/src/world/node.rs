//! The rollcall process: the real [`Node`] (Registry, startup, heartbeats, sessions,
//! batching) on a simulated disk, behind an unreliable network. It is driven as the
//! daemon's core thread drives it: inputs fed as they arrive, a batch ended after a number
//! of inputs drawn from the seed (or when nothing more arrives at this moment), committed,
//! reported durable, and only then are its outputs carried out.

use std::collections::{BTreeMap, VecDeque};

use rollcall_core::node::{NodeEvent, RequestError, StartKind};
use rollcall_core::store::{MemoryStore, Store};
use rollcall_core::{
    Command, ConnectionId, Node, NodeConfig, NodeInput, NodeOutput, Registry, RegistryConfig,
    Roster, Timestamp,
};

use crate::oracle::{correctness, RegistryOracle, Verdict};
use crate::world::{Event, World};

/// The Node's own master: it hosts no simulated workers (they attach to the remote
/// masters' Gateways), so its Gateway only runs its empty roster's timers.
pub(super) const NODE_MASTER_NAME: &str = "rollcall:/registry";

/// A simulated master's token digest: any fixed value per name does (the simulator does
/// not model stolen tokens; the Node's property test and the end-to-end tests do).
pub(super) fn token_of(name: &str) -> rollcall_core::node::TokenDigest {
    let mut digest = [0_u8; 32];
    for (index, byte) in name.bytes().enumerate() {
        digest[index % 32] ^= byte;
    }
    rollcall_core::node::TokenDigest(digest)
}

/// Session connection ids live above the workers' (which count up from 1).
const SESSION_IDS_FROM: u64 = 1 << 48;

/// How the previous Node process ended, for the startup oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LastEnd {
    Never,
    Clean,
    Crashed,
}

/// The Node process and what the network knows of it.
#[derive(Debug)]
pub(super) struct NodeProcess {
    pub(super) node: Option<Node>,
    /// Bumped at every start: a message from an older process's connections never
    /// reaches a newer one.
    pub(super) epoch: u64,
    /// The simulated disk: it keeps exactly the committed batches.
    pub(super) disk: MemoryStore,
    pub(super) wake: Option<Timestamp>,
    last_end: LastEnd,
    /// The running process's startup batch is on disk: a crash from now on leaves its
    /// master's row active (a torn startup leaves the disk as the last run left it).
    startup_durable: bool,
    /// Inputs fed into the open batch, and the size at which it is ended.
    batch_inputs: u64,
    batch_target: u64,
    /// The requests of the open batch that will be answered, in order: a reply is matched
    /// to its command (for the oracle and the master) by position.
    answering: VecDeque<(ConnectionId, u64, Command)>,
    /// Sessions the current process knows: connection to (master, incarnation).
    pub(super) sessions: BTreeMap<ConnectionId, (usize, u64)>,
    next_session: u64,
}

impl NodeProcess {
    pub(super) fn new() -> NodeProcess {
        NodeProcess {
            node: None,
            epoch: 0,
            disk: MemoryStore::default(),
            wake: None,
            last_end: LastEnd::Never,
            startup_durable: false,
            batch_inputs: 0,
            batch_target: 1,
            answering: VecDeque::new(),
            sessions: BTreeMap::new(),
            next_session: SESSION_IDS_FROM,
        }
    }

    pub(super) fn registry(&self) -> Option<&Registry> {
        self.node.as_ref().map(|node| node.view().registry)
    }

    pub(super) fn new_session_id(&mut self) -> ConnectionId {
        self.next_session += 1;
        ConnectionId(self.next_session)
    }
}

impl World {
    fn node_config(&self) -> NodeConfig {
        NodeConfig {
            master_name: NODE_MASTER_NAME.into(),
            registry: RegistryConfig { expiry_window_ms: self.settings.expiry_window_ms },
            gateway: rollcall_core::GatewayConfig {
                duplicate_policy: rollcall_core::DuplicatePolicy::DropOlder,
                keepalive_timeout_ms: self.settings.keepalive_timeout_ms,
                ping_timeout_ms: self.settings.ping_timeout_ms,
                missing_timeout_ms: self.settings.missing_timeout_ms,
            },
            roster: Roster::default(),
            builder_names: Vec::new(),
            heartbeat_interval_ms: self.settings.heartbeat_interval_ms,
            row_caps: rollcall_core::node::RowCaps {
                max_masters: usize::MAX,
                max_rows_per_kind: usize::MAX,
            },
            masters: self
                .masters
                .iter()
                .map(|node| (node.name.clone(), vec![token_of(&node.name)]))
                .collect(),
        }
    }

    /// Starts the Node process on what the disk holds, through the daemon's own path:
    /// load every row, recover, run the startup, commit it before anything else.
    pub(super) fn start_node(&mut self) -> Verdict {
        if self.process.node.is_some() {
            return Ok(());
        }
        let Ok(rows) = self.process.disk.load();
        let rows_loaded = rows.len();
        let config = self.node_config();
        let recovered = Registry::recover(config.registry, rows)
            .map_err(|error| correctness(format!("committed rows do not recover: {error}")))?;
        if self.process.last_end != LastEnd::Never {
            self.oracle.check_recovered(&recovered, self.process.disk.rows())?;
        }
        let node = Node::start_recovered(self.now, config, recovered, rows_loaded)
            .map_err(|error| correctness(format!("the node does not start: {error}")))?;
        let process = &mut self.process;
        process.node = Some(node);
        process.epoch += 1;
        process.sessions.clear();
        process.answering.clear();
        // A new process remembers no answers: a retry to it runs again.
        self.oracle.forget_answers();
        let process = &mut self.process;
        process.batch_inputs = 1;
        process.startup_durable = false;
        self.expected_start = Some(match process.last_end {
            LastEnd::Never => StartKind::Fresh,
            LastEnd::Clean => StartKind::Clean,
            LastEnd::Crashed => StartKind::CrashRecovered,
        });
        self.check_nothing_released("the startup")?;
        self.end_node_batch()
    }

    /// A message for the Node arrives: fed at once, as the core thread takes it.
    pub(super) fn node_receives(&mut self, epoch: u64, input: NodeInput) -> Verdict {
        if self.process.node.is_none() || epoch != self.process.epoch {
            return Ok(());
        }
        match &input {
            NodeInput::MasterSessionOpened { connection, .. } => {
                if let Some(owner) = self.pending_sessions.remove(connection) {
                    self.process.sessions.insert(*connection, owner);
                }
            }
            NodeInput::MasterRequest { connection, request_id, command }
                if self.process.sessions.contains_key(connection) =>
            {
                self.process.answering.push_back((*connection, *request_id, command.clone()));
            }
            NodeInput::ConnectionClosed { connection } => {
                self.process.sessions.remove(connection);
            }
            _ => {}
        }
        let now = self.now;
        if let Some(node) = self.process.node.as_mut() {
            node.handle(now, input);
        }
        self.check_nothing_released("an input")?;
        self.count_node_input()
    }

    pub(super) fn node_wake(&mut self) -> Verdict {
        self.process.wake = None;
        let now = self.now;
        let Some(node) = self.process.node.as_mut() else { return Ok(()) };
        if node.poll_timeout().is_none_or(|due| due > now) {
            self.schedule_node_wake();
            return Ok(());
        }
        node.handle_timeout(now);
        self.check_nothing_released("a timeout")?;
        self.count_node_input()
    }

    /// One more input in the open batch: end it at its drawn size (the rest of this
    /// moment's inputs go into the next batch).
    fn count_node_input(&mut self) -> Verdict {
        self.process.batch_inputs += 1;
        if self.process.batch_inputs >= self.process.batch_target {
            return self.end_node_batch();
        }
        Ok(())
    }

    /// The end of a moment: the open batch, if any, is ended.
    pub(super) fn end_open_node_batch(&mut self) -> Verdict {
        if self.process.batch_inputs == 0 || self.process.node.is_none() {
            return Ok(());
        }
        self.end_node_batch()
    }

    /// Ends the batch, commits it (or crashes in the middle: the batch is lost whole, and
    /// so is everything it would have released), reports it, and carries out its outputs.
    fn end_node_batch(&mut self) -> Verdict {
        let Some(node) = self.process.node.as_mut() else { return Ok(()) };
        let batch = node.end_batch();
        self.check_nothing_released("the end of a batch")?;
        let process = &mut self.process;
        process.batch_inputs = 0;
        process.batch_target = self.batch_rng.between(1, self.settings.max_batch_inputs);
        let torn = !self.healed && self.fault_rng.chance(self.settings.faults.registry_crash / 20);
        if torn {
            self.crash_node(false);
            return Ok(());
        }
        for change in &batch.changes {
            match change {
                rollcall_core::Change::Put(record) => self.trace.hashed(&(0_u8, record.key())),
                rollcall_core::Change::Delete(key) => self.trace.hashed(&(1_u8, *key)),
            }
        }
        let Ok(_) = self.process.disk.commit_owned(batch.changes);
        if let Some(node) = self.process.node.as_mut() {
            node.batch_durable(batch.number);
        }
        self.process.startup_durable = true;
        self.release_node_outputs()?;
        self.schedule_node_wake();
        Ok(())
    }

    /// The oracle of the batching contract: nothing leaves the Node before its batch is
    /// durable.
    fn check_nothing_released(&mut self, after: &str) -> Verdict {
        let Some(node) = self.process.node.as_mut() else { return Ok(()) };
        match node.poll_output() {
            None => Ok(()),
            Some(output) => Err(correctness(format!(
                "the node released {output:?} after {after}, before its batch was durable"
            ))),
        }
    }

    fn release_node_outputs(&mut self) -> Verdict {
        while let Some(output) = self.process.node.as_mut().and_then(Node::poll_output) {
            match output {
                NodeOutput::Reply { connection, request_id, result } => {
                    self.reply_released(connection, request_id, result)?;
                }
                NodeOutput::Event(event) => self.node_event(event)?,
                NodeOutput::ToWorker { connection, .. }
                | NodeOutput::CloseWorker { connection, .. } => {
                    return Err(correctness(format!(
                        "the node's empty roster sent to worker connection {connection}"
                    )));
                }
                NodeOutput::CloseSession { connection, .. } => self.session_closed(connection),
                NodeOutput::SessionWelcome { .. } => {}
                NodeOutput::ToLeader { .. } | NodeOutput::CloseLeaderSession => {
                    return Err(correctness(
                        "the single node, which serves its registry, forwarded to a leader"
                            .to_string(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The Node closed a session (its master was expired): nothing more is answered on
    /// it, and its master opens a new one (registering again) for its next command.
    fn session_closed(&mut self, connection: ConnectionId) {
        if let Some((master, _)) = self.process.sessions.remove(&connection) {
            if self.masters[master].session.is_some_and(|(open, _)| open == connection) {
                self.masters[master].session = None;
            }
        }
        self.process.answering.retain(|(asked_on, _, _)| *asked_on != connection);
    }

    fn reply_released(
        &mut self,
        connection: ConnectionId,
        request_id: u64,
        result: Result<rollcall_core::Reply, RequestError>,
    ) -> Verdict {
        let Some((asked_on, asked_id, command)) = self.process.answering.pop_front() else {
            return Err(correctness(format!(
                "the node answered request {request_id} on {connection}, which nobody asked"
            )));
        };
        if (asked_on, asked_id) != (connection, request_id) {
            return Err(correctness(format!(
                "the node answered request {request_id} on {connection} where request \
                 {asked_id} on {asked_on} was next"
            )));
        }
        if let Ok(reply) = &result {
            self.oracle.observe_reply(request_id, &command, reply)?;
        }
        let Some(&(master, incarnation)) = self.process.sessions.get(&connection) else {
            return Ok(());
        };
        if !self.is_partitioned(master)
            && (self.healed || !self.network_rng.chance(self.settings.faults.message_loss))
        {
            let delay = self.network_delay();
            self.schedule(delay, Event::ToMaster { master, incarnation, command, result });
        }
        Ok(())
    }

    fn node_event(&mut self, event: NodeEvent) -> Verdict {
        match event {
            NodeEvent::Registry(event) => {
                self.trace.bytes(event.topic().as_bytes());
                self.oracle.observe_event(&event)?;
            }
            NodeEvent::Started { kind, master, .. } => {
                let expected = self.expected_start.take();
                if expected != Some(kind) {
                    return Err(correctness(format!(
                        "the node started as {kind:?}, but its last run makes it {expected:?}"
                    )));
                }
                if let Some(registry) = self.process.registry() {
                    RegistryOracle::check_after_startup(
                        registry,
                        master,
                        self.now,
                        self.settings.expiry_window_ms,
                    )?;
                }
            }
            NodeEvent::OwnCommandRefused { command, error } => {
                return Err(correctness(format!(
                    "the registry refused the node's own {command}: {error}"
                )));
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn schedule_node_wake(&mut self) {
        let Some(deadline) = self.process.node.as_ref().and_then(Node::poll_timeout) else {
            return;
        };
        if self.process.wake.is_some_and(|scheduled| scheduled <= deadline) {
            return;
        }
        self.process.wake = Some(deadline);
        self.schedule_at(deadline, Event::NodeWake);
    }

    /// The Node process ends: crashed (the open batch is lost), or stopped cleanly through
    /// its shutdown (committed like any batch).
    pub(super) fn crash_node(&mut self, clean: bool) {
        if self.process.node.is_none() {
            return;
        }
        if clean {
            let now = self.now;
            if let Some(node) = self.process.node.as_mut() {
                let batch = node.end_batch();
                let Ok(_) = self.process.disk.commit(&batch.changes);
                node.batch_durable(batch.number);
                node.handle(now, NodeInput::Shutdown);
                let batch = node.end_batch();
                let Ok(_) = self.process.disk.commit(&batch.changes);
                node.batch_durable(batch.number);
            }
            if let Err(violation) = self.release_node_outputs() {
                self.fail(violation);
            }
        }
        self.stats.registry_crashes += 1;
        self.process.node = None;
        if clean {
            self.process.last_end = LastEnd::Clean;
        } else if self.process.startup_durable {
            self.process.last_end = LastEnd::Crashed;
        }
        self.process.wake = None;
        self.process.sessions.clear();
        self.process.answering.clear();
        let downtime = self.fault_rng.between(100, 60_000);
        self.schedule(downtime, Event::RestartNode);
    }

    /// Sends a master's message to the Node over the master-registry network: it may be
    /// lost, duplicated, delayed and reordered, and partitions drop it. Session opens and
    /// closes are the transport's own and always arrive, in order before what follows.
    pub(super) fn send_to_node(&mut self, master: usize, input: NodeInput) {
        let epoch = self.process.epoch;
        let reliable = !matches!(input, NodeInput::MasterRequest { .. });
        if reliable {
            let delay = self.network_delay();
            let at = self.now.plus_millis(delay);
            self.masters[master].session_ready_at = at;
            self.schedule_at(at, Event::ToNode { epoch, input });
            return;
        }
        if self.is_partitioned(master)
            || (!self.healed && self.network_rng.chance(self.settings.faults.message_loss))
        {
            return;
        }
        let copies =
            if !self.healed && self.network_rng.chance(self.settings.faults.message_duplication) {
                2
            } else {
                1
            };
        let not_before = self.masters[master].session_ready_at;
        for _ in 0..copies {
            let delay = self.network_delay();
            let at = self.now.plus_millis(delay).max(not_before);
            self.schedule_at(at, Event::ToNode { epoch, input: input.clone() });
        }
    }

    pub(super) fn network_delay(&mut self) -> u64 {
        let faults = &self.settings.faults;
        let jitter = if self.healed || faults.reorder_jitter_ms == 0 {
            0
        } else {
            self.network_rng.below(faults.reorder_jitter_ms)
        };
        self.network_rng.between(1, faults.network_delay_ms) + jitter
    }

    pub(super) fn is_partitioned(&self, master: usize) -> bool {
        self.masters[master].partitioned_until.is_some_and(|until| until > self.now)
    }
}
