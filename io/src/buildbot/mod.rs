//! Buildbot's own workers: the master side of `msgpack_experimental_v7` (MessagePack over
//! WebSocket), on `[listen] buildbot_workers`, feeding the same Gateway as rollcall's own
//! protocol, so roster, duplicate policy, keepalive deadline, events and REST are shared.

mod auth;
mod ops;
mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_net::{TcpListener, TcpStream};
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::StatusCode;
use futures_lite::FutureExt;
use rollcall_core::{ConnectionId, Password};

use crate::daemon::connection::{GaugeGuard, NetShared};
use crate::daemon::inputs::CoreInput;
use crate::daemon::log_limit::{LogLimiter, Verdict};
use crate::daemon::metrics::Metrics;

/// Who may attach, for refusing bad credentials during the upgrade with a 401, as a
/// Buildbot master does. Kept current by the core thread (startup and every reconfig); the
/// Gateway still authenticates every Hello itself.
pub(crate) type Credentials = Arc<RwLock<HashMap<String, Password>>>;

/// Connection ids of this listener count down from the top, so they never meet the
/// workers' port's, which count up from 1.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(u64::MAX);

pub(crate) struct Listener {
    pub(crate) shared: Arc<NetShared>,
    pub(crate) credentials: Credentials,
    pub(crate) keepalive_interval: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_handshaking: usize,
    pub(crate) rejections: Arc<Mutex<LogLimiter>>,
}

/// Accepts buildbot-worker connections until `stop` fires.
pub(crate) async fn accept(
    listener: TcpListener,
    config: Arc<Listener>,
    stop: smol::channel::Receiver<()>,
) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            let _ = stop.recv().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        let Ok((stream, _)) = accepted else {
            smol::Timer::after(Duration::from_millis(50)).await;
            continue;
        };
        let shared = &config.shared;
        let open = shared.open.fetch_add(1, Ordering::Relaxed) + 1;
        let handshaking = shared.handshaking.fetch_add(1, Ordering::Relaxed) + 1;
        if open > config.max_connections || handshaking > config.max_handshaking {
            shared.open.fetch_sub(1, Ordering::Relaxed);
            shared.handshaking.fetch_sub(1, Ordering::Relaxed);
            Metrics::add(&shared.metrics.rejected_handshake_limit, 1);
            continue;
        }
        let connection = ConnectionId(NEXT_CONNECTION.fetch_sub(1, Ordering::Relaxed));
        smol::spawn(serve(stream, connection, Arc::clone(&config))).detach();
    }
}

/// What the upgrade decided.
enum Upgrade {
    Accepted { name: String, password: String },
    Refused,
}

async fn serve(stream: TcpStream, connection: ConnectionId, config: Arc<Listener>) {
    let shared = Arc::clone(&config.shared);
    let _open = GaugeGuard(&shared.open);
    let handshaking = GaugeGuard(&shared.handshaking);
    let _ = stream.set_nodelay(true);
    let decision = Arc::new(Mutex::new(Upgrade::Refused));
    #[expect(clippy::result_large_err, reason = "the signature tungstenite's Callback requires")]
    let callback = {
        let (decision, config) = (Arc::clone(&decision), Arc::clone(&config));
        move |request: &Request, response: Response| {
            check_upgrade(request, response, &decision, &config)
        }
    };
    let upgraded = async { Some(async_tungstenite::accept_hdr_async(stream, callback).await) }
        .or(async {
            smol::Timer::after(shared.handshake_timeout).await;
            None
        })
        .await;
    let Some(Ok(websocket)) = upgraded else { return };
    drop(handshaking);
    let (name, password) = match std::mem::replace(&mut *lock(&decision), Upgrade::Refused) {
        Upgrade::Accepted { name, password } => (name, password),
        Upgrade::Refused => return,
    };
    // The core enforces `max_outbound_frames` (see `daemon::connection`).
    let (outbound, frames) = smol::channel::unbounded();
    let hello = CoreInput::WorkerHello {
        connection,
        name: name.clone(),
        password: Password::new(password),
        outbound,
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
}

/// Buildbot's rules for the upgrade: no Authorization header is a 401, an undecodable one
/// a 400, unknown names and wrong passwords the same 401. Refusals write nothing anywhere
/// and are logged at a limited rate: a refused worker retries every couple of seconds.
// The callback's signature is the WebSocket library's: its error type is an HTTP response.
#[expect(clippy::result_large_err, reason = "the signature tungstenite's Callback requires")]
fn check_upgrade(
    request: &Request,
    response: Response,
    decision: &Mutex<Upgrade>,
    config: &Listener,
) -> Result<Response, ErrorResponse> {
    let header = request.headers().get("authorization").map(|value| value.as_bytes());
    let (name, password) = match auth::decode_basic(header) {
        Ok(credentials) => credentials,
        Err(auth::AuthError::Missing) => {
            return Err(refuse(config, StatusCode::UNAUTHORIZED, "no credentials", ""))
        }
        Err(auth::AuthError::Undecodable) => {
            return Err(refuse(config, StatusCode::BAD_REQUEST, "undecodable credentials", ""));
        }
    };
    let known = read_lock(&config.credentials).get(&name).cloned();
    let matches =
        known.as_ref().is_some_and(|expected| expected.matches(&Password::new(password.clone())));
    if !matches {
        let counter = if known.is_some() {
            &config.shared.metrics.rejected_wrong_password
        } else {
            &config.shared.metrics.rejected_unknown_worker
        };
        Metrics::add(counter, 1);
        return Err(refuse(config, StatusCode::UNAUTHORIZED, "authentication failed", &name));
    }
    *lock(decision) = Upgrade::Accepted { name, password };
    Ok(response)
}

fn refuse(config: &Listener, status: StatusCode, why: &str, worker: &str) -> ErrorResponse {
    if let Verdict::Log { suppressed } = lock(&config.rejections).check(Instant::now()) {
        tracing::warn!(worker = %worker, status = status.as_u16(), suppressed, "buildbot worker refused: {why}");
    }
    let mut response = ErrorResponse::new(Some(format!("{why}\n")));
    *response.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        if let Ok(value) = "Basic realm=\"buildbot\"".parse() {
            response.headers_mut().insert("WWW-Authenticate", value);
        }
    }
    response
}

/// Locks that cannot be poisoned in practice: nothing panics while holding them. A
/// poisoned lock still holds consistent data here, so it is used as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
