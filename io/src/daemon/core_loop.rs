//! The core thread: the one owner of the Registry, the Gateway and the store.
//!
//! It takes inputs in batches, feeds them to the machines, and then does three things in
//! this order: commits every change of the batch in one durable write (group commit: one
//! fsync per batch, however many requests it holds), sends the frames and replies, closes
//! the connections. Nothing that depends on a change is sent before the change is on disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::registry::RegistryInput;
use rollcall_core::{
    Change, Command, CommandError, ConnectionId, Gateway, GatewayEvent, GatewayInput,
    GatewayOutput, MasterId, Registry, RegistryEvent, RegistryOutput, Reply, ReplyToken, StopCause,
    Timestamp,
};

use crate::buildbot::{credentials_of, write_lock, Credentials};
use crate::codec;
use crate::config::Config;
use crate::credentials::{self, Digest};
use crate::daemon::clock;
use crate::daemon::inputs::{CoreInput, Outbound, ReadView, WorkerMessage};
use crate::daemon::log_limit::{LogLimiter, Verdict};
use crate::daemon::metrics::Metrics;
use crate::daemon::row_caps::{self, RowCaps};
use crate::daemon::wait::{Next, Waiter};
use crate::daemon::DaemonError;
use crate::logging::Escaped;
use crate::storage::{FjallStore, Store};
use crate::trace::{Line, Recorder, Start};
use crate::wire::{RequestError, ServerMessage};

/// The most inputs taken into one batch: bounds the latency a batch adds to its first input.
const MAX_BATCH_INPUTS: usize = 4_096;

#[derive(Debug)]
enum PeerRole {
    Worker {
        name: String,
    },
    /// `token` is the digest of the token it presented, so a reconfig that drops that
    /// token can close the session.
    Master {
        hello_name: String,
        master: Option<MasterId>,
        token: Digest,
    },
}

#[derive(Debug)]
struct Peer {
    outbound: Outbound,
    role: PeerRole,
}

/// Where a Registry reply goes.
#[derive(Debug, Clone, Copy)]
enum ReplyRoute {
    Remote { connection: ConnectionId, request_id: u64 },
    Local,
}

#[derive(Debug)]
enum Effect {
    Send { connection: ConnectionId, frame: Vec<u8> },
    Close { connection: ConnectionId, goodbye: Option<String> },
}

pub(crate) struct CoreLoop {
    config: Config,
    registry: Registry,
    gateway: Gateway,
    store: FjallStore,
    self_master: MasterId,
    peers: HashMap<ConnectionId, Peer>,
    next_token: u64,
    reply_routes: HashMap<ReplyToken, ReplyRoute>,
    last_local_reply: Option<Result<Reply, CommandError>>,
    pending_changes: Vec<Change>,
    effects: Vec<Effect>,
    next_heartbeat: Timestamp,
    metrics: Arc<Metrics>,
    rejection_log: LogLimiter,
    shutting_down: bool,
    recorder: Option<Recorder>,
    worker_info: HashMap<String, serde_json::Value>,
    credentials: Credentials,
    /// `[[masters]]`: who may open a master session, and with which token digests.
    master_tokens: HashMap<String, Vec<Digest>>,
}

