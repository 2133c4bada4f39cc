//! The daemon's configuration: a TOML file, validated whole before anything uses it.
//!
//! Every section and key is optional (an empty file is a working single-master setup on
//! loopback) except that each `[[workers]]` entry needs a `name` and a `password`, and each
//! `[[builders]]` entry a `name`. A refused file is reported as `<file>:<line>:<column>:
//! <problem>` and never quotes a password. `examples/rollcall.toml` shows every key.

mod defaults;
mod effective;
mod error;
mod file;
mod position;
mod problem;
mod validate;
mod validate_cluster;
mod validate_masters;
mod validate_roster;
mod validate_tls;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rollcall_core::{DuplicatePolicy, GatewayConfig, RegistryConfig, Roster, WorkerConfig};

pub use error::ConfigError;
pub use position::Position;
pub use problem::{ConfigProblem, EntryKind, Setting};
pub use validate_cluster::describe_postgres;

use error::Origin;

/// A validated configuration. Built only by [`Config::load`], [`Config::parse`] and
/// [`Config::embedded_default`], which is what makes [`Config::roster`] infallible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The file it came from; `None` for the embedded default.
    pub source: Option<PathBuf>,
    pub master: MasterSection,
    pub listen: ListenSection,
    pub timing: TimingSection,
    pub gateway: GatewaySection,
    pub limits: LimitsSection,
    pub workers: Vec<WorkerSection>,
    pub builders: Vec<BuilderSection>,
    /// The remote masters allowed to register (`[[masters]]`).
    pub masters: Vec<RemoteMasterSection>,
    /// TLS on every port; `None`: every port in the clear (loopback only, unless
    /// `listen.allow_plaintext`).
    pub tls: Option<TlsSection>,
    /// This node's part in a cluster on PostgreSQL; `None`: one node on fjall, the default.
    pub cluster: Option<ClusterSection>,
    /// `[log] format`: text (the default) or JSON lines. `--log-format` and
    /// `ROLLCALL_LOG_FORMAT` override it; a reconfig cannot change it.
    pub log_format: crate::logging::LogFormat,
}

/// A cluster node's settings (`[cluster]`, docs/cluster.md).
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSection {
    /// A libpq connection string or URL; it may hold a password, so it is never shown.
    pub postgres: String,
    /// This node's unique name: the lease's holder.
    pub node: String,
    /// `host:port` other nodes and clients reach this node's master port at.
    pub advertise: String,
    pub lease_ttl_s: u64,
    pub renew_interval_s: u64,
    /// A standby snapshots its replica, and prunes the log, every this many entries
    /// (0: never; the log then grows without bound).
    pub snapshot_every_entries: u64,
    /// TLS to PostgreSQL: `Some` when `[cluster]` names a TLS file or the connection
    /// string says `sslmode=require`; the sessions are then always encrypted and the
    /// server verified.
    pub postgres_tls: Option<crate::cluster::PostgresTlsOptions>,
    /// The file holding the token this node's own master presents to the leader while
    /// it stands by (the leader lists the master in its `[[masters]]`, as any remote
    /// master). Without it, a standby's master is not registered until the node leads.
    pub master_token_file: Option<std::path::PathBuf>,
    /// How this node's master reaches the other nodes' master port when the cluster runs
    /// it with `[tls]` (this node's own `[tls]` says so: a cluster's nodes are configured
    /// alike): the CA their certificates chain to (default: the system's), and the
    /// certificate and key to present where `[tls] client_ca` asks masters for one.
    pub peer_tls: crate::tls::ClientTlsOptions,
}

/// Shows where the store is without its password.
impl std::fmt::Debug for ClusterSection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClusterSection")
            .field("postgres", &validate_cluster::describe_postgres(&self.postgres))
            .field("node", &self.node)
            .field("advertise", &self.advertise)
            .field("lease_ttl_s", &self.lease_ttl_s)
            .field("renew_interval_s", &self.renew_interval_s)
            .field("snapshot_every_entries", &self.snapshot_every_entries)
            .field("postgres_tls", &self.postgres_tls)
            .field("master_token_file", &self.master_token_file)
            .field("peer_tls", &self.peer_tls)
            .finish()
    }
}

impl ClusterSection {
    pub fn lease_timings(&self) -> rollcall_core::lease::LeaseTimings {
        rollcall_core::lease::LeaseTimings {
            ttl_ms: self.lease_ttl_s * 1_000,
            renew_interval_ms: self.renew_interval_s * 1_000,
        }
    }
}

