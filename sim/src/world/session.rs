//! A master's session with the Node: one connection per Node process, opened (and
//! registered on) when needed, its commands, and what their replies teach the master.

use rollcall_core::node::RequestError;
use rollcall_core::{Command, ConnectionId, MasterId, NodeInput, Reply};

use crate::world::World;

impl World {
    /// Sends a command on this incarnation's session, opening one first (and registering
    /// again on it, as a reconnecting master does) when the Node it had is gone.
    pub(super) fn send_command(&mut self, master: usize, command: Command) {
        let Some(connection) = self.session_of(master) else { return };
        let node = &mut self.masters[master];
        node.next_request += 1;
        let request_id = ((master as u64) << 40) | node.next_request;
        self.send_to_node(master, NodeInput::MasterRequest { connection, request_id, command });
    }

    /// The live session, or a new one; `None` while no Node process runs (refused).
    fn session_of(&mut self, master: usize) -> Option<ConnectionId> {
        self.process.node.as_ref()?;
        let epoch = self.process.epoch;
        if let Some((connection, with)) = self.masters[master].session {
            if with == epoch {
                return Some(connection);
            }
        }
        let connection = self.process.new_session_id();
        let node = &mut self.masters[master];
        node.session = Some((connection, epoch));
        let (name, incarnation) = (node.name.clone(), node.incarnation);
        self.pending_sessions.insert(connection, (master, incarnation));
        let token = super::node::token_of(&name);
        let open = NodeInput::MasterSessionOpened { connection, name: name.clone(), token };
        self.send_to_node(master, open);
        let node = &mut self.masters[master];
        node.next_request += 1;
        let request_id = ((master as u64) << 40) | node.next_request;
        let register = Command::MasterActive { name };
        self.send_to_node(
            master,
            NodeInput::MasterRequest { connection, request_id, command: register },
        );
        Some(connection)
    }

    /// A master process died: its session's connection ends, as the Node sees it.
    pub(super) fn close_session(&mut self, master: usize) {
        let Some((connection, epoch)) = self.masters[master].session.take() else { return };
        if epoch == self.process.epoch && self.process.node.is_some() {
            self.send_to_node(master, NodeInput::ConnectionClosed { connection });
        }
    }

    pub(super) fn reply_arrived(
        &mut self,
        master: usize,
        incarnation: u64,
        command: &Command,
        result: Result<Reply, RequestError>,
    ) {
        if !self.is_current(master, incarnation) || !self.masters[master].is_alive() {
            return;
        }
        self.learn_claims(master, command, result.is_ok());
        match result {
            Ok(Reply::Master(id)) => {
                let node = &mut self.masters[master];
                let first = node.id.is_none();
                node.id = Some(id);
                if std::mem::take(&mut node.needs_startup_cleanup) {
                    // A restarted master stops its old self in case it crashed (giving
                    // back what it held), then becomes active again; expiry is the Node's.
                    let name = node.name.clone();
                    self.send_command(master, Command::MasterStopped { master: id });
                    self.send_command(master, Command::MasterActive { name });
                }
                if first {
                    // As a real master does once registered: its workers and builders.
                    self.declare_configuration(master, id);
                }
            }
            Ok(Reply::Build(build)) => {
                self.masters[master].builds.insert(build);
            }
            Ok(Reply::BuildRequest(request)) => self.submitted.push(request),
            Ok(Reply::Unclaimed(requests)) => {
                for request in requests {
                    self.masters[master].claims.remove(&request);
                }
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }

    /// Claims are learned from what the registry says, not from what we asked: a reply may
    /// be lost while the claim stands.
    fn learn_claims(&mut self, master: usize, command: &Command, ok: bool) {
        if !ok {
            return;
        }
        let node = &mut self.masters[master];
        match command {
            Command::ClaimBuildRequests { requests, .. } => {
                node.claims.extend(requests.iter().copied())
            }
            Command::CompleteBuildRequests { requests, .. } => {
                for request in requests {
                    node.claims.remove(request);
                }
            }
            Command::FinishBuild { build, .. } => {
                node.builds.remove(build);
            }
            _ => {}
        }
    }

    fn declare_configuration(&mut self, master: usize, id: MasterId) {
        let node = &self.masters[master];
        let worker_names = node.roster.iter().map(|&w| self.worker_names[w].clone()).collect();
        let builder_names = node.builders.clone();
        self.send_command(master, Command::SetConfiguredWorkers { master: id, worker_names });
        self.send_command(master, Command::SetBuilderList { master: id, builder_names });
    }
}