impl CoreLoop {
    /// Opens the store, loads the Registry, and runs DESIGN.md's startup: register, stop
    /// ourselves in case we crashed last time, expire with forced housekeeping, mark
    /// ourselves active, declare our workers and builders.
    pub(crate) fn start(
        config: Config,
        metrics: Arc<Metrics>,
        record: Option<&std::path::Path>,
    ) -> Result<CoreLoop, DaemonError> {
        let store = FjallStore::open(&config.master.data_dir)?;
        let rows = store.load()?;
        let row_count = rows.len();
        let now = clock::now();
        let recorder = match record {
            Some(path) => {
                let mut recorder = Recorder::create(path).map_err(|error| {
                    DaemonError::Startup(format!(
                        "cannot create the trace {}: {error}",
                        path.display()
                    ))
                })?;
                recorder.record(&Line::Start {
                    start: Start {
                        at: now,
                        registry_config: config.registry_config(),
                        rows: rows.clone(),
                        gateway_config: config.gateway_config(),
                        roster: config.roster(),
                    },
                });
                Some(recorder)
            }
            None => None,
        };
        let registry = Registry::recover(config.registry_config(), rows)
            .map_err(|error| DaemonError::Recovery(error.to_string()))?;
        let gateway = Gateway::new(now, config.gateway_config(), config.roster())
            .map_err(DaemonError::Config)?;
        let mut core = CoreLoop {
            registry,
            gateway,
            store,
            self_master: MasterId(0),
            peers: HashMap::new(),
            next_token: 0,
            reply_routes: HashMap::new(),
            last_local_reply: None,
            pending_changes: Vec::new(),
            effects: Vec::new(),
            next_heartbeat: now,
            metrics,
            rejection_log: LogLimiter::new(Duration::from_secs(10), 10),
            shutting_down: false,
            recorder,
            worker_info: HashMap::new(),
            credentials: Credentials::default(),
            master_tokens: config.master_tokens(),
            config,
        };
        *write_lock(&core.credentials) = credentials_of(&core.config.roster());
        let name = core.config.master.name.clone();
        let master = match core.local(now, Command::MasterActive { name: name.clone() }) {
            Ok(Reply::Master(id)) => id,
            other => {
                return Err(DaemonError::Startup(format!("cannot register {name:?}: {other:?}")))
            }
        };
        core.self_master = master;
        core.local_expecting_success(now, Command::MasterStopped { master })?;
        core.local_expecting_success(now, Command::ExpireMasters { force_housekeeping: true })?;
        core.local_expecting_success(now, Command::MasterActive { name })?;
        core.declare_configuration(now)?;
        core.next_heartbeat = now.plus_millis(core.heartbeat_interval_ms());
        core.flush()?;
        tracing::info!(masterid = %master, rows = row_count, "registry loaded; master active");
        Ok(core)
    }

    pub(crate) fn self_master(&self) -> MasterId {
        self.self_master
    }

    /// The roster's credentials, kept current across reconfigs, for listeners that must
    /// refuse bad credentials before a Hello reaches the Gateway.
    pub(crate) fn credentials(&self) -> Credentials {
        std::sync::Arc::clone(&self.credentials)
    }

    fn heartbeat_interval_ms(&self) -> u64 {
        self.config.timing.heartbeat_interval_s.saturating_mul(1000)
    }

    /// Runs until a shutdown input arrives (or every sender is gone), then stops this
    /// master cleanly.
    pub(crate) fn run(
        mut self,
        inputs: smol::channel::Receiver<CoreInput>,
    ) -> Result<(), DaemonError> {
        let waiter = Waiter::for_this_thread();
        loop {
            let wake = [self.registry.poll_timeout(), self.gateway.poll_timeout()]
                .into_iter()
                .flatten()
                .chain([self.next_heartbeat])
                .min()
                .unwrap_or(self.next_heartbeat);
            let first = match waiter.next(&inputs, clock::instant_of(wake)) {
                Next::Input(input) => Some(input),
                Next::Closed => Some(CoreInput::Shutdown),
                Next::Deadline => None,
            };
            let now = clock::now();
            if let Some(input) = first {
                self.handle_input(now, input)?;
                for _ in 1..MAX_BATCH_INPUTS {
                    let Ok(input) = inputs.try_recv() else { break };
                    self.handle_input(now, input)?;
                }
            }
            self.fire_timers(now)?;
            self.flush()?;
            if self.shutting_down {
                return self.shut_down(now);
            }
        }
    }

