//! The machines' own full-state invariant checks (`check_invariants` on the Node, and with
//! it its Registry and Gateway, and on every remote master's Gateway), run as the run goes.
//!
//! A full check costs time in proportion to the state, and a day of a 50-master cluster
//! holds tens of thousands of rows: checked after each of its millions of events, the run
//! would take hours. So by default a check runs once every `4 × rows` events (at least
//! every event while the state is small), which keeps its share of the run's time bounded
//! whatever the size; `--invariants-every-step` checks after every event, and CI runs a
//! sweep that way. A violation is caught either way; amortized, at most `4 × rows` events
//! after the step that caused it (the seed replays to it).

use crate::oracle::{correctness, Verdict};
use crate::world::World;

#[derive(Debug, Default)]
pub(super) struct Schedule {
    events_since_check: u64,
    interval: u64,
}

impl World {
    pub(super) fn check_invariants_when_due(&mut self) -> Verdict {
        self.invariants.events_since_check += 1;
        if !self.settings.invariants_every_step
            && self.invariants.events_since_check < self.invariants.interval
        {
            return Ok(());
        }
        self.check_invariants_now()
    }

    pub(super) fn check_invariants_now(&mut self) -> Verdict {
        self.invariants.events_since_check = 0;
        let mut rows = 0_u64;
        if let Some(node) = self.process.node.as_ref() {
            node.check_invariants()
                .map_err(|violation| correctness(format!("the node's {violation}")))?;
            let registry = node.view().registry;
            rows += (registry.master_count()
                + registry.builders().len()
                + registry.workers().len()
                + registry.services().len()
                + registry.build_requests().len()
                + registry.builds().len()) as u64;
        }
        for (index, master) in self.masters.iter().enumerate() {
            let Some(gateway) = master.gateway.as_ref() else { continue };
            gateway
                .check_invariants()
                .map_err(|violation| correctness(format!("master {index}'s {violation}")))?;
            rows += gateway.configured_count() as u64;
        }
        self.invariants.interval = rows.saturating_mul(4);
        Ok(())
    }
}
