//! What a master asks of the Registry: heartbeats, a random workload during the safety
//! phase, finishing what is pending once faults heal, and reconfigurations of its roster.

use rollcall_core::{BuildRequestId, Command, GatewayInput, Results, ServiceKind};

use crate::world::{Event, World};

impl World {
    pub(super) fn heartbeat(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        if !self.masters[master].is_alive() {
            // Frozen: the timer fires again once thawed.
            self.schedule(
                self.settings.heartbeat_interval_ms,
                Event::MasterHeartbeat { master, incarnation },
            );
            return;
        }
        // Expiry runs on the Node's own schedule: a remote master only says it is alive.
        let name = self.masters[master].name.clone();
        self.send_command(master, Command::MasterActive { name });
        if self.healed {
            self.finish_pending_work(master);
        }
        let node = &self.masters[master];
        let local_next = node.local_time(self.now).plus_millis(self.settings.heartbeat_interval_ms);
        let at = node.global_time(local_next);
        self.schedule_at(at, Event::MasterHeartbeat { master, incarnation });
    }

    /// In the liveness phase masters claim whatever waits and complete what they hold.
    fn finish_pending_work(&mut self, master: usize) {
        let Some(id) = self.masters[master].id else { return };
        let claims: Vec<BuildRequestId> = self.masters[master].claims.iter().copied().collect();
        if !claims.is_empty() {
            self.send_command(
                master,
                Command::CompleteBuildRequests {
                    master: id,
                    requests: claims,
                    results: Results::SUCCESS,
                },
            );
        }
        let waiting: Vec<BuildRequestId> = self
            .process
            .registry()
            .map(|registry| registry.waiting_build_requests().map(|r| r.id).collect())
            .unwrap_or_default();
        for request in waiting {
            self.send_command(
                master,
                Command::ClaimBuildRequests { master: id, requests: vec![request] },
            );
        }
    }

    pub(super) fn workload(&mut self, master: usize, incarnation: u64) {
        if !self.is_current(master, incarnation) {
            return;
        }
        let pause = self.workload_rng.between(1_000, 30_000);
        self.schedule(pause, Event::MasterWorkload { master, incarnation });
        let Some(id) = self.masters[master].id else { return };
        if !self.masters[master].is_alive() || self.healed {
            return;
        }
        let node = &self.masters[master];
        let (builder_count, claim_count, build_count) =
            (node.builders.len(), node.claims.len(), node.builds.len());
        let pick_claim = |world: &mut World| {
            let index = world.workload_rng.index(claim_count);
            world.masters[master].claims.iter().nth(index).copied()
        };
        let command = match self.workload_rng.below(10) {
            0 => {
                let mut chosen = Vec::new();
                for index in 0..builder_count {
                    if self.workload_rng.chance(600_000) {
                        chosen.push(self.masters[master].builders[index].clone());
                    }
                }
                Command::SetBuilderList { master: id, builder_names: chosen }
            }
            1 => {
                let kind = if self.workload_rng.chance(500_000) {
                    ServiceKind::Scheduler
                } else {
                    ServiceKind::ChangeSource
                };
                let name = format!("service-{}", self.workload_rng.below(4));
                Command::ClaimService { master: id, kind, name }
            }
            2 | 3 => {
                let builder_name =
                    self.masters[master].builders[self.workload_rng.index(builder_count)].clone();
                Command::SubmitBuildRequest { master: id, builder_name }
            }
            4 | 5 if !self.submitted.is_empty() => {
                let request = self.submitted[self.workload_rng.index(self.submitted.len())];
                Command::ClaimBuildRequests { master: id, requests: vec![request] }
            }
            6 if claim_count > 0 => {
                let Some(request) = pick_claim(self) else { return };
                let worker = self.workload_rng.index(self.settings.workers);
                let worker_name = self.worker_names[worker].clone();
                Command::StartBuild { master: id, request, worker_name }
            }
            7 if claim_count > 0 => {
                let Some(request) = pick_claim(self) else { return };
                let results = Results(self.workload_rng.below(5) as u8);
                Command::CompleteBuildRequests { master: id, requests: vec![request], results }
            }
            8 if build_count > 0 => {
                let index = self.workload_rng.index(build_count);
                let Some(build) = self.masters[master].builds.iter().nth(index).copied() else {
                    return;
                };
                Command::FinishBuild { master: id, build, results: Results::SUCCESS }
            }
            9 if claim_count > 0 && self.workload_rng.chance(300_000) => {
                let Some(request) = pick_claim(self) else { return };
                Command::UnclaimBuildRequests { master: id, requests: vec![request] }
            }
            _ => {
                if self.workload_rng.chance(self.settings.faults.reconfig * 10) {
                    self.reconfigure(master);
                }
                return;
            }
        };
        self.send_command(master, command);
    }

    /// A reconfig: some workers join or leave the roster; the Gateway and the Registry hear.
    fn reconfigure(&mut self, master: usize) {
        let node = &self.masters[master];
        if node.pool.is_empty() {
            return;
        }
        let worker = node.pool[self.workload_rng.index(node.pool.len())];
        let node = &mut self.masters[master];
        if !node.roster.remove(&worker) {
            node.roster.insert(worker);
        }
        node.builders.rotate_left(1);
        let input = GatewayInput::Reconfig {
            config: self.gateway_config(master),
            roster: self.roster_of(master),
        };
        self.gateway_input(master, input);
        if let Some(id) = self.masters[master].id {
            let names =
                self.masters[master].roster.iter().map(|&w| self.worker_names[w].clone()).collect();
            self.send_command(
                master,
                Command::SetConfiguredWorkers { master: id, worker_names: names },
            );
        }
    }
}
