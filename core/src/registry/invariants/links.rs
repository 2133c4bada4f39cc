//! Builders, workers and services: dense rows, by-key indexes, and both ends of every link
//! to a master.

use crate::invariant::{ensure, Smallest};
use crate::registry::invariants::{no_stray_names, row, violation, MACHINE};
use crate::registry::tables::dense_index;
use crate::registry::Registry;
use crate::InvariantViolation;

impl Registry {
    /// Each link is looked up from the builder's end in the master's set; the masters' sets
    /// then hold exactly those links when their sizes add up to as many, so they are only
    /// walked to name the culprit once the sizes disagree. Workers and services likewise.
    pub(super) fn check_builders(&self) -> Result<(), InvariantViolation> {
        let mut links = 0_usize;
        for (position, builder) in self.builders.iter().enumerate() {
            let id = builder.record.id;
            ensure!(
                MACHINE,
                dense_index(id.get()) == Some(position),
                "the builder at position {position} has id {id}: builder ids are dense from 1"
            );
            let indexed = self.builder_ids_by_name.get(builder.record.name.as_str());
            ensure!(
                MACHINE,
                indexed == Some(&id),
                "builder {id} ({:?}) is found by name as {indexed:?}",
                builder.record.name
            );
            ensure!(
                MACHINE,
                builder.next_build_number >= 1,
                "builder {id} would number its next build 0: build numbers start at 1"
            );
            for &master in &builder.masters {
                let Some(master_row) = row(&self.masters, master.get()) else {
                    return Err(violation(format!("builder {id} lists unknown master {master}")));
                };
                ensure!(
                    MACHINE,
                    master_row.builders.contains(&id),
                    "builder {id} lists master {master}, which does not serve it"
                );
            }
            links += builder.masters.len();
        }
        no_stray_names(
            "builder_ids_by_name",
            &self.builder_ids_by_name,
            self.builders.len(),
            |id| row(&self.builders, id.get()).map(|builder| builder.record.name.as_str()),
        )?;
        let served: usize = self.masters.iter().map(|master| master.builders.len()).sum();
        if served == links {
            return Ok(());
        }
        for master in &self.masters {
            let master_id = master.record.id;
            for &builder in &master.builders {
                let listed =
                    row(&self.builders, builder.get()).map(|row| row.masters.contains(&master_id));
                ensure!(
                    MACHINE,
                    listed == Some(true),
                    "master {master_id} serves builder {builder}, which {}",
                    if listed.is_none() { "does not exist" } else { "does not list the master" }
                );
            }
        }
        Err(violation(format!("masters serve {served} builder links, builders list {links}")))
    }

    /// Configuration links and connection records, from both ends; a connection record
    /// names the same connection at both ends.
    pub(super) fn check_workers(&self) -> Result<(), InvariantViolation> {
        let (mut configured_links, mut connection_records) = (0_usize, 0_usize);
        for (position, worker) in self.workers.iter().enumerate() {
            let id = worker.record.id;
            ensure!(
                MACHINE,
                dense_index(id.get()) == Some(position),
                "the worker at position {position} has id {id}: worker ids are dense from 1"
            );
            let indexed = self.worker_ids_by_name.get(worker.record.name.as_str());
            ensure!(
                MACHINE,
                indexed == Some(&id),
                "worker {id} ({:?}) is found by name as {indexed:?}",
                worker.record.name
            );
            for &master in &worker.configured_on {
                let configured = row(&self.masters, master.get())
                    .map(|row| row.configured_workers.contains(&id));
                ensure!(
                    MACHINE,
                    configured == Some(true),
                    "worker {id} is configured on master {master}, which {}",
                    if configured.is_none() { "does not exist" } else { "does not name it" }
                );
            }
            for (&master, &connection) in &worker.connected_to {
                let Some(master_row) = row(&self.masters, master.get()) else {
                    return Err(violation(format!(
                        "worker {id} is connected to unknown master {master}"
                    )));
                };
                let recorded = master_row.connected_workers.get(&id);
                ensure!(
                    MACHINE,
                    recorded == Some(&connection),
                    "worker {id} is connected to master {master} over connection {connection}, \
                     but the master records {recorded:?}"
                );
            }
            configured_links += worker.configured_on.len();
            connection_records += worker.connected_to.len();
        }
        no_stray_names("worker_ids_by_name", &self.worker_ids_by_name, self.workers.len(), |id| {
            row(&self.workers, id.get()).map(|worker| worker.record.name.as_str())
        })?;
        let configured: usize = self.masters.iter().map(|m| m.configured_workers.len()).sum();
        let connected: usize = self.masters.iter().map(|m| m.connected_workers.len()).sum();
        if configured == configured_links && connected == connection_records {
            return Ok(());
        }
        for master in &self.masters {
            let master_id = master.record.id;
            for &worker in &master.configured_workers {
                let configured = row(&self.workers, worker.get())
                    .map(|row| row.configured_on.contains(&master_id));
                ensure!(
                    MACHINE,
                    configured == Some(true),
                    "master {master_id} names worker {worker} in its configuration, which {}",
                    if configured.is_none() {
                        "does not exist"
                    } else {
                        "does not list the master"
                    }
                );
            }
            for (&worker, &connection) in &master.connected_workers {
                let Some(worker_row) = row(&self.workers, worker.get()) else {
                    return Err(violation(format!(
                        "master {master_id} records unknown worker {worker} as connected"
                    )));
                };
                let recorded = worker_row.connected_to.get(&master_id);
                ensure!(
                    MACHINE,
                    recorded == Some(&connection),
                    "master {master_id} records worker {worker} connected over connection \
                     {connection}, but the worker records {recorded:?}"
                );
            }
        }
        Err(violation(format!(
            "masters hold {configured} configuration links and {connected} connection records, \
             workers {configured_links} and {connection_records}"
        )))
    }

