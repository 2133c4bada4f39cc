//! `rollcall serve`: the daemon.
//!
//! Two threads matter. The core thread drives the Node and owns the store
//! (`core_loop.rs`); the network runs on smol's executor (the acceptor, `connection.rs`,
//! the Buildbot port, HTTP) and talks to the core through one bounded channel
//! (`core_link`), so a flood of input slows readers down instead of growing memory. This
//! module is the top: it starts the others, and none of them imports it.

mod clock;
mod cluster;
pub(crate) mod connection;
mod core_loop;
mod durability;
mod flapping;
mod node_events;
mod notify;
mod peers;
mod pid_file;
mod wait;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt;
use rollcall_core::ConnectionId;

use crate::acceptor::{self, Port, PortLimits, PortName};
use crate::bind;
use crate::logging::Escaped;

use crate::config::Config;
use crate::storage::StorageError;

use crate::core_link::inputs::CoreInput;
use crate::core_link::NetShared;
use crate::metrics::Metrics;
use core_loop::CoreLoop;
use pid_file::PidFile;

/// How many inputs may wait for the core thread before readers are made to wait.
const CORE_QUEUE_CAPACITY: usize = 65_536;

#[derive(Debug)]
pub enum DaemonError {
    Storage(StorageError),
    /// The Node would not start: invalid settings, or stored rows that do not recover.
    Node(rollcall_core::node::StartError),
    /// The trace `--record` names cannot be created.
    Trace {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    Listen {
        address: std::net::SocketAddr,
        error: std::io::Error,
    },
    Signals(std::io::Error),
    /// The core thread could not be started.
    CoreThreadSpawn(std::io::Error),
    /// A cluster node's own master token (`[cluster] master_token_file`) cannot be read.
    MasterToken(String),
    /// `--pid-file` cannot be written.
    PidFile {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    /// The core thread panicked: a bug, whose message is in the log.
    CoreThreadPanicked,
    /// A TLS file could not be loaded: `<file>: <why>`.
    Tls(crate::tls::TlsError),
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonError::Storage(error) => write!(formatter, "{error}"),
            DaemonError::Node(error) => write!(formatter, "cannot start: {error}"),
            DaemonError::Trace { path, error } => {
                write!(formatter, "cannot create the trace {}: {error}", path.display())
            }
            DaemonError::Listen { address, error } => {
                write!(formatter, "cannot listen on {address}: {error}")
            }
            DaemonError::Signals(error) => {
                write!(formatter, "cannot install signal handlers: {error}")
            }
            DaemonError::CoreThreadSpawn(error) => {
                write!(formatter, "cannot start the core thread: {error}")
            }
            DaemonError::MasterToken(why) => {
                write!(formatter, "[cluster] master_token_file: {why}")
            }
            DaemonError::PidFile { path, error } => {
                write!(formatter, "cannot write the pid file {}: {error}", path.display())
            }
            DaemonError::CoreThreadPanicked => {
                formatter.write_str("the core thread panicked (a bug: see the log above)")
            }
            DaemonError::Tls(error) => write!(formatter, "cannot load TLS: {error}"),
        }
    }
}

impl std::error::Error for DaemonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DaemonError::Storage(error) => Some(error),
            DaemonError::Node(error) => Some(error),
            DaemonError::Trace { error, .. }
            | DaemonError::Listen { error, .. }
            | DaemonError::Signals(error)
            | DaemonError::CoreThreadSpawn(error)
            | DaemonError::PidFile { error, .. } => Some(error),
            DaemonError::Tls(error) => Some(error),
            DaemonError::CoreThreadPanicked | DaemonError::MasterToken(_) => None,
        }
    }
}

impl From<StorageError> for DaemonError {
    fn from(error: StorageError) -> Self {
        DaemonError::Storage(error)
    }
}

/// How `rollcall serve` was asked to run, beside its configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServeOptions<'a> {
    /// Record every core input to this trace file.
    pub record: Option<&'a std::path::Path>,
    /// Write the process id here once every port listens; removed at a clean stop.
    pub pid_file: Option<&'a std::path::Path>,
}

