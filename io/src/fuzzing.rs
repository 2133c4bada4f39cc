//! Every decoder of a peer's bytes, as a pure entry point: for the cargo-fuzz targets in
//! `fuzz/` (a crate outside the workspace, which reaches only public items) and for this
//! crate's property tests, so both check the same promises.
//!
//! Each function decodes its input and then asserts what the decoder promises beyond "no
//! panic" (a round trip, a bound, the statuses a refusal may carry): a broken promise is a
//! panic, which is what libFuzzer and proptest both report. Each returns whether the input
//! decoded, so a caller can tell that valid inputs still do.

use std::path::Path;

use crate::buildbot::decode as buildbot;
use crate::codec::{self, CodecError, FrameError};
use crate::http::head;
use crate::wire::{self, ClientMessage};

/// A frame as `daemon::connection` reads it: [`codec::decode_any`] of a [`ClientMessage`],
/// in either encoding, which must round-trip in the encoding it came in.
pub fn client_message(bytes: &[u8]) -> bool {
    match codec::decode_any::<ClientMessage>(bytes) {
        Ok((encoding, message)) => {
            let again = codec::encode_as(encoding, &message)
                .map(|bytes| codec::decode_as(encoding, &bytes));
            assert_eq!(again, Ok(Ok(message)), "a decoded message does not round-trip");
            true
        }
        Err(CodecError::Empty) => {
            assert!(bytes.is_empty(), "Empty for {} bytes", bytes.len());
            false
        }
        Err(CodecError::UnknownVersion(version)) => {
            assert_eq!(bytes.first(), Some(&version));
            assert!(codec::Encoding::from_byte(version).is_none(), "format {version} refused");
            false
        }
        Err(CodecError::TrailingBytes(count)) => {
            assert!(count > 0 && count + 1 < bytes.len(), "{count} trailing of {}", bytes.len());
            false
        }
        Err(CodecError::Malformed(_)) => false,
        Err(CodecError::WrongEncoding { expected, found }) => {
            panic!("decode_any expected {expected}, found {found}")
        }
        Err(CodecError::Encode(why)) => panic!("decoding reported an encoding error: {why}"),
    }
}

/// A frame body behind MessagePack's format byte: [`client_message`] with the fuzzer's
/// bytes all spent on the MessagePack decoder.
pub fn messagepack_client_message(payload: &[u8]) -> bool {
    let mut bytes = Vec::with_capacity(payload.len() + 1);
    bytes.push(codec::Encoding::MessagePack.byte());
    bytes.extend_from_slice(payload);
    client_message(&bytes)
}

/// A connection's first frame as the daemon judges it ([`wire::accept_hello`]): an accepted
/// Hello's version is one both the client and the daemon speak in its encoding.
pub fn hello(bytes: &[u8]) -> bool {
    match wire::accept_hello(bytes) {
        Ok(accepted) => {
            let (min, max) = wire::daemon_versions(accepted.encoding);
            assert!((min..=max).contains(&accepted.protocol_version));
            assert_eq!(bytes.first(), Some(&accepted.encoding.byte()));
            true
        }
        Err(wire::HelloError::NoCommonVersion { encoding, offered_min, offered_max }) => {
            let (min, max) = wire::daemon_versions(encoding);
            assert!(offered_min <= offered_max, "an empty offer is malformed");
            assert!(offered_max < min || offered_min > max, "{offered_min}..={offered_max}");
            false
        }
        Err(wire::HelloError::Malformed(_)) => false,
    }
}

/// [`codec::frame_length`] on the first 8 bytes: a length prefix, then a limit (both
/// big-endian). Shorter inputs are padded with zeros.
pub fn frame_length(bytes: &[u8]) -> bool {
    let mut padded = [0_u8; 8];
    for (slot, byte) in padded.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    let [a, b, c, d, e, f, g, h] = padded;
    let (prefix, limit) = ([a, b, c, d], u32::from_be_bytes([e, f, g, h]));
    let announced = u32::from_be_bytes(prefix);
    match codec::frame_length(prefix, limit) {
        Ok(length) => {
            assert!(announced <= limit && length == announced as usize);
            true
        }
        Err(FrameError::TooLarge { length, limit: refused_limit }) => {
            assert!(length == announced && refused_limit == limit && length > limit);
            false
        }
        Err(error) => panic!("a length check reported {error}"),
    }
}

/// A byte stream as a peer sends it to the workers' port: [`codec::read_frame`] until it
/// ends, each body decoded as [`client_message`] does. The first two bytes (big-endian) are
/// the frame limit, small so that the fuzzer crosses it both ways; the rest is the stream.
/// Returns the number of frames read.
pub fn frames(bytes: &[u8]) -> usize {
    let (limit, stream) = match bytes {
        [high, low, stream @ ..] => (u32::from(u16::from_be_bytes([*high, *low])), stream),
        _ => return 0,
    };
    let mut reader = futures_lite::io::Cursor::new(stream);
    let mut read = 0;
    let mut consumed = 0;
    loop {
        match smol::block_on(codec::read_frame(&mut reader, limit)) {
            Ok(body) => {
                assert!(body.len() <= limit as usize, "a body over the limit was read");
                consumed += 4 + body.len();
                assert!(consumed <= stream.len(), "more bytes read than sent");
                client_message(&body);
                read += 1;
            }
            Err(FrameError::Closed) => {
                assert_eq!(consumed, stream.len(), "Closed before the stream ended");
                return read;
            }
            Err(FrameError::TooLarge { length, limit: refused_limit }) => {
                assert!(length > refused_limit && refused_limit == limit);
                return read;
            }
            Err(FrameError::Io(error)) => {
                assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
                return read;
            }
        }
    }
}

