//! TLS on every port (issue #11): workers, masters and HTTP over TLS with a CA made by the
//! test; plaintext to a TLS port and untrusted certificates refused with clear messages;
//! mutual TLS for masters by name; certificates re-read on SIGHUP, a bad one leaving the
//! old in place; and `check-config` refusing a public listener in the clear.

mod common;

use std::process::Command;

use common::tls::{client_trusting, https_get, https_raw, Pki};
use common::{next, within, Daemon, BINARY, MASTER_TOKEN, STEP};
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{ClientError, MasterClient, Session};
use rollcall_io::credentials::Token;
use rollcall_io::tls::ClientTls;
use rollcall_io::wire::{Role, ServerMessage};
use rollcall_test_pki::Name;

const ROSTER: &str = "\
[[workers]]
name = \"w1\"
password = \"pw1\"

[[builders]]
name = \"linux\"
workernames = [\"w1\"]
";

fn worker_over(daemon: &Daemon, tls: Option<&ClientTls>) -> Result<Session, ClientError> {
    let role = Role::Worker { name: "w1".into(), password: Password::new("pw1") };
    within(STEP, Session::connect_with(&daemon.address(), role, tls))
}

fn master_over(daemon: &Daemon, name: &str, tls: &ClientTls) -> Result<MasterClient, ClientError> {
    let token = Token::new(MASTER_TOKEN);
    within(STEP, MasterClient::connect_with(&daemon.address(), name, &token, Some(tls)))
}

fn refusal_of(result: Result<MasterClient, ClientError>) -> String {
    match result {
        Err(ClientError::Goodbye(reason)) => reason,
        Err(other) => panic!("expected a Goodbye, got {other}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[test]
fn a_worker_attaches_and_rest_answers_over_tls() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let tls = pki.client();
    let mut session = worker_over(&daemon, Some(&tls)).expect("a TLS session");
    assert_eq!(next(&mut session).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    let Ok(ServerMessage::Worker(ToWorker::BuilderList { builders })) = next(&mut session) else {
        panic!("expected a builder list over TLS")
    };
    assert_eq!(builders.to_vec(), vec!["linux".to_string()]);
    let workers = https_get(daemon.http_address, &tls, "/api/v2/workers");
    assert_eq!(workers.status, 200, "{}", workers.body);
    assert_eq!(workers.json()["workers"][0]["name"], "w1");
    let mut master = master_over(&daemon, "remote:/srv", &tls).expect("a master over TLS");
    within(STEP, master.master_active("remote:/srv")).expect("register over TLS");
    daemon.wait_for_log("serving HTTPS");
}

#[test]
fn a_reconnecting_worker_resumes_its_tls_session_from_a_ticket() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let tls = pki.client();
    for _ in 0..3 {
        let mut session = worker_over(&daemon, Some(&tls)).expect("a TLS session");
        assert_eq!(next(&mut session).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    }
    let metrics = https_get(daemon.http_address, &pki.client(), "/metrics").body;
    let count = |kind: &str| {
        let series = format!("rollcall_tls_handshakes_total{{port=\"workers\",kind=\"{kind}\"}} ");
        metrics.lines().find_map(|line| line.strip_prefix(&series)?.parse::<u64>().ok())
    };
    assert_eq!(count("full"), Some(1), "one full handshake:\n{metrics}");
    assert_eq!(count("resumed"), Some(2), "then resumed from tickets:\n{metrics}");
}

#[test]
fn plaintext_to_a_tls_port_is_told_to_use_tls() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let mut session = worker_over(&daemon, None).expect("TCP connects");
    match next(&mut session) {
        Err(ClientError::Goodbye(reason)) => {
            assert!(reason.contains("this port speaks TLS"), "{reason}")
        }
        other => panic!("expected a Goodbye naming TLS, got {other:?}"),
    }
    let http = common::http::get(daemon.http_address, "/api/v2/workers");
    assert_eq!(http.status, 400);
    assert!(http.body.contains("this port speaks HTTPS"), "{}", http.body);
    let buildbot = common::http::get(daemon.buildbot_address, "/");
    assert_eq!(buildbot.status, 400);
    assert!(buildbot.body.contains("--use-tls"), "{}", buildbot.body);
    let metrics = https_get(daemon.http_address, &pki.client(), "/metrics").body;
    for port in ["workers", "http", "buildbot"] {
        let series = format!(
            "rollcall_connections_refused_total{{port=\"{port}\",reason=\"plaintext_on_tls\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} in:\n{metrics}");
    }
}

#[test]
fn a_client_refuses_a_daemon_whose_certificate_it_cannot_verify() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let stranger = Pki::new();
    match worker_over(&daemon, Some(&stranger.client())) {
        Err(ClientError::Tls(why)) => {
            assert!(why.contains("not signed by a trusted CA"), "{why}");
            assert!(why.contains("--ca"), "the message says what to fix: {why}");
        }
        other => panic!("expected a TLS refusal, got {other:?}"),
    }
    // TLS to a plaintext daemon: the client says the port is in the clear.
    let plain = Daemon::start(ROSTER);
    match worker_over(&plain, Some(&pki.client())) {
        Err(ClientError::Tls(why)) => assert!(why.contains("leave out --tls"), "{why}"),
        other => panic!("expected a TLS refusal, got {other:?}"),
    }
}

#[test]
fn with_client_ca_a_master_needs_a_certificate_naming_it_and_workers_need_none() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(true)));
    let remote = pki.pki.client("remote", Name::Uri("remote:/srv"));
    let remote_tls = pki.client_as(&remote);
    let mut master = master_over(&daemon, "remote:/srv", &remote_tls).expect("named: accepted");
    within(STEP, master.master_active("remote:/srv")).expect("register");
    drop(master);
    // Reconnecting resumes the TLS session; the certificate's names come with it.
    let mut master = master_over(&daemon, "remote:/srv", &remote_tls).expect("resumed: accepted");
    within(STEP, master.master_active("remote:/srv")).expect("heartbeat");

    let wrong = refusal_of(master_over(&daemon, "steady:/srv", &pki.client_as(&remote)));
    assert!(wrong.contains("names remote:/srv, not the master \"steady:/srv\""), "{wrong}");
    let none = refusal_of(master_over(&daemon, "steady:/srv", &pki.client()));
    assert!(none.contains("client certificate signed by its client_ca"), "{none}");
    // A DNS name works too, when the master's name is one.
    let dns = pki.pki.client("dns", Name::Dns("build1.example"));
    let refused = refusal_of(master_over(&daemon, "build1:/srv", &pki.client_as(&dns)));
    assert!(refused.contains("names build1.example"), "{refused}");

    // A certificate from another CA fails the handshake itself.
    let stranger = Pki::new();
    let forged = stranger.pki.client("forged", Name::Uri("steady:/srv"));
    let tls = client_trusting(&pki.pki.ca, Some(&forged));
    assert!(master_over(&daemon, "steady:/srv", &tls).is_err(), "an untrusted client certificate");

    let mut worker =
        worker_over(&daemon, Some(&pki.client())).expect("a worker needs no certificate");
    assert_eq!(next(&mut worker).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    let metrics = https_get(daemon.http_address, &pki.client(), "/metrics").body;
    assert!(
        metrics.contains(
            "rollcall_connections_refused_total{port=\"workers\",reason=\"master_certificate\"} 3"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("rollcall_tls_handshakes_total{port=\"workers\",kind=\"resumed\"}"),
        "the second session of remote:/srv was resumed:\n{metrics}"
    );
}

#[test]
fn sighup_rereads_the_certificates_and_a_bad_file_keeps_the_old_ones() {
    let pki = Pki::new();
    let mut daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let old = pki.client();
    assert_eq!(https_get(daemon.http_address, &old, "/api/v2/workers").status, 200);

    // A key file that is not a key: the reload fails whole, the old certificate serves on.
    let broken = daemon.directory.path().join("broken.key");
    std::fs::write(&broken, "not a key\n").expect("write");
    let broken_section = format!(
        "{ROSTER}[tls]\ncertificate = {:?}\nprivate_key = {broken:?}\n",
        pki.pki.server_certificate
    );
    daemon.write_config(&broken_section);
    daemon.signal("HUP");
    daemon.wait_for_log(&format!("reconfig failed: {}: no PRIVATE KEY block", broken.display()));
    assert_eq!(https_get(daemon.http_address, &old, "/api/v2/workers").status, 200);

    // A new CA's certificate: new connections get it, so only its clients verify.
    let renewed = Pki::new();
    daemon.write_config(&format!("{ROSTER}{}", renewed.section(false)));
    daemon.signal("HUP");
    daemon.wait_for_log("TLS certificates reloaded");
    assert_eq!(https_get(daemon.http_address, &renewed.client(), "/api/v2/workers").status, 200);
    assert!(matches!(worker_over(&daemon, Some(&old)), Err(ClientError::Tls(_))));
    assert!(daemon.stop().success());
}

#[test]
fn a_contained_https_attack_harms_no_one_else() {
    use std::io::Write;
    let pki = Pki::new();
    let daemon = Daemon::start(&format!(
        "{ROSTER}[limits]\nhttp_head_timeout_s = 2\nhandshake_timeout_s = 2\n{}",
        pki.section(false)
    ));
    let tls = pki.client();
    // Stalled in the TLS handshake: half a record, then nothing.
    let mut stalled = Vec::new();
    for target in [daemon.http_address, daemon.workers_address, daemon.buildbot_address] {
        for _ in 0..20 {
            let mut socket = std::net::TcpStream::connect(target).expect("connect");
            socket.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).expect("half a ClientHello");
            stalled.push(socket);
        }
    }
    // Garbage that looks like TLS.
    for _ in 0..5 {
        let mut socket = std::net::TcpStream::connect(daemon.http_address).expect("connect");
        let _ = socket.write_all(&[0x16, 0xff, 0xff, 0x00, 0x05, 1, 2, 3, 4, 5]);
    }
    // A Content-Length bomb inside TLS gets the same 413 as in the clear.
    let bomb = https_raw(
        daemon.http_address,
        &tls,
        b"GET /api/v2/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
    );
    assert_eq!(bomb.status, 413, "{}", bomb.body);
    let mut session = worker_over(&daemon, Some(&tls)).expect("others are served meanwhile");
    assert_eq!(next(&mut session).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    common::eventually(STEP * 3, "the stalled handshakes to be cut", || {
        let metrics = https_get(daemon.http_address, &tls, "/metrics").body;
        ["http", "workers", "buildbot"].iter().all(|port| {
            metrics.contains(&format!(
                "rollcall_connections_refused_total{{port=\"{port}\",reason=\"handshake_timeout\"}} 20"
            ))
        }) && metrics.contains("reason=\"tls_handshake\"")
    });
    drop(stalled);
}

#[test]
fn check_config_refuses_a_public_listener_in_the_clear_and_checks_the_tls_files() {
    let pki = Pki::new();
    let directory = tempfile::tempdir().expect("temp dir");
    let check = |text: &str| {
        let path = directory.path().join("rollcall.toml");
        std::fs::write(&path, text).expect("write");
        let output = Command::new(BINARY).arg("check-config").arg(&path).output().expect("run");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), shown)
    };
    let (ok, shown) = check("[listen]\nworkers = \"0.0.0.0:9989\"\n");
    assert!(!ok && shown.contains("reachable from other hosts but [tls] is not set"), "{shown}");
    let (ok, shown) =
        check(&format!("[listen]\nworkers = \"0.0.0.0:9989\"\n{}", pki.section(true)));
    assert!(ok && shown.contains("TLS on every port, client certificates for masters"), "{shown}");
    let (ok, shown) = check("[listen]\nworkers = \"0.0.0.0:9989\"\nallow_plaintext = true\n");
    assert!(ok && shown.contains("every port in the clear"), "{shown}");
    let (ok, shown) = check(&format!(
        "[tls]\ncertificate = {:?}\nprivate_key = {:?}\n",
        pki.pki.server_certificate, pki.pki.ca
    ));
    assert!(!ok && shown.contains("no PRIVATE KEY block"), "{shown}");
    let stranger = Pki::new();
    let (ok, shown) = check(&format!(
        "[tls]\ncertificate = {:?}\nprivate_key = {:?}\n",
        pki.pki.server_certificate, stranger.pki.server_key
    ));
    assert!(!ok && shown.contains("not the key of the certificate"), "{shown}");
}

#[test]
fn a_hello_over_the_size_limit_is_refused_with_its_reason_over_tls_too() {
    let pki = Pki::new();
    let daemon = Daemon::start(&format!("{ROSTER}{}", pki.section(false)));
    let role = Role::Master { name: "m".repeat(1024 * 1024), token: Token::new(MASTER_TOKEN) };
    // The daemon refuses while the client is still writing; the client shows the reason,
    // not the broken pipe.
    let session = within(STEP, Session::connect_with(&daemon.address(), role, Some(&pki.client())));
    let reason = match session {
        Err(ClientError::Goodbye(reason)) => reason,
        Err(other) => panic!("expected the daemon's reason, got {other}"),
        Ok(mut session) => match next(&mut session) {
            Err(ClientError::Goodbye(reason)) => reason,
            other => panic!("expected a Goodbye, got {other:?}"),
        },
    };
    assert!(reason.contains("frame of"), "{reason}");
}
