//! Routing each event to the node it is for, and the end-of-run checks.

use crate::oracle::{liveness, RegistryOracle, Verdict, Violation};
use crate::world::master::Life;
use crate::world::{Event, World};

impl World {
    pub(super) fn dispatch(&mut self, event: Event) -> Verdict {
        match event {
            Event::ToNode { epoch, input } => {
                if let rollcall_core::NodeInput::MasterRequest { request_id, .. } = &input {
                    self.trace.number(*request_id);
                }
                self.node_receives(epoch, input)?;
            }
            Event::ToMaster { master, incarnation, command, result } => {
                self.reply_arrived(master, incarnation, &command, result);
            }
            Event::ToGateway { connection, input } => {
                self.trace.number(connection.get());
                self.gateway_receives(connection, input);
            }
            Event::ToWorker { connection, message } => self.worker_receives(connection, message),
            Event::MasterHeartbeat { master, incarnation } => self.heartbeat(master, incarnation),
            Event::MasterWorkload { master, incarnation } => self.workload(master, incarnation),
            Event::GatewayWake { master, incarnation } => self.gateway_wake(master, incarnation),
            Event::NodeWake => self.node_wake()?,
            Event::WorkerTick { worker } => self.worker_tick(worker),
            Event::Fault => self.inject_fault(),
            Event::RestartNode => self.start_node()?,
            Event::RestartMaster { master } => {
                if matches!(self.masters[master].life, Life::Crashed { restarts: true }) {
                    self.start_master(master);
                }
            }
            Event::Thaw { master } => {
                if self.masters[master].life == Life::Frozen {
                    self.masters[master].life = Life::Alive;
                }
            }
            Event::Heal => self.heal(),
        }
        Ok(())
    }

    pub(super) fn fail(&mut self, violation: Violation) {
        if self.failure.is_none() {
            self.failure = Some(violation);
        }
    }

    /// After the liveness phase: masters that kept beating are active, stopped ones are
    /// not, every request is complete or held by a live master, everything acknowledged
    /// is there, and the state holds the invariants.
    pub(super) fn check_end_of_run(&mut self) -> Verdict {
        let Some(registry) = self.process.registry() else {
            return Err(liveness("the node is still down after the liveness phase".into()));
        };
        let own = self.process.node.as_ref().map(rollcall_core::Node::master);
        if !own.and_then(|id| registry.master(id)).is_some_and(|row| row.active) {
            return Err(liveness(format!("the node's own master {own:?} is not active")));
        }
        RegistryOracle::check_state(registry)?;
        self.oracle.check_facts(registry)?;
        for (index, node) in self.masters.iter().enumerate() {
            let Some(id) = node.id else {
                if node.is_alive() {
                    return Err(liveness(format!("master {index} never learned its id")));
                }
                continue;
            };
            let active = registry.master(id).is_some_and(|m| m.active);
            match node.life {
                Life::Alive if !active => {
                    return Err(liveness(format!(
                        "master {index} ({id}) kept heartbeating but is inactive"
                    )));
                }
                Life::Crashed { .. } if active => {
                    return Err(liveness(format!(
                        "master {index} ({id}) stopped but is still active"
                    )));
                }
                _ => {}
            }
        }
        for request in registry.build_requests() {
            if request.complete {
                continue;
            }
            let live_claimer = request
                .claimed_by
                .is_some_and(|master| registry.master(master).is_some_and(|m| m.active));
            if !live_claimer {
                return Err(liveness(format!(
                    "request {} is neither complete nor held by a live master: {request:?}, now {}",
                    request.id, self.now
                )));
            }
        }
        Ok(())
    }
}
