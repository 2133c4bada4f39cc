//! Starting, signalling and killing the real daemon, and talking to it.
#![allow(dead_code, unreachable_pub)]

pub mod http;
pub mod tls;
pub mod transport;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{ClientError, Session};
use rollcall_io::wire::{ClientMessage, Role, ServerMessage};

pub const BINARY: &str = env!("CARGO_BIN_EXE_rollcall-under-test");

/// The token every test master presents; its digest is configured for [`test_masters`].
pub const MASTER_TOKEN: &str = "rcm_the-token-of-every-test-master";

/// The remote masters every test daemon configures (`[[masters]]`), so a test may connect
/// any of them with [`MASTER_TOKEN`].
pub fn test_masters() -> Vec<String> {
    let fixed = ["remote", "stopped", "new", "doomed", "survivor", "steady"];
    let numbered = (0..20).map(|index| format!("remote-{index}"));
    let builds = (1..=4).map(|index| format!("build{index}"));
    fixed
        .iter()
        .map(|name| (*name).to_string())
        .chain(numbered)
        .chain(builds)
        .map(|name| format!("{name}:/srv"))
        .chain(cluster_node_masters())
        .collect()
}

/// The own masters of a test cluster's nodes: each node lists the others', as a leader
/// must to take a standby's master session.
pub fn cluster_node_masters() -> Vec<String> {
    (1..=5).map(|number| format!("node-{number}")).collect()
}

/// `[[masters]]` for every test master but `own` (a daemon never lists its own master).
fn masters_config(own: &str) -> String {
    let digest =
        rollcall_io::credentials::hex(&rollcall_io::credentials::sha256(MASTER_TOKEN.as_bytes()));
    test_masters()
        .iter()
        .filter(|name| *name != own)
        .map(|name| format!("[[masters]]\nname = {name:?}\ntoken_sha256 = [\"{digest}\"]\n"))
        .collect()
}

/// A master session as `name`, with the test token.
pub fn master_client(daemon: &Daemon, name: &str) -> rollcall_io::client::MasterClient {
    let token = rollcall_io::credentials::Token::new(MASTER_TOKEN);
    within(STEP, rollcall_io::client::MasterClient::connect(&daemon.address(), name, &token))
        .expect("connect a master")
}

/// A port nobody listens on now, outside the range outbound connections are given.
pub use rollcall_test_postgres::free_port;

/// Waits until `condition` holds, failing the test after `limit`.
pub fn eventually(limit: Duration, what: &str, condition: impl FnMut() -> bool) {
    eventually_showing(limit, what, condition, String::new);
}

/// [`eventually`], and on timeout the failure shows what `evidence` returns (a log).
pub fn eventually_showing(
    limit: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
    evidence: impl Fn() -> String,
) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}{}",
            evidence()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One daemon process on its own data directory and ports.
pub struct Daemon {
    pub directory: tempfile::TempDir,
    pub config_path: PathBuf,
    pub workers_address: SocketAddr,
    pub http_address: SocketAddr,
    pub buildbot_address: SocketAddr,
    child: Option<Child>,
    log_path: PathBuf,
    extra_args: Vec<String>,
    master_name: String,
    /// `RUST_LOG` for the process; `None` leaves the daemon's default filter.
    rust_log: Option<String>,
}

impl Daemon {
    /// Writes a config from `[master]`/`[listen]` (generated) plus `rest` (timing, workers,
    /// builders...), starts the daemon and waits until each of its ports answers.
    pub fn start(rest: &str) -> Daemon {
        Daemon::start_with(rest, &[])
    }

    /// As [`Daemon::start`], with more arguments for `serve` (`{dir}` becomes the temp dir).
    pub fn start_with(rest: &str, extra_args: &[&str]) -> Daemon {
        Daemon::start_as("test-master", rest, extra_args)
    }

    /// As [`Daemon::start_with`], with its own master named `master_name` (each node of a
    /// cluster is its own master). `{workers}` in `rest` becomes the workers' address.
    pub fn start_as(master_name: &str, rest: &str, extra_args: &[&str]) -> Daemon {
        Daemon::start_logging(master_name, rest, extra_args, Some("info,fjall=warn,lsm_tree=warn"))
    }

    /// As [`Daemon::start_as`], with `RUST_LOG` set to `rust_log` (`None`: unset, so the
    /// daemon's own default filter applies).
    pub fn start_logging(
        master_name: &str,
        rest: &str,
        extra_args: &[&str],
        rust_log: Option<&str>,
    ) -> Daemon {
        let directory = tempfile::tempdir().expect("temp dir");
        let workers_address: SocketAddr =
            format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let http_address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let buildbot_address: SocketAddr =
            format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config_path = directory.path().join("rollcall.toml");
        let mut daemon = Daemon {
            config_path,
            workers_address,
            http_address,
            buildbot_address,
            child: None,
            log_path: directory.path().join("daemon.log"),
            extra_args: Vec::new(),
            master_name: master_name.to_string(),
            rust_log: rust_log.map(str::to_string),
            directory,
        };
        let base = daemon.directory.path().display().to_string();
        daemon.extra_args = extra_args.iter().map(|arg| arg.replace("{dir}", &base)).collect();
        daemon.write_config(rest);
        daemon.spawn();
        daemon
    }

