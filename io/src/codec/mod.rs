//! The one module that knows how values become bytes, on the wire and on disk.
//!
//! Every encoded value starts with a format byte saying how the rest is encoded
//! ([`Encoding`]): `1` is bincode 2 (serde), `2` is MessagePack with named fields. Rows on
//! disk are always bincode; a session on the wire speaks whichever its Hello's first byte
//! names. bincode is unmaintained (RUSTSEC-2025-0141) but its 2.0.1 format is fixed;
//! keeping it behind this module and the format byte means the format can be replaced in
//! one place, with old data still recognisable.
//!
//! Frames on the wire are a 4-byte big-endian length followed by one encoded value.

mod messagepack;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format byte of rows on disk, and of every session that does not ask for another:
/// bincode 2.0.1, standard configuration.
pub const FORMAT_VERSION: u8 = Encoding::Bincode.byte();

/// How a value's bytes after its format byte are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// bincode 2.0.1, standard configuration (variable-length integers, enum variants by
    /// position): rollcall's own clients and its disk.
    Bincode,
    /// MessagePack as rmp-serde writes it with named fields: structs are maps keyed by
    /// field name, enums `{"variant": ...}` or, without fields, the string `"variant"`.
    /// For clients in other languages (`docs/protocol.md`).
    MessagePack,
}

impl Encoding {
    /// Every encoding, in format byte order.
    pub const ALL: [Encoding; 2] = [Encoding::Bincode, Encoding::MessagePack];

    /// The format byte that heads a value in this encoding.
    #[must_use]
    pub const fn byte(self) -> u8 {
        match self {
            Encoding::Bincode => 1,
            Encoding::MessagePack => 2,
        }
    }

    /// The encoding a format byte names, if any.
    #[must_use]
    pub const fn from_byte(byte: u8) -> Option<Encoding> {
        match byte {
            1 => Some(Encoding::Bincode),
            2 => Some(Encoding::MessagePack),
            _ => None,
        }
    }

    /// How logs and errors name it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::Bincode => "bincode",
            Encoding::MessagePack => "MessagePack",
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({})", self.byte(), self.name())
    }
}

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
    /// A format byte that names no encoding.
    UnknownVersion(u8),
    /// A format byte naming another encoding than the one expected here (a session's, or
    /// bincode on disk).
    WrongEncoding {
        expected: Encoding,
        found: Encoding,
    },
    Malformed(String),
    TrailingBytes(usize),
    Encode(String),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Empty => formatter.write_str("empty payload"),
            CodecError::UnknownVersion(version) => write!(
                formatter,
                "unknown format version {version} (this build reads {} and {})",
                Encoding::Bincode,
                Encoding::MessagePack
            ),
            CodecError::WrongEncoding { expected, found } => {
                write!(formatter, "format {found} where {expected} was expected")
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

/// Encodes a value in `encoding`: its format byte, then the payload.
///
/// # Errors
///
/// Only for values serde cannot express in the encoding (none of rollcall's types).
pub fn encode_as<T: Serialize>(encoding: Encoding, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = vec![encoding.byte()];
    match encoding {
        Encoding::Bincode => {
            let payload = bincode::serde::encode_to_vec(value, config())
                .map_err(|error| CodecError::Encode(error.to_string()))?;
            bytes.extend_from_slice(&payload);
        }
        Encoding::MessagePack => messagepack::encode_into(&mut bytes, value)?,
    }
    Ok(bytes)
}

/// Decodes a value in whichever encoding its format byte names, and says which.
///
/// # Errors
///
/// A [`CodecError`] saying what is wrong with the bytes.
pub fn decode_any<T: DeserializeOwned>(bytes: &[u8]) -> Result<(Encoding, T), CodecError> {
    let (&byte, payload) = bytes.split_first().ok_or(CodecError::Empty)?;
    let encoding = Encoding::from_byte(byte).ok_or(CodecError::UnknownVersion(byte))?;
    Ok((encoding, decode_payload(encoding, payload)?))
}

/// Decodes a value that must be in `encoding`, refusing the others and trailing bytes.
///
/// # Errors
///
/// A [`CodecError`] saying what is wrong with the bytes.
pub fn decode_as<T: DeserializeOwned>(encoding: Encoding, bytes: &[u8]) -> Result<T, CodecError> {
    let (&byte, payload) = bytes.split_first().ok_or(CodecError::Empty)?;
    match Encoding::from_byte(byte) {
        None => Err(CodecError::UnknownVersion(byte)),
        Some(found) if found != encoding => {
            Err(CodecError::WrongEncoding { expected: encoding, found })
        }
        Some(_) => decode_payload(encoding, payload),
    }
}

/// Decodes what follows the format byte.
fn decode_payload<T: DeserializeOwned>(
    encoding: Encoding,
    payload: &[u8],
) -> Result<T, CodecError> {
    match encoding {
        Encoding::Bincode => decode_bincode(payload),
        Encoding::MessagePack => messagepack::decode(payload),
    }
}

fn decode_bincode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    if read != payload.len() {
        return Err(CodecError::TrailingBytes(payload.len() - read));
    }
    Ok(value)
}

/// Encodes a value in bincode, as rows on disk are: format byte, then payload.
///
/// # Errors
///
/// Only for values serde cannot express in bincode (none of rollcall's types).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_as(Encoding::Bincode, value)
}

/// Decodes a value written by [`encode`], refusing other formats and trailing bytes.
///
/// # Errors
///
/// A [`CodecError`] saying what is wrong with the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_as(Encoding::Bincode, bytes)
}

/// Encodes a value as one bincode wire frame: length prefix, then the encoded value.
///
/// # Errors
///
/// As [`encode`], or when the value is larger than a frame length can say.
pub fn encode_frame<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_frame_as(Encoding::Bincode, value)
}

/// Encodes a value as one wire frame in `encoding`.
///
/// # Errors
///
/// As [`encode_as`], or when the value is larger than a frame length can say.
pub fn encode_frame_as<T: Serialize>(encoding: Encoding, value: &T) -> Result<Vec<u8>, CodecError> {
    let body = encode_as(encoding, value)?;
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
mod tests;

#[cfg(test)]
mod fuzz_tests;
