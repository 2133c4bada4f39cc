//! The one acceptor behind every port (rollcall's workers and masters, Buildbot's workers,
//! HTTP): it admits each connection within its port's caps and hands it, with its
//! [`Admission`], to the port's handler, which must release the handshake slot
//! ([`Admission::trusted`]) once the peer has said who it is, within the port's handshake
//! deadline. On a TLS port the handshake is taken first, in the connection's own task and
//! within the same deadline, so a slow or silent TLS client holds only its own slot. Accept
//! errors (out of file descriptors, a connection reset before it was
//! accepted) back off and go on: a listener never ends before it is told to stop.

mod admission;
mod refusal;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::TcpListener;

pub(crate) use admission::{Admission, Port, PortLimits, PortName};
pub(crate) use refusal::Refusal;

use crate::log_limit::{LogLimiter, Verdict};
use crate::tls::server::secure;
use crate::tls::{ServerStream, ServerTls, Stream};

/// The first wait after a failed accept; doubled on each failure in a row, up to the max.
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts on `listener` until `stop` fires (or its sender is dropped), spawning a task for
/// each admitted connection that takes its TLS handshake (when `tls` is on) and then runs
/// `serve`.
pub(crate) async fn run<F, Fut>(
    listener: TcpListener,
    port: Arc<Port>,
    tls: Arc<ServerTls>,
    stop: smol::channel::Receiver<()>,
    serve: F,
) where
    F: Fn(ServerStream, SocketAddr, Admission) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve = Arc::new(serve);
    let mut backoff = ACCEPT_BACKOFF_START;
    let mut error_log = LogLimiter::new(Duration::from_secs(10), 5);
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            let _ = stop.recv().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = ACCEPT_BACKOFF_START;
                pair
            }
            Err(error) => {
                port.metrics.accept_error(port.name.label());
                if let Verdict::Log { suppressed } = error_log.check(Instant::now()) {
                    tracing::warn!(port = port.name.label(), %error, suppressed, retry_in_ms = backoff.as_millis() as u64, "accept failed");
                }
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        match port.admit(peer) {
            // `serve` is spawned as a task of its own on both paths: wrapped in a block
            // with the handshake, its future (13 KB) was copied whole into every task and
            // cost 4.5 KiB more resident memory per idle plain connection.
            Ok(admission) if !tls.is_enabled() => {
                smol::spawn(serve(Stream::Plain(stream), peer, admission)).detach();
            }
            Ok(admission) => {
                let (serve, tls) = (Arc::clone(&serve), Arc::clone(&tls));
                smol::spawn(async move {
                    if let Some(stream) = secure(&tls, stream, peer, &admission).await {
                        smol::spawn(serve(stream, peer, admission)).detach();
                    }
                })
                .detach();
            }
            // Dropped unanswered: a flood gets nothing for its effort.
            Err(_) => drop(stream),
        }
    }
}

/// Runs `step` until the handshake deadline of `admission`'s port, counted from the accept;
/// `None` when the deadline passed first.
pub(crate) async fn before_deadline<T>(
    admission: &Admission,
    step: impl Future<Output = T>,
) -> Option<T> {
    let deadline = admission.accepted_at() + admission.port().limits.handshake_timeout;
    futures_lite::future::or(async { Some(step.await) }, async {
        smol::Timer::at(deadline).await;
        None
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::metrics::Metrics;

    fn limits(max_open: usize) -> PortLimits {
        PortLimits {
            max_open,
            max_open_per_address: max_open,
            max_handshaking: max_open,
            max_handshaking_per_address: max_open,
            handshake_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn connections_over_the_cap_are_dropped_and_counted_while_admitted_ones_are_served() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let address = listener.local_addr().expect("bound");
            let port = Port::new(PortName::Http, limits(2), Arc::new(Metrics::new()));
            let served = Arc::new(AtomicUsize::new(0));
            let (stop_sender, stop) = smol::channel::bounded::<()>(1);
            let counter = Arc::clone(&served);
            let (hold_sender, hold) = smol::channel::bounded::<()>(1);
            let tls = Arc::new(ServerTls::new().expect("ticket keys"));
            let accepting =
                smol::spawn(run(listener, Arc::clone(&port), tls, stop, move |_, _, admission| {
                    let (counter, hold) = (Arc::clone(&counter), hold.clone());
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = hold.recv().await;
                        drop(admission);
                    }
                }));
            let mut clients = Vec::new();
            for _ in 0..4 {
                clients.push(async_net::TcpStream::connect(address).await.expect("connect"));
            }
            // The admitted ones are served in their own tasks, which may start after the
            // refusals are counted.
            while port.metrics.refusal_count("http", "port_full") < 2
                || served.load(Ordering::SeqCst) < 2
            {
                smol::Timer::after(Duration::from_millis(5)).await;
            }
            assert_eq!(served.load(Ordering::SeqCst), 2);
            assert_eq!(port.metrics.refusal_count("http", "port_full"), 2);
            assert_eq!(port.counts(), (2, 2));
            drop(hold_sender);
            while port.counts() != (0, 0) {
                smol::Timer::after(Duration::from_millis(5)).await;
            }
            drop(stop_sender);
            accepting.await;
        });
    }
}
