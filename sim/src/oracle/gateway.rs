//! What a master's Gateway must hold to: its events tell one consistent story of who is
//! attached where, that story matches what the Gateway itself reports, only workers with
//! valid credentials attach, and under drop-older the newest connection wins.

use std::collections::BTreeMap;
use std::fmt;

use rollcall_core::{CloseReason, ConnectionId, DuplicatePolicy, Gateway};

use super::{correctness, Verdict};

/// Who a master's Gateway says is attached where, by worker name. The simulation's own
/// workers (`worker-N`) are looked up by index, any other name in a map.
#[derive(Debug, Default)]
pub(crate) struct AttachedView {
    by_worker: Vec<Option<ConnectionId>>,
    others: BTreeMap<String, ConnectionId>,
}

/// The index of the simulation's worker with exactly this name.
fn worker_index(names: &[String], name: &str) -> Option<usize> {
    let index: usize = name.strip_prefix("worker-")?.parse().ok()?;
    (names.get(index)? == name).then_some(index)
}

impl AttachedView {
    fn get(&self, names: &[String], name: &str) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => self.by_worker.get(index).copied().flatten(),
            None => self.others.get(name).copied(),
        }
    }

    /// Records an attachment and returns the one it replaced, if any.
    fn insert(
        &mut self,
        names: &[String],
        name: &str,
        connection: ConnectionId,
    ) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => {
                if self.by_worker.len() <= index {
                    self.by_worker.resize(index + 1, None);
                }
                self.by_worker[index].replace(connection)
            }
            None => self.others.insert(name.to_string(), connection),
        }
    }

    fn remove(&mut self, names: &[String], name: &str) -> Option<ConnectionId> {
        match worker_index(names, name) {
            Some(index) => self.by_worker.get_mut(index).and_then(Option::take),
            None => self.others.remove(name),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_worker.clear();
        self.others.clear();
    }

    /// An `Attached` event: recorded even when it breaks the story, so that the next
    /// event is judged against what the Gateway now claims.
    pub(crate) fn attached(
        &mut self,
        names: &[String],
        worker: &str,
        connection: ConnectionId,
    ) -> Verdict {
        if let Some(previous) = self.insert(names, worker, connection) {
            return Err(correctness(format!(
                "{worker} attached on {connection} while still attached on {previous}"
            )));
        }
        Ok(())
    }

    /// A `Detached` event: forgotten whatever it was attached on, for the same reason.
    pub(crate) fn detached(
        &mut self,
        names: &[String],
        worker: &str,
        connection: ConnectionId,
    ) -> Verdict {
        match self.remove(names, worker) {
            Some(attached) if attached == connection => Ok(()),
            other => Err(correctness(format!(
                "{worker} detached from {connection} while attached on {other:?}"
            ))),
        }
    }

    /// The Gateway's own answer for `name` is the one its events add up to.
    pub(crate) fn check_reported(
        &self,
        names: &[String],
        gateway: Option<&Gateway>,
        master: usize,
        name: &str,
    ) -> Verdict {
        let reported = gateway.and_then(|gateway| gateway.attached_connection(name));
        let seen = self.get(names, name);
        if reported != seen {
            return Err(correctness(format!(
                "master {master}'s gateway says {name} is attached on {reported:?}, its events say {seen:?}"
            )));
        }
        Ok(())
    }
}

/// An attach needs the right name and password for this very master; `link` is the
/// network's record of the connection, printed as evidence.
pub(crate) fn check_attached_with_credentials<L: fmt::Debug>(
    worker: &str,
    connection: ConnectionId,
    valid: bool,
    link: Option<&L>,
) -> Verdict {
    if !valid {
        return Err(correctness(format!(
            "{worker} attached on {connection} without valid credentials ({link:?})"
        )));
    }
    Ok(())
}

/// A Gateway may detach a connection as closed by its peer only while it handles that
/// connection's own close (`closing`): anything else is a late close hitting the wrong
/// attachment.
pub(crate) fn check_peer_closed(
    worker: &str,
    connection: ConnectionId,
    reason: CloseReason,
    closing: Option<ConnectionId>,
) -> Verdict {
    if reason == CloseReason::PeerClosed && closing != Some(connection) {
        return Err(correctness(format!(
            "{worker} detached from {connection} as closed by its peer, but the close being \
             handled is {closing:?}'s"
        )));
    }
    Ok(())
}

/// Under drop-older, an authenticated Hello for a configured worker attaches at once;
/// under either policy, the name a Hello offered (the only one it can attach) is attached
/// only if configured. `valid_worker` is the worker whose valid credentials the Hello on
/// `connection` carried, if they were valid. (That no unconfigured worker is attached at
/// all, whatever attached it, is the Gateway's own invariant, checked by
/// `check_invariants`.)
pub(crate) fn check_newest_wins(
    gateway: &Gateway,
    master: usize,
    connection: ConnectionId,
    offered: &str,
    valid_worker: Option<&str>,
) -> Verdict {
    if gateway.attached_connection(offered).is_some() && !gateway.is_configured(offered) {
        return Err(correctness(format!(
            "{offered} is attached to master {master} but not configured"
        )));
    }
    let Some(worker) = valid_worker else { return Ok(()) };
    if gateway.config().duplicate_policy == DuplicatePolicy::DropOlder
        && gateway.attached_connection(worker) != Some(connection)
    {
        return Err(correctness(format!(
            "drop-older: {worker}'s newest connection {connection} is not the attached one"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the exact names of the simulation's workers map to an index; anything else
    /// (strangers, other spellings of a number, workers beyond the cluster) goes to the map.
    #[test]
    fn attached_view_keys_the_simulations_workers_by_index_and_others_by_name() {
        let names: Vec<String> = (0..4).map(|worker| format!("worker-{worker}")).collect();
        assert_eq!(worker_index(&names, "worker-3"), Some(3));
        for other in ["worker-03", "worker-4", "worker-", "stranger-3", "worker-+3"] {
            assert_eq!(worker_index(&names, other), None, "{other}");
        }
        let mut view = AttachedView::default();
        assert_eq!(view.insert(&names, "worker-2", ConnectionId(7)), None);
        assert_eq!(view.insert(&names, "stranger-2", ConnectionId(8)), None);
        assert_eq!(view.get(&names, "worker-2"), Some(ConnectionId(7)));
        assert_eq!(view.get(&names, "stranger-2"), Some(ConnectionId(8)));
        assert_eq!(view.insert(&names, "worker-2", ConnectionId(9)), Some(ConnectionId(7)));
        assert_eq!(view.remove(&names, "worker-2"), Some(ConnectionId(9)));
        assert_eq!(view.remove(&names, "worker-2"), None);
        view.clear();
        assert_eq!(view.get(&names, "stranger-2"), None);
    }
}
