//! One TCP connection: the handshake, then a reader that turns frames into core inputs and
//! a writer that drains the connection's outbound queue.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::TcpStream;
use futures_lite::io::{BufReader, WriteHalf};
use futures_lite::{AsyncWriteExt, FutureExt};
use rollcall_core::{ConnectionId, MAX_NAME_BYTES};

use crate::acceptor::{before_deadline, Admission, Refusal};
use crate::codec::{self, Encoding, FrameError};
use crate::core_link::inputs::{CoreInput, WorkerMessage};
use crate::core_link::outbound::OutboundFrames;
use crate::core_link::NetShared;
use crate::metrics::Metrics;
use crate::tls::{ServerStream, ServerTls};
use crate::wire::{AcceptedHello, ClientMessage, Role, ServerMessage};

/// How long a closing connection may take to send what TLS still holds and its
/// close_notify before the socket is shut regardless.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The read buffer of each connection.
const READ_BUFFER_BYTES: usize = 1024;

/// A writer that cannot hand a frame to the kernel for this long gives up on the peer.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest Hello: a name and a password at the core's limits, and the framing around
/// them. Refused beyond before anything is decoded, so an unauthenticated peer cannot make
/// the daemon allocate or hold more than this.
const MAX_HELLO_BYTES: u32 = 4 * 1024;

enum Session {
    Worker,
    Master,
}

