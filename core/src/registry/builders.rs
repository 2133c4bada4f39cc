//! Builders, and which masters serve them.

use std::collections::BTreeSet;

use crate::limits::MAX_NAMES_PER_COMMAND;
use crate::registry::tables::{dense_index, Builder};
use crate::registry::{
    validate_count, validate_name, BuilderRecord, Change, CommandError, Record, RecordKey,
    Registry, RegistryEvent, Reply,
};
use crate::{BuilderId, MasterId};

impl Registry {
    /// The master now serves exactly `names`: links it no longer names are removed
    /// (`builders/<id>/stopped`), new ones added (`builders/<id>/started`).
    pub(super) fn set_builder_list(
        &mut self,
        master_id: MasterId,
        names: Vec<String>,
    ) -> Result<Reply, CommandError> {
        self.require_active(master_id)?;
        validate_distinct_names(&names)?;

        let ids: Vec<BuilderId> =
            names.into_iter().map(|name| self.find_or_create_builder(name)).collect();
        let wanted: BTreeSet<BuilderId> = ids.iter().copied().collect();
        let current = self.master_row(master_id)?.builders.clone();

        for &builder in current.difference(&wanted) {
            self.builder_row_mut(builder).masters.remove(&master_id);
            self.master_mut(master_id)?.builders.remove(&builder);
            self.persist(Change::Delete(RecordKey::BuilderMaster { builder, master: master_id }));
            self.emit(RegistryEvent::BuilderStopped { builder, master: master_id });
        }
        for &builder in wanted.difference(&current) {
            self.builder_row_mut(builder).masters.insert(master_id);
            self.master_mut(master_id)?.builders.insert(builder);
            self.persist(Change::Put(Record::BuilderMaster { builder, master: master_id }));
            self.emit(RegistryEvent::BuilderStarted { builder, master: master_id });
        }
        Ok(Reply::Builders(ids))
    }

    /// The builder's id, creating the builder on its first mention. The name must already
    /// be validated.
    pub(super) fn find_or_create_builder(&mut self, name: String) -> BuilderId {
        if let Some(&id) = self.builder_ids_by_name.get(name.as_str()) {
            return id;
        }
        let id = BuilderId(self.builders.len() as u64 + 1);
        let record = BuilderRecord { id, name: name.clone() };
        self.builders.push(Builder {
            record: record.clone(),
            masters: BTreeSet::new(),
            next_build_number: 1,
        });
        self.builder_ids_by_name.insert(name.into_boxed_str(), id);
        self.persist(Change::Put(Record::Builder(record)));
        id
    }

    pub(super) fn builder_row_mut(&mut self, id: BuilderId) -> &mut Builder {
        match dense_index(id.get()).and_then(|index| self.builders.get_mut(index)) {
            Some(builder) => builder,
            None => unreachable!("builder ids held by other rows always exist"),
        }
    }
}

/// Every name valid, no name twice, and not too many of them.
pub(super) fn validate_distinct_names(names: &[String]) -> Result<(), CommandError> {
    validate_count(names.len(), MAX_NAMES_PER_COMMAND)?;
    let mut seen = BTreeSet::new();
    for name in names {
        validate_name(name)?;
        if !seen.insert(name.as_str()) {
            return Err(CommandError::DuplicateName(name.clone()));
        }
    }
    Ok(())
}
