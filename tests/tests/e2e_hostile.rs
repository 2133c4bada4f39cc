//! Hostile clients against the real binary: each attack of issue #10 must fail, leave the
//! daemon alive and serving, and be counted. Attackers bind 127.0.0.2 (the whole 127/8 is
//! loopback) while legitimate clients use 127.0.0.1, so per-address caps can be seen to
//! protect one address from another. Every time bound is a generous upper bound for a
//! shared machine, never a timing.
//!
//! Each attack runs twice (issue #11): `<attack>::in_the_clear` against a plaintext daemon,
//! and `<attack>::over_tls` against one with TLS on every port, where the attacker completes
//! the TLS handshake (it needs no credentials for that) and then sends the same hostile
//! bytes inside the TLS session. Attacks on the TLS handshake itself are TLS-only tests.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::transport::{tcp_from, Connection, Transport};
use common::{eventually, eventually_showing, is_closed, next, send, Daemon};
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{ClientError, Session};
use rollcall_io::credentials::Token;
use rollcall_io::wire::{ClientMessage, Role, ServerMessage, PROTOCOL_VERSION};

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "pw1"
[[workers]]
name = "w2"
password = "pw2"
[[builders]]
name = "linux"
workernames = ["w1", "w2"]
"#;

const ATTACKER: &str = "127.0.0.2";

/// A WebSocket upgrade without credentials: the Buildbot port answers it with a 401.
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Runs each attack (a `fn(&Transport)`) as two tests, `<attack>::in_the_clear` and
/// `<attack>::over_tls`.
macro_rules! in_the_clear_and_over_tls {
    ($($attack:ident),* $(,)?) => {$(
        mod $attack {
            #[test]
            fn in_the_clear() {
                super::$attack(&super::Transport::clear());
            }

            #[test]
            fn over_tls() {
                super::$attack(&super::Transport::tls());
            }
        }
    )*};
}

in_the_clear_and_over_tls!(
    content_length_bombs_are_refused_and_the_daemon_lives,
    stalled_heads_are_cut_at_the_deadline_and_never_hold_health_or_shutdown,
    three_hundred_slow_connections_leave_health_answering_with_threads_bounded,
    heads_larger_than_16_kib_get_431_without_being_held,
    clients_that_never_read_a_large_listing_are_dropped_and_others_are_served,
    slow_readers_together_hold_no_more_than_the_response_budget,
    a_handshake_flood_from_one_address_locks_no_other_address_out_of_any_port,
    master_sessions_are_bounded_in_name_count_and_idleness,
    names_from_peers_cannot_forge_log_lines,
    a_recorded_trace_and_the_data_dir_are_private,
);

/// The daemon's own threads (storage, HTTP engine, executor) start at their own pace, so
/// the bound is absolute: far below one thread per hostile client (200 slow clients gave
/// 202 threads before #10).
const MAX_THREADS: usize = 64;

/// The daemon's thread count, from /proc.
fn threads(daemon: &Daemon) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("a Threads line")
}

/// `rollcall_connections_refused_total` of `port` for `reason`.
fn refused(transport: &Transport, daemon: &Daemon, port: &str, reason: &str) -> f64 {
    let series =
        format!("rollcall_connections_refused_total{{port=\"{port}\",reason=\"{reason}\"}}");
    transport.metric(daemon, &series)
}

fn content_length_bombs_are_refused_and_the_daemon_lives(transport: &Transport) {
    let mut daemon = transport.daemon(ROSTER);
    for length in ["99999999999", "18446744073709551615", "18446744073709551616", "5000"] {
        let request =
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
        let response = transport.raw(daemon.http_address, request.as_bytes());
        assert_eq!(response.status, 413, "Content-Length {length}: {}", response.body);
        assert!(response.json()["error"]
            .as_str()
            .is_some_and(|text| text.contains("no request body")));
    }
    let chunked =
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    assert_eq!(transport.raw(daemon.http_address, chunked.as_bytes()).status, 413);
    let post = "POST /api/v2/masters HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(transport.raw(daemon.http_address, post.as_bytes()).status, 405);
    for _ in 0..8 {
        assert!(transport.healthy(&daemon), "/healthz answers after every bomb");
    }
    assert!(daemon.is_running());
    assert!(refused(transport, &daemon, "http", "request_body") >= 5.0);
    assert!(daemon.stop().success(), "SIGTERM still stops the daemon cleanly");
}