/// The daemon's TLS files, absolute (resolved against the current directory at load, as
/// `data_dir` is). Their contents are checked when TLS is loaded (`check-config`, `serve`,
/// each SIGHUP), not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSection {
    /// PEM: the daemon's certificate, then its chain.
    pub certificate: PathBuf,
    /// PEM: the certificate's private key.
    pub private_key: PathBuf,
    /// PEM: the CA(s) whose certificates masters must present, named for the master.
    pub client_ca: Option<PathBuf>,
}

/// A remote master allowed to register, and the SHA-256 of each token it may present.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteMasterSection {
    pub name: String,
    pub token_sha256: Vec<crate::credentials::Digest>,
}

/// Shows how many tokens, never their digests.
impl std::fmt::Debug for RemoteMasterSection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RemoteMasterSection")
            .field("name", &self.name)
            .field("tokens", &self.token_sha256.len())
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterSection {
    /// This master's name in the Registry; by default `<hostname>:<data_dir>`.
    pub name: String,
    /// Always absolute (resolved against the current directory at load), never created here.
    pub data_dir: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSection {
    /// rollcall's own worker protocol.
    pub workers: SocketAddr,
    pub http: SocketAddr,
    /// Buildbot's worker protocol; off unless configured.
    pub buildbot_workers: Option<SocketAddr>,
    /// Lets a listener on a non-loopback address run without TLS (logged at start).
    pub allow_plaintext: bool,
}

impl ListenSection {
    /// The listeners a network beyond this host can reach that have no TLS to protect them.
    pub fn exposed_in_clear(&self, tls: Option<&TlsSection>) -> Vec<(&'static str, SocketAddr)> {
        if tls.is_some() {
            return Vec::new();
        }
        let listeners = [
            ("listen.workers", Some(self.workers)),
            ("listen.http", Some(self.http)),
            ("listen.buildbot_workers", self.buildbot_workers),
        ];
        listeners
            .into_iter()
            .filter_map(|(key, address)| Some((key, address?)))
            .filter(|(_, address)| !address.ip().to_canonical().is_loopback())
            .collect()
    }
}

/// Each value is positive and at most one year, and the heartbeat is shorter than the
/// expiry window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingSection {
    pub heartbeat_interval_s: u64,
    pub expiry_window_s: u64,
    pub keepalive_timeout_s: u64,
    pub missing_timeout_s: u64,
    pub ping_timeout_s: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySection {
    pub duplicate_policy: DuplicatePolicy,
}

/// Each value is positive; `max_frame_bytes` is within 1 KiB ..= 64 MiB and every duration
/// at most one year. The connection caps apply to each worker port on its own (rollcall's and
/// the Buildbot protocol's); the `http_` ones to the HTTP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsSection {
    pub max_frame_bytes: u32,
    pub handshake_timeout_s: u64,
    pub max_handshaking_connections: usize,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_handshaking_per_address: usize,
    /// Per connection: frames waiting to be written before the peer is cut off.
    pub max_outbound_frames: usize,
    /// Per connection: bytes waiting to be written before the peer is cut off.
    pub max_outbound_bytes: usize,
    pub http_max_connections: usize,
    pub http_max_connections_per_address: usize,
    pub http_max_in_flight: usize,
    pub http_head_timeout_s: u64,
    pub http_write_timeout_s: u64,
    /// Bytes of responses held, over all HTTP connections, for clients still reading them.
    pub http_max_buffered_bytes: usize,
    pub max_master_sessions: usize,
    /// A master session that sends nothing for this long is closed.
    pub master_idle_timeout_s: u64,
    /// Masters, and rows of every other kind, that remote masters' commands may create.
    pub max_masters: usize,
    pub max_rows_per_kind: usize,
    /// Connections the kernel may queue on each worker port (rollcall's and the Buildbot
    /// protocol's) before they are accepted; the HTTP port keeps tiny_http's own.
    pub listen_backlog: u32,
}

/// A worker and the SHA-256 of its password: a password given in clear is hashed at load
/// and never kept.
#[derive(Clone, PartialEq, Eq)]
pub struct WorkerSection {
    pub name: String,
    pub password_sha256: crate::credentials::Digest,
}

/// Redacted, so that a logged `Config` never shows even a password's digest.
impl std::fmt::Debug for WorkerSection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WorkerSection")
            .field("name", &self.name)
            .field("password", &format_args!("<redacted>"))
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuilderSection {
    pub name: String,
    /// Distinct, and each one a configured worker.
    pub workernames: Vec<String>,
}

