//! An unmodified `buildbot-worker` 4.3.0 (PyPI) attaches over `msgpack_experimental_v7`
//! under the same Gateway rules as rollcall's own workers.
//!
//! The worker comes from `$ROLLCALL_BUILDBOT_WORKER` or `.venv-worker/bin/buildbot-worker`
//! at the repository root, installed there on first use (`.ci/run` installs it up front).
//! Where Python itself is missing these tests say so and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::http::get;
use common::tls::{https_get, Pki};
use common::{eventually, eventually_showing, Daemon};
use rollcall_io::tls::ClientTls;
use serde_json::{json, Value};

const ROSTER: &str = r#"
[[workers]]
name = "bw1"
password = "pw1"
[[builders]]
name = "linux"
workernames = ["bw1"]
[[builders]]
name = "mac os"
workernames = ["bw1"]
"#;

fn buildbot_worker() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(find_or_install).clone()
}

/// The worker from `$ROLLCALL_BUILDBOT_WORKER`, or `.venv-worker` at the repository root,
/// installed there from PyPI on first use so that `cargo test --workspace` needs nothing
/// set up beforehand. A machine without Python fails these tests and says what to install:
/// they never skip.
fn find_or_install() -> PathBuf {
    if let Ok(path) = std::env::var("ROLLCALL_BUILDBOT_WORKER") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-worker");
    let binary = venv.join("bin/buildbot-worker");
    if binary.exists() {
        install_tls_support(&venv);
        return binary;
    }
    let python = Command::new("python3").arg("--version").output();
    assert!(
        python.is_ok_and(|output| output.status.success()),
        "python3 is missing on this machine, so buildbot-worker cannot run: install python3 and python3-venv (apt-get install python3-venv)"
    );
    let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
    assert!(created.is_ok_and(|status| status.success()), "cannot create {}", venv.display());
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "buildbot-worker==4.3.0", "twisted[tls]"])
        .status();
    assert!(
        installed.is_ok_and(|status| status.success()),
        "pip install buildbot-worker==4.3.0 twisted[tls] failed"
    );
    binary
}

/// Twisted's TLS needs pyOpenSSL and service-identity (`twisted[tls]`); a venv made before
/// the TLS tests lacks them.
fn install_tls_support(venv: &Path) {
    let present = Command::new(venv.join("bin/python"))
        .args(["-c", "import OpenSSL, service_identity"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !present {
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "twisted[tls]"])
            .status();
        assert!(installed.is_ok_and(|status| status.success()), "pip install twisted[tls] failed");
    }
}

/// One worker directory; stopped (and thawed) when dropped so no daemon outlives a test.
struct Worker {
    binary: PathBuf,
    directory: PathBuf,
}

impl Worker {
    fn create(
        binary: &Path,
        daemon: &Daemon,
        directory: &str,
        name: &str,
        password: &str,
    ) -> Worker {
        Worker::create_speaking(
            binary,
            daemon,
            directory,
            name,
            password,
            &["--protocol", "msgpack_experimental_v7"],
        )
    }

    /// A worker created with `protocol` arguments (none: buildbot-worker's default, PB).
    fn create_speaking(
        binary: &Path,
        daemon: &Daemon,
        directory: &str,
        name: &str,
        password: &str,
        protocol: &[&str],
    ) -> Worker {
        let directory = daemon.directory.path().join(directory);
        let status = Command::new(binary)
            .arg("create-worker")
            .args(protocol)
            .arg(&directory)
            .arg(daemon.buildbot_address.to_string())
            .args([name, password])
            .output()
            .expect("run create-worker")
            .status;
        assert!(status.success(), "create-worker failed");
        Worker { binary: binary.to_path_buf(), directory }
    }

