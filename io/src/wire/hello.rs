//! The daemon's side of a connection's first frame: which encoding and protocol version
//! its session speaks, or why it is refused.

use serde::Deserialize;

use super::{
    ClientMessage, Role, MIN_MESSAGEPACK_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use crate::codec::Encoding;

/// A Hello the daemon accepted: the session's encoding and protocol version, and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedHello {
    pub encoding: Encoding,
    pub protocol_version: u32,
    pub role: Role,
}

/// Why a first frame is not a Hello the daemon can accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloError {
    /// Not a Hello, or not decodable.
    Malformed(String),
    /// No version both sides speak.
    NoCommonVersion { encoding: Encoding, offered_min: u32, offered_max: u32 },
}

impl std::fmt::Display for HelloError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelloError::Malformed(why) => formatter.write_str(why),
            HelloError::NoCommonVersion { encoding, offered_min, offered_max } => {
                let (min, max) = daemon_versions(*encoding);
                write!(
                    formatter,
                    "no protocol version in common: this daemon speaks {} in {}; the client \
                     offers {}",
                    version_range(min, max),
                    encoding.name(),
                    version_range(*offered_min, *offered_max)
                )
            }
        }
    }
}

impl std::error::Error for HelloError {}

/// The versions the daemon speaks in `encoding`, oldest and newest.
#[must_use]
pub fn daemon_versions(encoding: Encoding) -> (u32, u32) {
    match encoding {
        Encoding::Bincode => (MIN_PROTOCOL_VERSION, PROTOCOL_VERSION),
        Encoding::MessagePack => (MIN_MESSAGEPACK_PROTOCOL_VERSION, PROTOCOL_VERSION),
    }
}

fn version_range(min: u32, max: u32) -> String {
    if min == max {
        format!("{max}")
    } else {
        format!("{min} to {max}")
    }
}

/// Protocol 2's Hello, which had no `min_protocol_version`: read only to accept or name
/// the version of a client of that release.
#[derive(Deserialize)]
enum ProtocolTwoClientMessage {
    Hello { protocol_version: u32, role: Role },
}

/// Decodes a connection's first frame and chooses its session's protocol version: the
/// newest both sides speak.
///
/// # Errors
///
/// [`HelloError`] saying why the frame is refused.
pub fn accept_hello(body: &[u8]) -> Result<AcceptedHello, HelloError> {
    let malformed = |error: crate::codec::CodecError| HelloError::Malformed(error.to_string());
    let (encoding, offered_min, offered_max, role) =
        match crate::codec::decode_any::<ClientMessage>(body) {
            Ok((
                encoding,
                ClientMessage::Hello { protocol_version, role, min_protocol_version },
            )) => {
                let min = min_protocol_version.unwrap_or(protocol_version);
                if min > protocol_version {
                    return Err(HelloError::Malformed(format!(
                        "min_protocol_version {min} is above protocol_version {protocol_version}"
                    )));
                }
                (encoding, min, protocol_version, role)
            }
            Ok(_) => return Err(HelloError::Malformed("the first frame must be a Hello".into())),
            Err(error) => match crate::codec::decode::<ProtocolTwoClientMessage>(body) {
                Ok(ProtocolTwoClientMessage::Hello { protocol_version, role }) => {
                    (Encoding::Bincode, protocol_version, protocol_version, role)
                }
                Err(_) => return Err(malformed(error)),
            },
        };
    let (min, max) = daemon_versions(encoding);
    let chosen = offered_max.min(max);
    if chosen < min.max(offered_min) {
        return Err(HelloError::NoCommonVersion { encoding, offered_min, offered_max });
    }
    Ok(AcceptedHello { encoding, protocol_version: chosen, role })
}
