//! Buildbot's own workers: the master side of `msgpack_experimental_v7` (MessagePack over
//! WebSocket), on `[listen] buildbot_workers`, feeding the same Gateway as rollcall's own
//! protocol, so roster, duplicate policy, keepalive deadline, events and REST are shared.

mod auth;
pub(crate) mod decode;
mod ops;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::WebSocketStream;
use futures_lite::AsyncWriteExt;
use rollcall_core::{ConnectionId, Password};

use crate::acceptor::{before_deadline, Admission, Refusal};
use crate::core_link::inputs::CoreInput;
use crate::core_link::NetShared;
use crate::http::front::{self, HeadRead};
use crate::logging::Escaped;
use crate::metrics::Metrics;
use crate::tls::ServerStream;

mod upgrade;

/// Who may attach, for refusing bad credentials during the upgrade with a 401, as a
/// Buildbot master does. Kept current by the core thread (startup and every reconfig); the
/// Gateway still authenticates every Hello itself.
pub(crate) type Credentials = Arc<RwLock<HashMap<String, Password>>>;

/// Connection ids of this listener count down from the top, so they never meet the
/// workers' port's, which count up from 1.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(u64::MAX);

/// How long a refusal may take to write before the connection is dropped anyway.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Listener {
    pub(crate) shared: Arc<NetShared>,
    pub(crate) credentials: Credentials,
    pub(crate) keepalive_interval: Duration,
}

/// The next connection id of this port.
pub(crate) fn next_connection() -> ConnectionId {
    ConnectionId(NEXT_CONNECTION.fetch_sub(1, Ordering::Relaxed))
}

/// Serves one admitted buildbot-worker connection: the upgrade (ours, from validated bytes),
/// then the session.
pub(crate) async fn serve(
    mut stream: ServerStream,
    peer: SocketAddr,
    mut admission: Admission,
    connection: ConnectionId,
    config: Arc<Listener>,
) {
    let shared = Arc::clone(&config.shared);
    let port = Arc::clone(admission.port());
    let _ = stream.socket().set_nodelay(true);
    let mut buffer = Vec::with_capacity(1024);
    let read = before_deadline(&admission, front::read_head(&mut stream, &mut buffer)).await;
    let end = match read {
        // PB's server speaks first, so a PB worker sends nothing and waits: say so.
        None if buffer.is_empty() => {
            let seconds = port.limits.handshake_timeout.as_secs();
            port.refused(
                Refusal::NoUpgrade,
                peer,
                &format!(
                    ": no WebSocket upgrade from {peer} within {seconds} s: a buildbot-worker created without --protocol msgpack_experimental_v7 speaks PB, which this port does not"
                ),
            );
            return;
        }
        None => {
            port.refused(Refusal::HandshakeTimeout, peer, ": the upgrade request stalled");
            return;
        }
        Some(HeadRead::Closed) => return,
        Some(HeadRead::TooLarge) => {
            let error = crate::http::head::HeadError::HeadTooLarge;
            port.refused(Refusal::BadRequest(error.label()), peer, "");
            let answer = front::error_response_with(error.status(), &error.to_string(), "");
            return front::send_and_close(stream, &answer, REFUSAL_WRITE_TIMEOUT).await;
        }
        Some(HeadRead::Complete(end)) => end,
    };
    let request = match upgrade::parse_upgrade(&buffer[..end]) {
        Ok(request) => request,
        Err(error) => {
            let hint = if buffer.starts_with(b"GET ") || buffer.starts_with(b"HEAD ") {
                String::new()
            } else {
                // Not HTTP at all: most likely another protocol pointed at this port.
                " (not an HTTP request: is this worker using PB? Buildbot workers must be created with --protocol msgpack_experimental_v7)".to_string()
            };
            port.refused(
                Refusal::BadRequest(error.label),
                peer,
                &format!(": {}{hint}", error.message),
            );
            let extra = if error.status == 426 { "Sec-WebSocket-Version: 13\r\n" } else { "" };
            let answer = front::error_response_with(error.status, &error.message, extra);
            return front::send_and_close(stream, &answer, REFUSAL_WRITE_TIMEOUT).await;
        }
    };
    let (name, password) = match check_credentials(&request, &config) {
        Ok(credentials) => credentials,
        Err((status, why, worker)) => {
            refusal_log(&port, peer, status, why, &worker);
            let extra =
                if status == 401 { "WWW-Authenticate: Basic realm=\"buildbot\"\r\n" } else { "" };
            let answer = front::error_response_with(status, why, extra);
            return front::send_and_close(stream, &answer, REFUSAL_WRITE_TIMEOUT).await;
        }
    };
    let accept = derive_accept_key(&request.key);
    let switching = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let written = before_deadline(&admission, stream.write_all(switching.as_bytes())).await;
    if !matches!(written, Some(Ok(()))) {
        return;
    }
    admission.trusted();
    let max_message = shared.max_frame_bytes as usize;
    let websocket_config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    // A worker speaks only when asked, so nothing should follow the head; whatever did is
    // the start of the WebSocket stream.
    let rest = buffer.split_off(end);
    let websocket =
        WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(websocket_config))
            .await;
    // The core enforces `max_outbound_frames` and `max_outbound_bytes`.
    let (outbound, frames) = crate::core_link::outbound::channel();
    let hello = CoreInput::WorkerHello {
        connection,
        peer,
        name: name.clone(),
        password: crate::credentials::password_key(&password),
        outbound,
        // The bridge reads its own frames back (`session`): they stay bincode.
        encoding: crate::codec::Encoding::Bincode,
    };
    if shared.core.send(hello).await.is_err() {
        return;
    }
    let (sender, receiver) = websocket.split();
    let session = session::Session::new(
        connection,
        name,
        shared.core.clone(),
        config.keepalive_interval,
        sender,
    );
    session.run(receiver, frames).await;
    drop(admission);
}

