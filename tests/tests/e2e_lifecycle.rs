//! The daemon's life: config checking, clean stop, and `kill -9` at a bad moment.

mod common;

use std::process::Command;

use common::{within, Daemon, BINARY, STEP};
use rollcall_core::{MasterId, Record};

#[test]
fn check_config_accepts_the_shipped_example_and_names_the_line_of_a_mistake() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/rollcall.toml");
    let output = Command::new(BINARY).args(["check-config", example]).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let directory = tempfile::tempdir().expect("temp dir");
    let bad = directory.path().join("bad.toml");
    std::fs::write(&bad, "[[workers]]\nname = \"w1\"\npassword = \"x\"\n\n[[builders]]\nname = \"linux\"\nworkernames = [\"w9\"]\n")
        .expect("write");
    let output = Command::new(BINARY).arg("check-config").arg(&bad).output().expect("run");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("bad.toml:7"), "names the file and line: {message}");
    assert!(message.contains("w9"), "names the problem: {message}");
}

/// `[cluster]` is checked and described by `check-config` (without the connection
/// string's password). (Serving it is `e2e_cluster.rs`.)
#[test]
fn a_cluster_config_is_checked_and_described_without_its_password() {
    let directory = tempfile::tempdir().expect("temp dir");
    let data_dir = directory.path().join("data");
    let file = directory.path().join("cluster.toml");
    let text = format!(
        "[master]\ndata_dir = {data_dir:?}\n\n[cluster]\npostgres = \"host=/tmp user=rc password=s3cret\"\nnode = \"a\"\nadvertise = \"127.0.0.1:7001\"\n"
    );
    std::fs::write(&file, text).expect("write");
    let output = Command::new(BINARY).arg("check-config").arg(&file).output().expect("run");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("cluster node \"a\" advertised at 127.0.0.1:7001"), "{printed}");
    assert!(printed.contains("lease 10 s renewed every 3 s"), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
}

/// `check-config --print` shows the effective configuration as TOML, every default filled
/// in (settings the file never names), with no password, token digest or connection
/// string password in it; the summary counts in the singular where it is one.
#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let directory = tempfile::tempdir().expect("temp dir");
    let file = directory.path().join("one.toml");
    let digest = "ab".repeat(32);
    let text = format!(
        "[master]\ndata_dir = {:?}\n\n[[workers]]\nname = \"w1\"\npassword = \"hunter2-secret\"\n\n[[builders]]\nname = \"linux\"\nworkernames = [\"w1\"]\n\n[[masters]]\nname = \"m:/srv\"\ntoken_sha256 = [\"{digest}\"]\n\n[cluster]\npostgres = \"host=/tmp user=rc password=s3cret\"\nnode = \"a\"\nadvertise = \"127.0.0.1:7001\"\n",
        directory.path().join("data")
    );
    std::fs::write(&file, text).expect("write");
    let output =
        Command::new(BINARY).args(["check-config", "--print"]).arg(&file).output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    for secret in ["hunter2-secret", "s3cret", digest.as_str()] {
        assert!(!printed.contains(secret), "{secret} shown:\n{printed}");
    }
    let effective: toml::Table = printed.parse().expect("the output is TOML");
    assert_eq!(effective["limits"]["max_frame_bytes"].as_integer(), Some(1_048_576));
    assert_eq!(effective["timing"]["expiry_window_s"].as_integer(), Some(600));
    assert_eq!(effective["listen"]["http"].as_str(), Some("127.0.0.1:8010"));
    assert_eq!(effective["cluster"]["lease_ttl_s"].as_integer(), Some(10));
    assert_eq!(effective["workers"][0]["name"].as_str(), Some("w1"));
    let summary = Command::new(BINARY).arg("check-config").arg(&file).output().expect("run");
    let summary = String::from_utf8_lossy(&summary.stdout).to_string();
    assert!(summary.contains("(1 worker, 1 builder, 1 remote master;"), "{summary}");
}

