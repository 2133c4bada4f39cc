//! `examples/python/rollcall_master.py`, a master written from docs/protocol.md with only
//! Python and `msgpack`, runs a whole build cycle against the real daemon: with a token,
//! over TLS, and across a `kill -9` and restart of the daemon between its claim and the
//! claim's reply, after which the claim is re-sent and made once.
//!
//! Python comes from `$ROLLCALL_PYTHON_MASTER_PYTHON`, or `.venv-python-master` at the
//! repository root, which this test makes (`python3 -m venv`, then `pip install msgpack`)
//! when it is missing; `.ci/run` makes it up front.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::http::get;
use common::tls::{https_get, Pki};
use common::{eventually, Daemon, BINARY, MASTER_TOKEN, STEP};
use serde_json::{json, Value};

/// The msgpack release the venv installs.
const MSGPACK: &str = "msgpack==1.2.4";

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "s3cret"

[[builders]]
name = "linux"
workernames = ["w1"]
"#;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python with `msgpack`, made on first use.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("ROLLCALL_PYTHON_MASTER_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = repository().join(".venv-python-master");
    let python = venv.join("bin/python");
    let has_msgpack = |python: &Path| {
        Command::new(python).args(["-c", "import msgpack"]).status().is_ok_and(|s| s.success())
    };
    if !has_msgpack(&python) {
        // Tests run in parallel: one makes the venv, under a lock, the others wait.
        let lock = repository().join(".venv-python-master.lock");
        let status = Command::new("flock")
            .arg(&lock)
            .arg("sh")
            .arg("-c")
            .arg(format!(
                "[ -x {venv}/bin/python ] && {venv}/bin/python -c 'import msgpack' || \
                 {{ python3 -m venv {venv} && {venv}/bin/pip install --quiet {MSGPACK}; }}",
                venv = venv.display()
            ))
            .status()
            .expect("run python3 -m venv");
        assert!(status.success(), "could not make {} with {MSGPACK}", venv.display());
    }
    assert!(has_msgpack(&python), "{} has no msgpack", python.display());
    python
}

/// The example, running, its JSON lines arriving on a channel.
struct PythonMaster {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl PythonMaster {
    fn start(daemon_address: &str, token_file: &Path, extra: &[&str]) -> PythonMaster {
        let mut child = Command::new(python())
            .arg(repository().join("examples/python/rollcall_master.py"))
            .args(["--connect", daemon_address, "--name", "remote:/srv"])
            .arg("--token-file")
            .arg(token_file)
            .args(["--builder", "linux", "--worker", "w1"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python master");
        let stdout = child.stdout.take().expect("its stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"step": "unparsed", "line": line}));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        PythonMaster { child, stdin, lines, seen: Vec::new() }
    }

    /// Reads lines until one has `step`, and returns it.
    fn wait_for(&mut self, step: &str) -> Value {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line["step"] == step {
                        return line;
                    }
                    assert_ne!(
                        line["step"], "failed",
                        "the Python master failed: {:#?}",
                        self.seen
                    );
                }
                Err(_) => panic!("no {step:?} from the Python master; it said {:#?}", self.seen),
            }
        }
    }

    fn resume(&mut self) {
        let stdin = self.stdin.as_mut().expect("its stdin");
        stdin.write_all(b"go\n").expect("resume the Python master");
        stdin.flush().expect("flush");
    }