    /// `buildbot-worker start --quiet`: twistd daemonizes and the command returns at once.
    /// We follow `twistd.log` ourselves instead of letting `start` do it, because its
    /// follower gives up after a fixed 10 s: too little for a cold Python on a busy
    /// two-core CI machine, where it made a healthy attach look like a failure.
    fn launch(&self) {
        let output = Command::new(&self.binary)
            .args(["start", "--quiet"])
            .arg(&self.directory)
            .output()
            .expect("run start");
        assert!(
            output.status.success(),
            "buildbot-worker start --quiet failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Launches the worker and waits for the line a Buildbot master's first message
    /// produces, the one `buildbot-worker start` itself waits for.
    fn attach(&self) {
        self.launch();
        self.wait_for_log(ATTACHED);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.directory.join("twistd.log")).unwrap_or_default()
    }

    fn has_attached(&self) -> bool {
        self.log().contains(ATTACHED)
    }

    /// Waits for `needle` in the worker's own log; on timeout the log is shown.
    fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_count(needle, 1);
    }

    /// Waits until the master has closed (or refused) `count` of this worker's connections.
    fn wait_for_closed_connections(&self, count: usize) {
        self.wait_for_log_count(CLOSED, count);
    }

    fn wait_for_log_count(&self, needle: &str, count: usize) {
        let log = self.directory.join("twistd.log");
        eventually_showing(
            WAIT,
            &format!("{count} x {needle:?} in {}", log.display()),
            || self.log().matches(needle).count() >= count,
            || format!(":\n{}", self.log()),
        );
    }

    fn stop(&self) {
        let _ = Command::new(&self.binary).arg("stop").arg(&self.directory).output();
    }

    fn pid(&self) -> String {
        std::fs::read_to_string(self.directory.join("twistd.pid"))
            .expect("pid file")
            .trim()
            .to_string()
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill").args([format!("-{signal}"), self.pid()]).status();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.directory.join("twistd.pid").exists() {
            self.signal("CONT");
            self.stop();
        }
    }
}

fn worker_row(daemon: &Daemon, name: &str) -> Option<Value> {
    worker_row_over(daemon, name, None)
}

/// The worker's REST row, over HTTPS when `tls` is given.
fn worker_row_over(daemon: &Daemon, name: &str, tls: Option<&ClientTls>) -> Option<Value> {
    let body = match tls {
        Some(tls) => https_get(daemon.http_address, tls, "/api/v2/workers").json(),
        None => get(daemon.http_address, "/api/v2/workers").json(),
    };
    body["workers"].as_array()?.iter().find(|row| row["name"] == json!(name)).cloned()
}

fn connected(daemon: &Daemon, name: &str) -> bool {
    connected_over(daemon, name, None)
}

fn connected_over(daemon: &Daemon, name: &str, tls: Option<&ClientTls>) -> bool {
    worker_row_over(daemon, name, tls)
        .is_some_and(|row| row["connected_to"] == json!([{"masterid": 1}]))
}

/// Generous: these are upper bounds on a shared machine, never timings.
const WAIT: Duration = Duration::from_secs(60);

/// What `print("attached")`, a Buildbot master's first message, writes to `twistd.log`.
const ATTACHED: &str = "message from master: attached";

/// What buildbot-worker 4.3.0 logs whenever its WebSocket ends, refused or dropped.
const CLOSED: &str = "WebSocket connection closed";

#[test]
fn a_stock_worker_attaches_reports_its_info_and_gets_its_builder_directories() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(ROSTER);
    let worker = Worker::create(&binary, &daemon, "bw1", "bw1", "pw1");
    worker.attach();
    // The worker's info is its answer to a request sent once it is attached: it may
    // arrive after the attach is listed.
    eventually(WAIT, "REST to show bw1 connected with its info", || {
        connected(&daemon, "bw1")
            && worker_row(&daemon, "bw1").is_some_and(|row| !row["workerinfo"]["version"].is_null())
    });
    let row = worker_row(&daemon, "bw1").expect("listed");
    assert_eq!(row["workerinfo"]["basedir"], json!(worker.directory.display().to_string()));
    assert_eq!(row["workerinfo"]["version"], json!("4.3.0"));
    assert!(row["workerinfo"].get("environ").is_none(), "the environment is never kept");
    eventually(WAIT, "builder directories", || {
        worker.directory.join("linux").is_dir() && worker.directory.join("mac_os").is_dir()
    });

    worker.stop();
    eventually(WAIT, "REST to show bw1 disconnected", || !connected(&daemon, "bw1"));
}

