//! Remote masters against the real daemon: registration, expiry after silence, and what a
//! dead master gives back.

mod common;

use std::time::Duration;

use common::{within, Daemon, STEP};
use rollcall_core::{BuildId, BuildRequestId, Command, MasterId, Record, Reply, Results};
use rollcall_io::client::MasterClient;
use rollcall_io::wire::RequestError;

const SHORT_WINDOW: &str = "[timing]\nheartbeat_interval_s = 1\nexpiry_window_s = 2\n";

fn connect(daemon: &Daemon, name: &str) -> (MasterClient, MasterId) {
    let mut client = common::master_client(daemon, name);
    let id = within(STEP, client.master_active(name)).expect("register");
    (client, id)
}

fn request(client: &mut MasterClient, command: Command) -> Result<Reply, RequestError> {
    within(STEP, client.request(command)).expect("connection alive")
}

#[test]
fn a_remote_master_registers_with_the_next_id_and_is_refused_other_masters_ids() {
    let daemon = Daemon::start("");
    // The daemon itself is master 1.
    let (mut client, id) = connect(&daemon, "remote:/srv");
    assert_eq!(id, MasterId(2));
    assert_eq!(
        request(&mut client, Command::MasterStopped { master: MasterId(1) }),
        Err(RequestError::NotThisSession { session: Some(MasterId(2)) })
    );
    assert!(matches!(
        request(&mut client, Command::MasterActive { name: "someone-else".into() }),
        Err(RequestError::WrongName { .. })
    ));
    assert_eq!(
        request(
            &mut client,
            Command::SetBuilderList { master: id, builder_names: vec!["linux".into()] }
        ),
        Ok(Reply::Builders(vec![rollcall_core::BuilderId(1)]))
    );
}

#[test]
fn a_master_that_stops_heartbeating_is_expired_and_gives_back_its_claim_and_build() {
    let mut daemon = Daemon::start(SHORT_WINDOW);
    let (mut doomed, doomed_id) = connect(&daemon, "doomed:/srv");
    let (mut survivor, survivor_id) = connect(&daemon, "survivor:/srv");
    let Ok(Reply::BuildRequest(request_id)) = request(
        &mut doomed,
        Command::SubmitBuildRequest { master: doomed_id, builder_name: "linux".into() },
    ) else {
        panic!("submit refused")
    };
    request(
        &mut doomed,
        Command::ClaimBuildRequests { master: doomed_id, requests: vec![request_id] },
    )
    .expect("claim");
    let Ok(Reply::Build(build)) = request(
        &mut doomed,
        Command::StartBuild { master: doomed_id, request: request_id, worker_name: "w1".into() },
    ) else {
        panic!("start refused")
    };
    assert_eq!(build, BuildId(1));
    // The survivor cannot take the claim while the doomed master lives.
    assert!(request(
        &mut survivor,
        Command::ClaimBuildRequests { master: survivor_id, requests: vec![request_id] }
    )
    .is_err());

    // The doomed master goes silent (its process froze); the survivor keeps beating.
    drop(doomed);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let claimed = loop {
        assert!(std::time::Instant::now() < deadline, "the claim was never given back");
        within(STEP, survivor.master_active("survivor:/srv")).expect("heartbeat");
        let claim = Command::ClaimBuildRequests { master: survivor_id, requests: vec![request_id] };
        if request(&mut survivor, claim).is_ok() {
            break true;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(claimed);
    daemon.wait_for_log("master stopped");

    assert!(daemon.stop().success());
    let rows = common::stored_rows(&daemon.data_dir());
    let doomed_row = rows.iter().find_map(|row| match row {
        Record::Master(master) if master.id == doomed_id => Some(master.clone()),
        _ => None,
    });
    assert_eq!(doomed_row.map(|m| m.active), Some(false), "expired");
    let build_row = rows.iter().find_map(|row| match row {
        Record::Build(record) if record.id == build => Some(record.clone()),
        _ => None,
    });
    assert_eq!(build_row.and_then(|b| b.results), Some(Results::RETRY));
    let request_row = rows.iter().find_map(|row| match row {
        Record::BuildRequest(record) if record.id == BuildRequestId(request_id.get()) => {
            Some(record.clone())
        }
        _ => None,
    });
    assert_eq!(
        request_row.and_then(|r| r.claimed_by),
        Some(survivor_id),
        "reclaimed by the survivor"
    );
}

#[test]
fn a_master_that_keeps_heartbeating_stays_active() {
    let daemon = Daemon::start(SHORT_WINDOW);
    let (mut client, id) = connect(&daemon, "steady:/srv");
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(within(STEP, client.master_active("steady:/srv")).expect("beat"), id);
    }
    assert_eq!(
        request(&mut client, Command::SubmitBuildRequest { master: id, builder_name: "b".into() }),
        Ok(Reply::BuildRequest(BuildRequestId(1))),
        "still active after several windows"
    );
}

/// `rollcall master` rides out a daemon restart: it reconnects with backoff, registers
/// again and declares its builders again, so the restarted daemon shows it active and
/// serving them (it is never left to expire).
#[test]
fn rollcall_master_reconnects_after_a_daemon_restart_and_declares_its_builders_again() {
    let mut daemon = Daemon::start("");
    let token_file = daemon.directory.path().join("remote.token");
    std::fs::write(&token_file, common::MASTER_TOKEN).expect("token file");
    let output = daemon.directory.path().join("master.out");
    let mut master = std::process::Command::new(common::BINARY)
        .args(["master", "--name", "remote:/srv", "--builders", "linux,mac"])
        .args(["--heartbeat-interval-s", "1", "--connect", &daemon.address(), "--token-file"])
        .arg(&token_file)
        .stdout(std::fs::File::create(&output).expect("output"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rollcall master");
    let registrations = || {
        std::fs::read_to_string(&output).unwrap_or_default().matches("registered as master").count()
    };
    common::eventually(STEP, "the first registration", || registrations() == 1);
    assert!(daemon.stop().success());
    daemon.spawn();
    common::eventually(Duration::from_secs(30), "a registration after the restart", || {
        registrations() == 2
    });
    let body = common::http::get(daemon.http_address, "/api/v2/masters").json();
    let row = body["masters"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["name"] == "remote:/srv"))
        .cloned()
        .expect("its row");
    assert_eq!(row["active"], serde_json::Value::Bool(true), "{row}");
    let id = row["masterid"].clone();
    let builders = common::http::get(daemon.http_address, "/api/v2/builders").json();
    let served = builders["builders"].as_array().map_or(0, |rows| {
        rows.iter()
            .filter(|builder| builder["masterids"].as_array().is_some_and(|ids| ids.contains(&id)))
            .count()
    });
    assert_eq!(served, 2, "both builders served again: {builders}");
    let _ = master.kill();
    let _ = master.wait();
}
