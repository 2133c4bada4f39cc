//! A Node's startup: the sequence of docs/design.md, as Buildbot's master runs it.
//!
//! 1. Find or create the own master's row without activating it (Buildbot's
//!    `findMasterId`).
//! 2. If that row is still active, the last run never stopped it: stop it now (cause
//!    `CrashRecovered`), giving back what it held. After a clean stop this is a no-op, so a
//!    fresh or clean start emits exactly one `started` and no `stopped`.
//! 3. expireMasters with forced housekeeping: clean up after every master that went
//!    silent while we were down, and after inactive masters that still hold something.
//! 4. masterActive: the one `started`.
//! 5. Declare the configured workers and builders.

use std::collections::BTreeMap;

use crate::{
    Command, CommandError, Gateway, GatewayConfigError, Record, RecoveryError, Registry, Reply,
    Timestamp,
};

use super::batch::Batches;
use super::{Node, NodeConfig, NodeConfigError, NodeEvent, NodeOutput, StartKind};

/// Why a Node cannot start.
#[derive(Debug)]
pub enum StartError {
    Config(NodeConfigError),
    Gateway(GatewayConfigError),
    /// The stored rows do not make a consistent registry.
    Recovery(RecoveryError),
    /// The Registry refused a startup step: the stored state is broken.
    Refused {
        step: &'static str,
        error: CommandError,
    },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(error) => write!(formatter, "invalid configuration: {error}"),
            StartError::Gateway(error) => write!(formatter, "invalid gateway settings: {error}"),
            StartError::Recovery(error) => write!(formatter, "stored rows do not recover: {error}"),
            StartError::Refused { step, error } => {
                write!(formatter, "startup step {step} was refused: {error}")
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(error) => Some(error),
            StartError::Gateway(error) => Some(error),
            StartError::Recovery(error) => Some(error),
            StartError::Refused { error, .. } => Some(error),
        }
    }
}

impl Node {
    /// Recovers the Registry from `rows` (every stored row, in any order) and runs the
    /// startup sequence at `now`. Its changes and outputs form the first batch: end it,
    /// make it durable, and report it before anything else.
    ///
    /// # Errors
    ///
    /// When the configuration is invalid or the rows are inconsistent.
    pub fn start(
        now: Timestamp,
        config: NodeConfig,
        rows: impl IntoIterator<Item = Record>,
    ) -> Result<Node, StartError> {
        config.validate().map_err(StartError::Config)?;
        let mut row_count = 0_usize;
        let rows = rows.into_iter().inspect(|_| row_count += 1);
        let registry = Registry::recover(config.registry, rows).map_err(StartError::Recovery)?;
        Node::start_recovered(now, config, registry, row_count)
    }

    /// [`Node::start`] on a Registry already recovered from the `rows_loaded` stored rows
    /// (with `config.registry`): for a caller that inspects the recovered state before the
    /// startup changes it, as the simulator's recovery oracle does, without recovering twice.
    ///
    /// # Errors
    ///
    /// When the configuration is invalid or the startup is refused.
    pub fn start_recovered(
        now: Timestamp,
        config: NodeConfig,
        registry: Registry,
        rows_loaded: usize,
    ) -> Result<Node, StartError> {
        config.validate().map_err(StartError::Config)?;
        assert_eq!(
            registry.config(),
            config.registry,
            "the registry was recovered with another configuration than the node's"
        );
        let gateway = Gateway::new(now, config.gateway, config.roster.clone())
            .map_err(StartError::Gateway)?;
        let mut node = Node {
            next_heartbeat: now.plus_millis(config.heartbeat_interval_ms),
            config,
            seat: super::Seat::Serving(registry),
            gateway,
            master: crate::MasterId(0),
            sessions: BTreeMap::new(),
            next_token: 0,
            batches: Batches::default(),
            stopped: false,
        };
        node.batches.begin_input();
        let kind = node.run_startup(now)?;
        let (master, rows) = (node.master, rows_loaded);
        node.batches.hold(NodeOutput::Event(NodeEvent::Started { master, kind, rows }));
        Ok(node)
    }

    fn run_startup(&mut self, now: Timestamp) -> Result<StartKind, StartError> {
        let name = self.config.master_name.clone();
        let existing = self
            .registry()
            .and_then(|registry| registry.master_by_name(&name))
            .map(|row| row.active);
        let master = match self.startup_step(
            now,
            "RegisterMaster",
            Command::RegisterMaster { name: name.clone() },
        )? {
            Reply::Master(id) => id,
            other => unreachable!("RegisterMaster replies with a master id, not {other:?}"),
        };
        self.master = master;
        let kind = match existing {
            None => StartKind::Fresh,
            Some(false) => StartKind::Clean,
            Some(true) => StartKind::CrashRecovered,
        };
        self.startup_step(now, "RecoverCrashedMaster", Command::RecoverCrashedMaster { master })?;
        let expire = Command::ExpireMasters { force_housekeeping: true };
        self.startup_step(now, "ExpireMasters", expire)?;
        self.startup_step(now, "MasterActive", Command::MasterActive { name })?;
        let worker_names = self.config.worker_names();
        let workers = Command::SetConfiguredWorkers { master, worker_names };
        self.startup_step(now, "SetConfiguredWorkers", workers)?;
        let builder_names = self.config.builder_names.clone();
        self.startup_step(
            now,
            "SetBuilderList",
            Command::SetBuilderList { master, builder_names },
        )?;
        Ok(kind)
    }

    pub(super) fn startup_step(
        &mut self,
        now: Timestamp,
        step: &'static str,
        command: Command,
    ) -> Result<Reply, StartError> {
        self.local(now, command).map_err(|error| StartError::Refused { step, error })
    }
}
