//! The configured workers: who may attach, with which password, serving which builders.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_BUILDERS_PER_WORKER, MAX_NAME_BYTES, MAX_PASSWORD_BYTES, MAX_ROSTER_WORKERS,
};
use crate::Password;

/// One configured worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub name: String,
    pub password: Password,
    /// The builders this worker serves, pushed to it on attach. Kept sorted and distinct.
    pub builders: Arc<[String]>,
}

impl WorkerConfig {
    /// A worker entry; the builder list is sorted so that equal lists compare equal.
    pub fn new(name: impl Into<String>, password: Password, builders: Vec<String>) -> Self {
        let mut builders = builders;
        builders.sort();
        WorkerConfig { name: name.into(), password, builders: builders.into() }
    }
}

/// Why a roster was refused. A refused roster changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterError {
    EmptyWorkerName,
    WorkerNameTooLong { bytes: usize },
    DuplicateWorker(String),
    TooManyWorkers { count: usize },
    PasswordTooLong { worker: String },
    EmptyBuilderName { worker: String },
    BuilderNameTooLong { worker: String },
    DuplicateBuilder { worker: String, builder: String },
    TooManyBuilders { worker: String, count: usize },
}

impl std::fmt::Display for RosterError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RosterError::EmptyWorkerName => formatter.write_str("a worker name is empty"),
            RosterError::WorkerNameTooLong { bytes } => write!(
                formatter,
                "a worker name of {bytes} bytes is longer than the limit of {MAX_NAME_BYTES}"
            ),
            RosterError::DuplicateWorker(name) => {
                write!(formatter, "worker {name:?} is configured twice")
            }
            RosterError::TooManyWorkers { count } => write!(
                formatter,
                "{count} workers configured, more than the limit of {MAX_ROSTER_WORKERS}"
            ),
            RosterError::PasswordTooLong { worker } => write!(
                formatter,
                "the password of worker {worker:?} is longer than {MAX_PASSWORD_BYTES} bytes"
            ),
            RosterError::EmptyBuilderName { worker } => {
                write!(formatter, "worker {worker:?} lists a builder with an empty name")
            }
            RosterError::BuilderNameTooLong { worker } => write!(
                formatter,
                "worker {worker:?} lists a builder name longer than {MAX_NAME_BYTES} bytes"
            ),
            RosterError::DuplicateBuilder { worker, builder } => {
                write!(formatter, "worker {worker:?} lists builder {builder:?} twice")
            }
            RosterError::TooManyBuilders { worker, count } => write!(
                formatter,
                "worker {worker:?} lists {count} builders, more than the limit of \
                 {MAX_BUILDERS_PER_WORKER}"
            ),
        }
    }
}

impl std::error::Error for RosterError {}

/// A validated set of configured workers, by name. Deserialising validates too, so a
/// recorded or remote roster can never bypass the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<WorkerConfig>", into = "Vec<WorkerConfig>")]
pub struct Roster {
    workers: BTreeMap<String, WorkerConfig>,
}

impl Roster {
    /// # Errors
    ///
    /// A [`RosterError`] naming the first problem found.
    pub fn new(workers: Vec<WorkerConfig>) -> Result<Roster, RosterError> {
        if workers.len() > MAX_ROSTER_WORKERS {
            return Err(RosterError::TooManyWorkers { count: workers.len() });
        }
        let mut by_name = BTreeMap::new();
        for worker in workers {
            let worker = WorkerConfig::new(worker.name, worker.password, worker.builders.to_vec());
            validate_worker(&worker)?;
            if by_name.contains_key(&worker.name) {
                return Err(RosterError::DuplicateWorker(worker.name));
            }
            by_name.insert(worker.name.clone(), worker);
        }
        Ok(Roster { workers: by_name })
    }

    pub fn get(&self, name: &str) -> Option<&WorkerConfig> {
        self.workers.get(name)
    }

    /// Every configured worker, by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &WorkerConfig> + '_ {
        self.workers.values()
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }
}

impl TryFrom<Vec<WorkerConfig>> for Roster {
    type Error = RosterError;

    fn try_from(workers: Vec<WorkerConfig>) -> Result<Self, Self::Error> {
        Roster::new(workers)
    }
}

impl From<Roster> for Vec<WorkerConfig> {
    fn from(roster: Roster) -> Self {
        roster.workers.into_values().collect()
    }
}

fn validate_worker(worker: &WorkerConfig) -> Result<(), RosterError> {
    if worker.name.is_empty() {
        return Err(RosterError::EmptyWorkerName);
    }
    if worker.name.len() > MAX_NAME_BYTES {
        return Err(RosterError::WorkerNameTooLong { bytes: worker.name.len() });
    }
    if worker.password.len() > MAX_PASSWORD_BYTES {
        return Err(RosterError::PasswordTooLong { worker: worker.name.clone() });
    }
    if worker.builders.len() > MAX_BUILDERS_PER_WORKER {
        return Err(RosterError::TooManyBuilders {
            worker: worker.name.clone(),
            count: worker.builders.len(),
        });
    }
    let mut seen = BTreeSet::new();
    for builder in worker.builders.iter() {
        if builder.is_empty() {
            return Err(RosterError::EmptyBuilderName { worker: worker.name.clone() });
        }
        if builder.len() > MAX_NAME_BYTES {
            return Err(RosterError::BuilderNameTooLong { worker: worker.name.clone() });
        }
        if !seen.insert(builder) {
            return Err(RosterError::DuplicateBuilder {
                worker: worker.name.clone(),
                builder: builder.clone(),
            });
        }
    }
    Ok(())
}
