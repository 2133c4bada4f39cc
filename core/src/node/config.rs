//! What a Node is configured with: its own master, the machines' settings, and the caps on
//! what remote masters may create.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_NAMES_PER_COMMAND;
use crate::registry::validate_name;
use crate::{CommandError, GatewayConfig, RegistryConfig, Roster};

/// The most registry rows of each kind remote masters may bring the registry to. A
/// session acts only for its own master, but each new name it sends (a master at
/// reconnect, a builder, a worker, a service) or each request and build it submits is a
/// row kept for good: without a cap one session could grow the registry, and the
/// process's memory and disk, without end. The Node's own master is not held to these:
/// its rows come from its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCaps {
    pub max_masters: usize,
    /// Builders, workers, services, build requests and builds, each.
    pub max_rows_per_kind: usize,
}

/// Everything a Node needs to run. A reconfig replaces all of it but the master's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The Node's own master, as the Registry names it (`host:/basedir`).
    pub master_name: String,
    pub registry: RegistryConfig,
    pub gateway: GatewayConfig,
    /// The workers this master configures, with their passwords and builders.
    pub roster: Roster,
    /// The builders this master serves, in configuration order.
    pub builder_names: Vec<String>,
    /// How often the Node says masterActive for itself and runs expireMasters (Buildbot:
    /// 60 s).
    pub heartbeat_interval_ms: u64,
    pub row_caps: RowCaps,
    /// The remote masters that may open a session, each with the digests of its tokens.
    pub masters: super::MasterTokens,
}

impl NodeConfig {
    pub(super) fn worker_names(&self) -> Vec<String> {
        self.roster.iter().map(|worker| worker.name.clone()).collect()
    }
}

/// Why a [`NodeConfig`] cannot run: each is something the Registry would refuse from the
/// Node's own master, caught before anything is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeConfigError {
    MasterName(CommandError),
    TooManyWorkers {
        count: usize,
        limit: usize,
    },
    TooManyBuilders {
        count: usize,
        limit: usize,
    },
    BuilderName {
        name: String,
        error: CommandError,
    },
    DuplicateBuilder(String),
    /// A remote master with no token, or more than [`MAX_TOKENS_PER_MASTER`](super::MAX_TOKENS_PER_MASTER).
    MasterTokens {
        name: String,
        count: usize,
    },
    /// A remote master under the Node's own master's name, or with an invalid name.
    RemoteMasterName {
        name: String,
    },
    /// A heartbeat interval of zero, or not shorter than the expiry window (the master
    /// would expire between two of its own heartbeats).
    HeartbeatInterval {
        interval_ms: u64,
        expiry_window_ms: u64,
    },
}

impl std::fmt::Display for NodeConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeConfigError::MasterName(error) => write!(formatter, "the master's name: {error}"),
            NodeConfigError::TooManyWorkers { count, limit } => {
                write!(formatter, "{count} workers configured, more than the limit of {limit}")
            }
            NodeConfigError::TooManyBuilders { count, limit } => {
                write!(formatter, "{count} builders configured, more than the limit of {limit}")
            }
            NodeConfigError::BuilderName { name, error } => {
                write!(formatter, "builder {name:?}: {error}")
            }
            NodeConfigError::DuplicateBuilder(name) => {
                write!(formatter, "builder {name:?} is configured twice")
            }
            NodeConfigError::MasterTokens { name, count } => write!(
                formatter,
                "master {name:?} has {count} tokens: it needs 1 to {}",
                super::MAX_TOKENS_PER_MASTER
            ),
            NodeConfigError::RemoteMasterName { name } => write!(
                formatter,
                "remote master {name:?} is not a valid name for another master than this one"
            ),
            NodeConfigError::HeartbeatInterval { interval_ms, expiry_window_ms } => write!(
                formatter,
                "a heartbeat every {interval_ms} ms must be more than 0 and less than the \
                 expiry window of {expiry_window_ms} ms"
            ),
        }
    }
}

impl std::error::Error for NodeConfigError {}

impl NodeConfig {
    /// Whether the Registry would take everything this configuration makes the Node say.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), NodeConfigError> {
        validate_name(&self.master_name).map_err(NodeConfigError::MasterName)?;
        let limit = MAX_NAMES_PER_COMMAND;
        if self.roster.len() > limit {
            return Err(NodeConfigError::TooManyWorkers { count: self.roster.len(), limit });
        }
        if self.builder_names.len() > limit {
            let count = self.builder_names.len();
            return Err(NodeConfigError::TooManyBuilders { count, limit });
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in &self.builder_names {
            validate_name(name)
                .map_err(|error| NodeConfigError::BuilderName { name: name.clone(), error })?;
            if !seen.insert(name.as_str()) {
                return Err(NodeConfigError::DuplicateBuilder(name.clone()));
            }
        }
        for (name, tokens) in &self.masters {
            if *name == self.master_name || validate_name(name).is_err() {
                return Err(NodeConfigError::RemoteMasterName { name: name.clone() });
            }
            if tokens.is_empty() || tokens.len() > super::MAX_TOKENS_PER_MASTER {
                let count = tokens.len();
                return Err(NodeConfigError::MasterTokens { name: name.clone(), count });
            }
        }
        let (interval_ms, expiry_window_ms) =
            (self.heartbeat_interval_ms, self.registry.expiry_window_ms);
        if interval_ms == 0 || interval_ms >= expiry_window_ms {
            return Err(NodeConfigError::HeartbeatInterval { interval_ms, expiry_window_ms });
        }
        Ok(())
    }
}
