//! The core thread: a thin driver of the one [`Node`] over real sockets, the wall clock
//! and what makes its batches durable ([`Durability`]: the local store, or a cluster
//! leader's fenced log).
//!
//! Every rule lives in the Node. This loop takes inputs in batches (up to
//! [`MAX_BATCH_INPUTS`]), feeds them, ends the batch, commits its changes in one durable
//! write (group commit: one fsync per batch, however many requests it holds), reports it
//! durable, and only then carries out what the Node releases: frames, replies, closes.
//! REST reads wait for that point too, so they only ever see committed state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rollcall_core::node::TokenDigest;
use rollcall_core::store::Store;
use rollcall_core::{ConnectionId, Node, NodeInput, NodeOutput, Timestamp};
use smol::channel::Receiver;

use crate::buildbot::{credentials_of, write_lock, Credentials};
use crate::config::Config;
use crate::core_link::inputs::{CoreInput, LeaderEvent, ReadJob, ReadView, WorkerMessage};
use crate::credentials;
use crate::daemon::clock;
use crate::daemon::durability::{Durability, Halt, LocalStore};
use crate::daemon::node_events;
use crate::daemon::peers::{encode, Overflowed, Peer, PeerRole, Peers};
use crate::daemon::wait::{Next, Waiter};
use crate::daemon::DaemonError;
use crate::log_limit::{LogLimiter, Verdict};
use crate::logging::Escaped;
use crate::metrics::Metrics;
use crate::storage::StorageError;
use crate::trace::{Line, Recorder, Start};
use crate::wire::ServerMessage;

/// The most inputs taken into one batch: bounds the latency a batch adds to its first input.
pub(crate) const MAX_BATCH_INPUTS: usize = 4_096;

/// How many rounds of closing peers that stopped reading one batch may take before the
/// rest wait for the next batch (each round is one more commit).
const MAX_OVERFLOW_ROUNDS: usize = 4;

pub(crate) struct CoreLoop<D> {
    node: Node,
    durability: D,
    config: Config,
    peers: Peers,
    metrics: Arc<Metrics>,
    rejection_log: LogLimiter,
    recorder: Option<Recorder>,
    /// What each worker reported about itself (Buildbot's `workerinfo`), by name.
    worker_info: HashMap<String, serde_json::Value>,
    credentials: Credentials,
    /// Reconfigs the Node has been given and not yet answered, in order (two SIGHUPs may
    /// land in one batch; the Node answers each).
    pending_reconfigs: std::collections::VecDeque<Config>,
    /// Reads of this batch, run once it is committed.
    reads: Vec<ReadJob>,
    /// Peers found not reading after the last overflow round: closed in the next batch.
    deferred_closes: Vec<ConnectionId>,
    /// Replacements of one worker name by another connection, to tell flapping apart.
    flapping: crate::daemon::flapping::Flapping,
    flapping_log: LogLimiter,
    /// Once a shutdown was fed: the moment the loop stops waiting for a standby's leader
    /// to confirm that its master stopped.
    stop_deadline: Option<std::time::Instant>,
}

/// How long a stopping standby waits for the leader to confirm its master's stop.
const STOP_CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(5);

impl<S: Store<Error = StorageError>> CoreLoop<LocalStore<S>> {
    /// Loads the store and starts the Node (its startup is the first batch, committed here).
    pub(crate) fn start(
        config: Config,
        store: S,
        metrics: Arc<Metrics>,
        record: Option<&std::path::Path>,
    ) -> Result<CoreLoop<LocalStore<S>>, DaemonError> {
        let rows = store.load()?;
        let now = clock::now();
        let node_config = config.node_config();
        let recorder = match record {
            Some(path) => {
                let mut recorder = Recorder::create(path)
                    .map_err(|error| DaemonError::Trace { path: path.to_path_buf(), error })?;
                let start = Start { at: now, config: node_config.clone(), rows: rows.clone() };
                recorder.record(&Line::Start { start });
                Some(recorder)
            }
            None => None,
        };
        let node = Node::start(now, node_config, rows).map_err(DaemonError::Node)?;
        let credentials = Credentials::default();
        *write_lock(&credentials) = credentials_of(&config.roster());
        let mut core =
            CoreLoop::on_node(config, node, LocalStore(store), metrics, recorder, credentials);
        match core.commit_and_release() {
            Ok(()) => Ok(core),
            Err(Halt::Failed(error)) => Err(error),
            Err(Halt::Deposed) => unreachable!("a local store never deposes its node"),
        }
    }
}

