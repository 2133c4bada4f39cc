//! The one module that knows how values become bytes, on the wire and on disk.
//!
//! Every encoded value starts with a format version byte, then a bincode 2 (serde) payload.
//! bincode is unmaintained (RUSTSEC-2025-0141) but its 2.0.1 format is fixed; keeping it
//! behind this module and the version byte means the format can be replaced in one place,
//! with old data still recognisable.
//!
//! Frames on the wire are a 4-byte big-endian length followed by one encoded value.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The current encoding: bincode 2.0.1, standard configuration.
pub const FORMAT_VERSION: u8 = 1;

/// The largest value the decoder will allocate for, whatever a length prefix inside the
/// payload claims: a hostile peer cannot make it reserve more than a frame can carry.
const DECODE_LIMIT_BYTES: usize = 64 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT_BYTES>()
}

/// Why bytes could not be turned into a value (or back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    Empty,
    UnknownVersion(u8),
    Malformed(String),
    TrailingBytes(usize),
    Encode(String),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Empty => formatter.write_str("empty payload"),
            CodecError::UnknownVersion(version) => {
                write!(
                    formatter,
                    "unknown format version {version} (this build reads {FORMAT_VERSION})"
                )
            }
            CodecError::Malformed(why) => write!(formatter, "undecodable payload: {why}"),
            CodecError::TrailingBytes(count) => {
                write!(formatter, "{count} unexpected bytes after the value")
            }
            CodecError::Encode(why) => write!(formatter, "cannot encode: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Encodes a value: version byte, then payload.
///
/// # Errors
///
/// Only for values serde cannot express in bincode (none of rollcall's types).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = vec![FORMAT_VERSION];
    let payload = bincode::serde::encode_to_vec(value, config())
        .map_err(|error| CodecError::Encode(error.to_string()))?;
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Decodes a value written by [`encode`], refusing other versions and trailing bytes.
///
/// # Errors
///
/// A [`CodecError`] saying what is wrong with the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, payload) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    let (value, read) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    if read != payload.len() {
        return Err(CodecError::TrailingBytes(payload.len() - read));
    }
    Ok(value)
}