    /// Waits for the end of its cycle and its exit.
    fn finish(mut self) -> Vec<Value> {
        self.wait_for("stopped");
        let status = self.child.wait().expect("wait for the Python master");
        assert!(status.success(), "the Python master exited with {status}: {:#?}", self.seen);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for PythonMaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rollcall worker w1`, attached to the daemon, for the build to run on.
struct Worker(Child);

impl Worker {
    fn start(address: &str, extra: &[&str]) -> Worker {
        let child = Command::new(BINARY)
            .args(["worker", "--name", "w1", "--keepalive-interval-s", "1", "--connect", address])
            .args(extra)
            .env("ROLLCALL_WORKER_PASSWORD", "s3cret")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rollcall worker");
        Worker(child)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn token_file(directory: &Path) -> PathBuf {
    let path = directory.join("token");
    std::fs::write(&path, format!("{MASTER_TOKEN}\n")).expect("write the token");
    path
}

fn rest(daemon: &Daemon, target: &str) -> Value {
    let response = get(daemon.http_address, target);
    assert_eq!(response.status, 200, "{target}");
    response.json()
}

/// Whether w1 is attached, as the REST view read by `get` shows it.
fn worker_connected(get: impl Fn(&str) -> Value) -> bool {
    get("/api/v2/workers/w1")["workers"][0]["connected_to"]
        .as_array()
        .is_some_and(|masters| !masters.is_empty())
}

/// The registry after a whole cycle: one request, claimed and completed by the master,
/// one build on w1, finished with success, the scheduler released, the master stopped.
fn assert_one_whole_cycle(get: impl Fn(&str) -> Value, master: u64) {
    let requests = get("/api/v2/buildrequests")["buildrequests"].clone();
    assert_eq!(requests.as_array().map(Vec::len), Some(1), "{requests}");
    assert_eq!(requests[0]["claimed_by_masterid"], json!(master), "{requests}");
    assert_eq!((&requests[0]["complete"], &requests[0]["results"]), (&json!(true), &json!(0)));
    let builds = get("/api/v2/builds")["builds"].clone();
    assert_eq!(builds.as_array().map(Vec::len), Some(1), "{builds}");
    let w1 = get("/api/v2/workers/w1")["workers"][0]["workerid"].clone();
    assert_eq!(builds[0]["workerid"], w1, "{builds}");
    assert_eq!((&builds[0]["complete"], &builds[0]["results"]), (&json!(true), &json!(0)));
    let schedulers = get("/api/v2/schedulers")["schedulers"].clone();
    assert_eq!(schedulers[0]["name"], json!("nightly"), "{schedulers}");
    assert_eq!(schedulers[0]["masterid"], Value::Null, "released: {schedulers}");
    let masters = get(&format!("/api/v2/masters/{master}"))["masters"].clone();
    assert_eq!(masters[0]["active"], json!(false), "stopped: {masters}");
}

#[test]
fn the_python_master_runs_a_build_cycle_over_tls_with_its_token() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let ca = pki.pki.ca.to_str().expect("a UTF-8 path").to_string();
    let _worker = Worker::start(&daemon.address(), &["--tls", "--ca", &ca]);
    let tls = pki.client();
    let rest = |target: &str| https_get(daemon.http_address, &tls, target).json();
    eventually(STEP, "w1 to attach", || worker_connected(rest));
    let directory = tempfile::tempdir().expect("a directory");
    let master =
        PythonMaster::start(&daemon.address(), &token_file(directory.path()), &["--ca", &ca]);
    let seen = master.finish();
    let registered = seen.iter().find(|line| line["step"] == "registered").expect("registered");
    let id = registered["master"].as_u64().expect("a master id");
    let welcome = seen.iter().find(|line| line["step"] == "welcome").expect("welcomed");
    assert_eq!(welcome["protocol_version"], json!(3));
    let claimed = seen.iter().find(|line| line["step"] == "claimed").expect("claimed");
    assert_eq!(claimed["outcome"], json!("claimed"));
    assert_one_whole_cycle(rest, id);
}

#[test]
fn a_claim_re_sent_after_the_daemon_restarts_is_made_once() {
    let mut daemon = Daemon::start(ROSTER);
    let _worker = Worker::start(&daemon.address(), &[]);
    eventually(STEP, "w1 to attach", || worker_connected(|target| rest(&daemon, target)));
    let directory = tempfile::tempdir().expect("a directory");
    let mut master = PythonMaster::start(
        &daemon.address(),
        &token_file(directory.path()),
        &["--pause-after-claim"],
    );
    let registered = master.wait_for("registered");
    let id = registered["master"].as_u64().expect("a master id");
    master.wait_for("paused");
    // The claim is durable before its reply is sent: once the REST view shows it, the
    // daemon is killed, and the reply it may have sent is never read.
    eventually(STEP, "the claim to be made", || {
        rest(&daemon, "/api/v2/buildrequests")["buildrequests"][0]["claimed"] == json!(true)
    });
    daemon.kill_hard();
    daemon.spawn();
    master.resume();
    let claimed = master.wait_for("claimed");
    assert_eq!(claimed["retried"], json!(true));
    assert_eq!(claimed["outcome"], json!("already claimed by this master"), "{claimed}");
    let seen = master.finish();
    let welcomes = seen.iter().filter(|line| line["step"] == "welcome").count();
    assert_eq!(welcomes, 2, "the claim was re-sent on a new session: {seen:#?}");
    eventually(STEP, "w1 to attach again", || worker_connected(|target| rest(&daemon, target)));
    assert_one_whole_cycle(|target| rest(&daemon, target), id);
}