#[test]
fn sigterm_stops_the_master_cleanly_and_exits_zero() {
    let mut daemon = Daemon::start("");
    assert!(daemon.stop().success());
    let rows = common::stored_rows(&daemon.data_dir());
    let me = rows.iter().find_map(|row| match row {
        Record::Master(master) if master.name == "test-master" => Some(master.clone()),
        _ => None,
    });
    assert_eq!(me.map(|m| m.active), Some(false), "masterStopped for itself before exiting");
}

#[test]
fn kill_9_then_restart_keeps_masters_ids_and_builders() {
    let mut daemon = Daemon::start("[[workers]]\nname = \"w1\"\npassword = \"pw\"\n[[builders]]\nname = \"linux\"\nworkernames = [\"w1\"]\n");
    let mut ids = Vec::new();
    for index in 0..20 {
        let name = format!("remote-{index}:/srv");
        let mut client = common::master_client(&daemon, &name);
        // Acknowledged means durable: the reply is sent only after the commit.
        ids.push((name.clone(), within(STEP, client.master_active(&name)).expect("register")));
    }
    daemon.kill_hard();
    daemon.spawn();
    for (name, id) in &ids {
        let mut client = common::master_client(&daemon, name);
        assert_eq!(within(STEP, client.master_active(name)).expect("register"), *id, "{name}");
    }
    let mut newcomer = common::master_client(&daemon, "new:/srv");
    assert_eq!(
        within(STEP, newcomer.master_active("new:/srv")).expect("register"),
        MasterId(22),
        "ids are never reused"
    );
    assert!(daemon.stop().success());
    let rows = common::stored_rows(&daemon.data_dir());
    assert!(rows
        .iter()
        .any(|row| matches!(row, Record::Builder(builder) if builder.name == "linux")));
    assert!(rows.iter().any(|row| matches!(row, Record::Master(master) if master.id == MasterId(1) && master.name == "test-master")));
}

/// The startup's events are Buildbot's: a fresh data dir gives exactly one `started`, a
/// restart after a clean stop one `started` again, and a restart after `kill -9` first a
/// `stopped` whose cause says it was a crash, then `started`; each start's log line says
/// which it was.
#[test]
fn each_start_says_how_the_last_run_ended_with_buildbots_events() {
    let mut daemon = Daemon::start("");
    let fresh = "registry loaded; master active (first start of this master)";
    daemon.wait_for_log(fresh);
    let count = |log: &str, needle: &str| log.matches(needle).count();
    let log = daemon.log();
    assert_eq!(
        count(&log, "master started masterid"),
        1,
        "one started on a fresh data dir:\n{log}"
    );
    assert_eq!(count(&log, "master stopped masterid"), 0, "no stopped on a fresh data dir:\n{log}");

    assert!(daemon.stop().success());
    daemon.spawn();
    daemon.wait_for_log("registry loaded; master active (the last run stopped cleanly)");
    let log = daemon.log();
    assert_eq!(
        count(&log, "master started masterid"),
        2,
        "one more started after a clean stop:\n{log}"
    );
    assert_eq!(
        count(&log, "master stopped masterid"),
        1,
        "only the clean stop's own stopped:\n{log}"
    );
    assert_eq!(count(&log, "cause=CrashRecovered"), 0, "{log}");

    daemon.kill_hard();
    daemon.spawn();
    daemon.wait_for_log("recovered after a crash");
    let log = daemon.log();
    assert_eq!(count(&log, "cause=CrashRecovered"), 1, "a crash shows as one:\n{log}");
    assert_eq!(count(&log, "master started masterid"), 3, "{log}");
    let recovered = log.find("cause=CrashRecovered").expect("logged");
    let started = log.rfind("master started masterid").expect("logged");
    assert!(recovered < started, "stopped (CrashRecovered) comes before started:\n{log}");
}