#[test]
fn wrong_passwords_and_unknown_names_are_refused_and_leave_nothing_behind() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(ROSTER);
    let wrong = Worker::create(&binary, &daemon, "wrong", "bw1", "guess");
    let stranger = Worker::create(&binary, &daemon, "stranger", "stranger", "pw1");
    wrong.launch();
    stranger.launch();
    // Refused at the WebSocket upgrade, and again on the retry.
    wrong.wait_for_closed_connections(2);
    stranger.wait_for_closed_connections(2);
    assert!(!wrong.has_attached(), "a wrong password never attaches");
    assert!(!stranger.has_attached(), "an unknown name never attaches");
    assert!(wrong.log().contains("401"), "refused as unauthorized: {}", wrong.log());
    assert!(!connected(&daemon, "bw1"));
    assert!(worker_row(&daemon, "stranger").is_none(), "nothing is written for a refused worker");
    daemon.wait_for_log("buildbot worker refused");
    assert!(!daemon.log().contains("guess"), "passwords never reach the log");
}

#[test]
fn a_second_worker_with_the_same_name_follows_the_duplicate_policy() {
    let binary = buildbot_worker();
    // ping-old: the first worker answers the ping (a print), so the newcomer is refused.
    let daemon = Daemon::start(&format!("[gateway]\nduplicate_policy = \"ping-old\"\n{ROSTER}"));
    let first = Worker::create(&binary, &daemon, "first", "bw1", "pw1");
    let second = Worker::create(&binary, &daemon, "second", "bw1", "pw1");
    first.attach();
    second.launch();
    second.wait_for_closed_connections(2);
    assert!(!second.has_attached(), "ping-old keeps the live connection");
    assert!(connected(&daemon, "bw1"));
    daemon.wait_for_log("duplicate connection resolved");
    let log = std::fs::read_to_string(first.directory.join("twistd.log")).expect("log");
    assert!(log.contains("message from master: ping"), "the old worker was pinged with a print");
}

#[test]
fn drop_older_gives_the_name_to_the_newest_worker() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(ROSTER);
    let first = Worker::create(&binary, &daemon, "first", "bw1", "pw1");
    let second = Worker::create(&binary, &daemon, "second", "bw1", "pw1");
    first.attach();
    second.attach();
    daemon.wait_for_log("duplicate connection resolved");
    first.wait_for_log(CLOSED);
}

#[test]
fn a_frozen_worker_is_found_dead_by_the_keepalive_deadline() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(&format!("[timing]\nkeepalive_timeout_s = 6\n{ROSTER}"));
    let worker = Worker::create(&binary, &daemon, "bw1", "bw1", "pw1");
    worker.attach();
    eventually(WAIT, "bw1 connected", || connected(&daemon, "bw1"));
    // Alive for several keepalive rounds while it answers...
    std::thread::sleep(Duration::from_secs(9));
    assert!(connected(&daemon, "bw1"), "a worker that answers keepalives stays attached");
    // ...and dropped once it stops answering (SIGSTOP: alive but silent).
    worker.signal("STOP");
    eventually(WAIT, "bw1 detached for silence", || !connected(&daemon, "bw1"));
    daemon.wait_for_log("KeepaliveTimeout");
}

#[test]
fn a_reconfig_that_changes_the_builders_pushes_the_new_directories() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(ROSTER);
    let worker = Worker::create(&binary, &daemon, "bw1", "bw1", "pw1");
    worker.attach();
    eventually(WAIT, "first directories", || worker.directory.join("linux").is_dir());
    daemon.write_config(
        "[[workers]]\nname = \"bw1\"\npassword = \"pw1\"\n[[builders]]\nname = \"windows\"\nworkernames = [\"bw1\"]\n",
    );
    daemon.signal("HUP");
    daemon.wait_for_log("reconfig complete");
    eventually(WAIT, "the new builder's directory", || worker.directory.join("windows").is_dir());
    assert!(connected(&daemon, "bw1"), "a builder change does not disconnect the worker");
}

