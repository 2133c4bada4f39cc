//! Driving a master's Gateway: inputs and timeouts on the master's own clock, its outputs
//! routed to the network and its events to the Node, with the Gateway oracles
//! (`oracle::gateway`) checked where the events happen.

use rollcall_core::{Command, Gateway, GatewayEvent, GatewayInput, GatewayOutput};

use crate::oracle::gateway;
use crate::world::{Event, World};

impl World {
    /// Feeds the master's Gateway one input on its own clock and routes what it says.
    pub(super) fn gateway_input(&mut self, master: usize, input: GatewayInput) {
        let local = self.masters[master].local_time(self.now);
        let hello = match &input {
            GatewayInput::Hello { connection, worker, .. } => Some((*connection, worker.clone())),
            _ => None,
        };
        let touched = match &input {
            GatewayInput::Hello { connection, .. }
            | GatewayInput::Keepalive { connection }
            | GatewayInput::Pong { connection, .. }
            | GatewayInput::Closed { connection } => {
                self.links.get(*connection).map(|link| link.worker)
            }
            GatewayInput::Reconfig { .. } => None,
        };
        let Some(gateway) = self.masters[master].gateway.as_mut() else { return };
        self.closing = match input {
            GatewayInput::Closed { connection } => Some(connection),
            _ => None,
        };
        gateway.handle(local, input);
        self.drain_gateway(master);
        self.closing = None;
        if let Some((connection, offered)) = hello {
            if let Some(gateway) = self.masters[master].gateway.as_ref() {
                // Valid credentials name the connection's own worker (see `gateway_receives`).
                let worker = self
                    .links
                    .get(connection)
                    .filter(|link| link.credentials_valid)
                    .map(|link| self.worker_names[link.worker].as_str());
                if let Err(violation) =
                    gateway::check_newest_wins(gateway, master, connection, &offered, worker)
                {
                    self.fail(violation);
                }
            }
        }
        if let Some(worker) = touched {
            let name = &self.worker_names[worker];
            let node = &self.masters[master];
            let verdict = node.attached_view.check_reported(
                &self.worker_names,
                node.gateway.as_ref(),
                master,
                name,
            );
            if let Err(violation) = verdict {
                self.fail(violation);
            }
        }
        self.schedule_gateway_wake(master);
    }

    pub(super) fn gateway_wake(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        self.masters[master].gateway_wake = None;
        if !self.masters[master].is_alive() {
            return;
        }
        let local = self.masters[master].local_time(self.now);
        if let Some(gateway) = self.masters[master].gateway.as_mut() {
            gateway.handle_timeout(local);
        }
        self.drain_gateway(master);
        self.schedule_gateway_wake(master);
    }

    pub(super) fn schedule_gateway_wake(&mut self, master: usize) {
        let node = &self.masters[master];
        let Some(deadline) = node.gateway.as_ref().and_then(Gateway::poll_timeout) else { return };
        let at = node.global_time(deadline).max(self.now);
        if node.gateway_wake.is_some_and(|scheduled| scheduled <= at) {
            return;
        }
        let incarnation = node.incarnation;
        self.masters[master].gateway_wake = Some(at);
        self.schedule_at(at, Event::GatewayWake { master, incarnation });
    }

    fn drain_gateway(&mut self, master: usize) {
        while let Some(output) =
            self.masters[master].gateway.as_mut().and_then(Gateway::poll_output)
        {
            match output {
                GatewayOutput::Send { connection, message } => {
                    // Frames are the bulk of a run: hash them compactly, not through Debug.
                    self.trace.number(connection.get());
                    self.trace.number(message_tag(&message));
                    // Simulated workers ignore keepalive acks: not delivering them saves a
                    // third of all events without changing anything a worker does.
                    if message != rollcall_core::ToWorker::KeepaliveAck {
                        self.send_to_worker(connection, Some(message));
                    }
                }
                GatewayOutput::Close { connection, reason } => {
                    self.trace.number(connection.get());
                    self.trace.number(reason as u64);
                    self.send_to_worker(connection, None);
                    // The daemon's connection task reports every close to the core, also
                    // the ones the core asked for, after whatever it was doing: a late
                    // close of a connection the Gateway already forgot (replaced, timed
                    // out, refused) must change nothing (Buildbot #4678).
                    self.send_to_gateway(connection, GatewayInput::Closed { connection });
                }
                GatewayOutput::Event(event) => {
                    self.trace.gateway_event(&event);
                    self.gateway_event(master, event);
                }
            }
        }
    }

    fn gateway_event(&mut self, master: usize, event: GatewayEvent) {
        let id = self.masters[master].id;
        match event {
            GatewayEvent::Attached { worker, connection } => {
                self.stats.attaches += 1;
                let view = &mut self.masters[master].attached_view;
                if let Err(violation) = view.attached(&self.worker_names, &worker, connection) {
                    self.fail(violation);
                }
                let link = self.links.get(connection);
                let valid =
                    link.is_some_and(|link| link.credentials_valid && link.master == master);
                if let Err(violation) =
                    gateway::check_attached_with_credentials(&worker, connection, valid, link)
                {
                    self.fail(violation);
                }
                if let Some(id) = id {
                    self.send_command(
                        master,
                        Command::WorkerConnected { master: id, worker_name: worker, connection },
                    );
                }
            }
            GatewayEvent::Detached { worker, connection, reason } => {
                if let Err(violation) =
                    gateway::check_peer_closed(&worker, connection, reason, self.closing)
                {
                    self.fail(violation);
                }
                let view = &mut self.masters[master].attached_view;
                if let Err(violation) = view.detached(&self.worker_names, &worker, connection) {
                    self.fail(violation);
                }
                if let Some(id) = id {
                    self.send_command(
                        master,
                        Command::WorkerDisconnected { master: id, worker_name: worker, connection },
                    );
                }
            }
            _ => {}
        }
    }
}

fn message_tag(message: &rollcall_core::ToWorker) -> u64 {
    use rollcall_core::ToWorker;
    match message {
        ToWorker::Welcome => 1,
        ToWorker::BuilderList { builders } => 2 + 16 * builders.len() as u64,
        ToWorker::Rejected { reason } => 3 + 16 * (*reason as u64),
        ToWorker::Ping { nonce } => 4 + 16 * nonce,
        ToWorker::KeepaliveAck => 5,
    }
}

#[cfg(test)]
mod tests {
    use rollcall_core::{CloseReason, ConnectionId};

    use super::*;
    use crate::settings::Settings;
    use crate::world::master::worker_name;

    /// The oracle that caught the planted late-close bug: a Gateway may detach a connection
    /// as closed by its peer only while it handles that connection's own close.
    #[test]
    fn a_peer_closed_detach_of_another_connection_than_the_one_closing_fails_the_run() {
        let settings = Settings::derive(0, crate::settings::Overrides::default());
        let mut world = World::new(settings);
        world.closing = Some(ConnectionId(65));
        let detached = GatewayEvent::Detached {
            worker: worker_name(0),
            connection: ConnectionId(66),
            reason: CloseReason::PeerClosed,
        };
        world.gateway_event(0, detached);
        let failure = world.failure.as_ref().map(|violation| violation.message.as_str());
        assert_eq!(
            failure,
            Some(
                "worker-0 detached from 66 as closed by its peer, but the close being handled \
                 is Some(ConnectionId(65))'s"
            )
        );
    }
}