/// Runs the daemon until SIGTERM or SIGINT, then stops this master cleanly.
///
/// # Errors
///
/// When the store cannot be opened or loaded, a port cannot be bound, or storage fails
/// while running (nothing can be acknowledged then, so the daemon stops).
pub fn serve(config: Config, options: &ServeOptions<'_>) -> Result<(), DaemonError> {
    let record = options.record;
    // Before any port is bound: a client (or a test) that sees a port answer may signal at
    // once, and a SIGTERM before the handlers are in would kill the daemon uncleanly.
    let signals = async_signal::Signals::new([
        async_signal::Signal::Term,
        async_signal::Signal::Int,
        async_signal::Signal::Hup,
    ])
    .map_err(DaemonError::Signals)?;
    // Before the store: a bad certificate file should stop the start before anything is
    // registered.
    let tls = Arc::new(load_tls(&config)?);
    // Every port before the store: a port that is taken stops the start before the data
    // directory is made or the master registered.
    let limits = &config.limits;
    let listen = |address| {
        bind::listen(address, limits.listen_backlog)
            .map_err(|error| DaemonError::Listen { address, error })
    };
    let workers_listener = listen(config.listen.workers)?;
    let http_listener = listen(config.listen.http)?;
    let buildbot_listener = config.listen.buildbot_workers.map(listen).transpose()?;
    let (core, metrics) = start_core(&config, record)?;
    // After the store: its lock says no other daemon owns the data dir, or its socket.
    let control = bind_control_socket(&config);
    let credentials = core.credentials();
    let (core_sender, core_receiver) = smol::channel::bounded(CORE_QUEUE_CAPACITY);
    let reports = core_sender.clone();
    let core_thread = std::thread::Builder::new()
        .name("rollcall-core".into())
        .spawn(move || core.run(&core_receiver, reports))
        .map_err(DaemonError::CoreThreadSpawn)?;

    let network = smol::block_on(async {
        let limits = &config.limits;
        let shared = Arc::new(NetShared {
            core: core_sender.clone(),
            max_frame_bytes: limits.max_frame_bytes,
            metrics: Arc::clone(&metrics),
            master_sessions: AtomicUsize::new(0),
            max_master_sessions: limits.max_master_sessions,
            master_idle_timeout: Duration::from_secs(limits.master_idle_timeout_s),
            tls: Arc::clone(&tls),
        });
        let worker_port_limits = PortLimits {
            max_open: limits.max_connections,
            max_open_per_address: limits.max_connections_per_address,
            max_handshaking: limits.max_handshaking_connections,
            max_handshaking_per_address: limits.max_handshaking_per_address,
            handshake_timeout: Duration::from_secs(limits.handshake_timeout_s),
        };
        let address = config.listen.workers;
        let listener = workers_listener;
        let bound = listener.local_addr().unwrap_or(address);
        tracing::info!(%bound, name = %Escaped(&config.master.name), "listening for workers and masters");
        let http_limits = crate::http::HttpLimits {
            port: PortLimits {
                max_open: limits.http_max_connections,
                max_open_per_address: limits.http_max_connections_per_address,
                max_handshaking: limits.http_max_connections,
                max_handshaking_per_address: limits.http_max_connections_per_address,
                handshake_timeout: Duration::from_secs(limits.http_head_timeout_s),
            },
            max_in_flight: limits.http_max_in_flight,
            write_timeout: Duration::from_secs(limits.http_write_timeout_s),
            max_buffered_bytes: limits.http_max_buffered_bytes,
        };
        let http = crate::http::start(
            http_listener,
            http_limits,
            core_sender.clone(),
            Arc::clone(&metrics),
            Arc::clone(&tls),
        )
        .map_err(|crate::bind::ListenError { address, error }| DaemonError::Listen {
            address,
            error,
        })?;
        let (stop_accepting, stop) = smol::channel::bounded::<()>(1);
        let (stop_buildbot, stop_accepting_buildbot) = smol::channel::bounded::<()>(1);
        let workers_port =
            Port::new(PortName::Workers, worker_port_limits.clone(), Arc::clone(&metrics));
        let accepting = {
            static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);
            let shared = Arc::clone(&shared);
            smol::spawn(acceptor::run(
                listener,
                workers_port,
                Arc::clone(&tls),
                stop,
                move |stream, peer, admission| {
                    let connection = ConnectionId(NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed));
                    connection::serve(stream, peer, admission, connection, Arc::clone(&shared))
                },
            ))
        };
        let buildbot = match buildbot_listener {
            Some(listener) => {
                if let Ok(bound) = listener.local_addr() {
                    tracing::info!(%bound, "listening for buildbot workers (msgpack_experimental_v7)");
                }
                let settings = Arc::new(crate::buildbot::Listener {
                    shared: Arc::clone(&shared),
                    credentials,
                    // A third of the deadline: two keepalives may be lost before it passes.
                    keepalive_interval: Duration::from_secs(
                        (config.timing.keepalive_timeout_s / 3).max(1),
                    ),
                });
                let port = Port::new(PortName::Buildbot, worker_port_limits, Arc::clone(&metrics));
                Some(smol::spawn(acceptor::run(
                    listener,
                    port,
                    Arc::clone(&tls),
                    stop_accepting_buildbot.clone(),
                    move |stream, peer, admission| {
                        let connection = crate::buildbot::next_connection();
                        crate::buildbot::serve(
                            stream,
                            peer,
                            admission,
                            connection,
                            Arc::clone(&settings),
                        )
                    },
                )))
            }
            None => None,
        };
        let (stop_control, control_stopped) = smol::channel::bounded::<()>(1);
        let controlling = control.map(|socket| {
            let core = core_sender.clone();
            smol::spawn(async move { socket.serve(core, control_stopped).await })
        });
        // Ready: the store is loaded (a cluster node stands by) and every port listens.
        let pid_file = options.pid_file.map(PidFile::write).transpose()?;
        notify::ready(&config);
        handle_signals(signals, &config, &core_sender, &tls).await?;
        notify::stopping();
        drop(pid_file);
        // Stop accepting first, then let the core close connections and stop the master.
        drop(stop_accepting);
        accepting.await;
        drop(stop_buildbot);
        if let Some(accepting) = buildbot {
            accepting.await;
        }
        drop(http);
        drop(stop_control);
        if let Some(controlling) = controlling {
            controlling.await;
        }
        Ok::<(), DaemonError>(())
    });
    // Whatever ended the network side (a signal, or a port that could not be bound), the
    // core thread must stop too: it is waiting for inputs.
    let _ = core_sender.send_blocking(CoreInput::Shutdown);
    drop(core_sender);
    let core_result = core_thread.join().map_err(|_| DaemonError::CoreThreadPanicked)?;
    network?;
    core_result
}

