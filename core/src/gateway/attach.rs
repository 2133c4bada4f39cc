//! Hello, authentication, duplicates, attach and detach.

use std::sync::Arc;

use crate::gateway::{Connection, ConnectionState, Gateway};
use crate::limits::{MAX_NAME_BYTES, MAX_PASSWORD_BYTES};
use crate::{
    CloseReason, ConnectionId, DuplicatePolicy, GatewayEvent, Password, RejectReason, ToWorker,
};

use super::messages::RejectionCause;

impl Gateway {
    pub(super) fn handle_hello(
        &mut self,
        connection: ConnectionId,
        worker: String,
        password: &Password,
    ) {
        if self.connections.contains_key(&connection) {
            self.drop_connection(connection, CloseReason::ProtocolViolation);
            return;
        }
        let Some(slot) = self.slots.get(worker.as_str()) else {
            // Spend the time a password comparison takes, so that an unknown name cannot
            // be told from a wrong password by the reply's delay.
            let _ =
                Password::new("x".repeat(password.len().min(MAX_PASSWORD_BYTES))).matches(password);
            self.reject(connection, worker, RejectionCause::UnknownWorker);
            return;
        };
        if password.len() > MAX_PASSWORD_BYTES || !slot.config.password.matches(password) {
            self.reject(connection, worker, RejectionCause::WrongPassword);
            return;
        }
        let name: Arc<str> = Arc::from(worker.as_str());
        let waiting = slot.waiting;
        match (slot.attached, self.config.duplicate_policy) {
            (None, _) => self.attach(&name, connection),
            (Some(old), DuplicatePolicy::DropOlder) => {
                // A contender left waiting by `ping-old` before a reconfig is older than
                // this one too; dropped first, so that detaching `old` does not promote it.
                if let Some(waiting) = waiting {
                    self.drop_connection(waiting, CloseReason::ReplacedByNewerConnection);
                }
                // The old connection is closed and detached before the new one attaches,
                // and forgotten, so its late close can never detach the new one.
                self.close(old, CloseReason::ReplacedByNewerConnection);
                self.detach(old, CloseReason::ReplacedByNewerConnection);
                self.attach(&name, connection);
                self.emit(GatewayEvent::DuplicateResolved {
                    worker,
                    policy: DuplicatePolicy::DropOlder,
                    kept: connection,
                    dropped: old,
                });
            }
            (Some(_), DuplicatePolicy::PingOld) if waiting.is_some() => {
                // A verdict on this worker is already pending; one contender at a time.
                self.reject(connection, worker, RejectionCause::DuplicateConnection);
            }
            (Some(old), DuplicatePolicy::PingOld) => self.ping_old(&name, old, connection),
        }
    }

    /// Under `ping-old`: park the new connection and ask the old one whether it is alive.
    fn ping_old(&mut self, name: &Arc<str>, old: ConnectionId, new: ConnectionId) {
        let now = self.clock.now();
        let nonce = self.next_ping_nonce;
        self.next_ping_nonce += 1;
        self.connections.insert(
            new,
            Connection {
                worker: Arc::clone(name),
                state: ConnectionState::WaitingForPing { ping_sent_at: now, nonce },
            },
        );
        self.slot_mut(name).waiting = Some(new);
        self.ping_deadlines.push(now, new);
        self.send(old, ToWorker::Ping { nonce });
    }

    pub(super) fn handle_keepalive(&mut self, connection: ConnectionId) {
        if self.refresh_attached(connection) {
            self.send(connection, ToWorker::KeepaliveAck);
        }
    }

    pub(super) fn handle_pong(&mut self, connection: ConnectionId, nonce: u64) {
        if !self.refresh_attached(connection) {
            return;
        }
        let Some(name) = self.connections.get(&connection).map(|c| Arc::clone(&c.worker)) else {
            return;
        };
        let Some(waiting) = self.slot_mut(&name).waiting else {
            return;
        };
        let answers_this_ping = matches!(
            self.connections.get(&waiting).map(|c| c.state),
            Some(ConnectionState::WaitingForPing { nonce: expected, .. }) if expected == nonce
        );
        if !answers_this_ping {
            return;
        }
        // The old connection is alive: it keeps the worker and the newcomer is refused.
        self.send(waiting, ToWorker::Rejected { reason: RejectReason::DuplicateConnection });
        self.close(waiting, CloseReason::DuplicateRejected);
        self.connections.remove(&waiting);
        self.slot_mut(&name).waiting = None;
        self.emit(GatewayEvent::DuplicateResolved {
            worker: name.to_string(),
            policy: DuplicatePolicy::PingOld,
            kept: connection,
            dropped: waiting,
        });
    }

    pub(super) fn handle_closed(&mut self, connection: ConnectionId) {
        match self.connections.get(&connection).map(|c| c.state) {
            Some(ConnectionState::Attached { .. }) => {
                self.detach(connection, CloseReason::PeerClosed);
            }
            Some(ConnectionState::WaitingForPing { .. }) => self.forget_waiting(connection),
            // Already forgotten (replaced, timed out, removed): nothing to undo.
            None => {}
        }
    }

