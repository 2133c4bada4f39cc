//! Backup and restore with the real binary: `rollcall export` of a running daemon (its
//! control socket) and of a stopped data dir, `rollcall import` into an empty one and the
//! daemon serving what was restored, every damaged dump or occupied data dir refused with
//! nothing written, and a data dir of a newer format refused by every command naming both
//! versions.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{attach, http, master_client, within, Daemon, BINARY, STEP};
use rollcall_core::{Command as Registry, Reply};

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "pw1"

[[builders]]
name = "linux"
workernames = ["w1"]
"#;

fn rollcall(args: &[&str], config: &Path) -> Output {
    Command::new(BINARY)
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rollcall")
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "should fail: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A daemon holding a remote master serving `linux`, a build request and an attached
/// worker.
fn busy_daemon() -> Daemon {
    let daemon = Daemon::start(ROSTER);
    let mut remote = master_client(&daemon, "remote:/srv");
    let request = |client: &mut rollcall_io::client::MasterClient, command| match within(
        STEP,
        client.request(command),
    )
    .expect("connected")
    {
        Ok(reply) => reply,
        Err(error) => panic!("refused: {error}"),
    };
    let Reply::Master(master) =
        request(&mut remote, Registry::MasterActive { name: "remote:/srv".into() })
    else {
        panic!("an id")
    };
    request(&mut remote, Registry::SetBuilderList { master, builder_names: vec!["linux".into()] });
    request(&mut remote, Registry::SubmitBuildRequest { master, builder_name: "linux".into() });
    daemon
}

fn dump_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).expect("the dump").lines().map(str::to_string).collect()
}

#[test]
fn a_running_daemon_is_exported_and_restored_into_an_empty_data_dir_that_a_daemon_serves() {
    let mut daemon = busy_daemon();
    let (_session, _) = attach(&daemon.address(), "w1", "pw1");
    let work = tempfile::tempdir().expect("temp dir");

    // Online: through the control socket, one committed state.
    let online = work.path().join("online.jsonl");
    let said = succeeded(&rollcall(
        &["export", "--output", online.to_str().expect("utf-8")],
        &daemon.config_path,
    ));
    assert!(said.contains("from the running daemon"), "{said}");
    let lines = dump_lines(&online);
    assert!(lines[0].starts_with("{\"rollcall_dump\":1,\"data_format\":1,"), "{}", lines[0]);
    assert!(lines[0].contains("\"source\":\"running daemon\""), "{}", lines[0]);
    let body = lines.join("\n");
    for row in [
        "\"name\":\"test-master\"",
        "\"name\":\"remote:/srv\"",
        "\"name\":\"linux\"",
        "\"name\":\"w1\"",
        "\"build_request\":{",
    ] {
        assert!(body.contains(row), "{row} in the dump:\n{body}");
    }
    assert!(lines.last().is_some_and(|line| line.starts_with("{\"end\":{\"rows\":")), "{body}");
    // Written to standard output by default.
    let to_stdout = rollcall(&["export"], &daemon.config_path);
    succeeded(&to_stdout);
    assert!(String::from_utf8_lossy(&to_stdout.stdout).contains("\"name\":\"remote:/srv\""));

    // Offline: the stopped daemon's data dir, read directly.
    assert!(daemon.stop().success());
    let offline = work.path().join("offline.jsonl");
    let said = succeeded(&rollcall(
        &["export", "--output", offline.to_str().expect("utf-8")],
        &daemon.config_path,
    ));
    assert!(said.contains("from the stopped data dir"), "{said}");

    // Restored into another daemon's data dir, emptied first.
    let mut restored = Daemon::start(ROSTER);
    assert!(restored.stop().success());
    std::fs::remove_dir_all(restored.data_dir()).expect("empty the data dir");
    let printed = rollcall(&["import", offline.to_str().expect("utf-8")], &restored.config_path);
    succeeded(&printed);
    let printed = String::from_utf8_lossy(&printed.stdout).to_string();
    assert!(
        printed.starts_with("imported ") && printed.contains("a dump of a stopped data dir"),
        "{printed}"
    );
    // The restored data dir dumps to the very same bytes.
    let again = work.path().join("again.jsonl");
    succeeded(&rollcall(
        &["export", "--output", again.to_str().expect("utf-8")],
        &restored.config_path,
    ));
    assert_eq!(dump_lines(&again), dump_lines(&offline));

    restored.spawn();
    let masters = http::get(restored.http_address, "/api/v2/masters").json();
    let names: Vec<&str> = masters["masters"]
        .as_array()
        .expect("masters")
        .iter()
        .filter_map(|master| master["name"].as_str())
        .collect();
    assert!(names.contains(&"remote:/srv") && names.contains(&"test-master"), "{masters}");
    let requests = http::get(restored.http_address, "/api/v2/buildrequests").json();
    assert_eq!(requests["meta"]["total"], 1, "the build request is back: {requests}");
}

