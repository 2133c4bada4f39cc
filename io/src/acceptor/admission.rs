//! Who may hold a connection on a port: caps on open connections and on connections still
//! in their handshake, for the port as a whole and for each peer address, so that a flood
//! on one port or from one address never locks out another.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::acceptor::refusal::Refusal;
use crate::log_limit::{LogLimiter, Verdict};
use crate::logging::Escaped;
use crate::metrics::Metrics;

/// Which listener a port is: the label of its series in `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PortName {
    Workers,
    Buildbot,
    Http,
}

impl PortName {
    pub(crate) fn label(self) -> &'static str {
        match self {
            PortName::Workers => "workers",
            PortName::Buildbot => "buildbot",
            PortName::Http => "http",
        }
    }
}

/// The caps of one port. Each is positive (the config refuses zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortLimits {
    pub(crate) max_open: usize,
    pub(crate) max_open_per_address: usize,
    pub(crate) max_handshaking: usize,
    pub(crate) max_handshaking_per_address: usize,
    /// From TCP accept to the peer being trusted (Hello, WebSocket upgrade, request head).
    pub(crate) handshake_timeout: Duration,
}

/// Peers are counted by address; an IPv6 peer by its /64, the block one host is given, so
/// that an attacker cannot take a fresh address per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AddressKey(u128);

impl AddressKey {
    pub(crate) fn of(address: IpAddr) -> AddressKey {
        match address {
            IpAddr::V4(v4) => AddressKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(u128::from(u32::from(v4))),
                None => AddressKey((u128::from(v6) >> 64 << 64) | (1 << 32)),
            },
        }
    }
}

#[derive(Debug, Default)]
struct PerAddress {
    open: usize,
    handshaking: usize,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    handshaking: usize,
    by_address: HashMap<AddressKey, PerAddress>,
}

/// One listening port's limits, counts, refusal counters and refusal log.
#[derive(Debug)]
pub(crate) struct Port {
    pub(crate) name: PortName,
    pub(crate) limits: PortLimits,
    counts: Mutex<Counts>,
    pub(crate) metrics: Arc<Metrics>,
    refusal_log: Mutex<LogLimiter>,
}

impl Port {
    pub(crate) fn new(name: PortName, limits: PortLimits, metrics: Arc<Metrics>) -> Arc<Port> {
        Arc::new(Port {
            name,
            limits,
            counts: Mutex::new(Counts::default()),
            metrics,
            // A flood is thousands of refusals a second: a few lines say so, then a count.
            refusal_log: Mutex::new(LogLimiter::new(Duration::from_secs(10), 10)),
        })
    }

    /// Takes an open slot and a handshake slot for `peer`, or says which cap is full. A
    /// refusal is counted and logged here.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admission, Refusal> {
        let key = AddressKey::of(peer.ip());
        let refusal = {
            let mut counts = lock(&self.counts);
            let limits = &self.limits;
            let (open, handshaking) = (counts.open, counts.handshaking);
            let entry = counts.by_address.entry(key).or_default();
            let refusal = if open >= limits.max_open {
                Some(Refusal::PortFull)
            } else if entry.open >= limits.max_open_per_address {
                Some(Refusal::AddressFull)
            } else if handshaking >= limits.max_handshaking {
                Some(Refusal::HandshakesFull)
            } else if entry.handshaking >= limits.max_handshaking_per_address {
                Some(Refusal::AddressHandshakesFull)
            } else {
                entry.open += 1;
                entry.handshaking += 1;
                None
            };
            if refusal.is_none() {
                counts.open += 1;
                counts.handshaking += 1;
                self.metrics.set_connections(self.name.label(), counts.open, counts.handshaking);
            } else if counts.by_address.get(&key).is_some_and(|entry| entry.open == 0) {
                counts.by_address.remove(&key);
            }
            refusal
        };
        match refusal {
            None => Ok(Admission {
                port: Arc::clone(self),
                key,
                handshaking: true,
                accepted_at: Instant::now(),
            }),
            Some(refusal) => {
                self.refused(refusal, peer, "");
                Err(refusal)
            }
        }
    }

    /// Counts a refusal of `peer` and logs it at a limited rate, with `detail` (already
    /// escaped or written by us) after the reason.
    pub(crate) fn refused(&self, refusal: Refusal, peer: SocketAddr, detail: &str) {
        self.metrics.refused(self.name.label(), refusal.label());
        if let Verdict::Log { suppressed } = lock(&self.refusal_log).check(Instant::now()) {
            tracing::warn!(
                port = self.name.label(),
                %peer,
                reason = refusal.label(),
                suppressed,
                "connection refused: {}{detail}",
                refusal.describe(),
            );
        }
    }

    /// As [`Port::refused`], for a reason that comes with text from the peer's side.
    pub(crate) fn refused_because(&self, refusal: Refusal, peer: SocketAddr, why: &str) {
        self.refused(refusal, peer, &format!(": {}", Escaped(why)));
    }

    /// Open connections and connections in handshake, for tests and `/metrics`.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let counts = lock(&self.counts);
        (counts.open, counts.handshaking)
    }

    fn release(&self, key: AddressKey, handshaking: bool) {
        let mut counts = lock(&self.counts);
        counts.open -= 1;
        if handshaking {
            counts.handshaking -= 1;
        }
        if let Some(entry) = counts.by_address.get_mut(&key) {
            entry.open -= 1;
            if handshaking {
                entry.handshaking -= 1;
            }
            if entry.open == 0 {
                counts.by_address.remove(&key);
            }
        }
        self.metrics.set_connections(self.name.label(), counts.open, counts.handshaking);
    }

    fn handshake_done(&self, key: AddressKey) {
        let mut counts = lock(&self.counts);
        counts.handshaking -= 1;
        if let Some(entry) = counts.by_address.get_mut(&key) {
            entry.handshaking -= 1;
        }
        self.metrics.set_connections(self.name.label(), counts.open, counts.handshaking);
    }
}

