//! The Node: everything a rollcall process is, as one sans-IO machine.
//!
//! A Node holds the [`Registry`], its own master's [`Gateway`], and the sessions of remote
//! masters, and it owns every rule that joins them: the startup sequence, the heartbeat
//! schedule, the session checks, the routing of replies and frames, and the batching
//! contract. The daemon drives it with real sockets, the wall clock and a store; the
//! simulator drives the very same Node with simulated ones.
//!
//! # Use
//!
//! 1. [`Node::start`] recovers the Registry from the stored rows and runs the startup
//!    (its changes form the first batch).
//! 2. Feed inputs with [`Node::handle`], and [`Node::handle_timeout`] once the moment of
//!    [`Node::poll_timeout`] has come.
//! 3. **The batching contract.** Call [`Node::end_batch`] to end a batch: it hands over the
//!    batch's changes. Make them durable, as one atomic write, then report it with
//!    [`Node::batch_durable`]. Only then does [`Node::poll_output`] release the batch's
//!    frames, replies, closes and events: nothing that depends on a change is ever sent
//!    before the change is on disk. No input may be fed while a batch awaits durability.
//! 4. Queries ([`Node::committed`]) answer from committed state only: between
//!    [`Node::batch_durable`] and the next input.
//!
//! If the write fails, or the process dies before it reports durability, the batch is
//! lost whole, and so is everything it would have released: drop the Node and start again
//! from what the store holds.

mod batch;
mod config;
mod forwarding;
mod invariants;
mod messages;
mod own_master;
mod row_caps;
mod seat;
mod sessions;
mod startup;
mod tokens;

use std::collections::BTreeMap;

use crate::registry::{RegistryInput, RequestKey};
use crate::{
    Command, CommandError, ConnectionId, Gateway, GatewayOutput, MasterId, Registry,
    RegistryOutput, Reply, ReplyToken, Timestamp,
};

pub use batch::Batch;
pub use config::{NodeConfig, NodeConfigError, RowCaps};
pub use forwarding::MAX_IN_FLIGHT_TO_LEADER;
pub use messages::{NodeEvent, NodeInput, NodeOutput, RequestError, SessionCloseReason, StartKind};
pub use startup::StartError;
pub use tokens::{token_matches, MasterTokens, TokenDigest, MAX_TOKENS_PER_MASTER};

use batch::Batches;
use seat::Seat;
use sessions::Session;

/// One rollcall process. See the [module documentation](self).
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
    /// The Registry it serves, or its link to the leader that does.
    seat: Seat,
    gateway: Gateway,
    /// The Node's own master.
    master: MasterId,
    /// Remote masters' sessions, by connection (ordered: shutdown closes them in id order).
    sessions: BTreeMap<ConnectionId, Session>,
    next_token: u64,
    next_heartbeat: Timestamp,
    batches: Batches,
    /// The own master stopped (shutdown): every later input is ignored.
    stopped: bool,
}

/// What a query may look at: the state as committed.
#[derive(Clone, Copy, Debug)]
pub struct CommittedView<'a> {
    pub registry: &'a Registry,
    pub gateway: &'a Gateway,
    pub master: MasterId,
    pub master_name: &'a str,
}

impl Node {
    /// Feeds one input.
    ///
    /// # Panics
    ///
    /// When a batch awaits durability (a driver bug: see the batching contract).
    pub fn handle(&mut self, now: Timestamp, input: NodeInput) {
        self.batches.begin_input();
        if self.stopped {
            // A stopping standby still hears the leader confirm its stop.
            match input {
                NodeInput::LeaderReply { request_id, result } => {
                    self.leader_reply(now, request_id, result);
                }
                NodeInput::LeaderSessionClosed => self.leader_session_closed(),
                _ => {}
            }
            return;
        }
        match input {
            NodeInput::WorkerHello { connection, worker, password } => {
                self.gateway_input(now, crate::GatewayInput::Hello { connection, worker, password })
            }
            NodeInput::WorkerKeepalive { connection } => {
                self.gateway_input(now, crate::GatewayInput::Keepalive { connection });
            }
            NodeInput::WorkerPong { connection, nonce } => {
                self.gateway_input(now, crate::GatewayInput::Pong { connection, nonce });
            }
            NodeInput::MasterSessionOpened { connection, name, token } => {
                if self.is_serving() {
                    self.open_session(connection, name, token);
                } else {
                    let reason = SessionCloseReason::NotLeader;
                    self.batches.hold(NodeOutput::CloseSession { connection, reason });
                }
            }
            NodeInput::MasterRequest { connection, request_id, command } => {
                self.session_request(now, connection, request_id, command);
            }
            NodeInput::LeaderSessionOpened => self.leader_session_opened(now),
            NodeInput::LeaderSessionClosed => self.leader_session_closed(),
            NodeInput::LeaderReply { request_id, result } => {
                self.leader_reply(now, request_id, result);
            }
            NodeInput::ConnectionClosed { connection } => {
                if self.sessions.remove(&connection).is_none() {
                    self.gateway_input(now, crate::GatewayInput::Closed { connection });
                }
            }
            NodeInput::Reconfig(config) => self.reconfig(now, *config),
            NodeInput::Shutdown => self.shut_down(now),
        }
    }

