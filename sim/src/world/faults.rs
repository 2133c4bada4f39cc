//! Fault injection during the safety phase, and healing for the liveness phase.

use crate::world::master::Life;
use crate::world::{Event, World};

/// How often the fault injector considers striking.
const FAULT_TICK_MS: u64 = 10_000;

impl World {
    pub(super) fn inject_fault(&mut self) {
        if self.healed {
            return;
        }
        self.schedule(FAULT_TICK_MS, Event::Fault);
        let faults = self.settings.faults.clone();
        if self.fault_rng.chance(faults.registry_crash) {
            // Some restarts are clean (a deploy), most are crashes.
            let clean = self.fault_rng.chance(300_000);
            self.crash_node(clean);
        }
        let master = self.fault_rng.index(self.masters.len());
        if self.masters[master].steady || !self.masters[master].is_alive() {
            return;
        }
        let window = self.settings.expiry_window_ms;
        if self.fault_rng.chance(faults.master_crash) {
            self.crash_master(master);
        } else if self.fault_rng.chance(faults.master_freeze) {
            // SIGSTOP: alive but silent, sometimes for longer than the expiry window.
            self.masters[master].life = Life::Frozen;
            let pause = self.fault_rng.between(1_000, 2 * window);
            self.schedule(pause, Event::Thaw { master });
        } else if self.fault_rng.chance(faults.partition) {
            let length = self.fault_rng.between(1_000, 2 * window);
            self.masters[master].partitioned_until = Some(self.now.plus_millis(length));
        }
    }

    fn crash_master(&mut self, master: usize) {
        self.stats.master_crashes += 1;
        let restarts = self.fault_rng.chance(700_000);
        let node = &mut self.masters[master];
        node.life = Life::Crashed { restarts };
        node.gateway = None;
        self.close_session(master);
        self.drop_connections_to(master);
        if restarts {
            let downtime = self.fault_rng.between(1_000, 3 * self.settings.expiry_window_ms);
            self.schedule(downtime, Event::RestartMaster { master });
        }
    }

    /// Every fault stops: the network is reliable, nothing is frozen or partitioned, and a
    /// downed Node process comes back. Crashed masters that were to restart do so now.
    pub(super) fn heal(&mut self) {
        self.healed = true;
        for master in 0..self.masters.len() {
            let node = &mut self.masters[master];
            node.partitioned_until = None;
            match node.life {
                Life::Frozen => node.life = Life::Alive,
                Life::Crashed { restarts: true } => self.start_master(master),
                Life::Alive | Life::Crashed { restarts: false } => {}
            }
        }
        if self.process.node.is_none() {
            self.schedule(0, Event::RestartNode);
        }
    }
}
