//! The Node's own master: its heartbeat, its workers' connection records, its
//! configuration, its shutdown.

use crate::{Command, GatewayEvent, GatewayInput, Timestamp};

use super::{Node, NodeConfig, NodeEvent, NodeOutput, SessionCloseReason};

impl Node {
    /// Buildbot's schedule: masterActive for ourselves, then expireMasters.
    /// On a standby, only the masterActive: the leader runs the sweeps.
    pub(super) fn heartbeat(&mut self, now: Timestamp) {
        self.next_heartbeat = now.plus_millis(self.config.heartbeat_interval_ms);
        let Some(registry) = self.registry() else {
            self.forwarded_heartbeat(now);
            return;
        };
        let was_active = registry.master(self.master).is_some_and(|row| row.active);
        let name = self.config.master_name.clone();
        self.local_must_succeed(now, "MasterActive", Command::MasterActive { name });
        let expire = Command::ExpireMasters { force_housekeeping: false };
        self.local_must_succeed(now, "ExpireMasters", expire);
        if !was_active {
            // Expired while silent (a suspended host): stopping gave back the builders,
            // configured workers and connection records; declare them again.
            self.declare_configuration(now);
            self.report_attached_workers(now);
            let master = self.master;
            self.batches.hold(NodeOutput::Event(NodeEvent::Revived { master }));
        }
    }

    /// Tells the Registry which workers and builders this master has configured.
    pub(super) fn declare_configuration(&mut self, now: Timestamp) {
        let master = self.master;
        let worker_names = self.config.worker_names();
        let builder_names = self.config.builder_names.clone();
        // Refused only while the master is inactive (expired before a reconfig): the
        // heartbeat that revives it declares again.
        let workers = Command::SetConfiguredWorkers { master, worker_names };
        self.local_may_fail(now, "SetConfiguredWorkers", workers);
        let builders = Command::SetBuilderList { master, builder_names };
        self.local_may_fail(now, "SetBuilderList", builders);
    }

    fn report_attached_workers(&mut self, now: Timestamp) {
        for (worker_name, connection) in self.gateway.attached_workers() {
            let command = Command::WorkerConnected { master: self.master, worker_name, connection };
            self.local_may_fail(now, "WorkerConnected", command);
        }
    }

    /// The Gateway's news becomes the own master's connection records.
    pub(super) fn gateway_event(&mut self, now: Timestamp, event: GatewayEvent) {
        let master = self.master;
        match &event {
            GatewayEvent::Attached { worker, connection } => {
                let command = Command::WorkerConnected {
                    master,
                    worker_name: worker.clone(),
                    connection: *connection,
                };
                self.batches.hold(NodeOutput::Event(NodeEvent::Gateway(event)));
                self.local_may_fail(now, "WorkerConnected", command);
                return;
            }
            GatewayEvent::Detached { worker, connection, .. } => {
                let command = Command::WorkerDisconnected {
                    master,
                    worker_name: worker.clone(),
                    connection: *connection,
                };
                self.batches.hold(NodeOutput::Event(NodeEvent::Gateway(event)));
                self.local_may_fail(now, "WorkerDisconnected", command);
                return;
            }
            _ => {}
        }
        self.batches.hold(NodeOutput::Event(NodeEvent::Gateway(event)));
    }

    pub(super) fn reconfig(&mut self, now: Timestamp, config: NodeConfig) {
        let refusal = if config.master_name != self.config.master_name {
            Some(format!(
                "the master's name cannot change from {:?} to {:?} without a restart",
                self.config.master_name, config.master_name
            ))
        } else {
            config.validate().err().map(|error| error.to_string())
        };
        if let Some(reason) = refusal {
            self.batches.hold(NodeOutput::Event(NodeEvent::ReconfigRejected { reason }));
            return;
        }
        let input =
            GatewayInput::Reconfig { config: config.gateway, roster: config.roster.clone() };
        self.gateway.handle(now, input);
        let mut rejected = None;
        while let Some(output) = self.gateway.poll_output() {
            if let crate::GatewayOutput::Event(GatewayEvent::ReconfigRejected { reason }) = &output
            {
                rejected = Some(reason.clone());
            }
            self.route_gateway_output(now, output);
        }
        if let Some(reason) = rejected {
            self.batches.hold(NodeOutput::Event(NodeEvent::ReconfigRejected { reason }));
            return;
        }
        // The registry's window applies to sweeps from now on; its rows stay as they are.
        if let super::Seat::Serving(registry) = &mut self.seat {
            registry.set_config(config.registry);
        }
        self.config = config;
        self.close_deauthorized_sessions();
        self.declare_configuration(now);
        // A heartbeat now, on the new schedule: a shorter window takes effect at once, and
        // the sweep it makes due must not find the Node's own master silent for longer
        // than it (the old interval may be longer than the new window).
        self.heartbeat(now);
        self.batches.hold(NodeOutput::Event(NodeEvent::ReconfigApplied));
    }

    /// Closes every connection and stops the own master.
    pub(super) fn shut_down(&mut self, now: Timestamp) {
        for (_, connection) in self.gateway.attached_workers() {
            let reason = crate::CloseReason::MasterShuttingDown;
            self.batches.hold(NodeOutput::CloseWorker { connection, reason });
        }
        for connection in std::mem::take(&mut self.sessions).into_keys() {
            let reason = SessionCloseReason::ShuttingDown;
            self.batches.hold(NodeOutput::CloseSession { connection, reason });
        }
        let master = self.master;
        if self.is_serving() {
            self.local_must_succeed(now, "MasterStopped", Command::MasterStopped { master });
        } else {
            self.forwarded_stop(now);
        }
        self.batches.hold(NodeOutput::Event(NodeEvent::Stopped { master }));
        self.stopped = true;
    }

    /// A command for the own master the Registry cannot refuse unless its state is broken.
    /// On a standby it goes to the leader, which answers later.
    pub(super) fn local_must_succeed(
        &mut self,
        now: Timestamp,
        name: &'static str,
        command: Command,
    ) {
        if !self.is_serving() {
            self.forward(now, name, command);
            return;
        }
        if let Err(error) = self.local(now, command) {
            panic!("the registry refused the node's own {name}: {error}");
        }
    }

    /// A report the Registry may refuse (its master was expired meanwhile): told, not fatal.
    /// On a standby it goes to the leader, which answers later.
    pub(super) fn local_may_fail(&mut self, now: Timestamp, name: &'static str, command: Command) {
        if !self.is_serving() {
            self.forward(now, name, command);
            return;
        }
        if let Err(error) = self.local(now, command) {
            let event = NodeEvent::OwnCommandRefused { command: name, error };
            self.batches.hold(NodeOutput::Event(event));
        }
    }
}
