//! A real `rollcall serve` for the end-to-end benchmarks: its own temporary data
//! directory, free loopback ports, a generated configuration, optionally a registry
//! filled beforehand through [`FjallStore`], exactly as the daemon would have written it,
//! and optionally `[tls]` (every port then speaks TLS).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rollcall_core::registry::MasterRecord;
use rollcall_core::{Change, MasterId, Record, Timestamp};
use rollcall_io::storage::{FjallStore, Store};

use crate::fixture::{master_name, worker_name, WORKER_PASSWORD};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How the daemon under test is set up.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// Workers `w0`, `w1`, ... with the benchmark password, all serving builder `linux`.
    pub workers: usize,
    /// Active masters written into the store before the daemon starts.
    pub masters: usize,
    pub max_handshaking_connections: usize,
    pub max_connections: usize,
    pub handshake_timeout_s: u64,
    /// `[limits] listen_backlog` of the worker port.
    pub listen_backlog: u32,
    /// Remote masters `bench-master-0`, ... configured (`[[masters]]`) with [`MASTER_TOKEN`].
    pub remote_masters: usize,
    /// `[tls]`: every port of the daemon speaks TLS with these files.
    pub tls: Option<DaemonTls>,
    /// `[cluster]`: the daemon is a node of a cluster on this PostgreSQL (the lease's
    /// defaults; it advertises its worker address).
    pub cluster: Option<DaemonCluster>,
}

/// A cluster node's settings: the store, and the node's name.
#[derive(Clone, Debug)]
pub struct DaemonCluster {
    /// A libpq connection string.
    pub postgres: String,
    pub node: String,
}

/// The daemon's certificate and key, and the CA that signed them (what clients verify
/// the daemon with): see [`crate::tls::Certificates`].
#[derive(Clone, Debug)]
pub struct DaemonTls {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub ca: PathBuf,
}

/// The token of every benchmark master.
pub const MASTER_TOKEN: &str = "rcm_the-token-of-every-benchmark-master";

/// The name of benchmark master `index`.
pub fn remote_master_name(index: usize) -> String {
    format!("bench-master-{index}")
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            workers: 1_000,
            masters: 0,
            max_handshaking_connections: 100_000,
            max_connections: 100_000,
            handshake_timeout_s: 60,
            listen_backlog: 4096,
            remote_masters: 0,
            tls: None,
            cluster: None,
        }
    }
}

/// A running daemon; dropping it kills it and removes its data.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pub worker_address: SocketAddr,
    pub http_address: SocketAddr,
    /// Whether its ports speak TLS.
    pub tls: bool,
    _directory: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's resident memory now, from `/proc/PID/status`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read (not Linux, or the daemon is gone).
    pub fn resident_bytes(&self) -> Result<u64, BoxError> {
        resident_bytes_of(self.pid())
    }
}

/// `VmRSS` of a process, in bytes.
///
/// # Errors
///
/// When `/proc/PID/status` cannot be read or has no `VmRSS` line.
pub fn resident_bytes_of(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS line in /proc/PID/status")?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("an empty VmRSS line")?.parse()?;
    Ok(kib * 1024)
}

fn free_address() -> Result<SocketAddr, std::io::Error> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// The wall clock as the daemon reads it.
pub fn wall_clock() -> Timestamp {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

fn configuration(
    options: &DaemonOptions,
    data_dir: &Path,
    workers: SocketAddr,
    http: SocketAddr,
) -> String {
    let mut config = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        config,
        "[master]\nname = \"bench\"\ndata_dir = {data_dir:?}\n\
         [listen]\nworkers = \"{workers}\"\nhttp = \"{http}\"\n\
         [limits]\nmax_handshaking_connections = {}\nmax_connections = {}\nhandshake_timeout_s = {}\n\
         listen_backlog = {}\n",
        options.max_handshaking_connections,
        options.max_connections,
        options.handshake_timeout_s,
        options.listen_backlog,
    );
    if let Some(tls) = &options.tls {
        let _ = write!(
            config,
            "[tls]\ncertificate = {:?}\nprivate_key = {:?}\n",
            tls.certificate, tls.private_key
        );
    }
    if let Some(cluster) = &options.cluster {
        let _ = write!(
            config,
            "[cluster]\npostgres = {:?}\nnode = {:?}\nadvertise = \"{workers}\"\n",
            cluster.postgres, cluster.node
        );
    }
    let digest =
        rollcall_io::credentials::hex(&rollcall_io::credentials::sha256(MASTER_TOKEN.as_bytes()));
    for index in 0..options.remote_masters {
        let _ = write!(
            config,
            "[[masters]]\nname = \"{}\"\ntoken_sha256 = [\"{digest}\"]\n",
            remote_master_name(index)
        );
    }
    for index in 0..options.workers {
        let _ = write!(
            config,
            "[[workers]]\nname = \"{}\"\npassword = \"{WORKER_PASSWORD}\"\n",
            worker_name(index)
        );
    }
    if options.workers > 0 {
        let names: Vec<String> =
            (0..options.workers).map(|index| format!("\"{}\"", worker_name(index))).collect();
        let _ =
            write!(config, "[[builders]]\nname = \"linux\"\nworkernames = [{}]\n", names.join(","));
    }
    config
}

/// Writes `count` active masters, heartbeated now, into a fresh store at `data_dir`, in
/// one batch: the rows `count` masterActive calls would have left.
///
/// # Errors
///
/// When the store cannot be opened or written.
pub fn populate_masters(data_dir: &Path, count: usize) -> Result<(), BoxError> {
    let mut store = FjallStore::open(data_dir)?;
    let now = wall_clock();
    let changes: Vec<Change> = (0..count)
        .map(|index| {
            Change::Put(Record::Master(MasterRecord {
                id: MasterId(index as u64 + 1),
                name: master_name(index),
                active: true,
                last_active: now,
            }))
        })
        .collect();
    store.commit(&changes)?;
    Ok(())
}

/// Starts `binary serve` and waits until both ports answer (`/healthz` over HTTPS, verified
/// with the CA, when the daemon speaks TLS).
///
/// # Errors
///
/// When the configuration or store cannot be written, the CA cannot be read, or the daemon
/// does not come up within a minute.
pub fn start(binary: &Path, options: &DaemonOptions) -> Result<Daemon, BoxError> {
    let directory = tempfile::tempdir()?;
    let data_dir = directory.path().join("data");
    if options.masters > 0 {
        populate_masters(&data_dir, options.masters)?;
    }
    let (worker_address, http_address) = (free_address()?, free_address()?);
    let path = directory.path().join("rollcall.toml");
    std::fs::write(&path, configuration(options, &data_dir, worker_address, http_address))?;
    let child = Command::new(binary)
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    let client_tls = match &options.tls {
        Some(tls) => Some(crate::tls::client(&tls.ca, 1)?),
        None => None,
    };
    let mut daemon = Daemon {
        child,
        worker_address,
        http_address,
        tls: client_tls.is_some(),
        _directory: directory,
    };
    let started = Instant::now();
    loop {
        if let Some(status) = daemon.child.try_wait()? {
            return Err(format!("the daemon exited at startup: {status}").into());
        }
        let healthy = match &client_tls {
            Some(tls) => crate::http::get_with(http_address, "/healthz", Some(tls))
                .is_ok_and(|answer| answer.status == 200),
            None => {
                crate::http::get(http_address, "/healthz").is_ok_and(|(status, _)| status == 200)
            }
        };
        let up = std::net::TcpStream::connect(worker_address).is_ok() && healthy;
        if up {
            return Ok(daemon);
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the daemon did not start within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