/// Encodes a value as one wire frame: length prefix, then the encoded value.
///
/// # Errors
///
/// As [`encode`], or when the value is larger than a frame length can say.
pub fn encode_frame<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let body = encode(value)?;
    let length = u32::try_from(body.len())
        .map_err(|_| CodecError::Encode(format!("{} bytes do not fit a frame", body.len())))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Why a frame could not be read from a stream.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the stream between frames: an orderly end.
    Closed,
    TooLarge {
        length: u32,
        limit: u32,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Closed => formatter.write_str("connection closed"),
            FrameError::TooLarge { length, limit } => {
                write!(formatter, "frame of {length} bytes exceeds the limit of {limit}")
            }
            FrameError::Io(error) => write!(formatter, "read failed: {error}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The body length a frame's 4-byte big-endian prefix announces, refused when over `limit`
/// bytes: the check comes before any allocation, so a peer cannot make the reader reserve
/// more than `limit`.
///
/// # Errors
///
/// [`FrameError::TooLarge`] when the prefix says more than `limit`.
pub fn frame_length(prefix: [u8; 4], limit: u32) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(prefix);
    if length > limit {
        return Err(FrameError::TooLarge { length, limit });
    }
    Ok(length as usize)
}

/// Reads one frame's body (without its length prefix), refusing frames over `limit` bytes
/// before reading them.
///
/// # Errors
///
/// [`FrameError::Closed`] at a clean end of stream, otherwise what went wrong.
pub async fn read_frame<R>(reader: &mut R, limit: u32) -> Result<Vec<u8>, FrameError>
where
    R: futures_lite::AsyncRead + Unpin,
{
    use futures_lite::AsyncReadExt;

    let mut prefix = [0_u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        match reader.read(&mut prefix[filled..]).await.map_err(FrameError::Io)? {
            0 if filled == 0 => return Err(FrameError::Closed),
            0 => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            read => filled += read,
        }
    }
    let mut body = vec![0_u8; frame_length(prefix, limit)?];
    reader.read_exact(&mut body).await.map_err(FrameError::Io)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_behind_the_version_byte() {
        let value = (7_u64, String::from("w1"), vec![Some(true), None]);
        let bytes = encode(&value).expect("encodes");
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<(u64, String, Vec<Option<bool>>)>(&bytes), Ok(value));
    }

    /// The cluster's log stores every kind of Registry input through this codec: each
    /// comes back as it went in.
    #[test]
    fn every_logged_registry_input_round_trips() {
        use rollcall_core::{Command, LoggedInput, MasterId, RegistryConfig, Timestamp};
        let at = Timestamp::from_millis(1_700_000_000_123);
        let submit = Command::SubmitBuildRequest { master: MasterId(3), builder_name: "b".into() };
        let inputs = [
            LoggedInput::Command { at, command: Command::MasterActive { name: "m".into() } },
            LoggedInput::Timeout { at },
            LoggedInput::Config(RegistryConfig { expiry_window_ms: 600_000 }),
            LoggedInput::TakeOver { at, grace_ms: 23_000 },
            LoggedInput::Request {
                at,
                master: "remote".into(),
                request_id: u64::MAX,
                command: submit,
            },
        ];
        for input in inputs {
            let bytes = encode(&input).expect("encodes");
            assert_eq!(decode::<LoggedInput>(&bytes), Ok(input));
        }
    }

    /// A registry's snapshot (what a cluster stores to spare a replay of its whole log)
    /// comes back equal, and restores.
    #[test]
    fn a_registry_snapshot_round_trips() {
        use rollcall_core::registry::{RegistryInput, RequestKey};
        use rollcall_core::{Command, Registry, RegistryConfig, ReplyToken, Timestamp};
        let mut registry = Registry::new(RegistryConfig::default());
        let at = Timestamp::from_millis(1_700_000_000_000);
        let active = Command::MasterActive { name: "remote".into() };
        registry.handle(at, RegistryInput { token: ReplyToken(1), command: active });
        let submit = Command::SubmitBuildRequest {
            master: rollcall_core::MasterId(1),
            builder_name: "linux".into(),
        };
        let key = RequestKey { master: "remote".into(), request_id: 7 };
        registry.handle_request(at, RegistryInput { token: ReplyToken(2), command: submit }, key);
        registry.take_over(at, 5_000);
        let snapshot = registry.snapshot();
        let bytes = encode(&snapshot).expect("encodes");
        let decoded = decode::<rollcall_core::RegistrySnapshot>(&bytes).expect("decodes");
        assert_eq!(decoded, snapshot);
        let restored = Registry::from_snapshot(decoded).expect("restores");
        assert_eq!(restored.snapshot(), snapshot);
    }

    #[test]
    fn other_versions_garbage_and_trailing_bytes_are_refused() {
        let mut bytes = encode(&42_u32).expect("encodes");
        bytes[0] = 9;
        assert_eq!(decode::<u32>(&bytes), Err(CodecError::UnknownVersion(9)));
        assert_eq!(decode::<u32>(&[]), Err(CodecError::Empty));
        assert!(matches!(
            decode::<String>(&[FORMAT_VERSION, 0xff, 0xff]),
            Err(CodecError::Malformed(_))
        ));
        let mut long = encode(&1_u8).expect("encodes");
        long.push(0);
        assert_eq!(decode::<u8>(&long), Err(CodecError::TrailingBytes(1)));
    }

    #[test]
    fn a_length_prefix_inside_the_payload_cannot_force_a_huge_allocation() {
        // A Vec<u8> claiming 2^62 elements, in a 12-byte payload.
        let mut bytes = vec![FORMAT_VERSION, 0xfd];
        bytes.extend_from_slice(&(1_u64 << 62).to_le_bytes());
        assert!(matches!(decode::<Vec<u8>>(&bytes), Err(CodecError::Malformed(_))));
    }

    #[test]
    fn frames_are_read_back_and_oversized_ones_refused_before_reading() {
        let frame = encode_frame(&"hello").expect("encodes");
        let mut reader = futures_lite::io::Cursor::new(frame.clone());
        let body = smol::block_on(read_frame(&mut reader, 1024)).expect("reads");
        assert_eq!(decode::<String>(&body), Ok("hello".to_string()));
        let mut reader = futures_lite::io::Cursor::new(frame);
        assert!(matches!(
            smol::block_on(read_frame(&mut reader, 3)),
            Err(FrameError::TooLarge { limit: 3, .. })
        ));
        let mut empty = futures_lite::io::Cursor::new(Vec::new());
        assert!(matches!(smol::block_on(read_frame(&mut empty, 3)), Err(FrameError::Closed)));
    }

    mod fuzz {
        use proptest::prelude::*;
        use rollcall_core::{
            BuildRequestId, Command, ConnectionId, MasterId, Password, Results, ServiceKind,
        };

        use crate::codec::{encode, encode_frame, frame_length, FrameError};
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
                any::<bool>()
                    .prop_map(|force_housekeeping| Command::ExpireMasters { force_housekeeping }),
                (master.clone(), prop::collection::vec(names(), 0..4)).prop_map(
                    |(master, builder_names)| Command::SetBuilderList { master, builder_names }
                ),
                (master.clone(), any::<bool>(), names()).prop_map(|(master, scheduler, name)| {
                    let kind =
                        if scheduler { ServiceKind::Scheduler } else { ServiceKind::ChangeSource };
                    Command::ClaimService { master, kind, name }
                }),
                (master.clone(), requests, any::<u8>()).prop_map(|(master, requests, results)| {
                    Command::CompleteBuildRequests { master, requests, results: Results(results) }
                }),
                (master, names(), any::<u64>()).prop_map(|(master, worker_name, connection)| {
                    Command::WorkerConnected {
                        master,
                        worker_name,
                        connection: ConnectionId(connection),
                    }
                }),
            ]
        }

        fn client_messages() -> impl Strategy<Value = ClientMessage> {
            let role = prop_oneof![
                (names(), names()).prop_map(|(name, password)| Role::Worker {
                    name,
                    password: Password::new(password)
                }),
                (names(), names()).prop_map(|(name, token)| Role::Master {
                    name,
                    token: crate::credentials::Token::new(token)
                }),
            ];
            prop_oneof![
                (any::<u32>(), role).prop_map(|(protocol_version, role)| ClientMessage::Hello {
                    protocol_version,
                    role
                }),
                Just(ClientMessage::Keepalive),
                any::<u64>().prop_map(|nonce| ClientMessage::Pong { nonce }),
                Just(ClientMessage::BuilderListAck),
                (any::<u64>(), commands()).prop_map(|(request_id, command)| {
                    ClientMessage::Request { request_id, command }
                }),
            ]
        }

        fn encoded(message: &ClientMessage) -> Vec<u8> {
            match encode(message) {
                Ok(bytes) => bytes,
                Err(error) => unreachable!("client messages always encode: {error}"),
            }
        }

        /// A stream of whole frames behind a two-byte frame limit, as [`fuzzing::frames`]
        /// reads it.
        fn streams() -> impl Strategy<Value = Vec<u8>> {
            (any::<u16>(), prop::collection::vec(client_messages(), 0..4)).prop_map(
                |(limit, messages)| {
                    let mut bytes = limit.to_be_bytes().to_vec();
                    for message in &messages {
                        match encode_frame(message) {
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
                // Behind the right version byte, so the payload decoder sees them too.
                let mut versioned = vec![crate::codec::FORMAT_VERSION];
                versioned.extend_from_slice(&payload);
                fuzzing::client_message(&versioned);
            }

            #[test]
            fn every_client_message_round_trips(message in client_messages()) {
                prop_assert!(fuzzing::client_message(&encoded(&message)));
            }

            #[test]
            fn mutated_client_messages_decode_or_give_a_codec_error(
                bytes in client_messages().prop_flat_map(|message| mutated(encoded(&message))),
            ) {
                fuzzing::client_message(&bytes);
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
    }
}