    /// Owners from both ends, ids below the allocator, and the by-key index.
    pub(super) fn check_services(&self) -> Result<(), InvariantViolation> {
        let next = self.service_ids.next_unassigned();
        if let Some((&last, _)) = self.services.last_key_value() {
            ensure!(
                MACHINE,
                last.get() < next,
                "service {last} exists but the next service id to assign is {next}"
            );
        }
        let mut owned = 0_usize;
        for (&id, service) in &self.services {
            ensure!(MACHINE, service.id == id, "the service stored as {id} has id {}", service.id);
            let Some(owner) = service.owner else {
                continue;
            };
            owned += 1;
            let held = row(&self.masters, owner.get()).map(|row| row.services.contains(&id));
            ensure!(
                MACHINE,
                held == Some(true),
                "service {id} is owned by master {owner}, which {}",
                if held.is_none() { "does not exist" } else { "does not hold it" }
            );
        }
        self.check_service_index()?;
        let held: usize = self.masters.iter().map(|master| master.services.len()).sum();
        if held == owned {
            return Ok(());
        }
        for master in &self.masters {
            let master_id = master.record.id;
            for &service in &master.services {
                let owner = self.services.get(&service).map(|service| service.owner);
                ensure!(
                    MACHINE,
                    owner == Some(Some(master_id)),
                    "master {master_id} holds service {service}, {}",
                    match owner {
                        None => "which does not exist".to_string(),
                        Some(owner) => format!("whose owner is {owner:?}"),
                    }
                );
            }
        }
        Err(violation(format!("masters hold {held} services, {owned} services have owners")))
    }

    /// Every entry of the by-key index names a service with that kind and name; with as
    /// many entries as services, the index is then exactly the services' keys. The index is
    /// walked (reporting the smallest bad entry) because looking a service up in it would
    /// need a boxed copy of every name.
    fn check_service_index(&self) -> Result<(), InvariantViolation> {
        let mut smallest = Smallest::new(MACHINE);
        for ((kind, name), &id) in &self.service_ids_by_key {
            let names_it =
                self.services.get(&id).is_some_and(|s| s.kind == *kind && s.name == **name);
            if !names_it {
                smallest.offer((id, *kind, &**name), || {
                    format!(
                        "service_ids_by_key maps {kind:?} {name:?} to service {id}, which is \
                         not that service"
                    )
                });
            }
        }
        smallest.into_result()?;
        if self.service_ids_by_key.len() == self.services.len() {
            return Ok(());
        }
        // Fewer entries than services: name the first service missing (failure path only,
        // so the boxed key costs nothing when all is well).
        for service in self.services.values() {
            let key = (service.kind, service.name.clone().into_boxed_str());
            ensure!(
                MACHINE,
                self.service_ids_by_key.get(&key) == Some(&service.id),
                "service {} ({:?} {:?}) is not found by its kind and name",
                service.id,
                service.kind,
                service.name
            );
        }
        Err(violation(format!(
            "service_ids_by_key holds {} keys for {} services",
            self.service_ids_by_key.len(),
            self.services.len()
        )))
    }
}