    fn handle_input(&mut self, now: Timestamp, input: CoreInput) -> Result<(), DaemonError> {
        match input {
            CoreInput::WorkerHello { connection, name, password, outbound } => {
                let role = PeerRole::Worker { name: name.clone() };
                self.peers.insert(connection, Peer { outbound, role });
                self.gateway_input(now, GatewayInput::Hello { connection, worker: name, password });
            }
            CoreInput::WorkerMessage { connection, message } => match message {
                WorkerMessage::Keepalive => {
                    self.gateway_input(now, GatewayInput::Keepalive { connection });
                }
                WorkerMessage::Pong { nonce } => {
                    self.gateway_input(now, GatewayInput::Pong { connection, nonce });
                }
                WorkerMessage::BuilderListAck => {
                    tracing::debug!(connection = %connection, "builder list acknowledged");
                }
            },
            CoreInput::MasterHello { connection, name, token, outbound } => {
                let configured = self.master_tokens.get(&name).map(Vec::as_slice);
                // The same work for an unknown name as for a wrong token: hash, compare.
                if !credentials::token_matches(configured, token.text()) {
                    Metrics::add(&self.metrics.rejected_master_authentication, 1);
                    if let Verdict::Log { suppressed } = self.rejection_log.check(Instant::now()) {
                        tracing::warn!(master = %Escaped(&name), connection = %connection, suppressed, "master refused: unknown name or wrong token");
                    }
                    let goodbye = "authentication failed: unknown master or wrong token";
                    let _ = outbound
                        .try_send(encode(&ServerMessage::Goodbye { reason: goodbye.into() }));
                    return Ok(());
                }
                let digest = credentials::sha256(token.text().as_bytes());
                let role = PeerRole::Master { hello_name: name, master: None, token: digest };
                let frame = encode(&ServerMessage::MasterWelcome);
                self.peers.insert(connection, Peer { outbound, role });
                self.effects.push(Effect::Send { connection, frame });
            }
            CoreInput::MasterRequest { connection, request_id, command } => {
                self.master_request(now, connection, request_id, command);
            }
            CoreInput::ConnectionClosed { connection, protocol_error } => {
                self.connection_closed(now, connection, protocol_error);
            }
            CoreInput::Reconfig(config) => self.reconfig(now, *config)?,
            CoreInput::WorkerInfo { connection, info } => {
                if let Some(Peer { role: PeerRole::Worker { name }, .. }) =
                    self.peers.get(&connection)
                {
                    tracing::info!(worker = %Escaped(name), "worker reported its info");
                    self.worker_info.insert(name.clone(), info);
                }
            }
            CoreInput::Read(job) => job(&ReadView {
                registry: &self.registry,
                worker_info: &self.worker_info,
                gateway: &self.gateway,
                master: self.self_master,
                master_name: &self.config.master.name,
            }),
            CoreInput::Shutdown => self.shutting_down = true,
        }
        Ok(())
    }

    fn connection_closed(
        &mut self,
        now: Timestamp,
        connection: ConnectionId,
        protocol_error: Option<String>,
    ) {
        let Some(peer) = self.peers.remove(&connection) else { return };
        if let Some(reason) = &protocol_error {
            Metrics::add(&self.metrics.frames_rejected, 1);
            tracing::warn!(connection = %connection, reason = %Escaped(reason), "closing connection: bad frame");
            let _ =
                peer.outbound.try_send(encode(&ServerMessage::Goodbye { reason: reason.clone() }));
        }
        if let PeerRole::Worker { .. } = peer.role {
            self.gateway_input(now, GatewayInput::Closed { connection });
        }
    }

    fn master_request(
        &mut self,
        now: Timestamp,
        connection: ConnectionId,
        request_id: u64,
        command: Command,
    ) {
        let Some(Peer { role: PeerRole::Master { hello_name, master, .. }, .. }) =
            self.peers.get(&connection)
        else {
            // A worker sending master requests: the reader only forwards requests from
            // master sessions, so this is a connection that already closed.
            return;
        };
        let refusal = match (&command, *master) {
            (Command::MasterActive { name }, _) if name != hello_name => {
                Some(RequestError::WrongName { hello: hello_name.clone() })
            }
            (Command::ExpireMasters { .. }, _) => {
                Some(RequestError::DaemonOnly { command: "ExpireMasters".into() })
            }
            (Command::MasterActive { .. }, _) => None,
            (command, session) => match command_master(command) {
                Some(target) if Some(target) == session => None,
                _ => Some(RequestError::NotThisSession { session }),
            },
        };
        let caps = RowCaps {
            max_masters: self.config.limits.max_masters,
            max_rows_per_kind: self.config.limits.max_rows_per_kind,
        };
        let refusal = refusal
            .or_else(|| row_caps::check_ownership(&self.registry, &command).err())
            .or_else(|| row_caps::check(&self.registry, &command, caps).err());
        if let Some(error) = refusal {
            let frame = encode(&ServerMessage::Reply { request_id, result: Err(error) });
            self.effects.push(Effect::Send { connection, frame });
            return;
        }
        self.registry_command(now, command, ReplyRoute::Remote { connection, request_id });
    }

    /// `config` is already checked against what needs a restart (`reload`).
    fn reconfig(&mut self, now: Timestamp, config: Config) -> Result<(), DaemonError> {
        self.record(|| Line::Gateway {
            at: now,
            gateway: GatewayInput::Reconfig {
                config: config.gateway_config(),
                roster: config.roster(),
            },
        });
        self.gateway.handle(
            now,
            GatewayInput::Reconfig { config: config.gateway_config(), roster: config.roster() },
        );
        let mut rejected = None;
        while let Some(output) = self.gateway.poll_output() {
            if let GatewayOutput::Event(GatewayEvent::ReconfigRejected { reason }) = &output {
                rejected = Some(reason.clone());
            }
            self.route_gateway_output(now, output);
        }
        if let Some(reason) = rejected {
            tracing::error!("reconfig failed: {reason}");
            return Ok(());
        }
        *write_lock(&self.credentials) = credentials_of(&config.roster());
        self.master_tokens = config.master_tokens();
        self.close_deauthorized_masters();
        self.config = config;
        self.declare_configuration(now)?;
        tracing::info!("reconfig complete");
        Ok(())
    }

