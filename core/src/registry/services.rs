//! Schedulers and change sources: at most one owner at any time.

use crate::registry::{
    validate_name, Change, CommandError, Record, Registry, RegistryEvent, Reply, ServiceKind,
    ServiceRecord,
};
use crate::{MasterId, ServiceId};

impl Registry {
    /// Takes the service when it is unowned, already ours, or owned by an inactive master.
    pub(super) fn claim_service(
        &mut self,
        master_id: MasterId,
        kind: ServiceKind,
        name: String,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_name(&name)?;
        let key = (kind, name.into_boxed_str());
        let service_id = match self.service_ids_by_key.get(&key) {
            Some(&id) => id,
            None => {
                let id = ServiceId(self.service_ids.allocate());
                let record = ServiceRecord { id, kind, name: key.1.to_string(), owner: None };
                self.services.insert(id, record.clone());
                self.service_ids_by_key.insert(key, id);
                self.persist(Change::Put(Record::Service(record)));
                id
            }
        };
        let Some(owner) = self.services.get(&service_id).map(|service| service.owner) else {
            unreachable!("the service was found or created above");
        };
        match owner {
            Some(owner) if owner == master_id => return Ok(Reply::Service(service_id)),
            Some(owner) => {
                if self.master_row(owner)?.record.active {
                    return Err(CommandError::ServiceOwnedByAnother { service: service_id, owner });
                }
                // Housekeeping clears an inactive master's services, so this only happens
                // with state written by someone else; take it over cleanly all the same.
                self.master_mut(owner)?.services.remove(&service_id);
            }
            None => {}
        }
        self.set_service_owner(service_id, Some(master_id));
        self.master_mut(master_id)?.services.insert(service_id);
        self.emit(RegistryEvent::ServiceClaimed { service: service_id, master: master_id });
        Ok(Reply::Service(service_id))
    }

    pub(super) fn release_service(
        &mut self,
        master_id: MasterId,
        service_id: ServiceId,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        let service =
            self.services.get(&service_id).ok_or(CommandError::UnknownService(service_id))?;
        if service.owner != Some(master_id) {
            return Err(CommandError::ServiceNotOwned(service_id));
        }
        self.set_service_owner(service_id, None);
        self.master_mut(master_id)?.services.remove(&service_id);
        self.emit(RegistryEvent::ServiceReleased { service: service_id, master: master_id });
        Ok(Reply::Done)
    }

    fn set_service_owner(&mut self, service_id: ServiceId, owner: Option<MasterId>) {
        let Some(service) = self.services.get_mut(&service_id) else {
            unreachable!("callers check that the service exists");
        };
        service.owner = owner;
        let record = service.clone();
        self.persist(Change::Put(Record::Service(record)));
    }
}
