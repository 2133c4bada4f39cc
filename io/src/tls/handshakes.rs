//! The executor TLS handshakes run on: threads of their own, so the signatures and key
//! exchanges of a handshake flood (an RSA signature costs a millisecond or more) delay
//! only other handshakes, never the frames of connections already trusted, which share the
//! network executor.

use std::future::Future;
use std::sync::OnceLock;

/// At most this many threads, fewer on a smaller machine.
const MAX_HANDSHAKE_THREADS: usize = 4;

static EXECUTOR: OnceLock<&'static smol::Executor<'static>> = OnceLock::new();

fn executor() -> &'static smol::Executor<'static> {
    EXECUTOR.get_or_init(|| {
        let executor: &'static smol::Executor<'static> = Box::leak(Box::new(smol::Executor::new()));
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, MAX_HANDSHAKE_THREADS);
        for index in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("rollcall-tls-{index}"))
                .spawn(|| smol::block_on(executor.run(std::future::pending::<()>())));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a TLS handshake thread");
            }
        }
        executor
    })
}

/// Runs `handshake` on the handshake threads and waits for it. Dropping the returned
/// future cancels the handshake.
pub(crate) async fn run<T: Send + 'static>(
    handshake: impl Future<Output = T> + Send + 'static,
) -> T {
    executor().spawn(handshake).await
}
