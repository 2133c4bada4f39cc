//! MessagePack with named fields, as rmp-serde writes and reads it, for sessions whose
//! Hello asks for it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::CodecError;

/// How deep a value may nest. rollcall's own messages nest at most 6 deep; the slack is
/// for fields a newer client adds, which are skipped. A bound at all because skipping an
/// unknown value recurses: a frame of nested arrays must not exhaust the stack.
const MAX_DEPTH: usize = 32;

pub(super) fn encode_into<T: Serialize>(bytes: &mut Vec<u8>, value: &T) -> Result<(), CodecError> {
    let mut serializer = rmp_serde::Serializer::new(bytes).with_struct_map();
    value.serialize(&mut serializer).map_err(|error| CodecError::Encode(error.to_string()))
}

/// Reads exactly one value, borrowing from the payload (a length inside it that claims
/// more than the frame holds ends the read rather than reserving the claim).
pub(super) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(payload);
    deserializer.set_max_depth(MAX_DEPTH);
    let value = T::deserialize(&mut deserializer)
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    // The slice reader does not say where it stopped, so the end of the value is found by
    // walking its markers: cheaper than decoding through a reader that counts (which
    // copies every string), and only ever after a value decoded.
    match value_end(payload) {
        Some(end) if end < payload.len() => Err(CodecError::TrailingBytes(payload.len() - end)),
        Some(_) => Ok(value),
        None => Err(CodecError::Malformed("a value that ends past the frame".into())),
    }
}

/// Where the first MessagePack value in `bytes` ends, or `None` if it does not end within
/// them. Iterative, and each step consumes a byte, so any input is walked in linear time.
fn value_end(bytes: &[u8]) -> Option<usize> {
    let mut position = 0_usize;
    // Values still to walk: a container adds its elements.
    let mut pending: u64 = 1;
    let length = |position: usize, width: usize| -> Option<u64> {
        let field = bytes.get(position..position.checked_add(width)?)?;
        Some(field.iter().fold(0_u64, |sum, byte| (sum << 8) | u64::from(*byte)))
    };
    while pending > 0 {
        let marker = *bytes.get(position)?;
        position += 1;
        pending -= 1;
        // (bytes of length field, then that many bytes of payload) or a fixed size.
        let (skip, elements) = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (1 + length(position, 1)?, 0),
            0xc5 | 0xda => (2 + length(position, 2)?, 0),
            0xc6 | 0xdb => (4 + length(position, 4)?, 0),
            0xc7 => (2 + length(position, 1)?, 0),
            0xc8 => (3 + length(position, 2)?, 0),
            0xc9 => (5 + length(position, 4)?, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xdc => (2, length(position, 2)?),
            0xdd => (4, length(position, 4)?),
            0xde => (2, 2 * length(position, 2)?),
            0xdf => (4, 2 * length(position, 4)?),
            0xc1 => return None,
        };
        position = position.checked_add(usize::try_from(skip).ok()?)?;
        if position > bytes.len() {
            return None;
        }
        pending = pending.checked_add(elements)?;
    }
    Some(position)
}

#[cfg(test)]
mod tests {
    use super::value_end;

    /// The walk agrees with the encoder on where values end, for every kind of marker.
    #[test]
    fn value_end_finds_the_end_of_every_kind_of_value() {
        let long = "x".repeat(300);
        let values = [
            rmp_serde::to_vec(&0_u8),
            rmp_serde::to_vec(&-3_i8),
            rmp_serde::to_vec(&200_u8),
            rmp_serde::to_vec(&-200_i16),
            rmp_serde::to_vec(&70_000_u32),
            rmp_serde::to_vec(&u64::MAX),
            rmp_serde::to_vec(&i64::MIN),
            rmp_serde::to_vec(&1.5_f32),
            rmp_serde::to_vec(&1.5_f64),
            rmp_serde::to_vec(&Option::<u8>::None),
            rmp_serde::to_vec(&true),
            rmp_serde::to_vec("short"),
            rmp_serde::to_vec(&"y".repeat(40)),
            rmp_serde::to_vec(&long),
            rmp_serde::to_vec(&"z".repeat(70_000)),
            rmp_serde::to_vec(&vec![1_u8; 20]),
            rmp_serde::to_vec(&vec![vec![1_u32, 2], vec![]]),
            rmp_serde::to_vec(&std::collections::BTreeMap::from([(1_u8, "a"), (2, "b")])),
            rmp_serde::to_vec(
                &(0..20).map(|key| (key, key)).collect::<std::collections::BTreeMap<u8, u8>>(),
            ),
        ];
        for value in values {
            let bytes = value.expect("encodes");
            assert_eq!(value_end(&bytes), Some(bytes.len()), "{bytes:02x?}");
            let mut longer = bytes.clone();
            longer.push(0xc0);
            assert_eq!(value_end(&longer), Some(bytes.len()));
            assert_eq!(value_end(&bytes[..bytes.len() - 1]), None, "cut: {bytes:02x?}");
        }
        // Fixed-size extensions and bin, which serde does not write.
        for bytes in [
            &[0xd4, 1, 9][..],
            &[0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xc7, 2, 1, 7, 7],
            &[0xc4, 1, 5],
        ] {
            assert_eq!(value_end(bytes), Some(bytes.len()));
        }
        assert_eq!(value_end(&[0xc1]), None);
        assert_eq!(value_end(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }
}
