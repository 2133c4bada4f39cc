//! The workers' port: accepts connections within the limits and hands each to its task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::TcpListener;
use rollcall_core::ConnectionId;

use crate::daemon::connection::{self, NetShared};
use crate::daemon::metrics::Metrics;

/// Accepts until `stop` fires. Connections over `max_connections` in all, or over
/// `max_handshaking` still in their handshake, are closed at once: a flood of idle sockets
/// cannot starve the workers already attached.
pub(crate) async fn accept(
    listener: TcpListener,
    shared: Arc<NetShared>,
    max_connections: usize,
    max_handshaking: usize,
    stop: smol::channel::Receiver<()>,
) {
    static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            let _ = stop.recv().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors, typically: back off instead of spinning.
                tracing::warn!(error = %error, "accept failed");
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let open = shared.open.fetch_add(1, Ordering::Relaxed) + 1;
        let handshaking = shared.handshaking.fetch_add(1, Ordering::Relaxed) + 1;
        if open > max_connections || handshaking > max_handshaking {
            shared.open.fetch_sub(1, Ordering::Relaxed);
            shared.handshaking.fetch_sub(1, Ordering::Relaxed);
            Metrics::add(&shared.metrics.rejected_handshake_limit, 1);
            tracing::debug!(%peer, open, handshaking, "connection refused: over the limit");
            drop(stream);
            continue;
        }
        let connection = ConnectionId(NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed));
        smol::spawn(connection::serve(stream, connection, Arc::clone(&shared))).detach();
    }
}
