//! The Gateway's three deadlines, each "a moment plus a fixed delay", fired in time order:
//! a silent attached connection is closed, an unanswered ping lets the newcomer in, and a
//! long-disconnected worker is reported missing. Each fires one millisecond after its delay
//! has fully passed ("longer than the timeout"), like the Registry's expiry boundary.

use std::sync::Arc;

use crate::fast_hash::LookupMap;
use crate::gateway::{Connection, ConnectionState, Gateway, WorkerSlot};
use crate::{CloseReason, ConnectionId, GatewayEvent, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum DeadlineKind {
    // Declared in the order deadlines falling due at the same moment are fired.
    Ping,
    Keepalive,
    Missing,
}

/// An upper bound on deadlines fired in one call, far above what a roster can produce:
/// reaching it means the loop is not making progress, which is a bug.
const MAX_DEADLINES_PER_CALL: usize = 10_000_000;

impl Gateway {
    pub(super) fn next_deadline(&self) -> Option<(Timestamp, DeadlineKind)> {
        let ping = self
            .ping_deadlines
            .front()
            .map(|(at, _)| (due(at, self.config.ping_timeout_ms), DeadlineKind::Ping));
        let keepalive = self
            .keepalive_deadlines
            .front()
            .map(|(at, _)| (due(at, self.config.keepalive_timeout_ms), DeadlineKind::Keepalive));
        let missing = self
            .missing_deadlines
            .front()
            .map(|(at, _)| (due(at, self.config.missing_timeout_ms), DeadlineKind::Missing));
        [ping, keepalive, missing].into_iter().flatten().min()
    }

    pub(super) fn fire_due_deadlines(&mut self) {
        let now = self.clock.now();
        for _ in 0..MAX_DEADLINES_PER_CALL {
            self.discard_stale_fronts();
            let Some((moment, kind)) = self.next_deadline() else {
                return;
            };
            if moment > now {
                return;
            }
            match kind {
                DeadlineKind::Ping => {
                    let Some((_, waiting)) = self.ping_deadlines.pop_front() else {
                        unreachable!("a ping deadline was just found at the front");
                    };
                    self.ping_unanswered(waiting);
                }
                DeadlineKind::Keepalive => {
                    let Some((_, connection)) = self.keepalive_deadlines.pop_front() else {
                        unreachable!("a keepalive deadline was just found at the front");
                    };
                    self.drop_connection(connection, CloseReason::KeepaliveTimeout);
                }
                DeadlineKind::Missing => {
                    let Some((_, name)) = self.missing_deadlines.pop_front() else {
                        unreachable!("a missing deadline was just found at the front");
                    };
                    self.slot_mut(&name).missing_reported = true;
                    self.emit(GatewayEvent::Missing { worker: name.to_string() });
                }
            }
        }
        panic!("more than {MAX_DEADLINES_PER_CALL} deadlines fired at one moment");
    }

    /// The old connection did not answer in time: it is dropped and the newcomer attached.
    fn ping_unanswered(&mut self, waiting: ConnectionId) {
        let Some(name) = self.connections.get(&waiting).map(|c| Arc::clone(&c.worker)) else {
            unreachable!("live ping deadlines name waiting connections");
        };
        let Some(old) = self.slot_mut(&name).attached else {
            unreachable!("a connection only waits while another is attached");
        };
        self.close(old, CloseReason::ReplacedByNewerConnection);
        // Detaching the old connection attaches the waiting one.
        self.detach(old, CloseReason::ReplacedByNewerConnection);
    }

    /// Keeps every queue's front live (so `poll_timeout` is exact) and every queue's size
    /// within a constant factor of what it tracks.
    pub(super) fn tidy_deadlines(&mut self) {
        self.discard_stale_fronts();
        let connections = &self.connections;
        let slots = &self.slots;
        let waiting_count = connections.len() - self.attached_count;
        self.keepalive_deadlines
            .compact_if_needed(self.attached_count, |at, c| keepalive_live(connections, at, c));
        self.ping_deadlines.compact_if_needed(waiting_count, |at, c| ping_live(connections, at, c));
        self.missing_deadlines.compact_if_needed(slots.len(), |at, n| missing_live(slots, at, n));
    }

    fn discard_stale_fronts(&mut self) {
        let connections = &self.connections;
        let slots = &self.slots;
        self.keepalive_deadlines.discard_stale_front(|at, c| keepalive_live(connections, at, c));
        self.ping_deadlines.discard_stale_front(|at, c| ping_live(connections, at, c));
        self.missing_deadlines.discard_stale_front(|at, n| missing_live(slots, at, n));
    }
}

fn due(start: Timestamp, delay_ms: u64) -> Timestamp {
    start.plus_millis(delay_ms).plus_millis(1)
}

// Whether an entry still describes its connection or worker (else it is stale and skipped);
// shared with the invariant checks so that both agree on what is stale.
pub(super) fn keepalive_live(
    connections: &LookupMap<ConnectionId, Connection>,
    at: Timestamp,
    connection: &ConnectionId,
) -> bool {
    matches!(
        connections.get(connection).map(|c| c.state),
        Some(ConnectionState::Attached { last_heard }) if last_heard == at
    )
}

pub(super) fn ping_live(
    connections: &LookupMap<ConnectionId, Connection>,
    at: Timestamp,
    connection: &ConnectionId,
) -> bool {
    matches!(
        connections.get(connection).map(|c| c.state),
        Some(ConnectionState::WaitingForPing { ping_sent_at, .. }) if ping_sent_at == at
    )
}

pub(super) fn missing_live(
    slots: &LookupMap<Arc<str>, WorkerSlot>,
    at: Timestamp,
    name: &Arc<str>,
) -> bool {
    slots.get(name).is_some_and(|slot| {
        slot.attached.is_none() && slot.disconnected_since == Some(at) && !slot.missing_reported
    })
}
