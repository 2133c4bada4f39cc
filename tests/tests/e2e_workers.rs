//! Workers against the real daemon: attach, rejection, duplicates, keepalive, reconfig by
//! SIGHUP, and bad frames. Each test starts its own daemon.

mod common;

use std::time::Duration;

use common::{attach, is_closed, next, send, worker_hello, Daemon};
use rollcall_core::{RejectReason, ToWorker};
use rollcall_io::client::ClientError;
use rollcall_io::wire::{ClientMessage, ServerMessage};

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "s3cret"
[[workers]]
name = "w2"
password = "other"
[[builders]]
name = "linux"
workernames = ["w1", "w2"]
[[builders]]
name = "mac"
workernames = ["w1"]
"#;

fn rejected(session: &mut rollcall_io::client::Session) -> RejectReason {
    match next(session) {
        Ok(ServerMessage::Worker(ToWorker::Rejected { reason })) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_configured_worker_attaches_and_receives_its_builder_list() {
    let daemon = Daemon::start(ROSTER);
    let (_w1, builders) = attach(&daemon.address(), "w1", "s3cret");
    assert_eq!(builders, vec!["linux".to_string(), "mac".to_string()]);
    let (_w2, builders) = attach(&daemon.address(), "w2", "other");
    assert_eq!(builders, vec!["linux".to_string()]);
    daemon.wait_for_log("worker attached");
}

#[test]
fn unknown_names_and_wrong_passwords_get_the_same_refusal() {
    let daemon = Daemon::start(ROSTER);
    let mut unknown = worker_hello(&daemon.address(), "intruder", "s3cret");
    let mut wrong = worker_hello(&daemon.address(), "w1", "guess");
    assert_eq!(rejected(&mut unknown), RejectReason::AuthenticationFailed);
    assert_eq!(rejected(&mut wrong), RejectReason::AuthenticationFailed);
    assert!(is_closed(&mut unknown));
    assert!(is_closed(&mut wrong));
    assert!(!daemon.log().contains("guess"), "passwords never reach the log");
    // The real worker is unaffected.
    attach(&daemon.address(), "w1", "s3cret");
}

#[test]
fn drop_older_gives_the_worker_to_its_newest_connection() {
    let daemon = Daemon::start(ROSTER);
    let (mut old, _) = attach(&daemon.address(), "w1", "s3cret");
    let (mut new, _) = attach(&daemon.address(), "w1", "s3cret");
    assert!(is_closed(&mut old), "the older connection is dropped");
    send(&mut new, ClientMessage::Keepalive);
    assert_eq!(next(&mut new).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
}

#[test]
fn ping_old_keeps_an_old_connection_that_answers_and_replaces_a_silent_one() {
    let daemon = Daemon::start(&format!(
        "[gateway]\nduplicate_policy = \"ping-old\"\n[timing]\nping_timeout_s = 1\n{ROSTER}"
    ));
    let (mut old, _) = attach(&daemon.address(), "w1", "s3cret");
    let mut contender = worker_hello(&daemon.address(), "w1", "s3cret");
    let ServerMessage::Worker(ToWorker::Ping { nonce }) = next(&mut old).expect("ping") else {
        panic!("the old connection is pinged")
    };
    send(&mut old, ClientMessage::Pong { nonce });
    assert_eq!(rejected(&mut contender), RejectReason::DuplicateConnection);

    // Now the old connection stays silent: after ping_timeout the newcomer wins.
    let mut newcomer = worker_hello(&daemon.address(), "w1", "s3cret");
    assert!(matches!(next(&mut old), Ok(ServerMessage::Worker(ToWorker::Ping { .. }))));
    assert_eq!(next(&mut newcomer).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    assert!(is_closed(&mut old));
}

#[test]
fn a_silent_connection_is_closed_after_the_keepalive_timeout() {
    let daemon = Daemon::start(&format!("[timing]\nkeepalive_timeout_s = 2\n{ROSTER}"));
    let (mut silent, _) = attach(&daemon.address(), "w1", "s3cret");
    let (mut chatty, _) = attach(&daemon.address(), "w2", "other");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(5_000) {
        send(&mut chatty, ClientMessage::Keepalive);
        assert_eq!(next(&mut chatty).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        matches!(next(&mut silent), Err(ClientError::Goodbye(reason)) if reason.contains("Keepalive"))
    );
    send(&mut chatty, ClientMessage::Keepalive);
    assert_eq!(next(&mut chatty).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
}

#[test]
fn sighup_removing_a_worker_disconnects_it_and_rejects_its_return() {
    let daemon = Daemon::start(ROSTER);
    let (mut w1, _) = attach(&daemon.address(), "w1", "s3cret");
    let (mut w2, _) = attach(&daemon.address(), "w2", "other");
    daemon.write_config(
        r#"
[[workers]]
name = "w2"
password = "other"
[[builders]]
name = "linux"
workernames = ["w2"]
[[builders]]
name = "windows"
workernames = ["w2"]
"#,
    );
    daemon.signal("HUP");
    daemon.wait_for_log("reconfig complete");
    assert!(is_closed(&mut w1), "the removed worker is disconnected");
    let mut again = worker_hello(&daemon.address(), "w1", "s3cret");
    assert_eq!(rejected(&mut again), RejectReason::AuthenticationFailed);
    // The remaining worker gets its changed builder list pushed.
    let ServerMessage::Worker(ToWorker::BuilderList { builders }) = next(&mut w2).expect("push")
    else {
        panic!("expected a builder list push")
    };
    assert_eq!(builders.to_vec(), vec!["linux".to_string(), "windows".to_string()]);
}

#[test]
fn an_invalid_config_on_sighup_changes_nothing() {
    let daemon = Daemon::start(ROSTER);
    let (mut w1, _) = attach(&daemon.address(), "w1", "s3cret");
    daemon.write_config("[[workers]]\nname = \"w1\"\npasword = \"typo\"\n");
    daemon.signal("HUP");
    daemon.wait_for_log("reconfig failed");
    send(&mut w1, ClientMessage::Keepalive);
    assert_eq!(next(&mut w1).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
}

#[test]
fn a_garbage_frame_and_an_oversized_frame_close_only_their_own_connection() {
    let daemon = Daemon::start(&format!("[limits]\nmax_frame_bytes = 4096\n{ROSTER}"));
    let (mut bystander, _) = attach(&daemon.address(), "w2", "other");

    let (mut garbage, _) = attach(&daemon.address(), "w1", "s3cret");
    common::within(common::STEP, garbage.send_raw(&[0, 0, 0, 3, 0xde, 0xad, 0xbe])).expect("send");
    assert!(
        matches!(next(&mut garbage), Err(ClientError::Goodbye(reason)) if reason.contains("version"))
    );

    let (mut huge, _) = attach(&daemon.address(), "w1", "s3cret");
    common::within(common::STEP, huge.send_raw(&1_000_000_u32.to_be_bytes())).expect("send");
    assert!(
        matches!(next(&mut huge), Err(ClientError::Goodbye(reason)) if reason.contains("exceeds"))
    );

    // Garbage before any Hello is refused the same way.
    let mut stream = std::net::TcpStream::connect(daemon.workers_address).expect("connect");
    std::io::Write::write_all(&mut stream, b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut reply);
    assert!(!reply.is_empty(), "the daemon says why before it closes");

    send(&mut bystander, ClientMessage::Keepalive);
    assert_eq!(next(&mut bystander).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
}

#[test]
fn a_client_that_never_says_hello_is_closed_after_the_handshake_timeout() {
    let daemon = Daemon::start(&format!("[limits]\nhandshake_timeout_s = 1\n{ROSTER}"));
    let mut stream = std::net::TcpStream::connect(daemon.workers_address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut reply = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut reply);
    assert!(read.is_ok(), "closed by the daemon, not by our read timeout");
    let body = &reply[4..];
    let goodbye: ServerMessage = rollcall_io::codec::decode(body).expect("a goodbye frame");
    assert!(matches!(goodbye, ServerMessage::Goodbye { reason } if reason.contains("no Hello")));
}

/// Two `rollcall worker` processes under one name (drop-older): each is told it was
/// replaced, and waits longer each time before taking the name back (1 s, 2 s, 4 s...)
/// instead of the two taking turns twice a second; the daemon warns once that the name
/// keeps replacing itself, naming both connections' addresses.
#[test]
fn two_processes_sharing_a_worker_name_are_told_and_back_off_further_each_time() {
    let daemon = Daemon::start(ROSTER);
    let directory = tempfile::tempdir().expect("temp dir");
    let start = |index: usize| {
        let output = directory.path().join(format!("worker-{index}.err"));
        let process = std::process::Command::new(common::BINARY)
            .args(["worker", "--name", "w1", "--connect", &daemon.address()])
            .env("ROLLCALL_WORKER_PASSWORD", "s3cret")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&output).expect("output"))
            .spawn()
            .expect("start rollcall worker");
        (process, output)
    };
    let mut workers = [start(0), start(1)];
    let printed = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    let told = |text: &str, seconds: u64| {
        text.contains(&format!(
            "replaced by another connection for w1 (is another process using this name?); taking it back in {seconds} s"
        ))
    };
    common::eventually_showing(
        Duration::from_secs(60),
        "one worker to be told, and back off 1 s, 2 s, then 4 s",
        || workers.iter().any(|(_, path)| (1..=3).all(|n| told(&printed(path), 1 << (n - 1)))),
        || workers.iter().map(|(_, path)| printed(path)).collect::<Vec<_>>().join("\n--\n"),
    );
    daemon.wait_for_log("worker keeps replacing itself");
    let log = daemon.log();
    let warning = log.lines().find(|line| line.contains("worker keeps replacing itself"));
    let warning = warning.expect("the warning");
    assert!(warning.contains("kept=127.0.0.1:") && warning.contains("dropped=127.0.0.1:"));
    assert_eq!(log.matches("worker keeps replacing itself").count(), 1, "once per period");
    for (process, _) in &mut workers {
        let _ = process.kill();
        let _ = process.wait();
    }
}