/// A connection's slots on its port, given back when it is dropped, however its task ends.
#[derive(Debug)]
pub(crate) struct Admission {
    port: Arc<Port>,
    key: AddressKey,
    handshaking: bool,
    /// When the connection was accepted: the handshake deadline counts from here, through
    /// TLS and the port's own handshake alike.
    accepted_at: Instant,
}

impl Admission {
    /// The peer got through its handshake: it no longer counts against the handshake caps.
    pub(crate) fn trusted(&mut self) {
        if std::mem::replace(&mut self.handshaking, false) {
            self.port.handshake_done(self.key);
        }
    }

    pub(crate) fn accepted_at(&self) -> Instant {
        self.accepted_at
    }

    pub(crate) fn port(&self) -> &Arc<Port> {
        &self.port
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.port.release(self.key, self.handshaking);
    }
}

/// Nothing panics while holding these locks; a poisoned one still holds consistent counts.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(max_open: usize, per_address: usize, handshaking: usize, hs_per: usize) -> Arc<Port> {
        let limits = PortLimits {
            max_open,
            max_open_per_address: per_address,
            max_handshaking: handshaking,
            max_handshaking_per_address: hs_per,
            handshake_timeout: Duration::from_secs(1),
        };
        Port::new(PortName::Workers, limits, Arc::new(Metrics::new()))
    }

    fn peer(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[test]
    fn one_address_cannot_take_the_handshake_slots_of_another() {
        let port = port(100, 100, 10, 3);
        let flood: Vec<_> =
            (0..3).map(|n| port.admit(peer(&format!("127.0.0.2:{}", 1000 + n)))).collect();
        assert!(flood.iter().all(Result::is_ok));
        assert_eq!(
            port.admit(peer("127.0.0.2:2000")).map(|_| ()),
            Err(Refusal::AddressHandshakesFull)
        );
        assert!(port.admit(peer("127.0.0.1:1000")).is_ok(), "another address still gets in");
        assert_eq!(port.metrics.refusal_count("workers", "address_handshakes_full"), 1);
    }

    #[test]
    fn a_trusted_connection_frees_its_handshake_slot_and_a_dropped_one_everything() {
        let port = port(2, 2, 1, 1);
        let mut first = port.admit(peer("10.0.0.1:1")).expect("admitted");
        assert_eq!(port.admit(peer("10.0.0.2:1")).map(|_| ()), Err(Refusal::HandshakesFull));
        first.trusted();
        first.trusted();
        assert_eq!(port.counts(), (1, 0));
        let second = port.admit(peer("10.0.0.2:1")).expect("admitted once the first is trusted");
        assert_eq!(port.admit(peer("10.0.0.3:1")).map(|_| ()), Err(Refusal::PortFull));
        drop(first);
        drop(second);
        assert_eq!(port.counts(), (0, 0));
        assert!(lock(&port.counts).by_address.is_empty(), "no address is remembered for nothing");
    }

    #[test]
    fn open_connections_are_capped_per_address() {
        let port = port(10, 2, 10, 10);
        let held: Vec<_> = (0..2)
            .map(|n| {
                let mut admission = port.admit(peer(&format!("10.0.0.1:{n}"))).expect("admitted");
                admission.trusted();
                admission
            })
            .collect();
        assert_eq!(port.admit(peer("10.0.0.1:9")).map(|_| ()), Err(Refusal::AddressFull));
        assert_eq!(held.len(), 2);
    }

    #[test]
    fn ipv6_peers_are_counted_by_their_64_bit_prefix() {
        let a = AddressKey::of("2001:db8:1:2::1".parse().expect("v6"));
        let b = AddressKey::of("2001:db8:1:2:ffff::9".parse().expect("v6"));
        let c = AddressKey::of("2001:db8:1:3::1".parse().expect("v6"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = AddressKey::of("::ffff:10.0.0.1".parse().expect("mapped"));
        assert_eq!(mapped, AddressKey::of("10.0.0.1".parse().expect("v4")));
        assert_ne!(
            AddressKey::of("::".parse().expect("v6")),
            AddressKey::of("0.0.0.0".parse().expect("v4"))
        );
    }
}
