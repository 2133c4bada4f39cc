//! The cluster simulation's oracles (the list is in the module above).

use std::collections::BTreeMap;

use rollcall_core::registry::{RegistryInput, RegistryOutput, RequestKey};
use rollcall_core::replication::Role;
use rollcall_core::{
    CommandError, ConnectionId, LoggedInput, NodeInput, Registry, Reply, ReplyToken,
};

use super::members::{self, REMOTE};
use super::ClusterWorld;
use crate::oracle::{correctness, liveness, Verdict};

impl ClusterWorld {
    /// Each append the store accepted since the last check, against the lease as it stood.
    pub(super) fn check_appends(&mut self) -> Verdict {
        let state = self.store.borrow();
        for accepted in &state.accepted[self.checked_appends..] {
            let lease = &accepted.lease;
            if lease.holder != Some(accepted.node)
                || lease.epoch != accepted.epoch
                || lease.valid_until_ms < accepted.at_ms
            {
                return Err(correctness(format!(
                    "the store accepted entries {}..={} from node {} at epoch {} while the lease \
                     was {lease:?}",
                    accepted.first_seq, accepted.last_seq, accepted.node, accepted.epoch
                )));
            }
        }
        self.checked_appends = state.accepted.len();
        for (index, (epoch, node, _)) in state.log.iter().enumerate().skip(self.checked_log) {
            if let Some((last_epoch, last_node)) = self.last_logged {
                if *epoch < last_epoch || (*epoch == last_epoch && *node != last_node) {
                    return Err(correctness(format!(
                        "log entry {} is epoch {epoch} from node {node} after epoch {last_epoch} \
                         from node {last_node}",
                        index + 1
                    )));
                }
            }
            self.last_logged = Some((*epoch, *node));
        }
        self.checked_log = state.log.len();
        // The log only grows, so an acknowledged commit found in it stays there.
        for (last, inputs) in &self.acknowledged[self.checked_acknowledged..] {
            let first = *last as usize - inputs.len();
            let stored = state.log.get(first..*last as usize);
            let same = stored.is_some_and(|stored| {
                stored.iter().zip(inputs).all(|((_, _, logged), acked)| logged == acked)
            });
            if !same {
                return Err(correctness(format!(
                    "acknowledged entries {}..={last} are not in the log as committed",
                    first + 1
                )));
            }
        }
        self.checked_acknowledged = self.acknowledged.len();
        self.stats.log_entries = state.log.len() as u64;
        // Every snapshot stored is the log's state after its entry, exactly.
        for (seq, snapshot) in &state.snapshots_written[self.checked_snapshots..] {
            let (replayed, truth) = &mut self.snapshot_truth;
            assert!(*seq > *replayed, "the store keeps only newer snapshots");
            for (_, _, input) in &state.log[*replayed as usize..*seq as usize] {
                truth.replay(input.clone());
            }
            *replayed = *seq;
            if truth.snapshot() != *snapshot {
                return Err(correctness(format!(
                    "the snapshot after entry {seq} differs from the log's state there"
                )));
            }
            self.stats.snapshots += 1;
        }
        self.checked_snapshots = state.snapshots_written.len();
        Ok(())
    }

    pub(super) fn check_one_acting_leader(&self) -> Verdict {
        if !self.settings.clocks_tame() {
            return Ok(());
        }
        let leaders: Vec<usize> = (0..self.members.len())
            .filter(|&node| {
                matches!(self.members[node].replicator.role(self.local(node)), Role::Leader { .. })
            })
            .collect();
        if leaders.len() > 1 {
            return Err(correctness(format!("nodes {leaders:?} act as leader at once")));
        }
        Ok(())
    }

    /// Whenever a standby's session to a leader is settled (registered, nothing in flight
    /// either way), the leader's registry records exactly the standby's attached workers
    /// on the standby's master.
    pub(super) fn check_settled_records(&self) -> Verdict {
        for (index, member) in self.members.iter().enumerate() {
            let Some(leader) = member.link else { continue };
            let session = members::standby_session(index);
            let quiet = member.node.leader_link() == Some((true, 0))
                && member.inbox.is_empty()
                && !self.members[leader].inbox.iter().any(|input| addressed(input, session));
            let Some(registry) = self.members[leader].node.registry() else { continue };
            if !quiet {
                continue;
            }
            let recorded = records_of(registry, &members::master_name(index));
            let attached: BTreeMap<String, ConnectionId> =
                member.node.gateway().attached_workers().into_iter().collect();
            if recorded != attached {
                return Err(correctness(format!(
                    "node {leader} records {recorded:?} on node {index}'s master, whose session \
                     is settled and whose Gateway holds {attached:?}"
                )));
            }
        }
        Ok(())
    }

