//! Reconfig: a new roster and settings, applied all or nothing.

use std::sync::Arc;

use crate::gateway::Gateway;
use crate::{CloseReason, GatewayConfig, GatewayEvent, Roster, ToWorker};

impl Gateway {
    /// Workers no longer configured are disconnected (and unknown from then on); workers
    /// whose builder list changed get the new list; new workers start disconnected. Invalid
    /// settings change nothing. A changed password does not disconnect anyone: it applies
    /// from the next Hello, as in Buildbot.
    pub(super) fn handle_reconfig(&mut self, config: GatewayConfig, roster: Roster) {
        if let Err(error) = config.validate() {
            // Events are plain serializable data, and what every consumer does with this one
            // is show it.
            self.emit(GatewayEvent::ReconfigRejected { reason: error.to_string() });
            return;
        }
        self.config = config;

        let mut removed: Vec<Arc<str>> =
            self.slots.keys().filter(|name| roster.get(name).is_none()).map(Arc::clone).collect();
        removed.sort();
        for name in &removed {
            let slot = self.slot_mut(name);
            let (waiting, attached) = (slot.waiting, slot.attached);
            // The waiting connection first, so that dropping the attached one does not
            // promote it.
            if let Some(waiting) = waiting {
                self.drop_connection(waiting, CloseReason::RemovedFromConfig);
            }
            if let Some(attached) = attached {
                self.drop_connection(attached, CloseReason::RemovedFromConfig);
            }
            self.slots.remove(name);
        }

        let mut added = Vec::new();
        let mut builders_changed = Vec::new();
        for worker in roster.iter() {
            let Some(slot) = self.slots.get_mut(worker.name.as_str()) else {
                added.push(worker.name.clone());
                self.add_slot(worker.clone());
                continue;
            };
            let builders_differ = slot.config.builders != worker.builders;
            slot.config = worker.clone();
            if !builders_differ {
                continue;
            }
            builders_changed.push(worker.name.clone());
            let Some(connection) = slot.attached else {
                continue;
            };
            if slot.pushed_builders.as_ref() == Some(&worker.builders) {
                continue;
            }
            let builders = Arc::clone(&worker.builders);
            slot.pushed_builders = Some(Arc::clone(&builders));
            self.send(connection, ToWorker::BuilderList { builders });
        }
        self.emit(GatewayEvent::Reconfigured {
            added,
            removed: removed.iter().map(|name| name.to_string()).collect(),
            builders_changed,
        });
    }
}