/// One binary WebSocket message from a buildbot-worker.
pub fn buildbot_message(bytes: &[u8]) -> bool {
    buildbot::decode_worker_message(bytes).is_ok()
}

/// An `Authorization` header value of a buildbot-worker's WebSocket upgrade. What decodes
/// is a name without `:` and a password that, encoded again, decode to themselves.
pub fn basic_credentials(bytes: &[u8]) -> bool {
    use base64::Engine;

    let Ok((name, password)) = buildbot::decode_basic(Some(bytes)) else { return false };
    assert!(!name.contains(':'), "a name with a colon: {name:?}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    let again = buildbot::decode_basic(Some(format!("Basic {encoded}").as_bytes()));
    assert_eq!(again, Ok((name, password)), "decoded credentials do not round-trip");
    true
}

/// The statuses an HTTP head may be refused with.
const HEAD_STATUSES: [u16; 7] = [400, 405, 413, 414, 417, 431, 505];

/// An HTTP request head, whole (`bytes` as given) and as [`head::head_end`] delimits it in
/// a stream. A head that parses has an origin-form target of visible ASCII, and what it is
/// forwarded as parses back to the same head.
pub fn http_head(bytes: &[u8]) -> bool {
    if let Some(end) = head::head_end(bytes) {
        assert!(end >= 4 && end <= bytes.len() && bytes[..end].ends_with(b"\r\n\r\n"));
        check_head(&bytes[..end]);
    }
    check_head(bytes)
}

fn check_head(bytes: &[u8]) -> bool {
    match head::parse_head(bytes) {
        Ok(parsed) => {
            assert!(parsed.target.starts_with('/'), "target {:?}", parsed.target);
            assert!(parsed.target.bytes().all(|byte| byte.is_ascii_graphic()));
            let forwarded = parsed.forwarded();
            assert_eq!(head::parse_head(&forwarded), Ok(parsed), "forwarded does not round-trip");
            true
        }
        Err(error) => {
            assert!(HEAD_STATUSES.contains(&error.status()), "{error:?}: {}", error.status());
            false
        }
    }
}

/// A config file's text. A refusal is one line, as logs and `check-config` show it.
pub fn config(text: &str) -> bool {
    let origin = Path::new("fuzz.toml");
    match crate::config::Config::parse(text, origin) {
        Ok(config) => {
            assert_eq!(config.source.as_deref(), Some(origin));
            true
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.contains('\n'), "a refusal over several lines: {message:?}");
            false
        }
    }
}

/// The property tests' shared settings: 512 cases per decoder property, or PROPTEST_CASES
/// when set (for a longer search), keeping `cargo test` quick.
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 512;
    }
    config
}

/// Mutations of a valid input, for the property tests: byte flips, overwrites, insertions,
/// deletions, truncations and repeated runs, one to five of them, at random places.
#[cfg(test)]
pub(crate) fn mutated(valid: Vec<u8>) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    use proptest::sample::Index;

    let mutation = prop_oneof![
        (any::<Index>(), 0_u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<Index>().prop_map(|at| Mutation::Delete { at }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        (any::<Index>(), 1_usize..16, 1_usize..4)
            .prop_map(|(at, length, times)| Mutation::Repeat { at, length, times }),
    ];
    prop::collection::vec(mutation, 1..6).prop_map(move |mutations| {
        let mut bytes = valid.clone();
        for mutation in &mutations {
            mutation.apply(&mut bytes);
        }
        bytes
    })
}

#[cfg(test)]
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: proptest::sample::Index,
        bit: u8,
    },
    Set {
        at: proptest::sample::Index,
        byte: u8,
    },
    Insert {
        at: proptest::sample::Index,
        byte: u8,
    },
    Delete {
        at: proptest::sample::Index,
    },
    Truncate {
        at: proptest::sample::Index,
    },
    /// Repeats `length` bytes from `at` `times` more times: a duplicated field or line.
    Repeat {
        at: proptest::sample::Index,
        length: usize,
        times: usize,
    },
}

#[cfg(test)]
impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let length = bytes.len();
        match *self {
            Mutation::Insert { ref at, byte } => bytes.insert(at.index(length + 1), byte),
            // The others need a byte to act on.
            _ if length == 0 => {}
            Mutation::Flip { ref at, bit } => bytes[at.index(length)] ^= 1 << bit,
            Mutation::Set { ref at, byte } => bytes[at.index(length)] = byte,
            Mutation::Delete { ref at } => {
                bytes.remove(at.index(length));
            }
            Mutation::Truncate { ref at } => bytes.truncate(at.index(length)),
            Mutation::Repeat { ref at, length: run, times } => {
                let start = at.index(length);
                let run: Vec<u8> = bytes[start..(start + run).min(length)].to_vec();
                let tail = bytes.split_off(start);
                for _ in 0..=times {
                    bytes.extend_from_slice(&run);
                }
                bytes.extend_from_slice(&tail[run.len()..]);
            }
        }
    }
}