    /// Closes every master session whose name or token the configuration no longer lists:
    /// a removed master, or a rotated-out token, is refused from now on, live sessions too.
    fn close_deauthorized_masters(&mut self) {
        let revoked: Vec<ConnectionId> = self
            .peers
            .iter()
            .filter_map(|(connection, peer)| match &peer.role {
                PeerRole::Master { hello_name, token, .. } => {
                    let still = self
                        .master_tokens
                        .get(hello_name)
                        .is_some_and(|digests| digests.contains(token));
                    (!still).then_some(*connection)
                }
                PeerRole::Worker { .. } => None,
            })
            .collect();
        let reason = "this master or its token was removed from the configuration";
        for connection in revoked {
            tracing::info!(connection = %connection, "closing a master session: {reason}");
            // Dropping the queue ends the writer once the Goodbye is out.
            if let Some(peer) = self.peers.remove(&connection) {
                let _ = peer
                    .outbound
                    .try_send(encode(&ServerMessage::Goodbye { reason: reason.into() }));
            }
        }
    }

    /// Tells the Registry which workers and builders this master has configured.
    fn declare_configuration(&mut self, now: Timestamp) -> Result<(), DaemonError> {
        let master = self.self_master;
        let worker_names = self.config.worker_names();
        let builder_names = self.config.builder_names();
        self.local_expecting_success(now, Command::SetConfiguredWorkers { master, worker_names })?;
        self.local_expecting_success(now, Command::SetBuilderList { master, builder_names })?;
        Ok(())
    }

    fn fire_timers(&mut self, now: Timestamp) -> Result<(), DaemonError> {
        if self.gateway.poll_timeout().is_some_and(|due| due <= now) {
            self.record(|| Line::GatewayTimeout { at: now, gateway_timeout: () });
            self.gateway.handle_timeout(now);
            self.drain_gateway(now);
        }
        if self.registry.poll_timeout().is_some_and(|due| due <= now) {
            self.record(|| Line::RegistryTimeout { at: now, registry_timeout: () });
            self.registry.handle_timeout(now);
            self.drain_registry();
        }
        if self.next_heartbeat <= now {
            let name = self.config.master.name.clone();
            self.local_expecting_success(now, Command::MasterActive { name })?;
            let expire = Command::ExpireMasters { force_housekeeping: false };
            self.local_expecting_success(now, expire)?;
            self.next_heartbeat = now.plus_millis(self.heartbeat_interval_ms());
        }
        Ok(())
    }

    fn local(&mut self, now: Timestamp, command: Command) -> Result<Reply, CommandError> {
        self.registry_command(now, command, ReplyRoute::Local);
        match self.last_local_reply.take() {
            Some(result) => result,
            None => unreachable!("the registry answers every command in the same drain"),
        }
    }

    /// The daemon's own commands cannot be refused unless its state is broken.
    fn local_expecting_success(
        &mut self,
        now: Timestamp,
        command: Command,
    ) -> Result<Reply, DaemonError> {
        let description = format!("{command:?}");
        self.local(now, command)
            .map_err(|error| DaemonError::Startup(format!("{description} was refused: {error}")))
    }

    fn registry_command(&mut self, now: Timestamp, command: Command, route: ReplyRoute) {
        self.next_token += 1;
        let token = ReplyToken(self.next_token);
        self.reply_routes.insert(token, route);
        let input = RegistryInput { token, command };
        self.record(|| Line::Registry { at: now, registry: input.clone() });
        self.registry.handle(now, input);
        self.drain_registry();
    }

    fn drain_registry(&mut self) {
        while let Some(output) = self.registry.poll_output() {
            match output {
                RegistryOutput::Persist(change) => self.pending_changes.push(change),
                RegistryOutput::Event(event) => self.log_registry_event(&event),
                RegistryOutput::Reply { token, result } => {
                    let route = self.reply_routes.remove(&token).unwrap_or(ReplyRoute::Local);
                    self.deliver_reply(route, result);
                }
            }
        }
    }

