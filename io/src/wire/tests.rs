use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Value};

use super::catalogue::{self, *};
use super::*;
use crate::codec::{self, Encoding};
use crate::credentials::Token;

/// A MessagePack body (after its format byte) as a JSON-shaped value, to look at its shape.
fn messagepack_shape(bytes: &[u8]) -> Value {
    assert_eq!(bytes[0], Encoding::MessagePack.byte());
    match rmp_serde::from_slice::<Value>(&bytes[1..]) {
        Ok(value) => value,
        Err(error) => panic!("not MessagePack: {error}"),
    }
}

/// The variant a MessagePack enum names: the one key of its map, or the string itself.
fn variant(value: &Value) -> (&str, Option<&Value>) {
    match value {
        Value::String(name) => (name, None),
        Value::Object(map) if map.len() == 1 => {
            let (name, inner) = map.iter().next().expect("one entry");
            (name, Some(inner))
        }
        other => panic!("not an enum: {other}"),
    }
}

fn messagepack<T: Serialize>(value: &T) -> Vec<u8> {
    codec::encode_as(Encoding::MessagePack, value).expect("encodes")
}

#[test]
fn every_client_message_round_trips_in_both_encodings() {
    for message in client_messages() {
        for encoding in Encoding::ALL {
            let bytes = codec::encode_as(encoding, &message).expect("encodes");
            assert_eq!(bytes[0], encoding.byte());
            assert_eq!(codec::decode_any::<ClientMessage>(&bytes), Ok((encoding, message.clone())));
        }
    }
}

#[test]
fn every_server_message_round_trips_in_both_encodings() {
    for message in server_messages() {
        for encoding in Encoding::ALL {
            let bytes = codec::encode_as(encoding, &message).expect("encodes");
            assert_eq!(codec::decode_as::<ServerMessage>(encoding, &bytes), Ok(message.clone()));
        }
    }
}