/// What the default is parsed from: an empty file gives every default.
const EMBEDDED_DEFAULT_TEXT: &str = "";

impl Config {
    /// The embedded default: everything at its default, no workers, no builders.
    ///
    /// # Errors
    ///
    /// Only if the default data directory cannot be made absolute (the current directory is
    /// gone) or the default master name built from it is too long.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        let mut config = Config::parse(EMBEDDED_DEFAULT_TEXT, Path::new("<embedded default>"))?;
        config.source = None;
        Ok(config)
    }

    /// Reads and validates a file. `source` is set to `path` as given.
    ///
    /// # Errors
    ///
    /// The file cannot be read (the message names the OS error), or see [`Config::parse`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::in_file(path, ConfigProblem::Unreadable(error)))?;
        Config::parse(&text, path)
    }

    /// Parses and validates text. `origin` names the file in messages and becomes `source`;
    /// a relative `data_dir` resolves against the current directory, not against `origin`.
    ///
    /// # Errors
    ///
    /// The first problem found: bad TOML, an unknown key, a value of the wrong type or out of
    /// range, or an inconsistency between workers and builders.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let origin_text = Origin { file: origin, text };
        let file = toml::from_str(text).map_err(|error| origin_text.toml_error(&error))?;
        let mut config = validate::validate(file, &origin_text)?;
        config.source = Some(origin.to_path_buf());
        Ok(config)
    }

    /// The Gateway roster: each configured worker with its password and the builders whose
    /// `workernames` list it (sorted).
    pub fn roster(&self) -> Roster {
        let mut builders_by_worker: HashMap<&str, Vec<String>> = HashMap::new();
        for builder in &self.builders {
            for worker in &builder.workernames {
                builders_by_worker.entry(worker).or_default().push(builder.name.clone());
            }
        }
        let workers = self
            .workers
            .iter()
            .map(|worker| {
                let builders = builders_by_worker.remove(worker.name.as_str()).unwrap_or_default();
                let password =
                    crate::credentials::password_key_from_digest(&worker.password_sha256);
                WorkerConfig::new(&worker.name, password, builders)
            })
            .collect();
        // validate_roster.rs refuses every config that Roster::new would refuse (names, sizes,
        // duplicates, counts), so only a Config whose pub fields were edited after validation
        // to break those rules could get here with a bad roster.
        Roster::new(workers).expect("a validated Config always makes a valid roster")
    }

    /// The Gateway's settings, in milliseconds.
    pub fn gateway_config(&self) -> GatewayConfig {
        GatewayConfig {
            duplicate_policy: self.gateway.duplicate_policy,
            keepalive_timeout_ms: milliseconds(self.timing.keepalive_timeout_s),
            ping_timeout_ms: milliseconds(self.timing.ping_timeout_s),
            missing_timeout_ms: milliseconds(self.timing.missing_timeout_s),
        }
    }

    /// The Registry's settings, in milliseconds.
    pub fn registry_config(&self) -> RegistryConfig {
        RegistryConfig { expiry_window_ms: milliseconds(self.timing.expiry_window_s) }
    }

    /// What the daemon's Node runs with.
    pub fn node_config(&self) -> rollcall_core::NodeConfig {
        rollcall_core::NodeConfig {
            master_name: self.master.name.clone(),
            registry: self.registry_config(),
            gateway: self.gateway_config(),
            roster: self.roster(),
            builder_names: self.builder_names(),
            heartbeat_interval_ms: milliseconds(self.timing.heartbeat_interval_s),
            row_caps: rollcall_core::node::RowCaps {
                max_masters: self.limits.max_masters,
                max_rows_per_kind: self.limits.max_rows_per_kind,
            },
            masters: self.master_tokens(),
        }
    }

    /// The configured builders, in file order.
    pub fn builder_names(&self) -> Vec<String> {
        self.builders.iter().map(|builder| builder.name.clone()).collect()
    }

    /// The token digests of each configured remote master, by name.
    pub fn master_tokens(&self) -> rollcall_core::node::MasterTokens {
        self.masters
            .iter()
            .map(|master| {
                let digests = master.token_sha256.iter().copied();
                (master.name.clone(), digests.map(rollcall_core::node::TokenDigest).collect())
            })
            .collect()
    }

    /// The configured workers, in file order.
    pub fn worker_names(&self) -> Vec<String> {
        self.workers.iter().map(|worker| worker.name.clone()).collect()
    }
}

/// Validation caps every duration at a year, so this never saturates for a validated Config.
fn milliseconds(seconds: u64) -> u64 {
    seconds.saturating_mul(1000)
}