#[test]
fn a_stock_worker_left_on_its_default_pb_protocol_is_named_in_the_daemons_log() {
    let binary = buildbot_worker();
    let daemon = Daemon::start(&format!("[limits]\nhandshake_timeout_s = 2\n{ROSTER}"));
    let worker = Worker::create_speaking(&binary, &daemon, "bw1-pb", "bw1", "pw1", &[]);
    worker.launch();
    daemon.wait_for_log("a buildbot-worker created without --protocol msgpack_experimental_v7 speaks PB, which this port does not");
    assert!(!worker.has_attached());
    let metrics = get(daemon.http_address, "/metrics").body;
    assert!(
        metrics.contains(
            "rollcall_connections_refused_total{port=\"buildbot\",reason=\"no_upgrade\"}"
        ),
        "the PB connection is counted:\n{metrics}"
    );
}

/// The connection string of a worker that verifies the daemon against `pki`'s CA, alone in
/// its own directory (Twisted trusts every `.pem` file of a `trustRoots` directory).
fn tls_connection_string(daemon: &Daemon, pki: &Pki) -> String {
    let trust = daemon.directory.path().join("trust");
    std::fs::create_dir_all(&trust).expect("trust directory");
    std::fs::copy(&pki.pki.ca, trust.join("ca.pem")).expect("copy the CA");
    format!(
        "tls:host=localhost:port={}:trustRoots={}",
        daemon.buildbot_address.port(),
        trust.display()
    )
}

#[test]
fn a_stock_worker_attaches_over_tls_to_a_daemon_with_a_private_ca() {
    let binary = buildbot_worker();
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let connection = tls_connection_string(&daemon, &pki);
    let protocol = ["--protocol", "msgpack_experimental_v7", "--connection-string", &connection];
    let worker = Worker::create_speaking(&binary, &daemon, "bw1", "bw1", "pw1", &protocol);
    worker.attach();
    let tls = pki.client();
    eventually(WAIT, "REST over HTTPS to show bw1 connected with its info", || {
        connected_over(&daemon, "bw1", Some(&tls))
            && worker_row_over(&daemon, "bw1", Some(&tls))
                .is_some_and(|row| !row["workerinfo"]["version"].is_null())
    });
    let row = worker_row_over(&daemon, "bw1", Some(&tls)).expect("listed");
    assert_eq!(row["workerinfo"]["version"], json!("4.3.0"));
    eventually(WAIT, "builder directories", || {
        worker.directory.join("linux").is_dir() && worker.directory.join("mac_os").is_dir()
    });
    worker.stop();
    eventually(WAIT, "REST to show bw1 gone", || !connected_over(&daemon, "bw1", Some(&tls)));
}

#[test]
fn over_tls_a_worker_in_the_clear_or_with_a_wrong_password_is_refused() {
    let binary = buildbot_worker();
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let plain = Worker::create(&binary, &daemon, "plain", "bw1", "pw1");
    let connection = tls_connection_string(&daemon, &pki);
    let protocol = ["--protocol", "msgpack_experimental_v7", "--connection-string", &connection];
    let wrong = Worker::create_speaking(&binary, &daemon, "wrong", "bw1", "guess", &protocol);
    plain.launch();
    wrong.launch();
    wrong.wait_for_closed_connections(2);
    assert!(wrong.log().contains("401"), "refused as unauthorized over TLS: {}", wrong.log());
    let tls = pki.client();
    eventually(WAIT, "the plaintext worker to be refused", || {
        let metrics = https_get(daemon.http_address, &tls, "/metrics").body;
        metrics.contains(
            "rollcall_connections_refused_total{port=\"buildbot\",reason=\"plaintext_on_tls\"}",
        )
    });
    assert!(!plain.has_attached() && !wrong.has_attached());
    assert!(!connected_over(&daemon, "bw1", Some(&tls)));
}