impl<D: Durability> CoreLoop<D> {
    /// Drives `node`, just started: commit its startup batch with
    /// [`CoreLoop::commit_and_release`] before anything else. `credentials` are the
    /// listeners' copy of the roster's, kept current from here on.
    pub(crate) fn on_node(
        config: Config,
        node: Node,
        durability: D,
        metrics: Arc<Metrics>,
        recorder: Option<Recorder>,
        credentials: Credentials,
    ) -> CoreLoop<D> {
        let limits = &config.limits;
        CoreLoop {
            node,
            durability,
            peers: Peers::new(limits.max_outbound_frames, limits.max_outbound_bytes),
            metrics,
            rejection_log: LogLimiter::new(Duration::from_secs(10), 10),
            recorder,
            worker_info: HashMap::new(),
            credentials,
            pending_reconfigs: std::collections::VecDeque::new(),
            reads: Vec::new(),
            deferred_closes: Vec::new(),
            stop_deadline: None,
            flapping: crate::daemon::flapping::Flapping::default(),
            flapping_log: LogLimiter::new(Duration::from_secs(60), 1),
            config,
        }
    }

    /// The roster's credentials, kept current across reconfigs, for listeners that must
    /// refuse bad credentials before a Hello reaches the Node.
    pub(crate) fn credentials(&self) -> Credentials {
        Arc::clone(&self.credentials)
    }

    /// Runs until a shutdown input arrives (or every sender is gone), then stops this
    /// master cleanly. A cluster node's Node changes seats on the way, its workers
    /// attached: promoted when it takes the lease, deposed when it loses it.
    ///
    /// # Errors
    ///
    /// When the store fails: nothing can be acknowledged then.
    pub(crate) fn run(
        mut self,
        inputs: &Receiver<CoreInput>,
        waiter: &Waiter,
    ) -> Result<(), DaemonError> {
        loop {
            match self.drive(inputs, waiter) {
                Ok(()) => {
                    self.durability.stopped();
                    return Ok(());
                }
                Err(Halt::Failed(error)) => return Err(error),
                Err(Halt::Deposed) if self.durability.follows_when_deposed() => self.stand_by(),
                Err(Halt::Deposed) => unreachable!("only a cluster node is ever deposed"),
            }
        }
    }

    /// The Node was deposed: it forwards to the next leader, its workers attached, and
    /// what its lost batch would have told remote masters is never sent.
    fn stand_by(&mut self) {
        if self.node.is_serving() {
            self.node.depose(crate::client::next_request_id());
        }
        let overflowed = self.release();
        for connection in overflowed {
            Metrics::add(&self.metrics.outbound_overflows, 1);
            self.deferred_closes.push(connection);
        }
        self.run_reads();
    }

    /// A takeover: the Node serves the caught-up registry, its workers attached.
    fn promote(&mut self, registry: rollcall_core::Registry) -> Result<(), Halt> {
        let now = clock::now();
        self.node.promote(now, registry).map_err(|error| Halt::Failed(DaemonError::Node(error)))?;
        self.commit_and_release()
    }

