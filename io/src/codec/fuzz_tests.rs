use proptest::prelude::*;
use rollcall_core::{
    BuildRequestId, Command, ConnectionId, MasterId, Password, Results, ServiceKind,
};

use crate::codec::{encode_as, encode_frame_as, frame_length, Encoding, FrameError};
use crate::fuzzing::{self, mutated, proptest_config};
use crate::wire::{ClientMessage, Role};

fn names() -> impl Strategy<Value = String> {
    ".{0,16}"
}

/// Commands covering every shape of field a master sends: strings, ids, lists,
/// flags, enums and results.
fn commands() -> impl Strategy<Value = Command> {
    let master = any::<u64>().prop_map(MasterId);
    let requests = prop::collection::vec(any::<u64>().prop_map(BuildRequestId), 0..4);
    prop_oneof![
        names().prop_map(|name| Command::MasterActive { name }),
        master.clone().prop_map(|master| Command::MasterStopped { master }),
        any::<bool>().prop_map(|force_housekeeping| Command::ExpireMasters { force_housekeeping }),
        (master.clone(), prop::collection::vec(names(), 0..4))
            .prop_map(|(master, builder_names)| Command::SetBuilderList { master, builder_names }),
        (master.clone(), any::<bool>(), names()).prop_map(|(master, scheduler, name)| {
            let kind = if scheduler { ServiceKind::Scheduler } else { ServiceKind::ChangeSource };
            Command::ClaimService { master, kind, name }
        }),
        (master.clone(), requests, any::<u8>()).prop_map(|(master, requests, results)| {
            Command::CompleteBuildRequests { master, requests, results: Results(results) }
        }),
        (master, names(), any::<u64>()).prop_map(|(master, worker_name, connection)| {
            Command::WorkerConnected { master, worker_name, connection: ConnectionId(connection) }
        }),
    ]
}

fn client_messages() -> impl Strategy<Value = ClientMessage> {
    let role = prop_oneof![
        (names(), names())
            .prop_map(|(name, password)| Role::Worker { name, password: Password::new(password) }),
        (names(), names()).prop_map(|(name, token)| Role::Master {
            name,
            token: crate::credentials::Token::new(token)
        }),
    ];
    prop_oneof![
        (any::<u32>(), role, any::<Option<u32>>()).prop_map(
            |(protocol_version, role, min_protocol_version)| ClientMessage::Hello {
                protocol_version,
                role,
                min_protocol_version,
            }
        ),
        Just(ClientMessage::Keepalive),
        any::<u64>().prop_map(|nonce| ClientMessage::Pong { nonce }),
        Just(ClientMessage::BuilderListAck),
        (any::<u64>(), commands())
            .prop_map(|(request_id, command)| { ClientMessage::Request { request_id, command } }),
    ]
}

fn encodings() -> impl Strategy<Value = Encoding> {
    prop::sample::select(Encoding::ALL.to_vec())
}

/// A client message in either encoding.
fn encoded_messages() -> impl Strategy<Value = Vec<u8>> {
    (encodings(), client_messages()).prop_map(|(encoding, message)| {
        match encode_as(encoding, &message) {
            Ok(bytes) => bytes,
            Err(error) => unreachable!("client messages always encode: {error}"),
        }
    })
}

/// A stream of whole frames behind a two-byte frame limit, as [`fuzzing::frames`]
/// reads it.
fn streams() -> impl Strategy<Value = Vec<u8>> {
    (any::<u16>(), encodings(), prop::collection::vec(client_messages(), 0..4)).prop_map(
        |(limit, encoding, messages)| {
            let mut bytes = limit.to_be_bytes().to_vec();
            for message in &messages {
                match encode_frame_as(encoding, message) {
                    Ok(frame) => bytes.extend_from_slice(&frame),
                    Err(error) => unreachable!("client messages always encode: {error}"),
                }
            }
            bytes
        },
    )
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn random_bytes_decode_to_a_client_message_or_a_codec_error(
        payload in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        fuzzing::client_message(&payload);
        fuzzing::hello(&payload);
        // Behind each format byte, so each payload decoder sees them too.
        for encoding in Encoding::ALL {
            let mut versioned = vec![encoding.byte()];
            versioned.extend_from_slice(&payload);
            fuzzing::client_message(&versioned);
            fuzzing::hello(&versioned);
        }
        fuzzing::messagepack_client_message(&payload);
    }

    #[test]
    fn every_client_message_round_trips_in_both_encodings(bytes in encoded_messages()) {
        prop_assert!(fuzzing::client_message(&bytes));
        fuzzing::hello(&bytes);
    }

    #[test]
    fn mutated_client_messages_decode_or_give_a_codec_error(
        bytes in encoded_messages().prop_flat_map(mutated),
    ) {
        fuzzing::client_message(&bytes);
        fuzzing::hello(&bytes);
    }

    #[test]
    fn a_frame_length_is_the_prefix_when_within_the_limit_and_refused_beyond(
        prefix in any::<[u8; 4]>(),
        limit in any::<u32>(),
    ) {
        let length = u32::from_be_bytes(prefix);
        match frame_length(prefix, limit) {
            Ok(read) => prop_assert!(length <= limit && read == length as usize),
            Err(FrameError::TooLarge { length: refused, limit: refused_limit }) => {
                prop_assert!(length > limit && refused == length && refused_limit == limit);
            }
            Err(error) => prop_assert!(false, "unexpected {}", error),
        }
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&limit.to_be_bytes());
        fuzzing::frame_length(&bytes);
    }

    #[test]
    fn random_streams_read_as_frames_within_the_limit_or_stop_with_a_frame_error(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        fuzzing::frames(&bytes);
    }

    #[test]
    fn mutated_frame_streams_read_as_frames_within_the_limit_or_stop_with_a_frame_error(
        bytes in streams().prop_flat_map(mutated),
    ) {
        fuzzing::frames(&bytes);
    }
}
