//! `Gateway::check_invariants`: the whole state, checked against itself.
//!
//! A worker's slot and its connections point at each other (the slot names its attached
//! and waiting connection, each connection names its worker and says which of the two it
//! is), a counter counts the attached ones, and three deadline queues hold a live entry
//! per thing they time. These checks walk every slot, connection and queue entry once.
//!
//! Slots and connections live in hash maps, whose iteration order depends on their
//! history, not only on their contents; so each walk reports the violation with the
//! smallest worker name or connection id, and the same state always gives the same report.

mod deadlines;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::gateway::{Connection, ConnectionState, Gateway, WorkerSlot};
use crate::invariant::{ensure, Smallest};
use crate::{ConnectionId, InvariantViolation};

const MACHINE: &str = "gateway";

impl Gateway {
    /// Checks that the whole state agrees with itself: every connection's worker is in the
    /// roster and points back at it, a worker has at most one attached connection (and a
    /// waiting one only while attached), the attached counter counts them, every attached
    /// worker was pushed its configured builder list, every deadline queue holds a live
    /// entry for each connection or worker it times (stale entries are allowed: lazy
    /// deletion) with a live front, and nothing is recorded after the gateway's now.
    /// Reads only; costs O(state size), with one small hash set per deadline queue.
    ///
    /// # Errors
    ///
    /// An [`InvariantViolation`] naming the first inconsistency found (in a fixed order,
    /// and within a walk the smallest worker name or connection id): a bug in the Gateway.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if let Err(reason) = self.config.validate() {
            return Err(violation(format!("the settings are invalid: {reason}")));
        }
        let (attached, waiting) = self.check_slots()?;
        self.check_connections()?;
        ensure!(
            MACHINE,
            attached == self.attached_count,
            "attached_count is {} but {attached} workers are attached",
            self.attached_count
        );
        // Implied by the two walks (each connection is exactly one slot's attached or
        // waiting one), and kept as a backstop that costs nothing.
        ensure!(
            MACHINE,
            self.connections.len() == attached + waiting,
            "the gateway holds {} connections but {attached} attached and {waiting} waiting",
            self.connections.len()
        );
        self.check_deadlines()
    }

    /// Returns how many workers are attached and how many connections wait for a verdict.
    fn check_slots(&self) -> Result<(usize, usize), InvariantViolation> {
        let mut smallest = Smallest::new(MACHINE);
        let (mut attached, mut waiting) = (0_usize, 0_usize);
        for (name, slot) in &self.slots {
            attached += usize::from(slot.attached.is_some());
            waiting += usize::from(slot.waiting.is_some());
            if let Err(broken) = self.check_slot(name, slot) {
                smallest.offer(&**name, || broken.what);
            }
        }
        smallest.into_result()?;
        Ok((attached, waiting))
    }

    fn check_slot(&self, name: &str, slot: &WorkerSlot) -> Result<(), InvariantViolation> {
        ensure!(
            MACHINE,
            slot.config.name == name,
            "the slot of worker {name:?} holds the configuration of {:?}",
            slot.config.name
        );
        let Some(connection) = slot.attached else {
            ensure!(
                MACHINE,
                slot.waiting.is_none(),
                "worker {name:?} has connection {:?} waiting for a verdict but none attached",
                slot.waiting
            );
            ensure!(
                MACHINE,
                slot.pushed_builders.is_none(),
                "detached worker {name:?} still records a pushed builder list"
            );
            let Some(since) = slot.disconnected_since else {
                return Err(violation(format!(
                    "detached worker {name:?} has no disconnected_since, so it is never missing"
                )));
            };
            ensure!(
                MACHINE,
                since <= self.clock.now(),
                "worker {name:?} is disconnected since {since}, after the gateway's now {}",
                self.clock.now()
            );
            return Ok(());
        };
        let held = self.connections.get(&connection);
        ensure!(
            MACHINE,
            held.is_some_and(|held| held.is(name, Role::Attached)),
            "worker {name:?} is attached through connection {connection}, which is {}",
            describe(held)
        );
        // Usually the very list configured (attach pushes that `Arc`); compared by content
        // only after a reconfig that re-sent an equal list.
        let pushed_configured = slot.pushed_builders.as_ref().is_some_and(|pushed| {
            Arc::ptr_eq(pushed, &slot.config.builders) || *pushed == slot.config.builders
        });
        ensure!(
            MACHINE,
            pushed_configured,
            "attached worker {name:?} was last pushed builders {:?}, not its configured {:?}",
            slot.pushed_builders,
            slot.config.builders
        );
        if let Some(since) = slot.disconnected_since {
            return Err(violation(format!(
                "attached worker {name:?} is also disconnected since {since}"
            )));
        }
        ensure!(
            MACHINE,
            !slot.missing_reported,
            "attached worker {name:?} is marked as reported missing"
        );
        if let Some(waiting) = slot.waiting {
            let held = self.connections.get(&waiting);
            ensure!(
                MACHINE,
                held.is_some_and(|held| held.is(name, Role::Waiting)),
                "worker {name:?} has connection {waiting} waiting for a verdict, which is {}",
                describe(held)
            );
        }
        Ok(())
    }

    fn check_connections(&self) -> Result<(), InvariantViolation> {
        let mut smallest = Smallest::new(MACHINE);
        for (&connection, held) in &self.connections {
            if let Err(broken) = self.check_connection(connection, held) {
                smallest.offer(connection, || broken.what);
            }
        }
        smallest.into_result()
    }

    fn check_connection(
        &self,
        connection: ConnectionId,
        held: &Connection,
    ) -> Result<(), InvariantViolation> {
        let now = self.clock.now();
        let worker = &held.worker;
        let Some(slot) = self.slots.get(worker) else {
            return Err(violation(format!(
                "connection {connection} belongs to worker {worker:?}, who is not in the roster"
            )));
        };
        match held.state {
            ConnectionState::Attached { last_heard } => {
                ensure!(
                    MACHINE,
                    slot.attached == Some(connection),
                    "connection {connection} is attached as worker {worker:?}, whose attached \
                     connection is {:?}: one worker, two attached connections",
                    slot.attached
                );
                ensure!(
                    MACHINE,
                    last_heard <= now,
                    "connection {connection} was last heard at {last_heard}, after {now}"
                );
            }
            ConnectionState::WaitingForPing { ping_sent_at, nonce } => {
                ensure!(
                    MACHINE,
                    slot.waiting == Some(connection),
                    "connection {connection} waits for a verdict on worker {worker:?}, whose \
                     waiting connection is {:?}",
                    slot.waiting
                );
                ensure!(
                    MACHINE,
                    ping_sent_at <= now,
                    "connection {connection} waits on a ping sent at {ping_sent_at}, after {now}"
                );
                // Nonces are handed out once each, so a fresh pong can never be mistaken
                // for the answer to another ping.
                ensure!(
                    MACHINE,
                    nonce < self.next_ping_nonce,
                    "connection {connection} waits on ping nonce {nonce}, but the next nonce \
                     to hand out is {}",
                    self.next_ping_nonce
                );
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Attached,
    Waiting,
}

impl Connection {
    fn is(&self, worker: &str, role: Role) -> bool {
        let held_role = match self.state {
            ConnectionState::Attached { .. } => Role::Attached,
            ConnectionState::WaitingForPing { .. } => Role::Waiting,
        };
        &*self.worker == worker && held_role == role
    }
}

fn describe(held: Option<&Connection>) -> String {
    match held {
        None => "not held by the gateway".to_string(),
        Some(held) => match held.state {
            ConnectionState::Attached { .. } => format!("attached as worker {:?}", held.worker),
            ConnectionState::WaitingForPing { .. } => {
                format!("waiting for a verdict on worker {:?}", held.worker)
            }
        },
    }
}

fn violation(what: String) -> InvariantViolation {
    InvariantViolation { machine: MACHINE, what }
}