/// Serves one admitted connection to its end; dropping `admission` gives its slots back.
pub(crate) async fn serve(
    stream: ServerStream,
    peer: SocketAddr,
    mut admission: Admission,
    connection: ConnectionId,
    shared: Arc<NetShared>,
) {
    let socket = stream.socket().clone();
    let _ = socket.set_nodelay(true);
    let client_certificate = stream.client_certificate_names();
    let (reading, writing) = futures_lite::io::split(stream);
    // Small: most frames are tiny, and this buffer is held by every idle connection.
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, reading);

    let hello_limit = MAX_HELLO_BYTES.min(shared.max_frame_bytes);
    let hello = before_deadline(&admission, codec::read_frame(&mut reader, hello_limit)).await;
    let refusal = |refusal, reason: String| (refusal, reason);
    // A refusal is said in the encoding the client asked for, when its first byte names one.
    let mut encoding = Encoding::Bincode;
    let decided = match hello {
        None => {
            let seconds = admission.port().limits.handshake_timeout.as_secs();
            Err(refusal(Refusal::HandshakeTimeout, format!("no Hello within {seconds} s")))
        }
        Some(Err(FrameError::Closed)) => return,
        Some(Err(error)) => Err(refusal(Refusal::BadHandshake, error.to_string())),
        Some(Ok(body)) => {
            if let Some(asked) = body.first().copied().and_then(Encoding::from_byte) {
                encoding = asked;
            }
            check_hello(&body).and_then(|(session, hello)| {
                check_master_certificate(&hello.role, &shared.tls, client_certificate.as_ref())?;
                Ok((session, hello))
            })
        }
    };
    let (session, AcceptedHello { encoding, protocol_version, role }) = match decided {
        Ok(decided) => decided,
        Err((why, reason)) => {
            return refuse(writing, socket, peer, &admission, encoding, why, reason).await;
        }
    };
    // Held until this task ends: the count of master sessions.
    let _master_session = match session {
        Session::Master => match MasterSessionGuard::take(&shared) {
            Some(guard) => Some(guard),
            None => {
                let reason = format!(
                    "the daemon is at its limit of {} master sessions",
                    shared.max_master_sessions
                );
                let why = Refusal::MasterSessionsFull;
                return refuse(writing, socket, peer, &admission, encoding, why, reason).await;
            }
        },
        Session::Worker => None,
    };
    admission.trusted();

    // The core enforces `max_outbound_frames` and `max_outbound_bytes` before each send.
    let (outbound, frames) = crate::core_link::outbound::channel();
    smol::spawn(write_frames(writing, socket, frames)).detach();
    let hello_input = match role {
        Role::Worker { name, password } => {
            let password = crate::credentials::password_key(password.expose_secret());
            CoreInput::WorkerHello { connection, peer, name, password, outbound, encoding }
        }
        Role::Master { name, token } => {
            CoreInput::MasterHello { connection, name, token, outbound, encoding, protocol_version }
        }
    };
    if shared.core.send(hello_input).await.is_err() {
        return;
    }

    let protocol_error = loop {
        let read = codec::read_frame(&mut reader, shared.max_frame_bytes);
        let read = match session {
            // Workers are held to the Gateway's keepalive deadline; a master session to
            // this one, so an idle or wedged one does not hold its slot and memory forever.
            Session::Master => {
                let idle = shared.master_idle_timeout;
                let read = async { Some(read.await) }.or(async {
                    smol::Timer::after(idle).await;
                    None
                });
                match read.await {
                    Some(read) => read,
                    None => {
                        break Some(format!(
                            "no request for {} s: an idle master session is closed",
                            idle.as_secs()
                        ))
                    }
                }
            }
            Session::Worker => read.await,
        };
        let body = match read {
            Ok(body) => body,
            Err(FrameError::Closed | FrameError::Io(_)) => break None,
            Err(error @ FrameError::TooLarge { .. }) => break Some(error.to_string()),
        };
        // Every frame of a session is in the encoding its Hello chose.
        let message = match codec::decode_as::<ClientMessage>(encoding, &body) {
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

/// The session a first frame asks for, or why it is refused.
fn check_hello(body: &[u8]) -> Result<(Session, AcceptedHello), (Refusal, String)> {
    let hello = crate::wire::accept_hello(body)
        .map_err(|error| (Refusal::BadHandshake, error.to_string()))?;
    match &hello.role {
        Role::Worker { name, .. } | Role::Master { name, .. } if name.len() > MAX_NAME_BYTES => {
            Err((
                Refusal::BadHandshake,
                format!("a name of {} bytes: the limit is {MAX_NAME_BYTES}", name.len()),
            ))
        }
        Role::Worker { .. } => Ok((Session::Worker, hello)),
        Role::Master { .. } => Ok((Session::Master, hello)),
    }
}

/// With `[tls] client_ca`, a master must present a certificate (rustls verified it against
/// the CA) that names it; workers need none.
fn check_master_certificate(
    role: &Role,
    tls: &ServerTls,
    certificate: Option<&crate::tls::CertificateNames>,
) -> Result<(), (Refusal, String)> {
    let Role::Master { name, .. } = role else { return Ok(()) };
    if !tls.masters_need_certificate() {
        return Ok(());
    }
    match certificate {
        None => Err((
            Refusal::MasterCertificate,
            "this daemon requires masters to present a client certificate signed by its \
             client_ca (--cert, --key)"
                .into(),
        )),
        Some(names) if !names.names_master(name) => Err((
            Refusal::MasterCertificate,
            format!(
                "the client certificate names {}, not the master {name:?}: its DNS or URI \
                 subject alternative name must be the master's name",
                names.describe()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// One slot of `max_master_sessions`, given back when dropped.
struct MasterSessionGuard<'a>(&'a AtomicUsize);

impl<'a> MasterSessionGuard<'a> {
    fn take(shared: &'a NetShared) -> Option<MasterSessionGuard<'a>> {
        let taken = shared.master_sessions.fetch_add(1, Ordering::Relaxed);
        if taken >= shared.max_master_sessions {
            shared.master_sessions.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(MasterSessionGuard(&shared.master_sessions))
    }
}

impl Drop for MasterSessionGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ends a connection that failed its handshake: count it, log it (rate-limited), tell the
/// peer why, close.
async fn refuse(
    mut stream: WriteHalf<ServerStream>,
    socket: TcpStream,
    peer: SocketAddr,
    admission: &Admission,
    encoding: Encoding,
    why: Refusal,
    reason: String,
) {
    let port = admission.port();
    Metrics::add(&port.metrics.frames_rejected, 1);
    port.refused_because(why, peer, &reason);
    if let Ok(frame) = codec::encode_frame_as(encoding, &ServerMessage::Goodbye { reason }) {
        let write = async {
            let _ = stream.write_all(&frame).await;
            let _ = stream.close().await;
        };
        write
            .or(async {
                smol::Timer::after(CLOSE_TIMEOUT).await;
            })
            .await;
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// Writes queued frames until the core drops the queue (the connection is to close) or the
/// peer stops taking them, then shuts the socket down, which also ends the reader.
async fn write_frames(
    mut stream: WriteHalf<ServerStream>,
    socket: TcpStream,
    frames: OutboundFrames,
) {
    let mut buffer = Vec::new();
    while let Some(frame) = frames.recv().await {
        buffer.clear();
        buffer.extend_from_slice(&frame);
        // Coalesce what is already queued into one write.
        while buffer.len() < 64 * 1024 {
            let Some(more) = frames.try_recv() else { break };
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
    let close = async {
        let _ = stream.close().await;
    };
    close
        .or(async {
            smol::Timer::after(CLOSE_TIMEOUT).await;
        })
        .await;
    let _ = socket.shutdown(std::net::Shutdown::Both);
}