    /// Fires what is due at `now`: the Gateway's deadlines, the Registry's expiry, and the
    /// own master's heartbeat. Idempotent.
    ///
    /// # Panics
    ///
    /// When a batch awaits durability.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.batches.begin_input();
        if self.stopped {
            return;
        }
        if self.gateway.poll_timeout().is_some_and(|due| due <= now) {
            self.gateway.handle_timeout(now);
            self.drain_gateway(now);
        }
        // The own heartbeat before the sweep, as Buildbot orders them: after a pause
        // longer than the window (a suspended host) the sweep must not expire the very
        // master that is running it.
        if self.next_heartbeat <= now {
            self.heartbeat(now);
        }
        match &mut self.seat {
            Seat::Serving(registry) => {
                if registry.poll_timeout().is_some_and(|due| due <= now) {
                    registry.handle_timeout(now);
                    self.drain_registry();
                }
            }
            Seat::Forwarding(_) => self.forwarder_timeout(now),
        }
    }

    /// The next moment [`Node::handle_timeout`] has something to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stopped {
            return None;
        }
        let seat = match &self.seat {
            Seat::Serving(registry) => registry.poll_timeout(),
            Seat::Forwarding(forwarder) => forwarder.deadline(self.leader_reply_deadline_ms()),
        };
        [self.gateway.poll_timeout(), seat, Some(self.next_heartbeat)].into_iter().flatten().min()
    }

    /// Ends the batch: its changes, to be made durable as one atomic write.
    ///
    /// # Panics
    ///
    /// When the previous batch still awaits durability.
    pub fn end_batch(&mut self) -> Batch {
        let registry_inputs = match &mut self.seat {
            Seat::Serving(registry) => registry.take_logged_inputs(),
            Seat::Forwarding(_) => Vec::new(),
        };
        self.batches.end(registry_inputs)
    }

    /// The store reports batch `number` durable: its outputs are released.
    ///
    /// # Panics
    ///
    /// When `number` is not the batch awaiting durability.
    pub fn batch_durable(&mut self, number: u64) {
        self.batches.durable(number);
    }

    /// The next released output, in the order the batch produced them.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<NodeOutput> {
        self.batches.poll_released()
    }

    /// The committed state, or `None` while some input's changes are not yet durable, and
    /// on a standby (it serves no registry: read its replica with [`Node::gateway`]).
    #[must_use]
    pub fn committed(&self) -> Option<CommittedView<'_>> {
        (self.batches.is_committed() && self.is_serving()).then(|| self.view())
    }

    /// The state as it is now, committed or not: for oracles and tests that look inside a
    /// batch, never for answers to a client.
    ///
    /// # Panics
    ///
    /// On a standby, which serves no registry.
    #[must_use]
    pub fn view(&self) -> CommittedView<'_> {
        let Seat::Serving(registry) = &self.seat else {
            panic!("a standby's node serves no registry: read the replica")
        };
        CommittedView {
            registry,
            gateway: &self.gateway,
            master: self.master,
            master_name: &self.config.master_name,
        }
    }

    /// The own master's workers as committed (`None` while a batch is open): with a
    /// standby's replica, what its reads show.
    #[must_use]
    pub fn committed_gateway(&self) -> Option<&Gateway> {
        self.batches.is_committed().then_some(&self.gateway)
    }

    /// The Registry this Node serves, `None` on a standby.
    #[must_use]
    pub fn registry(&self) -> Option<&Registry> {
        match &self.seat {
            Seat::Serving(registry) => Some(registry),
            Seat::Forwarding(_) => None,
        }
    }

    /// On a standby: whether its own master is registered at the leader, and how many of
    /// its requests the leader has yet to answer.
    #[must_use]
    pub fn leader_link(&self) -> Option<(bool, usize)> {
        match &self.seat {
            Seat::Serving(_) => None,
            Seat::Forwarding(forwarder) => Some((forwarder.is_registered(), forwarder.in_flight())),
        }
    }

    pub fn master(&self) -> MasterId {
        self.master
    }

    /// The own master's Gateway, committed or not.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Whether shutdown has run (on a standby: and the leader has confirmed the stop, or
    /// no leader is there to tell): the driver may exit once the last batch is released.
    pub fn is_stopped(&self) -> bool {
        match &self.seat {
            Seat::Serving(_) => self.stopped,
            Seat::Forwarding(forwarder) => self.stopped && forwarder.stop_done(),
        }
    }

    /// A command the Node sends for its own master. Its outputs join the batch; the reply
    /// is returned here.
    fn local(&mut self, now: Timestamp, command: Command) -> Result<Reply, CommandError> {
        self.answered(now, command, None)
    }

    /// A command for the Registry, as [`Node::local`], or a remote master's request under
    /// `key` (answered once: a retry gets the first answer, `registry/replies.rs`).
    fn answered(
        &mut self,
        now: Timestamp,
        command: Command,
        key: Option<RequestKey>,
    ) -> Result<Reply, CommandError> {
        let token = self.registry_input(now, command, key);
        let mut reply = None;
        while let Some(output) = self.poll_registry() {
            match output {
                RegistryOutput::Reply { token: answered, result } => {
                    assert_eq!(answered, token, "the registry answers the command it was given");
                    reply = Some(result);
                }
                other => self.registry_output(other),
            }
        }
        match reply {
            Some(result) => result,
            None => unreachable!("the registry answers every command in the same drain"),
        }
    }

    fn registry_input(
        &mut self,
        now: Timestamp,
        command: Command,
        key: Option<RequestKey>,
    ) -> ReplyToken {
        self.next_token += 1;
        let token = ReplyToken(self.next_token);
        let input = RegistryInput { token, command };
        let Seat::Serving(registry) = &mut self.seat else {
            unreachable!("only a serving node feeds its registry")
        };
        match key {
            Some(key) => registry.handle_request(now, input, key),
            None => registry.handle(now, input),
        }
        token
    }

    /// Changes and events of a timeout (the expiry sweep: no reply).
    fn drain_registry(&mut self) {
        while let Some(output) = self.poll_registry() {
            self.registry_output(output);
        }
    }

    fn poll_registry(&mut self) -> Option<RegistryOutput> {
        match &mut self.seat {
            Seat::Serving(registry) => registry.poll_output(),
            Seat::Forwarding(_) => None,
        }
    }

    /// A change or event of the Registry joins the batch. An expired master's sessions
    /// close: the master must register again, and so declares its builders and workers
    /// again, which the expiry gave back (a heartbeat alone would revive it without them).
    fn registry_output(&mut self, output: RegistryOutput) {
        if let RegistryOutput::Event(crate::RegistryEvent::MasterStopped {
            master,
            cause: crate::StopCause::Expired,
            ..
        }) = &output
        {
            self.close_sessions_of(*master);
        }
        self.batches.registry_output(output);
    }

    fn gateway_input(&mut self, now: Timestamp, input: crate::GatewayInput) {
        self.gateway.handle(now, input);
        self.drain_gateway(now);
    }

    fn drain_gateway(&mut self, now: Timestamp) {
        while let Some(output) = self.gateway.poll_output() {
            self.route_gateway_output(now, output);
        }
    }

    /// Gateway outputs become frames, closes, and the own master's connection records.
    fn route_gateway_output(&mut self, now: Timestamp, output: GatewayOutput) {
        match output {
            GatewayOutput::Send { connection, message } => {
                self.batches.hold(NodeOutput::ToWorker { connection, message });
            }
            GatewayOutput::Close { connection, reason } => {
                self.batches.hold(NodeOutput::CloseWorker { connection, reason });
            }
            GatewayOutput::Event(event) => self.gateway_event(now, event),
        }
    }
}
