//! Caps on the registry rows a remote master's commands may create (see [`RowCaps`]), and
//! the check that a master reports connections of its own workers only.

use crate::{Command, Registry};

use super::{RequestError, RowCaps};

/// Refuses a connection report for a worker its master does not configure: a master may
/// report only its own workers' connections, so a valid token still cannot forge another
/// master's workers as connected.
pub(super) fn check_ownership(registry: &Registry, command: &Command) -> Result<(), RequestError> {
    match command {
        Command::WorkerConnected { master, worker_name, .. }
        | Command::WorkerDisconnected { master, worker_name, .. } => {
            let disconnect = matches!(command, Command::WorkerDisconnected { .. });
            // A disconnect of a worker the master still has on record is allowed even after
            // its configuration dropped the worker: otherwise the record would stay.
            let allowed = registry.worker_by_name(worker_name).is_some_and(|worker| {
                worker.configured_on.contains(master)
                    || (disconnect && worker.connected_to.contains_key(master))
            });
            if allowed {
                Ok(())
            } else {
                Err(RequestError::NotConfigured { worker: worker_name.clone() })
            }
        }
        _ => Ok(()),
    }
}

/// Refuses `command` when the rows it would create take a kind over its cap.
pub(super) fn check(
    registry: &Registry,
    command: &Command,
    caps: RowCaps,
) -> Result<(), RequestError> {
    let over = |kind: &str, existing: usize, new: usize, limit: usize| {
        if existing.saturating_add(new) > limit {
            Err(RequestError::LimitReached { rows: kind.to_string(), limit: limit as u64 })
        } else {
            Ok(())
        }
    };
    let new_builders = |names: &mut dyn Iterator<Item = &String>| {
        names.filter(|name| registry.builder_by_name(name).is_none()).count()
    };
    let per_kind = caps.max_rows_per_kind;
    match command {
        Command::MasterActive { name } => {
            let new = usize::from(registry.master_by_name(name).is_none());
            over("masters", registry.master_count(), new, caps.max_masters)
        }
        Command::SetBuilderList { builder_names, .. } => {
            let new = new_builders(&mut builder_names.iter());
            over("builders", registry.builders().len(), new, per_kind)
        }
        Command::SetConfiguredWorkers { worker_names, .. } => {
            let new =
                worker_names.iter().filter(|name| registry.worker_by_name(name).is_none()).count();
            over("workers", registry.workers().len(), new, per_kind)
        }
        Command::WorkerConnected { worker_name, .. } => {
            let new = usize::from(registry.worker_by_name(worker_name).is_none());
            over("workers", registry.workers().len(), new, per_kind)
        }
        Command::ClaimService { kind, name, .. } => {
            let exists =
                registry.services().any(|service| service.kind == *kind && service.name == *name);
            over("services", registry.services().len(), usize::from(!exists), per_kind)
        }
        Command::SubmitBuildRequest { builder_name, .. } => {
            over("buildrequests", registry.build_requests().len(), 1, per_kind)?;
            let new = new_builders(&mut std::iter::once(builder_name));
            over("builders", registry.builders().len(), new, per_kind)
        }
        // A build names its worker, and an unknown name becomes a worker row.
        Command::StartBuild { worker_name, .. } => {
            over("builds", registry.builds().len(), 1, per_kind)?;
            let new = usize::from(registry.worker_by_name(worker_name).is_none());
            over("workers", registry.workers().len(), new, per_kind)
        }
        Command::MasterStopped { .. }
        | Command::ExpireMasters { .. }
        | Command::ReleaseService { .. }
        | Command::ClaimBuildRequests { .. }
        | Command::UnclaimBuildRequests { .. }
        | Command::CompleteBuildRequests { .. }
        | Command::FinishBuild { .. }
        | Command::WorkerDisconnected { .. }
        | Command::RegisterMaster { .. }
        | Command::RecoverCrashedMaster { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::RegistryInput;
    use crate::{MasterId, RegistryConfig, ReplyToken, Timestamp};

    use super::*;

    fn registry_with_masters(names: &[&str]) -> Registry {
        let mut registry = Registry::new(RegistryConfig::default());
        for (token, name) in names.iter().enumerate() {
            let command = Command::MasterActive { name: (*name).to_string() };
            registry.handle(
                Timestamp::from_secs(1_700_000_000),
                RegistryInput { token: ReplyToken(token as u64), command },
            );
            while registry.poll_output().is_some() {}
        }
        registry
    }

    #[test]
    fn a_new_row_over_the_cap_is_refused_and_an_existing_one_is_not() {
        let registry = registry_with_masters(&["a", "b"]);
        let caps = RowCaps { max_masters: 2, max_rows_per_kind: 1 };
        let again = Command::MasterActive { name: "a".into() };
        assert_eq!(check(&registry, &again, caps), Ok(()), "a known master is no new row");
        let third = Command::MasterActive { name: "c".into() };
        assert_eq!(
            check(&registry, &third, caps),
            Err(RequestError::LimitReached { rows: "masters".into(), limit: 2 })
        );
        let workers = Command::SetConfiguredWorkers {
            master: MasterId(1),
            worker_names: vec!["w1".into(), "w2".into()],
        };
        assert_eq!(
            check(&registry, &workers, caps),
            Err(RequestError::LimitReached { rows: "workers".into(), limit: 1 })
        );
        // A build on an unknown worker name would make a worker row too.
        let build = Command::StartBuild {
            master: MasterId(1),
            request: crate::BuildRequestId(1),
            worker_name: "new-worker".into(),
        };
        let mut registry = registry;
        let configure = Command::SetConfiguredWorkers {
            master: MasterId(1),
            worker_names: vec!["known-worker".into()],
        };
        registry.handle(
            Timestamp::from_secs(1_700_000_001),
            RegistryInput { token: ReplyToken(9), command: configure },
        );
        while registry.poll_output().is_some() {}
        assert_eq!(
            check(&registry, &build, caps),
            Err(RequestError::LimitReached { rows: "workers".into(), limit: 1 })
        );
        let known = Command::StartBuild {
            master: MasterId(1),
            request: crate::BuildRequestId(1),
            worker_name: "known-worker".into(),
        };
        assert_eq!(check(&registry, &known, caps), Ok(()), "a known worker is no new row");
    }
}