/// Who a worker stands for being refused as: status, reason, the name it gave.
type CredentialRefusal = (u16, &'static str, String);

/// Buildbot's rules for the upgrade: no Authorization header is a 401, an undecodable one
/// a 400, unknown names and wrong passwords the same 401 after the same work (a comparison
/// against a stand-in password for an unknown name), so a refusal's timing says nothing
/// about which names exist.
fn check_credentials(
    request: &upgrade::UpgradeRequest,
    config: &Listener,
) -> Result<(String, String), CredentialRefusal> {
    let (name, password) = match auth::decode_basic(request.authorization.as_deref()) {
        Ok(credentials) => credentials,
        Err(auth::AuthError::Missing) => return Err((401, "no credentials", String::new())),
        Err(auth::AuthError::Undecodable) => {
            return Err((400, "undecodable credentials", String::new()))
        }
    };
    let known = read_lock(&config.credentials).get(&name).cloned();
    let offered = crate::credentials::password_key(&password);
    let matches = match &known {
        Some(expected) => expected.matches(&offered),
        None => {
            let _ = stand_in_password().matches(&offered);
            false
        }
    };
    if !matches {
        let counter = if known.is_some() {
            &config.shared.metrics.rejected_wrong_password
        } else {
            &config.shared.metrics.rejected_unknown_worker
        };
        Metrics::add(counter, 1);
        return Err((401, "authentication failed", name));
    }
    Ok((name, password))
}

/// Compared against for names nobody configured: a digest like every configured one, so
/// the comparison costs what a real one does.
fn stand_in_password() -> &'static Password {
    static STAND_IN: std::sync::OnceLock<Password> = std::sync::OnceLock::new();
    STAND_IN.get_or_init(|| crate::credentials::password_key("rollcall-stand-in"))
}

/// Refusals write nothing anywhere and are logged at a limited rate: a refused worker
/// retries every couple of seconds.
fn refusal_log(
    port: &crate::acceptor::Port,
    peer: SocketAddr,
    status: u16,
    why: &str,
    worker: &str,
) {
    let label = if status == 400 { "bad_credentials" } else { "authentication_failed" };
    port.refused(
        Refusal::Credentials(label),
        peer,
        &format!(": {why} (HTTP {status}, worker \"{}\")", Escaped(worker)),
    );
}

/// Nothing panics while holding these locks; a poisoned one still holds consistent data.
fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The credentials a roster allows.
pub(crate) fn credentials_of(roster: &rollcall_core::Roster) -> HashMap<String, Password> {
    roster.iter().map(|worker| (worker.name.clone(), worker.password.clone())).collect()
}