#[test]
fn import_refuses_an_occupied_data_dir_and_any_damaged_dump_writing_nothing() {
    let mut daemon = busy_daemon();
    assert!(daemon.stop().success());
    let work = tempfile::tempdir().expect("temp dir");
    let dump = work.path().join("dump.jsonl");
    succeeded(&rollcall(
        &["export", "--output", dump.to_str().expect("utf-8")],
        &daemon.config_path,
    ));

    // Into the data dir it came from: occupied.
    let refused =
        failed(&rollcall(&["import", dump.to_str().expect("utf-8")], &daemon.config_path));
    assert!(
        refused.contains("already holds a registry") && refused.contains("empty data dir"),
        "{refused}"
    );

    let target = Daemon::start(ROSTER);
    let mut target = target;
    assert!(target.stop().success());
    std::fs::remove_dir_all(target.data_dir()).expect("empty the data dir");
    let text = std::fs::read_to_string(&dump).expect("read");
    let damaged = [
        ("cut short", text[..text.len() / 2].to_string(), "line "),
        (
            "no end line",
            text.lines()
                .filter(|line| !line.starts_with("{\"end\""))
                .map(|line| format!("{line}\n"))
                .collect(),
            "cut short",
        ),
        (
            "a row dropped",
            text.lines()
                .filter(|line| !line.starts_with("{\"builder\""))
                .map(|line| format!("{line}\n"))
                .collect(),
            "it is damaged",
        ),
        (
            "a newer format",
            text.replacen("\"data_format\":1", "\"data_format\":2", 1),
            "data format version 2, and this build reads 1",
        ),
        // Rows that parse but are no registry: a build request of a builder that is not there.
        (
            "inconsistent",
            text.replace("{\"builder\":{\"id\":1,", "{\"builder\":{\"id\":2,"),
            "not a registry",
        ),
    ];
    for (what, dump_text, expected) in damaged {
        let path = work.path().join("damaged.jsonl");
        std::fs::write(&path, dump_text).expect("write");
        let refused =
            failed(&rollcall(&["import", path.to_str().expect("utf-8")], &target.config_path));
        assert!(refused.contains(expected), "{what}: {refused}");
        assert!(!target.data_dir().exists(), "{what}: nothing was written");
    }
    // From standard input, whole: accepted.
    let mut child = Command::new(BINARY)
        .args(["import", "-", "--config"])
        .arg(&target.config_path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("import");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("feed the dump");
    succeeded(&child.wait_with_output().expect("wait"));
}

/// The control socket is the daemon's user's only, answers one request it knows, and a
/// client that sends nothing keeps no export waiting.
#[test]
fn the_control_socket_is_private_refuses_unknown_requests_and_outlasts_a_silent_client() {
    let mut daemon = busy_daemon();
    let socket = rollcall_io::backup::control::socket_path(&daemon.data_dir());
    let directory = socket.parent().expect("its directory");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(directory).expect("the socket's directory").permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "only the daemon's user may enter {}", directory.display());

    let mut unknown = UnixStream::connect(&socket).expect("connect");
    unknown.write_all(b"drop tables\n").expect("send");
    let mut answer = String::new();
    unknown.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    unknown.read_to_string(&mut answer).expect("read");
    assert_eq!(
        answer,
        "{\"error\":\"unknown request \\\"drop tables\\\"; this daemon answers \\\"export\\\"\"}\n"
    );

    let _silent = UnixStream::connect(&socket).expect("a client that says nothing");
    succeeded(&rollcall(&["export"], &daemon.config_path));

    assert!(daemon.stop().success());
    assert!(!socket.exists(), "removed at a clean stop");
}

#[test]
fn a_data_dir_of_a_newer_format_is_refused_by_serve_export_and_import_naming_both_versions() {
    let mut daemon = Daemon::start(ROSTER);
    assert!(daemon.stop().success());
    {
        let database = fjall::Database::builder(daemon.data_dir()).open().expect("fjall");
        let meta = database
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .expect("the meta keyspace");
        meta.insert(b"data_format_version", 2_u32.to_be_bytes()).expect("write");
        database.persist(fjall::PersistMode::SyncAll).expect("persist");
    }
    let expected =
        "its data format version is 2, and this build reads 1 (a newer rollcall wrote it)";
    let serve = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&daemon.config_path)
        .output()
        .expect("serve");
    let refused = failed(&serve);
    assert!(refused.contains(expected), "{refused}");
    assert!(failed(&rollcall(&["export"], &daemon.config_path)).contains(expected));
    let dump = daemon.directory.path().join("empty.jsonl");
    std::fs::write(&dump, "{\"rollcall_dump\":1,\"data_format\":1,\"rows\":0,\"written_by\":\"t\",\"source\":\"t\"}\n{\"end\":{\"rows\":0}}\n").expect("write");
    assert!(failed(&rollcall(&["import", dump.to_str().expect("utf-8")], &daemon.config_path))
        .contains(expected));
}