    /// Replies exactly once: replaying the log, every request the log holds more than once
    /// (sent again after a commit whose reply was lost) got its first answer every time,
    /// and every answer the remote master was given is the log's.
    fn check_exactly_once(&self) -> Verdict {
        let mut registry = Registry::new(self.settings.registry);
        let mut first_answers: BTreeMap<(String, u64), Result<Reply, CommandError>> =
            BTreeMap::new();
        for (_, _, input) in &self.store.borrow().log {
            let LoggedInput::Request { at, master, request_id, command } = input.clone() else {
                registry.replay(input.clone());
                continue;
            };
            let token = ReplyToken(request_id);
            let key = RequestKey { master: master.clone(), request_id };
            registry.handle_request(at, RegistryInput { token, command }, key);
            while let Some(output) = registry.poll_output() {
                let RegistryOutput::Reply { result, .. } = output else { continue };
                match first_answers.get(&(master.clone(), request_id)) {
                    Some(first) if *first != result => {
                        return Err(correctness(format!(
                            "request {request_id} of {master} was answered {first:?}, then \
                             {result:?} when it was sent again"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        first_answers.insert((master.clone(), request_id), result);
                    }
                }
            }
        }
        for (request_id, answer) in &self.answered {
            let logged = first_answers.get(&(REMOTE.to_string(), *request_id));
            if logged != Some(answer) {
                return Err(correctness(format!(
                    "the master was answered {answer:?} for request {request_id}, the log's \
                     answer is {logged:?}"
                )));
            }
        }
        Ok(())
    }

    /// After healing: one leader, every node's registry the log's, and every node's own
    /// master registered, active and recording exactly the workers its Gateway holds.
    pub(super) fn check_end(&mut self) -> Verdict {
        self.check_exactly_once()?;
        // Standbys' heartbeats reach the log to the end: each standby reads what it has
        // not yet (a few reads at most: the world is healed and quiet).
        let entries = self.store.borrow().log.len() as u64;
        for index in 0..self.members.len() {
            let now = self.local(index);
            for _ in 0..8 {
                let member = &mut self.members[index];
                if member.node.is_serving() || member.replicator.applied_seq() >= entries {
                    break;
                }
                let _ = member.replicator.tick(now);
            }
        }
        let truth = self.log_replayed();
        let mut leaders = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            let now = self.local(index);
            let state = match (member.replicator.role(now), member.node.registry()) {
                (Role::Leader { .. }, Some(registry)) => {
                    leaders.push(index);
                    registry
                }
                _ => match member.replicator.replica() {
                    Some(replica) => replica,
                    None => {
                        return Err(liveness(format!("node {index} is neither leader nor standby")))
                    }
                },
            };
            if state.snapshot() != truth.snapshot() {
                return Err(liveness(format!(
                    "after healing, node {index}'s registry differs from the log ({} entries, \
                     {} applied)",
                    self.store.borrow().log.len(),
                    member.replicator.applied_seq()
                )));
            }
        }
        if leaders.len() != 1 {
            return Err(liveness(format!("{} leaders after healing, not one", leaders.len())));
        }
        for (index, member) in self.members.iter().enumerate() {
            let name = members::master_name(index);
            let Some(row) = truth.master_by_name(&name) else {
                return Err(liveness(format!("after healing, node {index}'s master has no row")));
            };
            if !row.active {
                return Err(liveness(format!("after healing, node {index}'s master is inactive")));
            }
            let recorded = records_of(&truth, &name);
            let attached: BTreeMap<String, ConnectionId> =
                member.node.gateway().attached_workers().into_iter().collect();
            if recorded != attached {
                return Err(liveness(format!(
                    "after healing, the registry records {recorded:?} on node {index}'s master, \
                     its Gateway holds {attached:?}"
                )));
            }
        }
        Ok(())
    }
}

/// The connection records `registry` holds on the master named `master`.
fn records_of(registry: &Registry, master: &str) -> BTreeMap<String, ConnectionId> {
    let Some(row) = registry.master_by_name(master) else { return BTreeMap::new() };
    registry
        .workers()
        .filter_map(|worker| {
            let connection = *worker.connected_to.get(&row.id)?;
            Some((worker.record.name.clone(), connection))
        })
        .collect()
}

/// Whether `input` concerns the session on `connection`.
fn addressed(input: &NodeInput, connection: ConnectionId) -> bool {
    match input {
        NodeInput::MasterSessionOpened { connection: on, .. }
        | NodeInput::MasterRequest { connection: on, .. }
        | NodeInput::ConnectionClosed { connection: on } => *on == connection,
        _ => false,
    }
}