/// The examples cover every variant of every enum a master or worker sees, and MessagePack
/// names each as the specification does: snake_case, a map of one key or a bare string.
#[test]
fn the_examples_cover_every_variant_under_its_snake_case_name() {
    let (mut clients, mut commands) = (BTreeSet::new(), BTreeSet::new());
    for message in client_messages() {
        let shape = messagepack_shape(&messagepack(&message));
        let (name, inner) = variant(&shape);
        assert_eq!(name, client_message_name(&message));
        clients.insert(name.to_string());
        if let ClientMessage::Request { command, .. } = &message {
            let (command_variant, _) = variant(&inner.expect("fields")["command"]);
            assert_eq!(command_variant, command_name(command));
            commands.insert(command_variant.to_string());
        }
    }
    let (mut servers, mut workers, mut replies, mut errors, mut refusals) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for message in server_messages() {
        let shape = messagepack_shape(&messagepack(&message));
        let (name, inner) = variant(&shape);
        assert_eq!(name, server_message_name(&message));
        servers.insert(name.to_string());
        match &message {
            ServerMessage::Worker(to_worker) => {
                let (worker_variant, _) = variant(inner.expect("a value"));
                assert_eq!(worker_variant, to_worker_name(to_worker));
                workers.insert(worker_variant.to_string());
            }
            ServerMessage::Reply { result, .. } => {
                let result_shape = &inner.expect("fields")["result"];
                let (tag, value) = variant(result_shape);
                let value = value.expect("a value");
                match result {
                    Ok(reply) => {
                        assert_eq!(tag, "Ok");
                        assert_eq!(variant(value).0, reply_name(reply));
                        replies.insert(reply_name(reply));
                    }
                    Err(error) => {
                        assert_eq!(tag, "Err");
                        let (error_variant, refused) = variant(value);
                        assert_eq!(error_variant, request_error_name(error));
                        errors.insert(error_variant.to_string());
                        if let RequestError::Refused(command_error) = error {
                            let (refusal, _) = variant(refused.expect("a value"));
                            assert_eq!(refusal, command_error_name(command_error));
                            refusals.insert(refusal.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(clients.len(), CLIENT_MESSAGE_VARIANTS, "{clients:?}");
    assert_eq!(commands.len(), COMMAND_VARIANTS, "{commands:?}");
    assert_eq!(servers.len(), SERVER_MESSAGE_VARIANTS, "{servers:?}");
    assert_eq!(workers.len(), TO_WORKER_VARIANTS, "{workers:?}");
    assert_eq!(replies.len(), REPLY_VARIANTS, "{replies:?}");
    assert_eq!(errors.len(), REQUEST_ERROR_VARIANTS, "{errors:?}");
    assert_eq!(refusals.len(), COMMAND_ERROR_VARIANTS, "{refusals:?}");
    assert_eq!(catalogue::commands().len(), COMMAND_VARIANTS + 1, "two claim_service kinds");
}

/// Structs are maps keyed by field name, ids plain integers, secrets plain strings.
#[test]
fn messagepack_fields_are_named_and_plain() {
    let request = ClientMessage::Request {
        request_id: 7,
        command: Command::ClaimBuildRequests {
            master: rollcall_core::MasterId(1),
            requests: vec![rollcall_core::BuildRequestId(4)],
        },
    };
    let expected = json!({"request": {"request_id": 7, "command":
        {"claim_build_requests": {"master": 1, "requests": [4]}}}});
    assert_eq!(messagepack_shape(&messagepack(&request)), expected);
    let hello = ClientMessage::hello(Role::Master { name: "m1".into(), token: Token::new("t") });
    let expected = json!({"hello": {"protocol_version": PROTOCOL_VERSION,
        "role": {"master": {"name": "m1", "token": "t"}},
        "min_protocol_version": MIN_PROTOCOL_VERSION}});
    assert_eq!(messagepack_shape(&messagepack(&hello)), expected);
}

/// A first frame written by hand, as a client in another language would.
fn messagepack_hello(fields: Value) -> Vec<u8> {
    let mut bytes = vec![Encoding::MessagePack.byte()];
    bytes.extend(rmp_serde::to_vec_named(&json!({ "hello": fields })).expect("encodes"));
    bytes
}

fn master_role() -> Value {
    json!({"master": {"name": "m1", "token": "t"}})
}

#[test]
fn a_hello_chooses_the_newest_version_both_sides_speak() {
    let role = Role::Master { name: "m1".into(), token: Token::new("t") };
    let ours = codec::encode(&ClientMessage::hello(role.clone())).expect("encodes");
    let accepted = accept_hello(&ours).expect("accepted");
    assert_eq!(
        accepted,
        AcceptedHello { encoding: Encoding::Bincode, protocol_version: PROTOCOL_VERSION, role }
    );
    let wide = messagepack_hello(
        json!({"protocol_version": 9, "min_protocol_version": 1, "role": master_role()}),
    );
    let accepted = accept_hello(&wide).expect("accepted");
    assert_eq!((accepted.encoding, accepted.protocol_version), (Encoding::MessagePack, 3));
}

/// A client in another language may leave out the optional field, and add fields a later
/// version defines: neither is an error.
#[test]
fn a_messagepack_hello_may_omit_the_minimum_and_carry_unknown_fields() {
    let bare = messagepack_hello(json!({"protocol_version": 3, "role": master_role()}));
    assert_eq!(accept_hello(&bare).expect("accepted").protocol_version, 3);
    let newer = messagepack_hello(
        json!({"protocol_version": 3, "role": master_role(), "compression": "none"}),
    );
    assert_eq!(accept_hello(&newer).expect("accepted").protocol_version, 3);
}

/// Protocol 2's Hello had no minimum: its clients are still served, at version 2.
#[test]
fn a_protocol_two_hello_is_accepted_at_version_two() {
    #[derive(Serialize)]
    enum ProtocolTwo {
        Hello { protocol_version: u32, role: Role },
    }
    let role = Role::Worker { name: "w1".into(), password: rollcall_core::Password::new("pw") };
    let hello = ProtocolTwo::Hello { protocol_version: 2, role: role.clone() };
    let accepted = accept_hello(&codec::encode(&hello).expect("encodes")).expect("accepted");
    assert_eq!(accepted, AcceptedHello { encoding: Encoding::Bincode, protocol_version: 2, role });
    let old = ProtocolTwo::Hello { protocol_version: 1, role: accepted.role };
    let refused = accept_hello(&codec::encode(&old).expect("encodes")).expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "no protocol version in common: this daemon speaks 2 to 3 in bincode; the client offers 1"
    );
}

#[test]
fn a_hello_without_a_common_version_is_refused_naming_both_ranges() {
    let newer = messagepack_hello(
        json!({"protocol_version": 5, "min_protocol_version": 4, "role": master_role()}),
    );
    assert_eq!(
        accept_hello(&newer).expect_err("refused").to_string(),
        "no protocol version in common: this daemon speaks 3 in MessagePack; the client offers \
         4 to 5"
    );
    // MessagePack came with version 3.
    let two = messagepack_hello(json!({"protocol_version": 2, "role": master_role()}));
    assert!(matches!(
        accept_hello(&two),
        Err(HelloError::NoCommonVersion { encoding: Encoding::MessagePack, .. })
    ));
}

#[test]
fn a_first_frame_that_is_no_hello_is_refused_saying_why() {
    let inverted = messagepack_hello(
        json!({"protocol_version": 3, "min_protocol_version": 4, "role": master_role()}),
    );
    assert_eq!(
        accept_hello(&inverted),
        Err(HelloError::Malformed("min_protocol_version 4 is above protocol_version 3".into()))
    );
    let keepalive =
        codec::encode_as(Encoding::MessagePack, &ClientMessage::Keepalive).expect("encodes");
    assert_eq!(
        accept_hello(&keepalive),
        Err(HelloError::Malformed("the first frame must be a Hello".into()))
    );
    assert!(
        matches!(accept_hello(&[7, 1, 2]), Err(HelloError::Malformed(why)) if why.contains("unknown format version 7"))
    );
    let no_role = messagepack_hello(json!({"protocol_version": 3}));
    assert!(
        matches!(accept_hello(&no_role), Err(HelloError::Malformed(why)) if why.contains("role"))
    );
}

/// A session's encoding is fixed by its Hello: a frame in the other one is refused.
#[test]
fn a_frame_in_another_encoding_than_the_sessions_is_refused() {
    let bincode = codec::encode(&ClientMessage::Keepalive).expect("encodes");
    assert_eq!(
        codec::decode_as::<ClientMessage>(Encoding::MessagePack, &bincode),
        Err(codec::CodecError::WrongEncoding {
            expected: Encoding::MessagePack,
            found: Encoding::Bincode
        })
    );
}