/// What the core thread runs: one node on its own store, or a cluster node.
enum Core {
    Local(Box<CoreLoop<durability::LocalStore<crate::storage::FjallStore>>>),
    Cluster(Box<cluster::ClusterCore>),
}

impl Core {
    fn credentials(&self) -> crate::buildbot::Credentials {
        match self {
            Core::Local(core) => core.credentials(),
            Core::Cluster(core) => core.credentials(),
        }
    }

    /// `reports` is where a cluster node's leader link reports (a single node drops it).
    fn run(
        self,
        inputs: &smol::channel::Receiver<CoreInput>,
        reports: smol::channel::Sender<CoreInput>,
    ) -> Result<(), DaemonError> {
        match self {
            Core::Local(core) => {
                drop(reports);
                let waiter = wait::Waiter::for_this_thread();
                core.run(inputs, &waiter)
            }
            Core::Cluster(core) => core.run(inputs, reports),
        }
    }
}

/// One node loads its store and commits its startup before any port is bound; a cluster
/// node reaches PostgreSQL once it runs, and stands by until it leads.
fn start_core(
    config: &Config,
    record: Option<&std::path::Path>,
) -> Result<(Core, Arc<Metrics>), DaemonError> {
    if let Some(section) = &config.cluster {
        let status = Arc::new(crate::cluster::ClusterStatus::new(
            section.node.clone(),
            section.advertise.clone(),
        ));
        let metrics = Arc::new(Metrics::for_cluster(status.clone()));
        // Loaded before anything runs, so that a bad file stops the start with its name.
        let tls = section
            .postgres_tls
            .as_ref()
            .map(crate::cluster::PostgresTls::load)
            .transpose()
            .map_err(DaemonError::Tls)?;
        let core = cluster::ClusterCore::new(config.clone(), tls, Arc::clone(&metrics), status)?;
        return Ok((Core::Cluster(Box::new(core)), metrics));
    }
    let metrics = Arc::new(Metrics::default());
    let store = crate::storage::open(config)?;
    let core = CoreLoop::start(config.clone(), store, Arc::clone(&metrics), record)?;
    Ok((Core::Local(Box::new(core)), metrics))
}