fn stalled_heads_are_cut_at_the_deadline_and_never_hold_health_or_shutdown(transport: &Transport) {
    let mut daemon = transport.daemon(&format!("[limits]\nhttp_head_timeout_s = 2\n{ROSTER}"));
    let mut stalled: Vec<Connection> = (0..8)
        .map(|_| {
            let mut stream = transport.connect_from(ATTACKER, daemon.http_address);
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").expect("half a head");
            stream
        })
        .collect();
    assert!(transport.healthy(&daemon), "/healthz answers while eight heads stall");
    for stream in &mut stalled {
        stream.socket().set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let answer = stream.read_until_closed();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408 "), "a stalled head gets 408, not {answer:?}");
    }
    assert!(refused(transport, &daemon, "http", "handshake_timeout") >= 8.0);
    let _half_open = transport.connect_from(ATTACKER, daemon.http_address);
    // Over TLS, one more stalled in the TLS handshake itself (in the clear, one more that
    // never sends a head).
    let _silent = tcp_from(ATTACKER, daemon.http_address, |_| ()).expect("connect");
    let started = Instant::now();
    assert!(daemon.stop().success());
    assert!(started.elapsed() < Duration::from_secs(15), "a stalled client does not hold SIGTERM");
}

fn three_hundred_slow_connections_leave_health_answering_with_threads_bounded(
    transport: &Transport,
) {
    // A head deadline far beyond the test, so that all 300 are open at once however slowly
    // a loaded machine makes 300 TLS handshakes.
    let daemon = transport.daemon(&format!(
        "[limits]\nhttp_max_connections_per_address = 400\nhttp_max_connections = 400\nhttp_head_timeout_s = 300\n{ROSTER}"
    ));
    let before = threads(&daemon);
    let slow: Vec<Connection> = (0..300)
        .map(|_| {
            let mut stream = transport.connect_from(ATTACKER, daemon.http_address);
            let _ = stream.write_all(b"GET / HTTP/1.1\r\n");
            stream
        })
        .collect();
    eventually(Duration::from_secs(30), "every slow connection to be accepted", || {
        transport.metric(&daemon, "rollcall_connections_open{port=\"http\"}") >= 300.0
    });
    assert!(transport.healthy(&daemon), "/healthz answers beside 300 slow connections");
    let during = threads(&daemon);
    assert!(during < MAX_THREADS, "threads went from {before} to {during} for 300 slow clients");
    drop(slow);
}

fn heads_larger_than_16_kib_get_431_without_being_held(transport: &Transport) {
    let daemon = transport.daemon(ROSTER);
    let mut stream = transport.connect_from(ATTACKER, daemon.http_address);
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ");
    // 48 KiB of one header: the front stops reading after 16 KiB.
    let _ = stream.write_all(&vec![b'a'; 48 * 1024]);
    // The rest of the padding may be refused by a daemon that has answered and closed.
    let answer = stream.read_until_closed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    assert!(transport.healthy(&daemon));
}

fn clients_that_never_read_a_large_listing_are_dropped_and_others_are_served(
    transport: &Transport,
) {
    let workers: String = (0..9_990)
        .map(|index| {
            format!("[[workers]]\nname = \"listing-worker-{index:05}\"\npassword = \"p\"\n")
        })
        .collect();
    let daemon =
        transport.daemon(&format!("[limits]\nhttp_write_timeout_s = 2\n{ROSTER}{workers}"));
    let listing = "GET /api/v2/workers HTTP/1.1\r\nHost: x\r\n\r\n";
    let size = transport.request(daemon.http_address, "GET", "/api/v2/workers", None).body.len();
    assert!(size > 2_000_000, "the listing is large enough to fill socket buffers: {size}");
    let stalled: Vec<Connection> = (0..8)
        .map(|_| {
            let small_buffer = |socket: &socket2::Socket| {
                let _ = socket.set_recv_buffer_size(4096);
            };
            let mut stream = transport
                .try_connect_from(ATTACKER, daemon.http_address, small_buffer)
                .expect("connect");
            stream.write_all(listing.as_bytes()).expect("ask");
            stream
        })
        .collect();
    for _ in 0..4 {
        assert!(transport.healthy(&daemon), "/healthz answers while eight clients refuse to read");
    }
    let open = || transport.metric(&daemon, "rollcall_connections_open{port=\"http\"}");
    eventually_showing(
        Duration::from_secs(60),
        "the non-reading clients to be dropped",
        || open() <= 1.0,
        || format!(": {} open", open()),
    );
    drop(stalled);
}