    fn deliver_reply(&mut self, route: ReplyRoute, result: Result<Reply, CommandError>) {
        match route {
            ReplyRoute::Local => self.last_local_reply = Some(result),
            ReplyRoute::Remote { connection, request_id } => {
                if let (Ok(Reply::Master(id)), Some(peer)) =
                    (&result, self.peers.get_mut(&connection))
                {
                    if let PeerRole::Master { master, .. } = &mut peer.role {
                        *master = Some(*id);
                    }
                }
                let result = result.map_err(RequestError::Refused);
                let frame = encode(&ServerMessage::Reply { request_id, result });
                self.effects.push(Effect::Send { connection, frame });
            }
        }
    }

    fn gateway_input(&mut self, now: Timestamp, input: GatewayInput) {
        self.record(|| Line::Gateway { at: now, gateway: input.clone() });
        self.gateway.handle(now, input);
        self.drain_gateway(now);
    }

    fn drain_gateway(&mut self, now: Timestamp) {
        while let Some(output) = self.gateway.poll_output() {
            self.route_gateway_output(now, output);
        }
    }

    /// Gateway outputs become frames, closes, and Registry connection records.
    fn route_gateway_output(&mut self, now: Timestamp, output: GatewayOutput) {
        match output {
            GatewayOutput::Send { connection, message } => {
                let frame = encode(&ServerMessage::Worker(message));
                self.effects.push(Effect::Send { connection, frame });
            }
            GatewayOutput::Close { connection, reason } => {
                let goodbye = Some(format!("{reason:?}"));
                self.effects.push(Effect::Close { connection, goodbye });
            }
            GatewayOutput::Event(event) => self.gateway_event(now, event),
        }
    }

    fn gateway_event(&mut self, now: Timestamp, event: GatewayEvent) {
        let master = self.self_master;
        match event {
            GatewayEvent::Attached { worker, connection } => {
                Metrics::add(&self.metrics.attaches, 1);
                tracing::info!(worker = %Escaped(&worker), connection = %connection, "worker attached");
                let command = Command::WorkerConnected { master, worker_name: worker, connection };
                self.registry_command(now, command, ReplyRoute::Local);
                if let Some(Err(error)) = self.last_local_reply.take() {
                    tracing::error!(error = %error, "cannot record a worker connection");
                }
            }
            GatewayEvent::Detached { worker, connection, reason } => {
                if reason == rollcall_core::CloseReason::KeepaliveTimeout {
                    Metrics::add(&self.metrics.keepalive_timeouts, 1);
                }
                tracing::info!(worker = %Escaped(&worker), connection = %connection, ?reason, "worker detached");
                let command =
                    Command::WorkerDisconnected { master, worker_name: worker, connection };
                self.registry_command(now, command, ReplyRoute::Local);
                self.last_local_reply = None;
            }
            GatewayEvent::Rejected { worker, connection, cause } => {
                let counter = match cause {
                    rollcall_core::gateway::RejectionCause::UnknownWorker => {
                        &self.metrics.rejected_unknown_worker
                    }
                    rollcall_core::gateway::RejectionCause::WrongPassword => {
                        &self.metrics.rejected_wrong_password
                    }
                    rollcall_core::gateway::RejectionCause::DuplicateConnection => {
                        &self.metrics.rejected_duplicate
                    }
                };
                Metrics::add(counter, 1);
                if let Verdict::Log { suppressed } = self.rejection_log.check(Instant::now()) {
                    tracing::warn!(worker = %Escaped(&worker), connection = %connection, ?cause, suppressed, "worker rejected");
                }
            }
            GatewayEvent::DuplicateResolved { worker, policy, kept, dropped } => {
                Metrics::add(&self.metrics.duplicates_resolved, 1);
                tracing::info!(worker = %Escaped(&worker), ?policy, kept = %kept, dropped = %dropped, "duplicate connection resolved");
            }
            GatewayEvent::Missing { worker } => {
                tracing::warn!(worker = %Escaped(&worker), "worker missing")
            }
            GatewayEvent::Reconfigured { added, removed, builders_changed } => {
                tracing::info!(?added, ?removed, ?builders_changed, "gateway reconfigured");
            }
            GatewayEvent::ReconfigRejected { reason } => {
                tracing::warn!(reason = %reason, "gateway refused the new configuration");
            }
        }
    }

