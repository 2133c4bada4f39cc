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

/// Reads exactly one value: the reader is the payload itself, so a length inside it that
/// claims more than the frame holds ends the read rather than reserving the claim.
pub(super) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let mut deserializer = rmp_serde::Deserializer::new(std::io::Cursor::new(payload));
    deserializer.set_max_depth(MAX_DEPTH);
    let value = T::deserialize(&mut deserializer)
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    let read = usize::try_from(deserializer.position()).unwrap_or(usize::MAX);
    if read < payload.len() {
        return Err(CodecError::TrailingBytes(payload.len() - read));
    }
    Ok(value)
}
