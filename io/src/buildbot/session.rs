//! One buildbot-worker connection after the WebSocket upgrade: the Gateway's decisions,
//! translated into what a Buildbot master would say, and the worker's answers back.
//!
//! The master drives this protocol: the worker only answers. So liveness comes from our
//! side: a `keepalive` request every interval, and any answer counts as hearing from the
//! worker. A worker that stops answering (SIGSTOP, a dead host) hits the Gateway's
//! keepalive deadline like any other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::tls::ServerStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::{WebSocketReceiver, WebSocketSender};
use futures_lite::{FutureExt, StreamExt};
use rollcall_core::{ConnectionId, ToWorker};
use serde_json::{json, Value};

use crate::buildbot::decode::{decode_worker_message, FromWorker};
use crate::buildbot::ops;
use crate::codec;
use crate::core_link::inputs::{CoreInput, WorkerMessage};
use crate::wire::ServerMessage;

/// Buildbot master's defaults for `set_worker_settings` (`buildbot/worker/protocols/base.py`).
const NEWLINE_RE: &str = r"(\r\n|\r(?=.)|\033\[u|\033\[[0-9]+;[0-9]+[Hf]|\033\[2J|\x08+)";
const MAX_LINE_LENGTH: u64 = 4096;
const BUFFER_TIMEOUT_S: u64 = 5;
const BUFFER_SIZE: u64 = 64 * 1024;

/// The most of a worker's error result shown in the log.
const MAX_LOGGED_RESULT_BYTES: usize = 512;

/// The most of our requests left unanswered before the worker is considered broken.
const MAX_PENDING_REQUESTS: usize = 1024;

/// What one of our requests was for.
#[derive(Debug)]
enum Pending {
    Print { pong_nonce: Option<u64> },
    Keepalive,
    WorkerInfo,
    Settings,
    StartCommand,
}

/// Directory work started with `start_command`, by command id.
#[derive(Debug)]
enum DirectoryWork {
    List { builders: Arc<[String]>, files: Vec<String> },
    Make,
}

pub(crate) struct Session {
    pub(crate) connection: ConnectionId,
    pub(crate) worker: String,
    pub(crate) core: smol::channel::Sender<CoreInput>,
    pub(crate) keepalive_interval: Duration,
    sender: WebSocketSender<ServerStream>,
    next_seq_number: u64,
    pending: HashMap<u64, Pending>,
    commands: HashMap<String, DirectoryWork>,
    basedir: Option<String>,
    /// The latest builder list, waiting for the worker's basedir.
    waiting_builders: Option<Arc<[String]>>,
}

enum Step {
    FromCore(Option<Vec<u8>>),
    FromWorker(Option<Message>),
    KeepaliveDue,
}

impl Session {
    pub(crate) fn new(
        connection: ConnectionId,
        worker: String,
        core: smol::channel::Sender<CoreInput>,
        keepalive_interval: Duration,
        sender: WebSocketSender<ServerStream>,
    ) -> Session {
        Session {
            connection,
            worker,
            core,
            keepalive_interval,
            sender,
            next_seq_number: 0,
            pending: HashMap::new(),
            commands: HashMap::new(),
            basedir: None,
            waiting_builders: None,
        }
    }

    /// Runs until either side ends the connection, then tells the core.
    pub(crate) async fn run(
        mut self,
        mut receiver: WebSocketReceiver<ServerStream>,
        frames: crate::core_link::outbound::OutboundFrames,
    ) {
        let mut next_keepalive = Instant::now() + self.keepalive_interval;
        loop {
            let step = async { Step::FromCore(frames.recv().await) }
                .or(async { Step::FromWorker(receiver.next().await.and_then(Result::ok)) })
                .or(async {
                    smol::Timer::at(next_keepalive).await;
                    Step::KeepaliveDue
                })
                .await;
            let keep_going = match step {
                Step::FromCore(Some(frame)) => self.handle_core_frame(&frame).await,
                Step::FromCore(None) => false,
                Step::FromWorker(Some(message)) => self.handle_worker_message(message).await,
                Step::FromWorker(None) => false,
                Step::KeepaliveDue => {
                    next_keepalive = Instant::now() + self.keepalive_interval;
                    self.request("keepalive", json!({}), Pending::Keepalive).await
                }
            };
            if !keep_going {
                break;
            }
        }
        let _ = self.sender.close(None).await;
        let closed =
            CoreInput::ConnectionClosed { connection: self.connection, protocol_error: None };
        let _ = self.core.send(closed).await;
    }

    /// A frame the core queued for this worker, in rollcall's own encoding.
    async fn handle_core_frame(&mut self, frame: &[u8]) -> bool {
        let Some(body) = frame.get(4..) else { return false };
        let Ok(message) = codec::decode::<ServerMessage>(body) else { return false };
        match message {
            ServerMessage::Worker(ToWorker::Welcome) => {
                // What a Buildbot master says first; `buildbot-worker start` waits for
                // the log line this print produces.
                self.request(
                    "print",
                    json!({"message": "attached"}),
                    Pending::Print { pong_nonce: None },
                )
                .await
                    && self.request("get_worker_info", json!({}), Pending::WorkerInfo).await
                    && self
                        .request(
                            "set_worker_settings",
                            json!({"args": {
                                "newline_re": NEWLINE_RE,
                                "max_line_length": MAX_LINE_LENGTH,
                                "buffer_timeout": BUFFER_TIMEOUT_S,
                                "buffer_size": BUFFER_SIZE,
                            }}),
                            Pending::Settings,
                        )
                        .await
            }
            ServerMessage::Worker(ToWorker::BuilderList { builders }) => {
                self.waiting_builders = Some(builders);
                self.push_builders().await
            }
            ServerMessage::Worker(ToWorker::Ping { nonce }) => {
                // `ping-old`: any answer to a print shows the old connection is alive.
                let message = json!({"message": "ping"});
                self.request("print", message, Pending::Print { pong_nonce: Some(nonce) }).await
            }
            ServerMessage::Worker(ToWorker::KeepaliveAck) => true,
            ServerMessage::Worker(ToWorker::Rejected { .. })
            | ServerMessage::Goodbye { .. }
            | ServerMessage::NotLeader { .. }
            | ServerMessage::MasterWelcome
            | ServerMessage::Welcome { .. }
            | ServerMessage::Reply { .. } => false,
        }
    }

