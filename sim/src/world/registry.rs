//! The registry process: the real Registry on a simulated disk that keeps only committed
//! batches, behind an unreliable network.

use rollcall_core::registry::RegistryInput;
use rollcall_core::{Change, Command, Registry, RegistryConfig, RegistryOutput, ReplyToken};

use crate::oracle::{correctness, Verdict};
use crate::world::{Event, World};

impl World {
    /// Sends a master's command over the master-registry network: it may be lost,
    /// duplicated, delayed and reordered, and partitions drop it.
    pub(super) fn send_to_registry(
        &mut self,
        master: usize,
        incarnation: u64,
        token: ReplyToken,
        command: Command,
    ) {
        if self.is_partitioned(master)
            || (!self.healed && self.network_rng.chance(self.settings.faults.message_loss))
        {
            return;
        }
        let copies =
            if !self.healed && self.network_rng.chance(self.settings.faults.message_duplication) {
                2
            } else {
                1
            };
        if copies == 2 {
            let delay = self.network_delay();
            let command = command.clone();
            self.schedule(delay, Event::ToRegistry { master, incarnation, token, command });
        }
        let delay = self.network_delay();
        self.schedule(delay, Event::ToRegistry { master, incarnation, token, command });
    }

    fn network_delay(&mut self) -> u64 {
        let faults = &self.settings.faults;
        let jitter = if self.healed || faults.reorder_jitter_ms == 0 {
            0
        } else {
            self.network_rng.below(faults.reorder_jitter_ms)
        };
        self.network_rng.between(1, faults.network_delay_ms) + jitter
    }

    fn is_partitioned(&self, master: usize) -> bool {
        self.masters[master].partitioned_until.is_some_and(|until| until > self.now)
    }

    /// One command through the registry: handle, drain, commit the batch, then reply. A
    /// crash in the middle loses the whole batch and sends nothing.
    pub(super) fn registry_receives(
        &mut self,
        master: usize,
        incarnation: u64,
        token: ReplyToken,
        command: Command,
    ) -> Verdict {
        let Some(registry) = self.registry.as_mut() else { return Ok(()) };
        registry.handle(self.now, RegistryInput { token, command: command.clone() });
        let (changes, events, reply) = drain(registry);
        let torn = !self.healed && self.fault_rng.chance(self.settings.faults.registry_crash / 20);
        if torn {
            self.crash_registry();
            return Ok(());
        }
        self.commit(changes, &events)?;
        if let Some(result) = reply {
            if let Ok(reply) = &result {
                self.oracle.observe_reply(&command, reply)?;
            }
            if !self.is_partitioned(master)
                && (self.healed || !self.network_rng.chance(self.settings.faults.message_loss))
            {
                let delay = self.network_delay();
                self.schedule(delay, Event::ToMaster { master, incarnation, command, result });
            }
        }
        self.schedule_registry_wake();
        Ok(())
    }

    pub(super) fn registry_wake(&mut self) -> Verdict {
        self.registry_wake = None;
        let Some(registry) = self.registry.as_mut() else { return Ok(()) };
        registry.handle_timeout(self.now);
        let (changes, events, _) = drain(registry);
        self.commit(changes, &events)?;
        self.schedule_registry_wake();
        Ok(())
    }

    fn commit(&mut self, changes: Vec<Change>, events: &[rollcall_core::RegistryEvent]) -> Verdict {
        for change in changes {
            match change {
                Change::Put(record) => {
                    let key = record.key();
                    self.trace.hashed(&(0_u8, key));
                    self.disk.insert(key, record);
                }
                Change::Delete(key) => {
                    self.trace.hashed(&(1_u8, key));
                    self.disk.remove(&key);
                }
            }
        }
        for event in events {
            self.trace.bytes(event.topic().as_bytes());
            self.oracle.observe_event(event)?;
        }
        Ok(())
    }

    pub(super) fn schedule_registry_wake(&mut self) {
        let Some(deadline) = self.registry.as_ref().and_then(Registry::poll_timeout) else {
            return;
        };
        if self.registry_wake.is_some_and(|scheduled| scheduled <= deadline) {
            return;
        }
        self.registry_wake = Some(deadline);
        self.schedule_at(deadline, Event::RegistryWake);
    }

    pub(super) fn crash_registry(&mut self) {
        if self.registry.take().is_none() {
            return;
        }
        self.stats.registry_crashes += 1;
        self.registry_wake = None;
        let downtime = self.fault_rng.between(100, 60_000);
        self.schedule(downtime, Event::RestartRegistry);
    }

    /// Recovery through the same load path as the daemon: every committed row, in any order.
    pub(super) fn restart_registry(&mut self) -> Verdict {
        if self.registry.is_some() {
            return Ok(());
        }
        let config = RegistryConfig { expiry_window_ms: self.settings.expiry_window_ms };
        let registry = Registry::recover(config, self.disk.values().cloned())
            .map_err(|error| correctness(format!("committed rows do not recover: {error}")))?;
        self.oracle.check_recovered(&registry, &self.disk)?;
        self.registry = Some(registry);
        self.schedule_registry_wake();
        Ok(())
    }
}

type Drained = (
    Vec<Change>,
    Vec<rollcall_core::RegistryEvent>,
    Option<Result<rollcall_core::Reply, rollcall_core::CommandError>>,
);

fn drain(registry: &mut Registry) -> Drained {
    let (mut changes, mut events, mut reply) = (Vec::new(), Vec::new(), None);
    while let Some(output) = registry.poll_output() {
        match output {
            RegistryOutput::Persist(change) => changes.push(change),
            RegistryOutput::Event(event) => events.push(event),
            RegistryOutput::Reply { result, .. } => reply = Some(result),
        }
    }
    (changes, events, reply)
}