    /// Records that the attached connection was heard from. False if it is not attached.
    fn refresh_attached(&mut self, connection: ConnectionId) -> bool {
        let now = self.clock.now();
        let Some(state) = self.connections.get_mut(&connection).map(|c| &mut c.state) else {
            return false;
        };
        let ConnectionState::Attached { last_heard } = state else {
            return false;
        };
        if *last_heard != now {
            *last_heard = now;
            self.keepalive_deadlines.push(now, connection);
        }
        true
    }

    /// Closes a connection the Gateway knows, whatever its state.
    pub(super) fn drop_connection(&mut self, connection: ConnectionId, reason: CloseReason) {
        match self.connections.get(&connection).map(|c| c.state) {
            Some(ConnectionState::Attached { .. }) => {
                self.close(connection, reason);
                self.detach(connection, reason);
            }
            Some(ConnectionState::WaitingForPing { .. }) => {
                self.close(connection, reason);
                self.forget_waiting(connection);
            }
            None => {}
        }
    }

    fn forget_waiting(&mut self, connection: ConnectionId) {
        let Some(removed) = self.connections.remove(&connection) else {
            return;
        };
        let slot = self.slot_mut(&removed.worker);
        assert_eq!(slot.waiting, Some(connection), "a waiting connection is its slot's");
        slot.waiting = None;
    }

    pub(super) fn attach(&mut self, name: &Arc<str>, connection: ConnectionId) {
        let now = self.clock.now();
        let previous = self.connections.insert(
            connection,
            Connection {
                worker: Arc::clone(name),
                state: ConnectionState::Attached { last_heard: now },
            },
        );
        assert!(previous.is_none(), "attach is given a connection the gateway does not hold");
        let slot = self.slot_mut(name);
        assert!(slot.attached.is_none(), "a worker is attached through one connection at most");
        slot.attached = Some(connection);
        slot.disconnected_since = None;
        slot.missing_reported = false;
        let builders = Arc::clone(&slot.config.builders);
        slot.pushed_builders = Some(Arc::clone(&builders));
        self.attached_count += 1;
        self.keepalive_deadlines.push(now, connection);
        self.send(connection, ToWorker::Welcome);
        self.send(connection, ToWorker::BuilderList { builders });
        self.emit(GatewayEvent::Attached { worker: name.to_string(), connection });
    }

    /// Forgets an attached connection (the caller closes it, if it is not already gone).
    /// A connection waiting under `ping-old` then takes over: the old one is gone.
    pub(super) fn detach(&mut self, connection: ConnectionId, reason: CloseReason) {
        let now = self.clock.now();
        let Some(removed) = self.connections.remove(&connection) else {
            unreachable!("detach is only called for connections the gateway holds");
        };
        let name = removed.worker;
        let slot = self.slot_mut(&name);
        assert_eq!(slot.attached, Some(connection), "only the attached connection detaches");
        slot.attached = None;
        slot.pushed_builders = None;
        slot.disconnected_since = Some(now);
        slot.missing_reported = false;
        let waiting = slot.waiting.take();
        self.attached_count -= 1;
        self.missing_deadlines.push(now, Arc::clone(&name));
        self.emit(GatewayEvent::Detached { worker: name.to_string(), connection, reason });

        if let Some(waiting) = waiting {
            self.connections.remove(&waiting);
            self.attach(&name, waiting);
            self.emit(GatewayEvent::DuplicateResolved {
                worker: name.to_string(),
                policy: DuplicatePolicy::PingOld,
                kept: waiting,
                dropped: connection,
            });
        }
    }

    fn reject(&mut self, connection: ConnectionId, worker: String, cause: RejectionCause) {
        let reason = match cause {
            RejectionCause::UnknownWorker | RejectionCause::WrongPassword => {
                RejectReason::AuthenticationFailed
            }
            RejectionCause::DuplicateConnection => RejectReason::DuplicateConnection,
        };
        let close_reason = match reason {
            RejectReason::AuthenticationFailed => CloseReason::AuthenticationFailed,
            RejectReason::DuplicateConnection => CloseReason::DuplicateRejected,
        };
        self.send(connection, ToWorker::Rejected { reason });
        self.close(connection, close_reason);
        let worker = truncated(worker, MAX_NAME_BYTES);
        self.emit(GatewayEvent::Rejected { worker, connection, cause });
    }

    pub(super) fn slot_mut(&mut self, name: &str) -> &mut super::WorkerSlot {
        match self.slots.get_mut(name) {
            Some(slot) => slot,
            None => unreachable!("connections only name configured workers"),
        }
    }
}

/// Cuts an untrusted name to at most `limit` bytes (at a character boundary) before it
/// reaches logs.
fn truncated(mut name: String, limit: usize) -> String {
    if name.len() > limit {
        let mut end = limit;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}