/// The control socket `rollcall export` reaches a running single node through. Without
/// it the daemon still serves (a data dir path too long for a Unix socket, say), and says
/// what export cannot do then.
fn bind_control_socket(config: &Config) -> Option<crate::backup::control::ControlSocket> {
    if config.cluster.is_some() {
        return None;
    }
    match crate::backup::control::ControlSocket::bind(&config.master.data_dir) {
        Ok(socket) => {
            tracing::info!(socket = %socket.path().display(), "control socket listening (rollcall export)");
            Some(socket)
        }
        Err(error) => {
            let socket = crate::backup::control::socket_path(&config.master.data_dir);
            tracing::warn!(
                socket = %socket.display(),
                %error,
                "no control socket: rollcall export cannot reach this daemon while it runs"
            );
            None
        }
    }
}

/// Waits for SIGTERM or SIGINT; reloads the configuration on SIGHUP.
async fn handle_signals(
    mut signals: async_signal::Signals,
    config: &Config,
    core: &smol::channel::Sender<CoreInput>,
    tls: &crate::tls::ServerTls,
) -> Result<(), DaemonError> {
    use async_signal::Signal;

    let mut core_closed = Box::pin(core.closed());
    loop {
        let next = futures_lite::future::or(async { signals.next().await }, async {
            (&mut core_closed).await;
            None
        })
        .await;
        match next {
            Some(Ok(Signal::Hup)) => reload(config, core, tls).await,
            Some(Ok(signal)) => {
                tracing::info!(?signal, "stopping");
                return Ok(());
            }
            Some(Err(error)) => return Err(DaemonError::Signals(error)),
            // The core thread ended on its own (a storage failure): stop too.
            None => return Ok(()),
        }
    }
}

/// The TLS of `config`, checked whole; with a warning for each listener left in the clear
/// on a non-loopback address (which only `allow_plaintext` lets through).
fn load_tls(config: &Config) -> Result<crate::tls::ServerTls, DaemonError> {
    let tls = crate::tls::ServerTls::new().map_err(DaemonError::Tls)?;
    let prepared = tls.prepare(config.tls.as_ref()).map_err(DaemonError::Tls)?;
    tls.install(prepared);
    for (key, address) in config.listen.exposed_in_clear(config.tls.as_ref()) {
        tracing::warn!(
            %address,
            "{key} is reachable from other hosts in clear (allow_plaintext): passwords and tokens cross the network unencrypted"
        );
    }
    Ok(tls)
}

/// A reload applies whole or not at all: a config file or a TLS file that fails leaves
/// everything (the old certificates included) as it was.
async fn reload(
    config: &Config,
    core: &smol::channel::Sender<CoreInput>,
    tls: &crate::tls::ServerTls,
) {
    let Some(path) = &config.source else {
        tracing::error!(
            "reconfig failed: running on the embedded default, there is no file to reload"
        );
        return;
    };
    let next = match Config::load(path) {
        Ok(next) => next,
        Err(error) => return tracing::error!("reconfig failed: {error}"),
    };
    // Before anything is applied, TLS included: the sockets and the store were opened with
    // these. (They never change, so the start's config is the one to compare with.)
    if let Some(why) = restart_only_changes(config, &next) {
        return tracing::error!("reconfig failed: {why}");
    }
    let prepared = match tls.prepare(next.tls.as_ref()) {
        Ok(prepared) => prepared,
        Err(error) => return tracing::error!("reconfig failed: {error}"),
    };
    tls.install(prepared);
    if next.tls.is_some() {
        tracing::info!("TLS certificates reloaded");
    }
    if next.log_format != config.log_format {
        // The log's writer is set once per process; the rest of the reconfig applies.
        tracing::warn!(now = %config.log_format, configured = %next.log_format, "[log] format changes at the next restart");
    }
    let _ = core.send(CoreInput::Reconfig(Box::new(next))).await;
}

/// Settings that sockets and storage were opened with cannot change under them.
fn restart_only_changes(current: &Config, next: &Config) -> Option<String> {
    if current.master.name != next.master.name {
        return Some("master.name cannot change without a restart".into());
    }
    if current.master.data_dir != next.master.data_dir {
        return Some("master.data_dir cannot change without a restart".into());
    }
    if current.listen.workers != next.listen.workers
        || current.listen.http != next.listen.http
        || current.listen.buildbot_workers != next.listen.buildbot_workers
    {
        return Some("[listen] addresses cannot change without a restart".into());
    }
    None
}