    /// Starts the directory work for the waiting builder list, once the basedir is known.
    async fn push_builders(&mut self) -> bool {
        let Some(basedir) = self.basedir.clone() else { return true };
        let Some(builders) = self.waiting_builders.take() else { return true };
        let command_id = self.command_id();
        self.commands
            .insert(command_id.clone(), DirectoryWork::List { builders, files: Vec::new() });
        let fields =
            json!({"command_id": command_id, "command_name": "listdir", "args": {"path": basedir}});
        self.request("start_command", fields, Pending::StartCommand).await
    }

    /// Unique for the life of the daemon, not just this connection: a worker keeps
    /// running a command across a reconnect, and its late updates must not be mistaken for
    /// a new command's.
    fn command_id(&mut self) -> String {
        static NEXT_COMMAND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT_COMMAND.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string()
    }

    async fn handle_worker_message(&mut self, message: Message) -> bool {
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Close(_) => return false,
            // Text frames are ignored, as Buildbot ignores them; pings are answered by
            // the WebSocket layer.
            _ => return true,
        };
        let Ok(message) = decode_worker_message(&bytes) else {
            tracing::warn!(worker = %self.worker, "undecodable message from a buildbot worker; closing");
            return false;
        };
        let seq_number = match message {
            FromWorker::Response { seq_number, failed, result } => {
                return self.response(seq_number, failed, result).await;
            }
            FromWorker::Update { seq_number, command_id, args } => {
                if let Some(DirectoryWork::List { files, .. }) = self.commands.get_mut(&command_id)
                {
                    if let Some(found) = args.as_ref().and_then(ops::files_in_update) {
                        files.extend(found);
                    }
                }
                seq_number
            }
            FromWorker::Complete { seq_number, command_id } => {
                if let Some(work) = self.commands.remove(&command_id) {
                    // Answer first: the worker waits for this before it is done.
                    if !self.send(&ops::response(seq_number)).await {
                        return false;
                    }
                    return self.command_complete(work).await;
                }
                seq_number
            }
            FromWorker::Other { seq_number } => seq_number,
        };
        self.send(&ops::response(seq_number)).await
    }

    async fn command_complete(&mut self, work: DirectoryWork) -> bool {
        let DirectoryWork::List { builders, files } = work else {
            tracing::info!(worker = %self.worker, "builder directories ready");
            return true;
        };
        let Some(basedir) = self.basedir.clone() else { return true };
        let missing: Vec<String> = builders
            .iter()
            .map(|builder| ops::builder_directory(builder))
            .filter(|directory| !files.contains(directory))
            .map(|directory| format!("{}/{directory}", basedir.trim_end_matches('/')))
            .collect();
        if missing.is_empty() {
            return true;
        }
        let command_id = self.command_id();
        self.commands.insert(command_id.clone(), DirectoryWork::Make);
        let fields =
            json!({"command_id": command_id, "command_name": "mkdir", "args": {"paths": missing}});
        self.request("start_command", fields, Pending::StartCommand).await
    }

    async fn response(&mut self, seq_number: u64, failed: bool, result: Value) -> bool {
        let Some(pending) = self.pending.remove(&seq_number) else { return true };
        if failed {
            // JSON text escapes every control character; the cut keeps one line short.
            let mut shown = result.to_string();
            if shown.len() > MAX_LOGGED_RESULT_BYTES {
                let cut = (0..=MAX_LOGGED_RESULT_BYTES)
                    .rev()
                    .find(|&index| shown.is_char_boundary(index))
                    .unwrap_or(0);
                shown.truncate(cut);
                shown.push_str("...");
            }
            tracing::warn!(worker = %self.worker, ?pending, result = %shown, "the worker refused a request");
        }
        let heard = match pending {
            Pending::Print { pong_nonce: Some(nonce) } => WorkerMessage::Pong { nonce },
            Pending::WorkerInfo if !failed => {
                self.basedir = result.get("basedir").and_then(Value::as_str).map(String::from);
                let mut info = result;
                if let Some(map) = info.as_object_mut() {
                    // The worker's whole environment may hold secrets: never kept.
                    map.remove("environ");
                }
                let report = CoreInput::WorkerInfo { connection: self.connection, info };
                if self.core.send(report).await.is_err() {
                    return false;
                }
                if !self.push_builders().await {
                    return false;
                }
                WorkerMessage::Keepalive
            }
            _ => WorkerMessage::Keepalive,
        };
        let input = CoreInput::WorkerMessage { connection: self.connection, message: heard };
        self.core.send(input).await.is_ok()
    }

    async fn request(&mut self, op: &str, fields: Value, purpose: Pending) -> bool {
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            tracing::warn!(worker = %self.worker, "a buildbot worker stopped answering; closing");
            return false;
        }
        let seq_number = self.next_seq_number;
        self.next_seq_number += 1;
        self.pending.insert(seq_number, purpose);
        self.send(&ops::request(op, seq_number, fields)).await
    }

    async fn send(&mut self, message: &Value) -> bool {
        self.sender.send(Message::binary(ops::encode(message))).await.is_ok()
    }
}
