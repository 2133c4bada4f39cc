//! One TCP connection: the handshake, then a reader that turns frames into core inputs and
//! a writer that drains the connection's outbound queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::TcpStream;
use futures_lite::io::BufReader;
use futures_lite::{AsyncWriteExt, FutureExt};
use rollcall_core::ConnectionId;

use crate::codec::{self, FrameError};
use crate::daemon::inputs::{CoreInput, WorkerMessage};
use crate::daemon::metrics::Metrics;
use crate::wire::{ClientMessage, Role, ServerMessage, PROTOCOL_VERSION};

/// The read buffer of each connection.
const READ_BUFFER_BYTES: usize = 1024;

/// A writer that cannot hand a frame to the kernel for this long gives up on the peer.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct NetShared {
    pub(crate) core: smol::channel::Sender<CoreInput>,
    pub(crate) max_frame_bytes: u32,
    pub(crate) handshake_timeout: Duration,
    pub(crate) handshaking: AtomicUsize,
    pub(crate) open: AtomicUsize,
    pub(crate) metrics: Arc<Metrics>,
}

/// Decrements a gauge when dropped, however the task ends.
pub(crate) struct GaugeGuard<'a>(pub(crate) &'a AtomicUsize);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum Session {
    Worker,
    Master,
}

/// Serves one accepted connection to its end. The caller has already counted it in
/// `open` and `handshaking`; this function releases both.
pub(crate) async fn serve(stream: TcpStream, connection: ConnectionId, shared: Arc<NetShared>) {
    let _open = GaugeGuard(&shared.open);
    let handshaking = GaugeGuard(&shared.handshaking);
    let _ = stream.set_nodelay(true);
    // Small: most frames are tiny, and this buffer is held by every idle connection.
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stream.clone());

    let hello = async { Some(codec::read_frame(&mut reader, shared.max_frame_bytes).await) }
        .or(async {
            smol::Timer::after(shared.handshake_timeout).await;
            None
        })
        .await;
    let (session, role) = match hello {
        None => {
            let reason = format!("no Hello within {} s", shared.handshake_timeout.as_secs());
            return refuse(stream, &shared, reason).await;
        }
        Some(Err(FrameError::Closed)) => return,
        Some(Err(error)) => return refuse(stream, &shared, error.to_string()).await,
        Some(Ok(body)) => match codec::decode::<ClientMessage>(&body) {
            Ok(ClientMessage::Hello { protocol_version, role })
                if protocol_version == PROTOCOL_VERSION =>
            {
                match &role {
                    Role::Worker { .. } => (Session::Worker, role),
                    Role::Master { .. } => (Session::Master, role),
                }
            }
            Ok(ClientMessage::Hello { protocol_version, .. }) => {
                let reason = format!(
                    "protocol version {protocol_version} is not supported; this daemon speaks {PROTOCOL_VERSION}"
                );
                return refuse(stream, &shared, reason).await;
            }
            Ok(_) => {
                return refuse(stream, &shared, "the first frame must be a Hello".into()).await
            }
            Err(error) => return refuse(stream, &shared, error.to_string()).await,
        },
    };
    drop(handshaking);

    // Unbounded as a channel (a bounded one reserves every slot up front, 32 KiB per idle
    // connection); the core enforces `max_outbound_frames` itself before each send.
    let (outbound, frames) = smol::channel::unbounded();
    smol::spawn(write_frames(stream.clone(), frames)).detach();
    let hello_input = match role {
        Role::Worker { name, password } => {
            CoreInput::WorkerHello { connection, name, password, outbound }
        }
        Role::Master { name } => CoreInput::MasterHello { connection, name, outbound },
    };
    if shared.core.send(hello_input).await.is_err() {
        return;
    }

    let protocol_error = loop {
        let body = match codec::read_frame(&mut reader, shared.max_frame_bytes).await {
            Ok(body) => body,
            Err(FrameError::Closed | FrameError::Io(_)) => break None,
            Err(error @ FrameError::TooLarge { .. }) => break Some(error.to_string()),
        };
        let message = match codec::decode::<ClientMessage>(&body) {
            Ok(message) => message,
            Err(error) => break Some(error.to_string()),
        };
        let input = match (&session, message) {
            (Session::Worker, ClientMessage::Keepalive) => WorkerMessage::Keepalive,
            (Session::Worker, ClientMessage::Pong { nonce }) => WorkerMessage::Pong { nonce },
            (Session::Worker, ClientMessage::BuilderListAck) => WorkerMessage::BuilderListAck,
            (Session::Master, ClientMessage::Request { request_id, command }) => {
                let input = CoreInput::MasterRequest { connection, request_id, command };
                if shared.core.send(input).await.is_err() {
                    return;
                }
                continue;
            }
            (_, ClientMessage::Hello { .. }) => break Some("a second Hello".into()),
            (Session::Worker, _) => break Some("a master request on a worker connection".into()),
            (Session::Master, _) => break Some("a worker message on a master connection".into()),
        };
        let input = CoreInput::WorkerMessage { connection, message: input };
        if shared.core.send(input).await.is_err() {
            return;
        }
    };
    let _ = shared.core.send(CoreInput::ConnectionClosed { connection, protocol_error }).await;
}

/// Ends a connection that failed its handshake: tell the peer why, count it, close.
async fn refuse(mut stream: TcpStream, shared: &NetShared, reason: String) {
    Metrics::add(&shared.metrics.frames_rejected, 1);
    tracing::debug!(reason = %reason, "handshake refused");
    if let Ok(frame) = codec::encode_frame(&ServerMessage::Goodbye { reason }) {
        let write = async { stream.write_all(&frame).await.is_ok() };
        let _ = write
            .or(async {
                smol::Timer::after(Duration::from_secs(1)).await;
                false
            })
            .await;
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Writes queued frames until the core drops the queue (the connection is to close) or the
/// peer stops taking them, then shuts the socket down, which also ends the reader.
async fn write_frames(mut stream: TcpStream, frames: smol::channel::Receiver<Vec<u8>>) {
    let mut buffer = Vec::new();
    while let Ok(frame) = frames.recv().await {
        buffer.clear();
        buffer.extend_from_slice(&frame);
        // Coalesce what is already queued into one write.
        while buffer.len() < 64 * 1024 {
            let Ok(more) = frames.try_recv() else { break };
            buffer.extend_from_slice(&more);
        }
        let written = async { stream.write_all(&buffer).await.is_ok() }
            .or(async {
                smol::Timer::after(WRITE_STALL_TIMEOUT).await;
                false
            })
            .await;
        if !written {
            break;
        }
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