fn slow_readers_together_hold_no_more_than_the_response_budget(transport: &Transport) {
    // Over 5 MB, more than the kernel's socket buffers take (a send buffer grows to 4 MiB
    // here), so the daemon itself must hold the rest while the client does not read.
    let padding = "x".repeat(1000);
    let workers: String = (0..5_000)
        .map(|index| {
            format!("[[workers]]\nname = \"held-{index:05}-{padding}\"\npassword = \"p\"\n")
        })
        .collect();
    // A budget smaller than one listing: the one held alone is still served; while it is
    // held, every other response is refused rather than buffered beside it.
    let daemon = transport.daemon(&format!(
        "[limits]\nhttp_max_buffered_bytes = 100000\nhttp_write_timeout_s = 60\n{ROSTER}{workers}"
    ));
    let listing = "GET /api/v2/workers HTTP/1.1\r\nHost: x\r\n\r\n";
    let small_buffer = |socket: &socket2::Socket| {
        let _ = socket.set_recv_buffer_size(4096);
    };
    let mut stalled =
        transport.try_connect_from(ATTACKER, daemon.http_address, small_buffer).expect("connect");
    stalled.write_all(listing.as_bytes()).expect("ask");
    // Its answer has begun, so its bytes are held; then it reads no more.
    let mut status = [0_u8; 12];
    stalled.read_exact(&mut status).expect("the start of the answer");
    assert_eq!(&status, b"HTTP/1.1 200");
    let probe = transport.get(daemon.http_address, "/api/v2/workers");
    assert_eq!(probe.status, 503, "refused while the listing is held, not {}", probe.status);
    let refused = transport.get(daemon.http_address, "/healthz");
    assert_eq!(refused.status, 503, "even a small answer waits: {}", refused.body);
    assert!(refused.body.contains("response bytes"), "{}", refused.body);
    drop(stalled);
    eventually(Duration::from_secs(30), "the budget to be given back", || {
        transport.get(daemon.http_address, "/api/v2/workers").status == 200
    });
    let refusals = "rollcall_connections_refused_total{port=\"http\",reason=\"response_budget\"}";
    assert!(transport.metric(&daemon, refusals) >= 2.0);
}

/// Connections that connect and say nothing, from the attacker's address; over TLS, that
/// say nothing once their TLS handshake is done (those refused at accept fail it, and are
/// not kept).
fn flood(transport: &Transport, target: SocketAddr, count: usize) -> Vec<Connection> {
    (0..count).filter_map(|_| transport.try_connect_from(ATTACKER, target, |_| ()).ok()).collect()
}

fn a_handshake_flood_from_one_address_locks_no_other_address_out_of_any_port(
    transport: &Transport,
) {
    let mut daemon = transport.daemon(ROSTER);
    let (mut attached, _) = transport.attach(&daemon, "w1", "pw1");
    let floods: Vec<_> = [daemon.workers_address, daemon.buildbot_address, daemon.http_address]
        .into_iter()
        .map(|port| flood(transport, port, 400))
        .collect();
    eventually(
        Duration::from_secs(30),
        "the flood to hit the per-address cap on every port",
        || {
            ["workers", "buildbot"]
                .iter()
                .all(|port| refused(transport, &daemon, port, "address_handshakes_full") > 0.0)
                && refused(transport, &daemon, "http", "address_full") > 0.0
        },
    );
    assert_legitimate_clients_are_served(transport, &daemon, &mut attached);
    assert!(daemon.is_running());
    drop(floods);
}

