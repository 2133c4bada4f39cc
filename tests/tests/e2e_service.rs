//! rollcall as a service (issue #14): the systemd unit in the repository, the readiness
//! protocol (`READY=1` only once every port listens, `STOPPING=1` at a stop), the pid file
//! and a reload through it, and a start on a taken port that leaves nothing on disk.

mod common;

use common::{free_port, Daemon, BINARY, STEP};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};

/// `systemd-analyze verify` accepts the unit as shipped (its binary pointed at the one
/// under test): no warning, no error.
#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd/rollcall.service");
    let text = std::fs::read_to_string(&unit).expect("the unit file");
    assert!(text.contains("Type=notify") && text.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let directory = tempfile::tempdir().expect("temp dir");
    let copy = directory.path().join("rollcall.service");
    std::fs::write(&copy, text.replace("/usr/local/bin/rollcall", BINARY)).expect("copy");
    let output = Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect(
        "systemd-analyze is missing: install systemd (apt-get install systemd); .ci/run does",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "{}\n{stderr}", output.status);
}

/// A config on fresh ports, in `directory`.
fn config_in(directory: &Path) -> (std::path::PathBuf, u16, u16) {
    let (workers, http) = (free_port(), free_port());
    let path = directory.join("rollcall.toml");
    let text = format!(
        "[master]\nname = \"svc\"\ndata_dir = {:?}\n\n[listen]\nworkers = \"127.0.0.1:{workers}\"\nhttp = \"127.0.0.1:{http}\"\n",
        directory.join("data")
    );
    std::fs::write(&path, text).expect("config");
    (path, workers, http)
}

/// `READY=1` comes once the store is loaded and every port answers; `STOPPING=1` when a
/// SIGTERM starts the stop; each with a `STATUS=` line.
#[test]
fn ready_is_notified_once_every_port_listens_and_stopping_at_sigterm() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (config, workers, http) = config_in(directory.path());
    let socket_path = directory.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("a notify socket");
    socket.set_read_timeout(Some(STEP)).expect("timeout");
    let mut daemon = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let mut buffer = [0_u8; 4096];
    let received = socket.recv(&mut buffer).expect("a notification within the limit");
    let message = String::from_utf8_lossy(&buffer[..received]).to_string();
    assert!(message.contains("READY=1") && message.contains("STATUS="), "{message}");
    for port in [workers, http] {
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok(), "port {port} listens at READY");
    }
    assert!(directory.path().join("data").is_dir(), "the store is open at READY");
    let killed = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status();
    assert!(killed.is_ok_and(|status| status.success()));
    let received = socket.recv(&mut buffer).expect("a notification at the stop");
    let message = String::from_utf8_lossy(&buffer[..received]).to_string();
    assert!(message.contains("STOPPING=1"), "{message}");
    let status = daemon.wait().expect("exits");
    assert!(status.success(), "{status}");
}

/// `--pid-file` holds the daemon's pid once it serves; a SIGHUP sent through it reloads the
/// configuration; a clean stop removes it.
#[test]
fn the_pid_file_names_the_daemon_and_a_reload_through_it_applies() {
    let mut daemon = Daemon::start_with("", &["--pid-file", "{dir}/rollcall.pid"]);
    let pid_file = daemon.directory.path().join("rollcall.pid");
    let text = std::fs::read_to_string(&pid_file).expect("the pid file");
    assert_eq!(text.trim(), daemon.pid().to_string());
    let reload = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -HUP \"$(cat '{}')\"", pid_file.display()))
        .status()
        .expect("sh");
    assert!(reload.success());
    daemon.wait_for_log("reconfig complete");
    assert!(daemon.stop().success());
    assert!(!pid_file.exists(), "removed at the clean stop");
}

/// A port that is taken stops the start before anything is written: no data directory,
/// no master registered, and the error names the address.
#[test]
fn a_start_on_a_taken_port_changes_nothing_on_disk() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (config, _, http) = config_in(directory.path());
    let _taken = TcpListener::bind(("127.0.0.1", http)).expect("take the HTTP port");
    let output = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("run the daemon");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{http}")), "{stderr}");
    assert!(!directory.path().join("data").exists(), "nothing was created: {stderr}");
}
