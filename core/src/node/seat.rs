//! Which seat a Node holds in a cluster, and how it changes seats without dropping its
//! workers: a standby forwards its own master's commands to the leader
//! ([`forwarding`](super::forwarding)); the leader (and a single node) serves the
//! Registry. A takeover promotes a standby onto the caught-up registry; a leader whose
//! commit is fenced, or whose lease runs out, is deposed back to forwarding.

use std::collections::BTreeMap;

use crate::{Command, ConnectionId, Gateway, Registry, Timestamp};

use super::batch::Batches;
use super::forwarding::Forwarder;
use super::{Node, NodeConfig, NodeEvent, NodeOutput, SessionCloseReason, StartError};

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per Node, never moved on a hot path; a box would cost every registry access an indirection"
)]
pub(super) enum Seat {
    /// This node serves the Registry: a single node, or a cluster's leader.
    Serving(Registry),
    /// A cluster's standby: the leader serves the Registry.
    Forwarding(Forwarder),
}

impl Node {
    /// A cluster standby's Node: its Gateway takes its own workers at once, and its own
    /// master registers at the leader once the driver reports a session to it
    /// ([`NodeInput::LeaderSessionOpened`](super::NodeInput::LeaderSessionOpened)).
    /// `first_request_id` should differ from the last run's (pick it at random).
    ///
    /// # Errors
    ///
    /// When the configuration is invalid.
    pub fn start_forwarding(
        now: Timestamp,
        config: NodeConfig,
        first_request_id: u64,
    ) -> Result<Node, StartError> {
        config.validate().map_err(StartError::Config)?;
        let gateway = Gateway::new(now, config.gateway, config.roster.clone())
            .map_err(StartError::Gateway)?;
        Ok(Node {
            next_heartbeat: now.plus_millis(config.heartbeat_interval_ms),
            config,
            seat: Seat::Forwarding(Forwarder::new(first_request_id, false)),
            gateway,
            master: crate::MasterId(0),
            sessions: BTreeMap::new(),
            next_token: 0,
            batches: Batches::default(),
            stopped: false,
        })
    }

    /// Whether this Node serves the Registry (a single node or a leader) or forwards to
    /// the leader (a standby).
    pub fn is_serving(&self) -> bool {
        matches!(self.seat, Seat::Serving(_))
    }

    /// A takeover: this standby now serves `registry` (the replica, caught up to the log's
    /// end, its input log started). Its workers stay attached; its own master is
    /// registered, declared, and its connection records made to match the Gateway. The
    /// changes form a batch, as any input's.
    ///
    /// # Errors
    ///
    /// When the Registry refuses a step: the replicated state is broken.
    ///
    /// # Panics
    ///
    /// When the Node already serves, or a batch awaits durability.
    pub fn promote(&mut self, now: Timestamp, mut registry: Registry) -> Result<(), StartError> {
        self.batches.begin_input();
        assert!(!self.stopped, "a stopped node is never promoted");
        let Seat::Forwarding(forwarder) = &self.seat else {
            panic!("only a forwarding node is promoted")
        };
        let recovered = forwarder.recovered();
        registry.set_config(self.config.registry);
        self.seat = Seat::Serving(registry);
        let name = self.config.master_name.clone();
        let master = match self.startup_step(
            now,
            "RegisterMaster",
            Command::RegisterMaster { name: name.clone() },
        )? {
            crate::Reply::Master(id) => id,
            other => unreachable!("RegisterMaster replies with a master id, not {other:?}"),
        };
        self.master = master;
        if !recovered {
            // Never registered at a leader in this run: what a crashed run held is given
            // back, as at any start.
            self.startup_step(
                now,
                "RecoverCrashedMaster",
                Command::RecoverCrashedMaster { master },
            )?;
        }
        let expire = Command::ExpireMasters { force_housekeeping: true };
        self.startup_step(now, "ExpireMasters", expire)?;
        self.startup_step(now, "MasterActive", Command::MasterActive { name })?;
        self.declare_configuration(now);
        self.reconcile_connection_records(now);
        self.next_heartbeat = now.plus_millis(self.config.heartbeat_interval_ms);
        self.batches.hold(NodeOutput::Event(NodeEvent::Promoted { master }));
        Ok(())
    }

    /// The registry's connection records for the own master become the Gateway's: records
    /// of workers that left while another node led (their detach never reached it) go,
    /// every attached worker is recorded.
    fn reconcile_connection_records(&mut self, now: Timestamp) {
        let master = self.master;
        let attached: BTreeMap<String, ConnectionId> =
            self.gateway.attached_workers().into_iter().collect();
        let Seat::Serving(registry) = &self.seat else { return };
        let stale: Vec<(String, ConnectionId)> = registry
            .workers()
            .filter_map(|worker| {
                let connection = *worker.connected_to.get(&master)?;
                let current = attached.get(&worker.record.name) == Some(&connection);
                (!current).then(|| (worker.record.name.clone(), connection))
            })
            .collect();
        for (worker_name, connection) in stale {
            let command = Command::WorkerDisconnected { master, worker_name, connection };
            self.local_may_fail(now, "WorkerDisconnected", command);
        }
        for (worker_name, connection) in attached {
            let command = Command::WorkerConnected { master, worker_name, connection };
            self.local_may_fail(now, "WorkerConnected", command);
        }
    }

    /// A leader that lost its lease, or whose commit was fenced, stands by again. The batch
    /// that was not made durable is lost but for what the Gateway alone decided: its
    /// frames and closes to this node's workers go out (their connection records reach the
    /// next leader when this node registers there), while its replies to remote masters,
    /// which would acknowledge changes no leader holds, are dropped. Remote masters'
    /// sessions close (they follow the leader); the workers stay.
    /// `first_request_id` numbers the requests to the next leader.
    ///
    /// # Panics
    ///
    /// When the Node does not serve.
    pub fn depose(&mut self, first_request_id: u64) {
        assert!(self.is_serving(), "only a serving node is deposed");
        // What the next leader may record for the own master: every record this one
        // holds, and those the lost batch removed (the log still has them).
        let master = self.master;
        let mut maybe_recorded: Vec<(String, ConnectionId)> = match &self.seat {
            Seat::Serving(registry) => registry
                .workers()
                .filter_map(|worker| {
                    Some((worker.record.name.clone(), *worker.connected_to.get(&master)?))
                })
                .collect(),
            Seat::Forwarding(_) => Vec::new(),
        };
        for output in self.batches.abandon() {
            if let NodeOutput::Event(NodeEvent::Gateway(crate::GatewayEvent::Detached {
                worker,
                connection,
                ..
            })) = &output
            {
                maybe_recorded.push((worker.clone(), *connection));
            }
            match output {
                NodeOutput::ToWorker { .. }
                | NodeOutput::CloseWorker { .. }
                | NodeOutput::CloseSession { .. }
                | NodeOutput::Event(NodeEvent::Gateway(_)) => self.batches.release(output),
                _ => {}
            }
        }
        for connection in std::mem::take(&mut self.sessions).into_keys() {
            let reason = SessionCloseReason::NotLeader;
            self.batches.release(NodeOutput::CloseSession { connection, reason });
        }
        let mut forwarder = Forwarder::new(first_request_id, true);
        forwarder.may_hold(maybe_recorded);
        self.seat = Seat::Forwarding(forwarder);
        let master = self.master;
        self.batches.release(NodeOutput::Event(NodeEvent::Deposed { master }));
    }
}
