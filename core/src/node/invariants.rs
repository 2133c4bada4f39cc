//! The Node's own invariants, on top of its machines'.

use crate::invariant::{ensure, InvariantViolation};

use super::Node;

const NODE: &str = "node";

impl Node {
    /// Checks the whole state: the Registry's, the Gateway's, and what the Node keeps
    /// between them (its own master's row, its sessions, its batch). O(state); the
    /// simulator and the model tests run it after every step.
    ///
    /// # Errors
    ///
    /// The first inconsistency found.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.gateway.check_invariants()?;
        let (changes, held, awaiting) = self.batches.pending();
        ensure!(
            NODE,
            !self.batches.is_committed() || (changes == 0 && held == 0 && !awaiting),
            "the state counts as committed with {changes} changes and {held} outputs pending"
        );
        let Some(registry) = self.registry() else {
            ensure!(NODE, self.sessions.is_empty(), "a standby holds remote masters' sessions");
            ensure!(NODE, changes == 0, "a standby's batch holds {changes} registry changes");
            return Ok(());
        };
        registry.check_invariants()?;
        let own = registry.master(self.master);
        ensure!(NODE, own.is_some(), "the node's own master {} has no row", self.master);
        if let Some(row) = own {
            ensure!(
                NODE,
                row.name == self.config.master_name,
                "the node's own master {} is named {:?}, its configuration says {:?}",
                self.master,
                row.name,
                self.config.master_name
            );
            ensure!(
                NODE,
                !self.stopped || !row.active,
                "the node stopped but its master {} is still active",
                self.master
            );
        }
        for (connection, session) in &self.sessions {
            ensure!(
                NODE,
                session.hello_name != self.config.master_name,
                "session {connection} speaks for the node's own master"
            );
            ensure!(
                NODE,
                super::token_matches(&self.config.masters, &session.hello_name, &session.token),
                "session {connection} of {:?} holds a token its configuration does not list",
                session.hello_name
            );
            if let Some(master) = session.master {
                let row = registry.master(master);
                ensure!(
                    NODE,
                    row.is_some_and(|row| row.name == session.hello_name),
                    "session {connection} is bound to master {master}, whose row is {row:?}, \
                     but said Hello as {:?}",
                    session.hello_name
                );
            }
        }
        ensure!(
            NODE,
            self.stopped
                || self.next_heartbeat
                    <= registry.now().plus_millis(self.config.heartbeat_interval_ms),
            "the next heartbeat at {} is more than an interval after {}",
            self.next_heartbeat,
            registry.now()
        );
        Ok(())
    }
}