    pub fn data_dir(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    /// Replaces the config's tail (for SIGHUP tests); the header stays the same.
    pub fn write_config(&self, rest: &str) {
        let token_file = self.directory.path().join("master.token");
        std::fs::write(&token_file, MASTER_TOKEN).expect("write the master token");
        let rest = rest
            .replace("{workers}", &self.workers_address.to_string())
            .replace("{master_token_file}", &token_file.display().to_string());
        let text = format!(
            "[master]\nname = {:?}\ndata_dir = {:?}\n\n[listen]\nworkers = \"{}\"\nhttp = \"{}\"\nbuildbot_workers = \"{}\"\n\n{rest}\n{}",
            self.master_name,
            self.data_dir(),
            self.workers_address,
            self.http_address,
            self.buildbot_address,
            masters_config(&self.master_name),
        );
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// (Re)starts the process on the same directory and ports.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let runs_before = self.log().matches("listening for workers").count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--config"])
            .arg(&self.config_path)
            .args(&self.extra_args)
            .env_remove("ROLLCALL_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(log);
        match &self.rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command.spawn().expect("start the daemon");
        self.child = Some(child);
        let address = self.workers_address;
        let log_path = self.log_path.clone();
        let child = self.child.as_mut().expect("just started");
        // An upper bound for a loaded machine (CI runs tests two cores wide), never a timing.
        eventually_showing(
            Duration::from_secs(60),
            "the daemon to listen",
            || {
                let exited = child.try_wait().expect("wait");
                assert!(exited.is_none(), "the daemon exited at start:\n{}", read_log(&log_path));
                TcpStream::connect(address).is_ok()
            },
            || format!(":\n{}", read_log(&log_path)),
        );
        // The daemon binds its ports one after another and a test may start with any of
        // them; their log lines say they are bound (a probe connection would count as a
        // refused client in the metrics some tests read). This run's lines are the last.
        eventually(Duration::from_secs(20), "every port to listen", || {
            let log = self.log();
            let this_run = log.rsplit("listening for workers").next().unwrap_or("");
            log.matches("listening for workers").count() > runs_before
                && this_run.contains("serving HTTP")
                && this_run.contains("listening for buildbot workers")
        });
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill_hard(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// SIGTERM, then wait for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "daemon did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Waits for `needle` in the daemon's log; on timeout the log is shown. The limit is an
    /// upper bound for a loaded machine, never a timing.
    pub fn wait_for_log(&self, needle: &str) {
        eventually_showing(
            Duration::from_secs(30),
            &format!("{needle:?} in the daemon's log"),
            || self.log().contains(needle),
            || format!(":\n{}", self.log()),
        );
    }

    pub fn address(&self) -> String {
        self.workers_address.to_string()
    }
}

/// What a daemon has logged so far (empty before its first line).
fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs an async client step with a deadline, so a hung daemon fails the test instead of
/// hanging it.
pub fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> T {
    smol::block_on(async {
        futures_lite_or(future, limit).await.unwrap_or_else(|| panic!("no answer within {limit:?}"))
    })
}

async fn futures_lite_or<T>(
    future: impl std::future::Future<Output = T>,
    limit: Duration,
) -> Option<T> {
    let timeout = async {
        smol::Timer::after(limit).await;
        None
    };
    smol::future::or(async { Some(future.await) }, timeout).await
}

pub const STEP: Duration = Duration::from_secs(10);

pub fn worker_hello(address: &str, name: &str, password: &str) -> Session {
    let role = Role::Worker { name: name.into(), password: Password::new(password) };
    within(STEP, Session::connect(address, role)).expect("connect")
}

/// The next message, within the step limit.
pub fn next(session: &mut Session) -> Result<ServerMessage, ClientError> {
    within(STEP, session.receive())
}

/// Attaches a worker and returns its session and the builder list it was given.
pub fn attach(address: &str, name: &str, password: &str) -> (Session, Vec<String>) {
    welcomed(worker_hello(address, name, password))
}

/// A worker session that has said Hello, once the daemon has welcomed it and sent its
/// builder list.
pub fn welcomed(mut session: Session) -> (Session, Vec<String>) {
    assert_eq!(next(&mut session).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    let ServerMessage::Worker(ToWorker::BuilderList { builders }) =
        next(&mut session).expect("builders")
    else {
        panic!("expected a builder list")
    };
    (session, builders.to_vec())
}

pub fn send(session: &mut Session, message: ClientMessage) {
    within(STEP, session.send(&message)).expect("send");
}

/// True once the daemon has closed this session (it may say goodbye first).
pub fn is_closed(session: &mut Session) -> bool {
    loop {
        match within(STEP, session.receive()) {
            Ok(ServerMessage::Worker(ToWorker::KeepaliveAck)) => continue,
            Ok(_) => return false,
            Err(_) => return true,
        }
    }
}

/// The rows the daemon left on disk (open only while it is stopped: fjall locks the data).
pub fn stored_rows(data_dir: &Path) -> Vec<rollcall_core::Record> {
    use rollcall_io::storage::{FjallStore, Store};
    let store = FjallStore::open(data_dir).expect("open the stopped daemon's store");
    store.load().expect("load rows")
}