    fn drive(&mut self, inputs: &Receiver<CoreInput>, waiter: &Waiter) -> Result<(), Halt> {
        loop {
            // Closes left from the last batch are not kept waiting for the next input.
            let wake = match self.node.poll_timeout() {
                _ if !self.deferred_closes.is_empty() => clock::now(),
                Some(due) => due,
                None => clock::now().plus_millis(60_000),
            };
            let mut wake = clock::instant_of(wake);
            if let Some(deadline) = self.durability.poll_deadline() {
                wake = wake.min(deadline);
            }
            if let Some(deadline) = self.stop_deadline {
                wake = wake.min(deadline);
            }
            let first = match waiter.next(inputs, wake) {
                Next::Input(input) => Some(input),
                Next::Closed if self.stop_deadline.is_none() => Some(CoreInput::Shutdown),
                Next::Closed | Next::Deadline => None,
            };
            if self.stop_deadline.is_none() {
                self.durability.keep()?;
                if let Some(registry) = self.durability.take_promotion() {
                    self.promote(registry)?;
                }
            }
            let now = clock::now();
            for connection in std::mem::take(&mut self.deferred_closes) {
                self.feed(now, NodeInput::ConnectionClosed { connection });
            }
            if let Some(input) = first {
                self.handle_input(now, input);
                for _ in 1..MAX_BATCH_INPUTS {
                    let Ok(input) = inputs.try_recv() else { break };
                    self.handle_input(now, input);
                }
            }
            if self.node.poll_timeout().is_some_and(|due| due <= now) {
                self.record(|| Line::Timeout { at: now, timeout: () });
                self.node.handle_timeout(now);
            }
            self.commit_and_release()?;
            let gave_up =
                self.stop_deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline);
            if self.node.is_stopped() || gave_up {
                if gave_up && !self.node.is_stopped() {
                    tracing::warn!("the leader did not confirm this master's stop in time; it expires there instead");
                }
                self.say_goodbye_to_the_rest();
                return Ok(());
            }
        }
    }

    fn feed(&mut self, now: Timestamp, input: NodeInput) {
        self.record(|| Line::Input { at: now, input: input.clone() });
        self.node.handle(now, input);
    }

    fn handle_input(&mut self, now: Timestamp, input: CoreInput) {
        match input {
            CoreInput::WorkerHello { connection, peer, name, password, outbound, encoding } => {
                let role = PeerRole::Worker { name: name.clone(), address: peer };
                self.peers.insert(connection, Peer { outbound, role, encoding });
                self.feed(now, NodeInput::WorkerHello { connection, worker: name, password });
            }
            CoreInput::WorkerMessage { connection, message } => match message {
                WorkerMessage::Keepalive => {
                    self.feed(now, NodeInput::WorkerKeepalive { connection });
                }
                WorkerMessage::Pong { nonce } => {
                    self.feed(now, NodeInput::WorkerPong { connection, nonce });
                }
                WorkerMessage::BuilderListAck => {
                    tracing::debug!(connection = %connection, "builder list acknowledged");
                }
            },
            CoreInput::MasterHello {
                connection,
                name,
                token,
                outbound,
                encoding,
                protocol_version,
            } => {
                // Hashed here, compared by the Node: the token itself never leaves this
                // line, never reaches a trace or the Node.
                let token = TokenDigest(credentials::sha256(token.text().as_bytes()));
                let role = PeerRole::Master { protocol_version };
                self.peers.insert(connection, Peer { outbound, role, encoding });
                self.feed(now, NodeInput::MasterSessionOpened { connection, name, token });
            }
            CoreInput::MasterRequest { connection, request_id, command } => {
                self.feed(now, NodeInput::MasterRequest { connection, request_id, command });
            }
            CoreInput::ConnectionClosed { connection, protocol_error } => {
                if let Some(reason) = &protocol_error {
                    Metrics::add(&self.metrics.frames_rejected, 1);
                    tracing::warn!(connection = %connection, reason = %Escaped(reason), "closing connection: bad frame");
                    self.peers.close(connection, reason);
                } else {
                    self.peers.remove(connection);
                }
                self.feed(now, NodeInput::ConnectionClosed { connection });
            }
            CoreInput::Reconfig(config) => {
                self.feed(now, NodeInput::Reconfig(Box::new(config.node_config())));
                self.pending_reconfigs.push_back(*config);
            }
            CoreInput::WorkerInfo { connection, info } => {
                if let Some(Peer { role: PeerRole::Worker { name, .. }, .. }) =
                    self.peers.get(connection)
                {
                    tracing::info!(worker = %Escaped(name), "worker reported its info");
                    self.worker_info.insert(name.clone(), info);
                }
            }
            CoreInput::Read(job) => self.reads.push(job),
            CoreInput::Shutdown => {
                if self.stop_deadline.is_none() {
                    tracing::info!("shutting down");
                    self.stop_deadline =
                        Some(std::time::Instant::now() + STOP_CONFIRMATION_TIMEOUT);
                    self.feed(now, NodeInput::Shutdown);
                }
            }
            CoreInput::Leader(event) => {
                let input = match event {
                    LeaderEvent::Opened => NodeInput::LeaderSessionOpened,
                    LeaderEvent::Closed => NodeInput::LeaderSessionClosed,
                    LeaderEvent::Reply { request_id, result } => {
                        NodeInput::LeaderReply { request_id, result }
                    }
                };
                self.feed(now, input);
            }
        }
    }

    /// Ends the batch, makes it durable, then carries out what it released; peers found
    /// not reading are closed in a further batch. Reads run last, on committed state.
    pub(crate) fn commit_and_release(&mut self) -> Result<(), Halt> {
        for round in 1..=MAX_OVERFLOW_ROUNDS {
            self.commit()?;
            let overflowed = self.release();
            if overflowed.is_empty() {
                break;
            }
            let now = clock::now();
            for connection in overflowed {
                Metrics::add(&self.metrics.outbound_overflows, 1);
                self.peers.remove(connection);
                if round < MAX_OVERFLOW_ROUNDS {
                    self.feed(now, NodeInput::ConnectionClosed { connection });
                } else {
                    self.deferred_closes.push(connection);
                }
            }
        }
        self.run_reads();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Halt> {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.flush();
        }
        let batch = self.node.end_batch();
        self.durability.commit(&batch, &self.metrics)?;
        self.record(|| Line::Batch { batch: batch.number });
        self.node.batch_durable(batch.number);
        Ok(())
    }

    /// Carries out the released outputs in order; returns the peers that stopped reading.
    fn release(&mut self) -> Vec<ConnectionId> {
        let mut overflowed = Vec::new();
        while let Some(output) = self.node.poll_output() {
            let sent = match output {
                NodeOutput::ToWorker { connection, message } => {
                    self.peers.send(connection, &ServerMessage::Worker(message))
                }
                NodeOutput::CloseWorker { connection, reason } => {
                    let text = match reason {
                        rollcall_core::CloseReason::ReplacedByNewerConnection => {
                            self.replaced(connection)
                        }
                        other => format!("{other:?}"),
                    };
                    self.peers.close(connection, &text);
                    Ok(())
                }
                NodeOutput::SessionWelcome { connection } => self.peers.welcome(connection),
                NodeOutput::Reply { connection, request_id, result } => {
                    self.peers.send(connection, &ServerMessage::Reply { request_id, result })
                }
                NodeOutput::CloseSession { connection, reason } => {
                    let reason = match reason {
                        rollcall_core::node::SessionCloseReason::ShuttingDown => {
                            "the master is shutting down"
                        }
                        rollcall_core::node::SessionCloseReason::OwnMasterName => {
                            "this name is the daemon's own master"
                        }
                        rollcall_core::node::SessionCloseReason::AuthenticationFailed => {
                            "authentication failed: unknown master or wrong token"
                        }
                        rollcall_core::node::SessionCloseReason::Deauthorized => {
                            "this master or its token was removed from the configuration"
                        }
                        rollcall_core::node::SessionCloseReason::Expired => {
                            "this master was expired (silent for the expiry window): register again"
                        }
                        rollcall_core::node::SessionCloseReason::NotLeader => {
                            self.peers.redirect(connection, self.durability.leader_address());
                            continue;
                        }
                    };
                    self.peers.close(connection, reason);
                    Ok(())
                }
                NodeOutput::Event(event) => {
                    self.event_released(&event);
                    Ok(())
                }
                NodeOutput::ToLeader { request_id, command } => {
                    self.durability.to_leader(request_id, command);
                    Ok(())
                }
                NodeOutput::CloseLeaderSession => {
                    self.durability.give_up_leader_session();
                    Ok(())
                }
            };
            if let Err(Overflowed(connection)) = sent {
                if !overflowed.contains(&connection) {
                    overflowed.push(connection);
                    // Nothing more to a peer that missed a frame: it would see a gap.
                    self.peers.remove(connection);
                }
            }
        }
        overflowed
    }

    /// A worker's connection replaced by a newer one for the same name (drop-older): what
    /// it is told, and, when one name keeps replacing itself, a warning naming both ends.
    fn replaced(&mut self, dropped: ConnectionId) -> String {
        let Some(Peer { role: PeerRole::Worker { name, address }, .. }) = self.peers.get(dropped)
        else {
            return "replaced by another connection".into();
        };
        let (name, dropped_address) = (name.clone(), *address);
        let kept_address =
            self.node.gateway().attached_connection(&name).and_then(|kept| {
                match self.peers.get(kept) {
                    Some(Peer { role: PeerRole::Worker { address, .. }, .. }) => Some(*address),
                    _ => None,
                }
            });
        if self.flapping.replaced(&name, std::time::Instant::now()) {
            if let Verdict::Log { suppressed } = self.flapping_log.check(std::time::Instant::now())
            {
                let kept =
                    kept_address.map_or_else(|| "?".to_string(), |address| address.to_string());
                tracing::warn!(worker = %Escaped(&name), kept = %kept, dropped = %dropped_address, suppressed, "worker keeps replacing itself: two processes share this name (each connection drops the other's)");
            }
        }
        format!("replaced by another connection for {name}")
    }

    fn event_released(&mut self, event: &rollcall_core::NodeEvent) {
        node_events::report(event, &self.metrics, &mut self.rejection_log);
        match event {
            rollcall_core::NodeEvent::ReconfigApplied => {
                if let Some(config) = self.pending_reconfigs.pop_front() {
                    self.apply_transport_config(config);
                }
            }
            rollcall_core::NodeEvent::ReconfigRejected { .. } => {
                self.pending_reconfigs.pop_front();
            }
            _ => {}
        }
    }

    /// What a reconfig changes outside the Node: the listeners' credentials and the
    /// outbound limits (the Node itself closed the sessions a removed token opened).
    fn apply_transport_config(&mut self, config: Config) {
        *write_lock(&self.credentials) = credentials_of(&config.roster());
        self.peers.set_limits(config.limits.max_outbound_frames, config.limits.max_outbound_bytes);
        self.config = config;
    }

    fn run_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let master_name = self.config.master.name.as_str();
        let view = match self.node.committed() {
            Some(view) => ReadView {
                registry: view.registry,
                worker_info: &self.worker_info,
                gateway: view.gateway,
                master: view.master,
                master_name: view.master_name,
            },
            None => {
                // A standby: the replica, with its own master's workers.
                let (Some(registry), Some(gateway)) =
                    (self.durability.replica(), self.node.committed_gateway())
                else {
                    unreachable!("reads run after the batch is committed, on a registry");
                };
                let master =
                    registry.master_by_name(master_name).map_or(self.node.master(), |row| row.id);
                ReadView { registry, worker_info: &self.worker_info, gateway, master, master_name }
            }
        };
        for job in self.reads.drain(..) {
            job(&view);
        }
    }

    /// Peers the Node did not close itself (a connection waiting for a duplicate's
    /// verdict, one whose Hello the Node has not answered yet) hear the shutdown too.
    fn say_goodbye_to_the_rest(&mut self) {
        let goodbye = ServerMessage::Goodbye { reason: "the master is shutting down".into() };
        for (_, peer) in self.peers.drain() {
            let _ = peer.outbound.try_send(encode(peer.encoding, &goodbye));
        }
    }

    /// Writes a trace line when recording (built only then: most daemons do not record).
    fn record(&mut self, line: impl FnOnce() -> Line) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.record(&line());
        }
    }
}
