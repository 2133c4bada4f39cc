//! Simulated workers: connect, keepalive, answer pings, drop, come back, sometimes twice
//! at once, sometimes with a wrong password or a name nobody configured.

use rollcall_core::{ConnectionId, GatewayInput, Password, Timestamp, ToWorker};

use crate::settings::Settings;
use crate::world::{Event, Link, World};

#[derive(Debug)]
pub(super) struct WorkerNode {
    master: usize,
    /// Open connections, as this worker sees them.
    connections: Vec<ConnectionId>,
    attached: Option<ConnectionId>,
    frozen_until: Option<Timestamp>,
}

impl WorkerNode {
    pub(super) fn new(index: usize, settings: &Settings) -> WorkerNode {
        WorkerNode {
            master: index % settings.masters,
            connections: Vec::new(),
            attached: None,
            frozen_until: None,
        }
    }
}

impl World {
    pub(super) fn worker_tick(&mut self, worker: usize) {
        let interval = self.settings.keepalive_interval_ms;
        let next = self.workload_rng.between(interval / 2, interval);
        self.schedule(next, Event::WorkerTick { worker });
        if self.workers[worker].frozen_until.is_some_and(|until| until > self.now) {
            return;
        }
        let (duplicate_connect, connection_drop) =
            (self.settings.faults.duplicate_connect, self.settings.faults.connection_drop);
        if self.workers[worker].connections.is_empty() {
            self.connect(worker);
            if !self.healed && self.workload_rng.chance(duplicate_connect) {
                self.connect(worker);
            }
            return;
        }
        if !self.healed && self.workload_rng.chance(connection_drop) {
            // The network breaks one connection: both ends learn it, after a delay.
            let connection = self.workers[worker].connections[0];
            self.send_to_worker(connection, None);
            self.send_to_gateway(connection, GatewayInput::Closed { connection });
            return;
        }
        if !self.healed && self.workload_rng.chance(connection_drop / 2) {
            // Frozen (SIGSTOP): silent until thawed, so keepalive deadlines can pass.
            let pause = self.workload_rng.between(1, 3) * self.settings.keepalive_timeout_ms;
            self.workers[worker].frozen_until = Some(self.now.plus_millis(pause));
            return;
        }
        for index in 0..self.workers[worker].connections.len() {
            let connection = self.workers[worker].connections[index];
            self.send_to_gateway(connection, GatewayInput::Keepalive { connection });
        }
    }

    fn connect(&mut self, worker: usize) {
        let master = self.workers[worker].master;
        let faults = &self.settings.faults;
        let (mut name, mut password) =
            (self.worker_names[worker].clone(), self.worker_passwords[worker].clone());
        if !self.healed && self.workload_rng.chance(faults.bad_credentials) {
            if self.workload_rng.chance(500_000) {
                password = Password::new("wrong");
            } else {
                name = format!("stranger-{worker}");
            }
        }
        let connection = self.links.open(Link {
            worker,
            master,
            incarnation: self.masters[master].incarnation,
            credentials_valid: false,
            last_to_master: self.now,
            last_to_worker: self.now,
        });
        self.workers[worker].connections.push(connection);
        self.send_to_gateway(
            connection,
            GatewayInput::Hello { connection, worker: name, password },
        );
    }

    /// Worker to Gateway: in order per connection, after a network delay.
    pub(super) fn send_to_gateway(&mut self, connection: ConnectionId, input: GatewayInput) {
        let delay = self.network_rng.between(1, self.settings.faults.network_delay_ms);
        let Some(link) = self.links.get_mut(connection) else { return };
        let at = self.now.plus_millis(delay).max(link.last_to_master);
        link.last_to_master = at;
        self.schedule_at(at, Event::ToGateway { connection, input });
    }

    /// Gateway to worker: in order per connection; `None` closes it.
    pub(super) fn send_to_worker(&mut self, connection: ConnectionId, message: Option<ToWorker>) {
        let delay = self.network_rng.between(1, self.settings.faults.network_delay_ms);
        let Some(link) = self.links.get_mut(connection) else { return };
        let at = self.now.plus_millis(delay).max(link.last_to_worker);
        link.last_to_worker = at;
        self.schedule_at(at, Event::ToWorker { connection, message });
    }

    pub(super) fn gateway_receives(&mut self, connection: ConnectionId, input: GatewayInput) {
        let Some(link) = self.links.get(connection) else { return };
        let (master, incarnation, own) = (link.master, link.incarnation, link.worker);
        let node = &self.masters[master];
        if node.incarnation != incarnation || !self.is_current(master, incarnation) {
            // The master process this connection went to is gone.
            return;
        }
        if !node.is_alive() {
            // Frozen: the kernel queues the bytes; they are read once the process thaws.
            let at = self.now.plus_millis(1_000);
            self.schedule_at(at, Event::ToGateway { connection, input });
            return;
        }
        if let GatewayInput::Hello { worker, password, .. } = &input {
            // Judged against the roster the Gateway holds when the Hello arrives.
            // A worker offers its own name (or a stranger's): valid when that name is in
            // the roster the Gateway holds as the Hello arrives, with the right password.
            let valid = self.masters[master].roster.contains(&own)
                && *worker == self.worker_names[own]
                && *password == self.worker_passwords[own];
            if let Some(link) = self.links.get_mut(connection) {
                link.credentials_valid = valid;
            }
        }
        self.gateway_input(master, input);
    }

    pub(super) fn worker_receives(&mut self, connection: ConnectionId, message: Option<ToWorker>) {
        let Some(worker) = self.links.get(connection).map(|link| link.worker) else { return };
        let node = &mut self.workers[worker];
        if !node.connections.contains(&connection) {
            return;
        }
        match message {
            None | Some(ToWorker::Rejected { .. }) => {
                node.connections.retain(|open| *open != connection);
                if node.attached == Some(connection) {
                    node.attached = None;
                }
            }
            Some(ToWorker::Welcome) => node.attached = Some(connection),
            Some(ToWorker::Ping { nonce }) => {
                if node.frozen_until.is_none_or(|until| until <= self.now) {
                    self.send_to_gateway(connection, GatewayInput::Pong { connection, nonce });
                }
            }
            Some(ToWorker::BuilderList { .. } | ToWorker::KeepaliveAck) => {}
        }
    }

    /// A master process died: every connection to it ends, as the workers see it.
    pub(super) fn drop_connections_to(&mut self, master: usize) {
        for index in 0..self.links.to_master(master).len() {
            let connection = self.links.to_master(master)[index];
            let Some(worker) = self.links.get(connection).map(|link| link.worker) else {
                continue;
            };
            if self.workers[worker].connections.contains(&connection) {
                self.send_to_worker(connection, None);
            } else {
                // The worker let this connection go already and never takes an id back, so
                // the close would find nothing to do (see `worker_receives`): skip the
                // delivery, but draw its delay all the same, so that the network's random
                // stream, and with it the rest of the run, stays exactly what it was.
                self.network_rng.between(1, self.settings.faults.network_delay_ms);
            }
        }
    }
}
