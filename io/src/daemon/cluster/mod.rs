//! A cluster node's core thread (docs/cluster.md): one Node, driven from start to stop,
//! that changes seats with the lease. It starts as a standby, forwarding its own master's
//! commands to the leader ([`leader_link`]) while it follows the registry log into a
//! replica; when it takes the lease its Node is promoted onto the caught-up registry and
//! every batch is committed fenced by its epoch; when deposed it forwards again. Its own
//! workers stay attached through every change (`seat.rs`).

mod events;
mod leader_link;
mod lease_clock;
mod seat;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rollcall_core::replication::Replicator;
use rollcall_core::Node;
use smol::channel::{Receiver, Sender};

use crate::buildbot::{credentials_of, write_lock, Credentials};
use crate::cluster::{ClusterStatus, PostgresStore, PostgresTls};
use crate::config::{ClusterSection, Config};
use crate::core_link::inputs::CoreInput;
use crate::credentials::Token;
use crate::daemon::clock;
use crate::daemon::core_loop::CoreLoop;
use crate::daemon::wait::Waiter;
use crate::daemon::DaemonError;
use crate::metrics::Metrics;
use crate::tls::ClientTls;
use leader_link::LeaderLink;
use lease_clock::LeaseClock;
use seat::ClusterSeat;

pub(crate) struct ClusterCore {
    config: Config,
    cluster: ClusterSection,
    /// TLS to PostgreSQL, loaded at the start.
    postgres_tls: Option<PostgresTls>,
    /// The token the own master presents to the leader, read at the start.
    master_token: Option<Token>,
    /// TLS to the leader's master port, when this cluster runs it with `[tls]`.
    peer_tls: Option<ClientTls>,
    status: Arc<ClusterStatus>,
    metrics: Arc<Metrics>,
    credentials: Credentials,
}

impl ClusterCore {
    /// A standby of the cluster `config` names; it reaches the store once it runs.
    ///
    /// # Errors
    ///
    /// When the own master's token file, or the TLS files for the other nodes, cannot be
    /// read.
    pub(crate) fn new(
        config: Config,
        postgres_tls: Option<PostgresTls>,
        metrics: Arc<Metrics>,
        status: Arc<ClusterStatus>,
    ) -> Result<ClusterCore, DaemonError> {
        let Some(cluster) = config.cluster.clone() else {
            unreachable!("the configuration has [cluster]")
        };
        let master_token = match &cluster.master_token_file {
            Some(path) => {
                Some(crate::credentials::read_token_file(path).map_err(DaemonError::MasterToken)?)
            }
            None => {
                tracing::warn!("[cluster] names no master_token_file: while this node stands by, its master is not registered at the leader (its workers attach, but the registry does not record them until this node leads)");
                None
            }
        };
        // The other nodes' master port speaks TLS where this one does: nodes are alike.
        let peer_tls = match &config.tls {
            Some(_) => Some(ClientTls::new(&cluster.peer_tls).map_err(DaemonError::Tls)?),
            None => None,
        };
        let credentials = Credentials::default();
        *write_lock(&credentials) = credentials_of(&config.roster());
        Ok(ClusterCore {
            config,
            cluster,
            postgres_tls,
            master_token,
            peer_tls,
            status,
            metrics,
            credentials,
        })
    }

    /// The roster's credentials, kept current across reconfigs and seats.
    pub(crate) fn credentials(&self) -> Credentials {
        Arc::clone(&self.credentials)
    }

    /// Drives the node until a shutdown; `core` is where the leader link reports.
    ///
    /// # Errors
    ///
    /// When the Node cannot start or serve the registry the log holds (a bug or a corrupt
    /// log), or the leader link's thread cannot start.
    pub(crate) fn run(
        self,
        inputs: &Receiver<CoreInput>,
        core: Sender<CoreInput>,
    ) -> Result<(), DaemonError> {
        let waiter = Waiter::for_this_thread();
        let lease_clock = LeaseClock::start();
        let store = PostgresStore::new(
            self.cluster.postgres.clone(),
            &self.cluster.node,
            &self.cluster.advertise,
            Duration::from_secs(self.cluster.lease_ttl_s),
        )
        .with_tls(self.postgres_tls.clone());
        let node_config = self.config.node_config();
        let timings = self.cluster.lease_timings();
        let Ok(replicator) =
            Replicator::new(lease_clock.now(), store, timings, node_config.registry)
        else {
            unreachable!("the lease timings were validated with the configuration")
        };
        let replicator = replicator.with_snapshots_every(self.cluster.snapshot_every_entries);
        let link = match self.master_token.clone() {
            Some(token) => Some(
                LeaderLink::spawn(
                    self.config.master.name.clone(),
                    token,
                    self.peer_tls.clone(),
                    Arc::clone(&self.status),
                    core,
                )
                .map_err(DaemonError::CoreThreadSpawn)?,
            ),
            None => None,
        };
        let seat = ClusterSeat {
            replicator,
            lease_clock,
            status: Arc::clone(&self.status),
            link,
            takeover_grace_ms: timings.takeover_grace_ms(node_config.heartbeat_interval_ms),
            promotion: None,
            next_follow: Instant::now(),
            next_status: Instant::now(),
        };
        let node =
            Node::start_forwarding(clock::now(), node_config, crate::client::next_request_id())
                .map_err(DaemonError::Node)?;
        tracing::info!(node = %self.cluster.node, advertise = %self.cluster.advertise, "standing by");
        let core = CoreLoop::on_node(
            self.config,
            node,
            seat,
            Arc::clone(&self.metrics),
            None,
            Arc::clone(&self.credentials),
        );
        core.run(inputs, &waiter)
    }
}
