//! TLS to the cluster's PostgreSQL (issue #13): a real PostgreSQL 15 that accepts TCP
//! sessions only over TLS, with a certificate from a CA made for the test. rollcall's
//! sessions are encrypted and verify the server; a wrong CA fails the handshake; a
//! configured CA never falls back to the clear.

use std::time::Duration;

use rollcall_core::replication::{SharedStore, Take};
use rollcall_io::cluster::{
    connect, ClusterStoreError, Deadlines, PostgresStore, PostgresTls, PostgresTlsOptions,
};
use rollcall_test_pki::TestPki;
use rollcall_test_postgres::Postgres;

const TTL: Duration = Duration::from_secs(10);

struct TlsServer {
    postgres: Postgres,
    pki: TestPki,
    _directory: tempfile::TempDir,
}

fn tls_server() -> TlsServer {
    let directory = tempfile::tempdir().expect("a temp dir");
    let pki = TestPki::new(directory.path(), "rollcall test PostgreSQL CA");
    let postgres = Postgres::start_with_tls(&pki.server_certificate, &pki.server_key);
    TlsServer { postgres, pki, _directory: directory }
}

fn trusting(ca: &std::path::Path) -> PostgresTls {
    let options =
        PostgresTlsOptions { ca: Some(ca.to_path_buf()), ..PostgresTlsOptions::default() };
    PostgresTls::load(&options).expect("load the CA")
}

/// Whether the server sees the session `client` as encrypted.
fn encrypted(client: &mut postgres::Client) -> bool {
    client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .expect("pg_stat_ssl")
        .get(0)
}

/// With the test's CA, a session verifies the server's certificate for 127.0.0.1 and is
/// encrypted; the store runs its lease over it.
#[test]
fn sessions_over_tls_verify_the_server_and_are_encrypted() {
    let server = tls_server();
    let tls = trusting(&server.pki.ca);
    let deadlines = Deadlines::for_lease_ttl(TTL);
    let mut client =
        connect(&server.postgres.tls_url(), deadlines, Some(&tls)).expect("a TLS session");
    assert!(encrypted(&mut client));

    let mut store =
        PostgresStore::new(server.postgres.tls_url(), "n1", "n1:7001", TTL).with_tls(Some(tls));
    assert!(matches!(store.try_take(), Ok(Take::Taken { epoch: 1 })));
    assert_eq!(store.lease().expect("the lease").holder.as_deref(), Some("n1"));
}

/// The server takes no session in the clear over TCP, and a client that trusts another CA
/// fails the handshake, naming the certificate as the reason.
#[test]
fn the_clear_and_a_wrong_ca_are_refused() {
    let server = tls_server();
    let deadlines = Deadlines::for_lease_ttl(TTL);
    let clear = server.postgres.tls_url().replace("sslmode=require", "sslmode=disable");
    assert!(connect(&clear, deadlines, None).is_err(), "a session in the clear");

    let elsewhere = tempfile::tempdir().expect("a temp dir");
    let other = TestPki::new(elsewhere.path(), "another CA");
    let refused = connect(&server.postgres.tls_url(), deadlines, Some(&trusting(&other.ca)));
    let error = match refused {
        Err(error @ ClusterStoreError::Connect { .. }) => error,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a server of another CA was accepted"),
    };
    let reason = format!("{error}: {:?}", std::error::Error::source(&error));
    assert!(reason.contains("certificate") || reason.contains("Certificate"), "{reason}");
}

/// A node with a CA configured never falls back to the clear: over the Unix socket, where
/// PostgreSQL offers no TLS, its session (`sslmode` left at libpq's `prefer`) is refused.
#[test]
fn a_configured_ca_never_falls_back_to_the_clear() {
    let server = tls_server();
    let tls = trusting(&server.pki.ca);
    let on_the_socket = server.postgres.url();
    assert!(!on_the_socket.contains("sslmode"));
    let refused = connect(&on_the_socket, Deadlines::for_lease_ttl(TTL), Some(&tls));
    assert!(refused.is_err(), "fell back to the clear");
    let mut direct = server.postgres.client();
    assert!(!encrypted(&mut direct), "the test's own socket session is in the clear");
}