    fn log_registry_event(&self, event: &RegistryEvent) {
        match event {
            RegistryEvent::MasterStarted { master, name } => {
                tracing::info!(masterid = %master, name = %Escaped(name), "master started");
            }
            RegistryEvent::MasterStopped { master, name, cause } => {
                if *cause == StopCause::Expired {
                    Metrics::add(&self.metrics.masters_expired, 1);
                }
                tracing::info!(masterid = %master, name = %Escaped(name), ?cause, "master stopped");
            }
            other => tracing::debug!(topic = %other.topic(), "registry event"),
        }
    }

    /// Writes a trace line when recording (built only then: most daemons do not record).
    fn record(&mut self, line: impl FnOnce() -> Line) {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.record(&line());
        }
    }

    /// Commits the batch's changes, then carries out its effects in order.
    fn flush(&mut self) -> Result<(), DaemonError> {
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.flush();
        }
        for _ in 0..4 {
            if !self.pending_changes.is_empty() {
                let stats = self.store.commit(&self.pending_changes)?;
                Metrics::add(&self.metrics.storage_batches, 1);
                Metrics::add(&self.metrics.storage_changes, stats.changes as u64);
                self.metrics.observe_fsync(stats.sync_micros);
                self.pending_changes.clear();
            }
            let overflowed = self.apply_effects();
            if overflowed.is_empty() {
                return Ok(());
            }
            // Peers that stopped reading are treated as gone; their detach may produce
            // more changes and effects, flushed on the next round.
            let now = clock::now();
            for connection in overflowed {
                Metrics::add(&self.metrics.outbound_overflows, 1);
                self.connection_closed(now, connection, None);
            }
        }
        Ok(())
    }

    fn apply_effects(&mut self) -> Vec<ConnectionId> {
        let mut overflowed = Vec::new();
        for effect in std::mem::take(&mut self.effects) {
            match effect {
                Effect::Send { connection, frame } => {
                    let Some(peer) = self.peers.get(&connection) else { continue };
                    let limits = &self.config.limits;
                    let full = peer.outbound.would_overflow(
                        frame.len(),
                        limits.max_outbound_frames,
                        limits.max_outbound_bytes,
                    );
                    if full {
                        tracing::warn!(
                            connection = %connection,
                            queued_frames = peer.outbound.frames(),
                            queued_bytes = peer.outbound.bytes(),
                            "peer is not reading; disconnecting it"
                        );
                    }
                    if (full || peer.outbound.try_send(frame).is_err())
                        && !overflowed.contains(&connection)
                    {
                        overflowed.push(connection);
                    }
                }
                Effect::Close { connection, goodbye } => {
                    if let Some(peer) = self.peers.remove(&connection) {
                        if let Some(reason) = goodbye {
                            let _ =
                                peer.outbound.try_send(encode(&ServerMessage::Goodbye { reason }));
                        }
                    }
                }
            }
        }
        overflowed
    }

    /// Closes every connection, stops this master, and makes that durable.
    fn shut_down(mut self, now: Timestamp) -> Result<(), DaemonError> {
        tracing::info!("shutting down");
        let goodbye =
            encode(&ServerMessage::Goodbye { reason: "the master is shutting down".into() });
        for (_, peer) in self.peers.drain() {
            let _ = peer.outbound.try_send(goodbye.clone());
        }
        let master = self.self_master;
        self.local_expecting_success(now, Command::MasterStopped { master })?;
        self.flush()?;
        tracing::info!(masterid = %master, "master stopped; bye");
        Ok(())
    }
}

/// The master a command acts for, where it names one.
fn command_master(command: &Command) -> Option<MasterId> {
    match command {
        Command::MasterActive { .. } | Command::ExpireMasters { .. } => None,
        Command::MasterStopped { master }
        | Command::SetBuilderList { master, .. }
        | Command::SetConfiguredWorkers { master, .. }
        | Command::ClaimService { master, .. }
        | Command::ReleaseService { master, .. }
        | Command::SubmitBuildRequest { master, .. }
        | Command::ClaimBuildRequests { master, .. }
        | Command::UnclaimBuildRequests { master, .. }
        | Command::CompleteBuildRequests { master, .. }
        | Command::StartBuild { master, .. }
        | Command::FinishBuild { master, .. }
        | Command::WorkerConnected { master, .. }
        | Command::WorkerDisconnected { master, .. } => Some(*master),
    }
}

fn encode(message: &ServerMessage) -> Vec<u8> {
    match codec::encode_frame(message) {
        Ok(frame) => frame,
        Err(error) => unreachable!("server messages always encode: {error}"),
    }
}
