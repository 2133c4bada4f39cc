//! A cluster node's core thread (docs/cluster.md). It stands by, following the registry
//! log into a replica (`standby.rs`), until it takes the lease; then it drives a Node on
//! the caught-up registry, with every batch's registry inputs committed fenced by its
//! epoch (`leader.rs`), until it stops, or is deposed and stands by again.

mod events;
mod leader;
mod lease_clock;
mod standby;

use std::sync::Arc;
use std::time::Duration;

use rollcall_core::replication::Replicator;
use rollcall_core::{Node, Registry};
use smol::channel::Receiver;

use crate::buildbot::{credentials_of, write_lock, Credentials};
use crate::cluster::{ClusterStatus, PostgresStore, PostgresTls};
use crate::config::{ClusterSection, Config};
use crate::core_link::inputs::CoreInput;
use crate::daemon::clock;
use crate::daemon::core_loop::{CoreLoop, Exit};
use crate::daemon::durability::Halt;
use crate::daemon::wait::Waiter;
use crate::daemon::DaemonError;
use crate::metrics::Metrics;
use leader::Leading;
use lease_clock::LeaseClock;
use standby::Watch;

pub(crate) struct ClusterCore {
    /// The configuration as last loaded: a Node started at a takeover runs on it.
    config: Config,
    cluster: ClusterSection,
    /// TLS to PostgreSQL, loaded at the start.
    postgres_tls: Option<PostgresTls>,
    lease_clock: LeaseClock,
    status: Arc<ClusterStatus>,
    metrics: Arc<Metrics>,
    credentials: Credentials,
}

impl ClusterCore {
    /// A standby of the cluster `config` names; it reaches the store once it runs.
    pub(crate) fn new(
        config: Config,
        postgres_tls: Option<PostgresTls>,
        metrics: Arc<Metrics>,
        status: Arc<ClusterStatus>,
    ) -> Option<ClusterCore> {
        let cluster = config.cluster.clone()?;
        let credentials = Credentials::default();
        *write_lock(&credentials) = credentials_of(&config.roster());
        Some(ClusterCore {
            config,
            cluster,
            postgres_tls,
            lease_clock: LeaseClock::start(),
            status,
            metrics,
            credentials,
        })
    }

    /// The roster's credentials, kept current across reconfigs and terms of leading.
    pub(crate) fn credentials(&self) -> Credentials {
        Arc::clone(&self.credentials)
    }

    /// Stands by and leads, in turn, until a shutdown.
    ///
    /// # Errors
    ///
    /// When a Node cannot start on the registry the log holds (a bug or a corrupt log).
    pub(crate) fn run(mut self, inputs: &Receiver<CoreInput>) -> Result<(), DaemonError> {
        let waiter = Waiter::for_this_thread();
        let store = PostgresStore::new(
            self.cluster.postgres.clone(),
            &self.cluster.node,
            &self.cluster.advertise,
            Duration::from_secs(self.cluster.lease_ttl_s),
        )
        .with_tls(self.postgres_tls.clone());
        let registry_config = self.config.node_config().registry;
        let timings = self.cluster.lease_timings();
        let Ok(replicator) =
            Replicator::new(self.lease_clock.now(), store, timings, registry_config)
        else {
            unreachable!("the lease timings were validated with the configuration")
        };
        let mut replicator = replicator.with_snapshots_every(self.cluster.snapshot_every_entries);
        tracing::info!(node = %self.cluster.node, advertise = %self.cluster.advertise, "standing by");
        loop {
            let registry = match self.stand_by(&mut replicator, inputs, &waiter)? {
                Watch::Leading(registry) => *registry,
                Watch::Stopped => return Ok(()),
            };
            let leading = Leading {
                replicator,
                lease_clock: self.lease_clock,
                status: Arc::clone(&self.status),
            };
            match self.lead(registry, leading, inputs, &waiter)? {
                Some(deposed) => replicator = deposed.replicator,
                None => return Ok(()),
            }
            tracing::info!(node = %self.cluster.node, "standing by");
        }
    }

    /// Drives a Node on `registry` until it stops (`None`) or is deposed.
    fn lead(
        &mut self,
        mut registry: Registry,
        leading: Leading,
        inputs: &Receiver<CoreInput>,
        waiter: &Waiter,
    ) -> Result<Option<Leading>, DaemonError> {
        let now = clock::now();
        let node_config = self.config.node_config();
        let grace_ms =
            self.cluster.lease_timings().takeover_grace_ms(node_config.heartbeat_interval_ms);
        registry.take_over(now, grace_ms);
        let rows = registry.records().len();
        let node =
            Node::start_recovered(now, node_config, registry, rows).map_err(DaemonError::Node)?;
        let mut core = CoreLoop::on_node(
            self.config.clone(),
            node,
            leading,
            Arc::clone(&self.metrics),
            None,
            Arc::clone(&self.credentials),
        );
        if let Err(halt) = core.commit_and_release() {
            return match halt {
                Halt::Failed(error) => Err(error),
                Halt::Deposed => Ok(Some(core.into_durability())),
            };
        }
        match core.run(inputs, waiter)? {
            Exit::Stopped => Ok(None),
            Exit::Deposed(leading) => Ok(Some(leading)),
        }
    }
}
