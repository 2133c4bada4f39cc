//! The lease's news, in the one-line log an operator greps for, and in the status.

use rollcall_core::lease::LeaseEvent;

use crate::cluster::ClusterStatus;

/// Logs one role change and records it in the status. Returns whether this node now leads.
pub(super) fn report(event: &LeaseEvent, status: &ClusterStatus) -> bool {
    match *event {
        LeaseEvent::Taken { epoch } => {
            tracing::info!(epoch, node = %status.node, "lease taken");
            status.update(|state| {
                state.role = "leader";
                state.epoch = epoch;
                state.leader = Some(status.node.clone());
                state.leader_address = Some(status.advertise.clone());
                state.lag_entries = 0;
                state.leases_taken += 1;
            });
            true
        }
        LeaseEvent::Lost { epoch } => {
            tracing::warn!(epoch, node = %status.node, "lease lost");
            stood_down(status);
            false
        }
        LeaseEvent::SteppedDown { epoch } => {
            tracing::warn!(epoch, node = %status.node, "stepping down");
            stood_down(status);
            false
        }
    }
}

/// The node no longer leads: who does is unknown until the lease is read again.
pub(super) fn stood_down(status: &ClusterStatus) {
    status.update(|state| {
        if state.role == "leader" {
            state.leader = None;
            state.leader_address = None;
        }
        state.role = "standby";
    });
}
