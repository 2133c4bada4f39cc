//! Remote masters authenticate with tokens (`[[masters]]`, issue #11): only configured
//! masters with a listed token get in, the daemon's own name never, refusals look the
//! same whatever was wrong, a reconfig revokes live sessions, and a master may report only
//! its own workers.

mod common;

use common::{master_client, next, within, Daemon, MASTER_TOKEN, STEP};
use rollcall_core::{Command, ConnectionId, MasterId};
use rollcall_io::client::{ClientError, MasterClient, Session};
use rollcall_io::credentials::{hex, sha256, Token};
use rollcall_io::wire::{RequestError, Role, ServerMessage};

/// The refusal a master's Hello gets, as the client sees it.
fn refusal(daemon: &Daemon, name: &str, token: &str) -> String {
    let role = Role::Master { name: name.into(), token: Token::new(token) };
    let mut session = within(STEP, Session::connect(&daemon.address(), role)).expect("connect");
    match next(&mut session) {
        Ok(ServerMessage::Goodbye { reason }) | Err(ClientError::Goodbye(reason)) => reason,
        other => panic!("{name}: expected a refusal, got {other:?}"),
    }
}

fn rotating(tokens: &[&str]) -> String {
    let digests: Vec<String> =
        tokens.iter().map(|token| format!("\"{}\"", hex(&sha256(token.as_bytes())))).collect();
    format!("[[masters]]\nname = \"rotating:/srv\"\ntoken_sha256 = [{}]\n", digests.join(", "))
}

fn connect(daemon: &Daemon, name: &str, token: &str) -> Result<MasterClient, ClientError> {
    within(STEP, MasterClient::connect(&daemon.address(), name, &Token::new(token)))
}

#[test]
fn unknown_masters_wrong_tokens_and_the_daemons_own_name_get_the_same_refusal() {
    let daemon = Daemon::start("");
    let unknown = refusal(&daemon, "stranger:/srv", MASTER_TOKEN);
    let wrong = refusal(&daemon, "remote:/srv", "rcm_a-guess");
    let own = refusal(&daemon, "test-master", MASTER_TOKEN);
    assert_eq!(unknown, wrong, "a refusal does not say whether the name exists");
    assert_eq!(unknown, own);
    assert!(unknown.contains("authentication failed"), "{unknown}");
    let mut client = master_client(&daemon, "remote:/srv");
    assert_eq!(within(STEP, client.master_active("remote:/srv")).expect("register"), MasterId(2));
    let metrics = common::http::get(daemon.http_address, "/metrics").body;
    assert!(
        metrics.contains("rollcall_rejections_total{reason=\"master_authentication\"} 3"),
        "{metrics}"
    );
    daemon.wait_for_log("master refused: unknown name or wrong token");
    let log = daemon.log();
    assert!(!log.contains("rcm_a-guess") && !log.contains(MASTER_TOKEN), "no token is logged");
}

#[test]
fn a_reconfig_rotates_tokens_and_revokes_a_live_session() {
    let mut daemon = Daemon::start(&rotating(&["rcm_old"]));
    let mut old = connect(&daemon, "rotating:/srv", "rcm_old").expect("the old token works");
    within(STEP, old.master_active("rotating:/srv")).expect("register");
    assert!(connect(&daemon, "rotating:/srv", "rcm_new").is_err(), "not yet configured");

    // Rotation, step 1: both tokens listed; the live session stays.
    daemon.write_config(&rotating(&["rcm_old", "rcm_new"]));
    reload(&daemon, 1);
    let mut new = connect(&daemon, "rotating:/srv", "rcm_new").expect("the new token works");
    within(STEP, new.master_active("rotating:/srv")).expect("heartbeat with the new token");
    within(STEP, old.master_active("rotating:/srv")).expect("the old session still works");

    // Step 2: the old token removed; its session is closed and the token refused.
    daemon.write_config(&rotating(&["rcm_new"]));
    reload(&daemon, 2);
    eventually_closed(&mut old);
    assert!(connect(&daemon, "rotating:/srv", "rcm_old").is_err(), "the old token is refused");
    within(STEP, new.master_active("rotating:/srv")).expect("the new session is untouched");

    // The master removed altogether: its last session goes too.
    daemon.write_config("");
    reload(&daemon, 3);
    eventually_closed(&mut new);
    assert!(daemon.stop().success());
}

/// SIGHUP, then wait for the `count`th "reconfig complete".
fn reload(daemon: &Daemon, count: usize) {
    daemon.signal("HUP");
    common::eventually_showing(
        std::time::Duration::from_secs(30),
        &format!("reconfig number {count}"),
        || daemon.log().matches("reconfig complete").count() >= count,
        || daemon.log(),
    );
}

fn eventually_closed(client: &mut MasterClient) {
    let outcome = within(STEP, client.master_active("rotating:/srv"));
    match outcome {
        Err(ClientError::Goodbye(reason)) => {
            assert!(reason.contains("removed from the configuration"), "{reason}");
        }
        Err(_) => {}
        Ok(id) => panic!("a revoked session still answered as master {id}"),
    }
}

#[test]
fn a_master_reports_only_the_connections_of_workers_it_configures() {
    let daemon = Daemon::start("[[workers]]\nname = \"w1\"\npassword = \"pw\"\n");
    let mut client = master_client(&daemon, "remote:/srv");
    let master = within(STEP, client.master_active("remote:/srv")).expect("register");
    let forged =
        Command::WorkerConnected { master, worker_name: "w1".into(), connection: ConnectionId(7) };
    let answer = within(STEP, client.request(forged)).expect("answered");
    assert_eq!(answer, Err(RequestError::NotConfigured { worker: "w1".into() }));
    let configure =
        Command::SetConfiguredWorkers { master, worker_names: vec!["remote-worker".into()] };
    within(STEP, client.request(configure)).expect("answered").expect("configured");
    let own = Command::WorkerConnected {
        master,
        worker_name: "remote-worker".into(),
        connection: ConnectionId(7),
    };
    within(STEP, client.request(own)).expect("answered").expect("its own worker");
}

#[test]
fn only_the_daemon_runs_expiry_a_remote_master_cannot_force_it() {
    let daemon = Daemon::start("");
    let mut client = master_client(&daemon, "remote:/srv");
    within(STEP, client.master_active("remote:/srv")).expect("register");
    for force_housekeeping in [false, true] {
        let sweep = Command::ExpireMasters { force_housekeeping };
        let answer = within(STEP, client.request(sweep)).expect("answered");
        assert_eq!(answer, Err(RequestError::DaemonOnly { command: "ExpireMasters".into() }));
    }
}