/// What another address must still get while one address floods: the attached worker
/// `w1` answered, `w2` attached, a master session, `/healthz`, and the Buildbot port's
/// answer to an upgrade without credentials; with the daemon's threads bounded.
fn assert_legitimate_clients_are_served(
    transport: &Transport,
    daemon: &Daemon,
    attached: &mut Session,
) {
    send(attached, ClientMessage::Keepalive);
    assert_eq!(next(attached).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
    let (_second, builders) = transport.attach(daemon, "w2", "pw2");
    assert_eq!(builders, ["linux"], "a new worker attaches during the flood");
    let mut master = master_hello(transport, daemon, "build1:/srv".into());
    assert_eq!(
        next(&mut master).expect("welcome"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
    assert!(transport.healthy(daemon), "HTTP answers another address during the flood");
    let answer = transport.raw(daemon.buildbot_address, UPGRADE);
    assert_eq!(answer.status, 401, "the Buildbot port still answers another address");
    let count = threads(daemon);
    assert!(count < MAX_THREADS, "{count} threads during a flood");
}

fn master_hello(transport: &Transport, daemon: &Daemon, name: String) -> Session {
    let token = Token::new(common::MASTER_TOKEN);
    transport.session(daemon, Role::Master { name, token })
}

/// The reason of the Goodbye that answers a master's Hello naming `name`, sent as raw
/// bytes: the daemon refuses a Hello over its limit from the length prefix and closes
/// without reading the rest, so our write of the rest may fail (over TLS it does, the
/// daemon being ready before the Hello is sent), and the client library would give up
/// there without reading the answer.
fn raw_hello_answer(transport: &Transport, daemon: &Daemon, name: String) -> String {
    let role = Role::Master { name, token: Token::new(common::MASTER_TOKEN) };
    let hello = ClientMessage::hello(role);
    let frame = rollcall_io::codec::encode_frame(&hello).expect("a frame");
    let mut connection = transport.connect_from(ATTACKER, daemon.workers_address);
    let _ = connection.write_all(&frame);
    let answer = connection.read_until_closed();
    let prefix: [u8; 4] =
        answer.get(..4).and_then(|bytes| bytes.try_into().ok()).unwrap_or_else(|| {
            panic!("no answer frame to a Hello of {} bytes: {answer:?}", frame.len())
        });
    let length = rollcall_io::codec::frame_length(prefix, 1024 * 1024).expect("a frame length");
    let body = answer.get(4..4 + length).expect("a whole answer frame");
    match rollcall_io::codec::decode(body) {
        Ok(ServerMessage::Goodbye { reason }) => reason,
        other => panic!("expected a Goodbye, got {other:?}"),
    }
}

fn goodbye(session: &mut Session) -> String {
    match next(session) {
        Ok(ServerMessage::Goodbye { reason }) | Err(ClientError::Goodbye(reason)) => reason,
        other => panic!("expected a Goodbye, got {other:?}"),
    }
}

fn master_sessions_are_bounded_in_name_count_and_idleness(transport: &Transport) {
    let daemon = transport
        .daemon(&format!("[limits]\nmax_master_sessions = 2\nmaster_idle_timeout_s = 2\n{ROSTER}"));
    let huge = raw_hello_answer(transport, &daemon, "m".repeat(1024 * 1024));
    assert!(huge.contains("limit"), "a 1 MiB name is refused: {huge}");
    let mut long = master_hello(transport, &daemon, "m".repeat(1025));
    assert!(goodbye(&mut long).contains("the limit is 1024"));
    let mut first = master_hello(transport, &daemon, "build1:/srv".into());
    assert_eq!(
        next(&mut first).expect("welcome"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
    let mut second = master_hello(transport, &daemon, "build2:/srv".into());
    assert_eq!(
        next(&mut second).expect("welcome"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
    let mut third = master_hello(transport, &daemon, "build3:/srv".into());
    assert!(goodbye(&mut third).contains("limit of 2 master sessions"));
    let reason = goodbye(&mut first);
    assert!(reason.contains("idle master session"), "{reason}");
    assert!(is_closed(&mut second));
    let mut after = master_hello(transport, &daemon, "build4:/srv".into());
    assert_eq!(
        next(&mut after).expect("a slot is free again"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
}

fn names_from_peers_cannot_forge_log_lines(transport: &Transport) {
    let daemon = transport.daemon(ROSTER);
    let forged =
        "evil\n2026-12-01T00:00:00.000000Z  INFO rollcall: worker attached worker=w1\x1b[2J";
    let role = Role::Worker { name: forged.into(), password: Password::new("x") };
    let mut session = transport.session(&daemon, role);
    let _ = next(&mut session);
    daemon.wait_for_log("worker rejected");
    let log = daemon.log();
    assert!(log.contains("evil\\u{a}2026"), "the newline is shown escaped:\n{log}");
    assert!(!log.lines().any(|line| line.starts_with("2026-12-01T00:00:00.000000Z")));
    assert!(!log.contains('\x1b'), "no terminal escape reaches the log");
}

/// Over TLS the trace records a session that arrived inside TLS, with its password: the
/// files must be as private as in the clear.
fn a_recorded_trace_and_the_data_dir_are_private(transport: &Transport) {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().expect("temp dir");
    let trace = directory.path().join("trace.jsonl");
    std::fs::write(&trace, "old").expect("an existing file");
    std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let trace_arg = trace.display().to_string();
    let daemon = transport.daemon_with(ROSTER, &["--record", &trace_arg]);
    let _ = transport.attach(&daemon, "w1", "pw1");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    };
    assert_eq!(mode(&trace), 0o600, "the trace holds passwords");
    assert_eq!(mode(&daemon.data_dir()), 0o700, "the data dir is created private");
    let text = std::fs::read_to_string(&trace).expect("read the trace");
    assert!(!text.starts_with("old"), "the old file was replaced, not appended to");
}

/// The first flight of a TLS client to `target`: its ClientHello record.
fn client_hello(transport: &Transport, target: SocketAddr) -> Vec<u8> {
    let Transport::Tls(tls) = transport else { panic!("a TLS transport") };
    let name = rustls::pki_types::ServerName::IpAddress(target.ip().into());
    let mut client =
        rustls::ClientConnection::new(Arc::clone(&tls.raw), name).expect("a TLS client");
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("a ClientHello");
    hello
}

/// TLS only: in the clear there is no TLS handshake to stall in (the silent flood above is
/// the nearest attack). One address holds connections at each point of a TLS handshake on
/// every port: silent before its ClientHello, half a ClientHello, a whole ClientHello and
/// never the client's Finished (the daemon has done its share of the crypto and waits), and
/// plaintext that never reads the daemon's answer (to use TLS). The per-address handshake
/// caps keep every other address served meanwhile; each is cut (`handshake_timeout`) or
/// answered (`plaintext_on_tls`) and dropped within the port's deadline; and then the
/// attacker's own address is served again, so no slot was kept.
#[test]
fn stalled_tls_handshakes_from_one_address_lock_no_other_address_out_and_are_all_cut() {
    let transport = Transport::tls();
    let mut daemon = transport
        .daemon(&format!("[limits]\nhandshake_timeout_s = 3\nhttp_head_timeout_s = 3\n{ROSTER}"));
    let (mut attached, _) = transport.attach(&daemon, "w1", "pw1");
    let stalled = stall_tls_handshakes(&transport, &daemon, 200);
    eventually(
        Duration::from_secs(30),
        "the stalled handshakes to hit the per-address cap on every port",
        || {
            ["workers", "buildbot"]
                .iter()
                .all(|port| refused(&transport, &daemon, port, "address_handshakes_full") > 0.0)
                && refused(&transport, &daemon, "http", "address_full") > 0.0
        },
    );
    assert_legitimate_clients_are_served(&transport, &daemon, &mut attached);

    // At least a full cap was admitted on each port (128 per worker port, 64 on HTTP by
    // default), and each of them ends refused for one of two reasons.
    let cut_and_released = || {
        [("workers", 128.0), ("buildbot", 128.0), ("http", 64.0)].iter().all(|(port, cap)| {
            refused(&transport, &daemon, port, "handshake_timeout")
                + refused(&transport, &daemon, port, "plaintext_on_tls")
                >= *cap
                && transport.metric(
                    &daemon,
                    &format!("rollcall_connections_handshaking{{port=\"{port}\"}}"),
                ) == 0.0
        })
    };
    eventually_showing(
        Duration::from_secs(60),
        "every stalled handshake to be cut and its slot released",
        cut_and_released,
        || format!(":\n{}", transport.get(daemon.http_address, "/metrics").body),
    );
    let token = Token::new(common::MASTER_TOKEN);
    let role = Role::Master { name: "build2:/srv".into(), token };
    let mut again = transport.session_from(ATTACKER, &daemon, role);
    assert_eq!(
        next(&mut again).expect("the attacker's address is served again"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
    assert_eq!(
        transport
            .raw_from(ATTACKER, daemon.http_address, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .status,
        200
    );
    assert_eq!(transport.raw_from(ATTACKER, daemon.buildbot_address, UPGRADE).status, 401);
    drop(stalled);

    // Handshakes stalled at every point hold no SIGTERM.
    let _stalled = stall_tls_handshakes(&transport, &daemon, 4);
    let started = Instant::now();
    assert!(daemon.stop().success());
    assert!(started.elapsed() < Duration::from_secs(15), "a stalled handshake holds no SIGTERM");
}

/// `count` connections from the attacker to each port, stalled in turn at each point of a
/// TLS handshake (see the test above).
fn stall_tls_handshakes(transport: &Transport, daemon: &Daemon, count: usize) -> Vec<TcpStream> {
    let mut stalled = Vec::new();
    let plaintext: [&[u8]; 3] = [&[0, 0, 0, 40], b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n"];
    let ports = [daemon.workers_address, daemon.buildbot_address, daemon.http_address];
    for (port, plaintext) in ports.into_iter().zip(plaintext) {
        let hello = client_hello(transport, port);
        for attempt in 0..count {
            // Those refused at accept are closed unanswered: a failed write is theirs.
            let Ok(mut socket) = tcp_from(ATTACKER, port, |_| ()) else { continue };
            let _ = match attempt % 4 {
                0 => Ok(()),
                1 => socket.write_all(&hello[..hello.len() / 2]),
                2 => socket.write_all(&hello),
                _ => socket.write_all(plaintext),
            };
            stalled.push(socket);
        }
    }
    stalled
}
