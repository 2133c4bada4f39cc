//! Ports for test servers that nothing else on the host can be handed meanwhile.
//!
//! A port the kernel picks for `bind(0)` comes from the ephemeral range, the same range it
//! picks every outbound connection's local port from. Between a test choosing such a port
//! and its daemon binding it, any connection made by a parallel test (a stock worker, a
//! PostgreSQL client) may take it, and the daemon fails to start ("address in use"). Ports
//! below the ephemeral range are only ever taken by an explicit bind, so a test server on
//! one is safe once we have checked that nobody listens there.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// Below Linux's default ephemeral range (32768–60999) and above the well-known services.
const FIRST_PORT: u16 = 20_000;
const PORTS: u16 = 12_000;

/// Each process starts at its own offset, so test binaries run at the same time (two CI
/// clones) rarely probe the same ports; within a process the counter never repeats one.
static NEXT_PORT: AtomicU16 = AtomicU16::new(u16::MAX);

/// A TCP port on 127.0.0.1 that nobody listens on now and that no outbound connection
/// will be given before a test server binds it.
///
/// # Panics
///
/// When every port of the range is taken.
pub fn free_port() -> u16 {
    let offset = u16::try_from(std::process::id() % u32::from(PORTS)).expect("below PORTS");
    let _ = NEXT_PORT.compare_exchange(u16::MAX, offset, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..PORTS {
        let index = NEXT_PORT.fetch_add(1, Ordering::Relaxed) % PORTS;
        let port = FIRST_PORT + index;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST_PORT}..{}", FIRST_PORT + PORTS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_repeat_within_a_process() {
        let ports: Vec<u16> = (0..100).map(|_| free_port()).collect();
        assert!(ports.iter().all(|port| (FIRST_PORT..FIRST_PORT + PORTS).contains(port)));
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
    }

    #[test]
    fn a_port_someone_listens_on_is_never_handed_out() {
        let taken = TcpListener::bind(("127.0.0.1", free_port())).expect("bind");
        let taken_port = taken.local_addr().expect("bound").port();
        assert!((0..200).all(|_| free_port() != taken_port));
    }
}
