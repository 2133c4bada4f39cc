//! Sessions in MessagePack against the real daemon: the Hello's format byte chooses the
//! session's encoding, the daemon answers in it, and a frame in the other one ends the
//! session; protocol versions are negotiated, and a refusal names both sides.

mod common;

use common::{within, Daemon, MASTER_TOKEN, STEP};
use rollcall_core::{Command, MasterId, Password, Reply, ToWorker};
use rollcall_io::client::{ClientError, Session};
use rollcall_io::codec::{self, Encoding};
use rollcall_io::credentials::Token;
use rollcall_io::wire::{ClientMessage, Role, ServerMessage, PROTOCOL_VERSION};

const ROSTER: &str = r#"
[[workers]]
name = "w1"
password = "s3cret"

[[builders]]
name = "linux"
workernames = ["w1"]
"#;

fn session(daemon: &Daemon, role: Role, encoding: Encoding) -> Session {
    within(STEP, Session::connect_encoded(&daemon.address(), role, None, encoding)).expect("hello")
}

fn master(name: &str) -> Role {
    Role::Master { name: name.into(), token: Token::new(MASTER_TOKEN) }
}

fn receive(session: &mut Session) -> Result<ServerMessage, ClientError> {
    within(STEP, session.receive())
}

fn send(session: &mut Session, message: &ClientMessage) {
    within(STEP, session.send(message)).expect("send");
}

/// The first answer frame to `hello`, sent and read as raw bytes (as a client that knows
/// only bytes sees it), decoded in `encoding`.
fn raw_answer(
    daemon: &Daemon,
    hello: &[u8],
    encoding: Encoding,
) -> Result<ServerMessage, codec::CodecError> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(daemon.workers_address).expect("connect");
    stream.set_read_timeout(Some(STEP)).expect("timeout");
    let mut frame = u32::try_from(hello.len()).expect("small").to_be_bytes().to_vec();
    frame.extend_from_slice(hello);
    stream.write_all(&frame).expect("write");
    let mut prefix = [0_u8; 4];
    stream.read_exact(&mut prefix).expect("an answer");
    let mut body = vec![0_u8; codec::frame_length(prefix, 4096).expect("a frame length")];
    stream.read_exact(&mut body).expect("the whole answer");
    codec::decode_as(encoding, &body)
}

#[test]
fn a_messagepack_master_is_welcomed_and_answered_in_messagepack() {
    let daemon = Daemon::start("");
    let mut remote = session(&daemon, master("remote:/srv"), Encoding::MessagePack);
    assert_eq!(
        receive(&mut remote).expect("welcome"),
        ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }
    );
    let active = Command::MasterActive { name: "remote:/srv".into() };
    send(&mut remote, &ClientMessage::Request { request_id: 41, command: active });
    assert_eq!(
        receive(&mut remote).expect("reply"),
        ServerMessage::Reply { request_id: 41, result: Ok(Reply::Master(MasterId(2))) }
    );
    let submit = Command::SubmitBuildRequest { master: MasterId(2), builder_name: "linux".into() };
    send(&mut remote, &ClientMessage::Request { request_id: 42, command: submit });
    assert!(matches!(
        receive(&mut remote).expect("reply"),
        ServerMessage::Reply { request_id: 42, result: Ok(Reply::BuildRequest(_)) }
    ));
}

#[test]
fn a_messagepack_worker_attaches_and_is_kept_alive_in_messagepack() {
    let daemon = Daemon::start(ROSTER);
    let role = Role::Worker { name: "w1".into(), password: Password::new("s3cret") };
    let mut worker = session(&daemon, role, Encoding::MessagePack);
    assert_eq!(receive(&mut worker).expect("welcome"), ServerMessage::Worker(ToWorker::Welcome));
    let ServerMessage::Worker(ToWorker::BuilderList { builders }) =
        receive(&mut worker).expect("builders")
    else {
        panic!("expected a builder list")
    };
    assert_eq!(builders.to_vec(), vec!["linux".to_string()]);
    send(&mut worker, &ClientMessage::Keepalive);
    assert_eq!(receive(&mut worker).expect("ack"), ServerMessage::Worker(ToWorker::KeepaliveAck));
}

/// The session's encoding is fixed by its Hello: a bincode frame in a MessagePack session
/// is a bad frame, and the Goodbye that says so is in MessagePack.
#[test]
fn a_frame_in_the_other_encoding_ends_the_session_with_a_goodbye_in_its_own() {
    let daemon = Daemon::start("");
    let mut remote = session(&daemon, master("remote:/srv"), Encoding::MessagePack);
    receive(&mut remote).expect("welcome");
    let bincode = codec::encode_frame(&ClientMessage::Request {
        request_id: 1,
        command: Command::MasterActive { name: "remote:/srv".into() },
    })
    .expect("a frame");
    within(STEP, remote.send_raw(&bincode)).expect("send");
    match receive(&mut remote) {
        Err(ClientError::Goodbye(reason)) => {
            assert_eq!(reason, "format 1 (bincode) where 2 (MessagePack) was expected");
        }
        other => panic!("expected a Goodbye, got {other:?}"),
    }
}

/// A client offering only versions this daemon does not speak is told both ranges, in its
/// own encoding.
#[test]
fn a_hello_with_no_common_version_is_refused_naming_both_ranges_in_its_encoding() {
    let daemon = Daemon::start("");
    let hello = ClientMessage::Hello {
        protocol_version: PROTOCOL_VERSION + 2,
        role: master("remote:/srv"),
        min_protocol_version: Some(PROTOCOL_VERSION + 1),
    };
    let body = codec::encode_as(Encoding::MessagePack, &hello).expect("encodes");
    let goodbye = raw_answer(&daemon, &body, Encoding::MessagePack);
    let expected = format!(
        "no protocol version in common: this daemon speaks {PROTOCOL_VERSION} in MessagePack; \
         the client offers {} to {}",
        PROTOCOL_VERSION + 1,
        PROTOCOL_VERSION + 2
    );
    assert_eq!(goodbye, Ok(ServerMessage::Goodbye { reason: expected }));
}

/// A client of protocol 2 (whose Hello had no minimum) is still served: a master is
/// welcomed as protocol 2 welcomed it.
#[test]
fn a_protocol_two_master_is_served_with_protocol_two_s_welcome() {
    let daemon = Daemon::start("");
    // Format 1, Hello (variant 0), version 2, Role::Master (variant 1), then the name and
    // the token, each behind its one-byte length: protocol 2's Hello, by hand.
    let mut hello = vec![1, 0, 2, 1];
    for text in ["remote:/srv", MASTER_TOKEN] {
        hello.push(u8::try_from(text.len()).expect("short"));
        hello.extend_from_slice(text.as_bytes());
    }
    let answer = raw_answer(&daemon, &hello, Encoding::Bincode);
    assert_eq!(answer, Ok(ServerMessage::MasterWelcome));
}
