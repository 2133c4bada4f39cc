//! The WebSocket upgrade request a buildbot-worker opens with, parsed from bytes by the
//! same strict head parser as the REST API ([`crate::http::head`]), plus RFC 6455's rules.

use crate::http::head::{self, HeadError, Method};

/// An upgrade this port accepts, credentials still to be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpgradeRequest {
    /// `Sec-WebSocket-Key`, answered with its accept hash.
    pub(crate) key: Vec<u8>,
    /// The raw `Authorization` value, if any: [`super::auth::decode_basic`] reads it.
    pub(crate) authorization: Option<Vec<u8>>,
}

/// Why an upgrade was refused: the status the worker is sent, the label it is counted
/// under, and a message that quotes nothing of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpgradeError {
    pub(crate) status: u16,
    pub(crate) label: &'static str,
    pub(crate) message: String,
}

impl From<HeadError> for UpgradeError {
    fn from(error: HeadError) -> Self {
        UpgradeError { status: error.status(), label: error.label(), message: error.to_string() }
    }
}

fn refused(status: u16, label: &'static str, message: &str) -> UpgradeError {
    UpgradeError { status, label, message: message.to_string() }
}

/// The longest `Sec-WebSocket-Key` kept: RFC 6455's is 24 base64 characters.
const MAX_KEY_BYTES: usize = 64;

/// Parses a whole upgrade request head (blank line included).
///
/// # Errors
///
/// Anything that is not a WebSocket version 13 upgrade by GET, or a head the strict parser
/// refuses.
pub(crate) fn parse_upgrade(bytes: &[u8]) -> Result<UpgradeRequest, UpgradeError> {
    let mut upgrade_websocket = false;
    let mut connection_upgrade = false;
    let mut version: Option<Vec<u8>> = None;
    let mut key: Option<Vec<u8>> = None;
    let mut authorization: Option<Vec<u8>> = None;
    let request = head::parse_head_with(bytes, |name, value| {
        let tokens = || value.split(|&byte| byte == b',').map(<[u8]>::trim_ascii);
        if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade_websocket |= tokens().any(|token| token.eq_ignore_ascii_case(b"websocket"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection_upgrade |= tokens().any(|token| token.eq_ignore_ascii_case(b"upgrade"));
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            version = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            if key.is_some() || value.is_empty() || value.len() > MAX_KEY_BYTES {
                return Err(HeadError::Malformed("a bad Sec-WebSocket-Key"));
            }
            key = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"authorization") {
            if authorization.is_some() {
                return Err(HeadError::Malformed("more than one Authorization header"));
            }
            authorization = Some(value.to_vec());
        }
        Ok(())
    })?;
    if request.method != Method::Get {
        return Err(refused(405, "method_not_allowed", "a WebSocket upgrade is a GET"));
    }
    if !upgrade_websocket || !connection_upgrade {
        return Err(refused(
            426,
            "not_an_upgrade",
            "this port speaks only WebSocket (msgpack_experimental_v7)",
        ));
    }
    if version.as_deref() != Some(b"13") {
        return Err(refused(426, "websocket_version", "only WebSocket version 13 is spoken"));
    }
    let key = key.ok_or_else(|| refused(400, "malformed_head", "no Sec-WebSocket-Key"))?;
    Ok(UpgradeRequest { key, authorization })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:9990\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic dzE6cGE6c3M=\r\n\r\n";

    #[test]
    fn a_buildbot_worker_upgrade_is_accepted_with_its_key_and_credentials() {
        let upgrade = parse_upgrade(GOOD.as_bytes()).expect("valid");
        assert_eq!(upgrade.key, b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(upgrade.authorization.as_deref(), Some(&b"Basic dzE6cGE6c3M="[..]));
    }

    #[test]
    fn requests_that_are_not_version_13_upgrades_are_refused_with_their_status() {
        let cases = [
            (GOOD.replace("Upgrade: websocket\r\n", ""), 426),
            (GOOD.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"), 426),
            (GOOD.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 400),
            (GOOD.replace("GET", "POST"), 405),
            (GOOD.replace("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n"), 413),
            (GOOD.replace("Authorization", "Authorization: x\r\nAuthorization"), 400),
        ];
        for (request, status) in cases {
            let error = parse_upgrade(request.as_bytes()).expect_err(&request);
            assert_eq!(error.status, status, "{request:?}: {error:?}");
        }
    }

    mod properties {
        //! The upgrade parser is the first code to see a Buildbot-port peer's bytes: any
        //! bytes give an upgrade or a refusal with a status, never a panic.

        use proptest::prelude::*;

        use super::super::parse_upgrade;
        use super::GOOD;
        use crate::fuzzing::{mutated, proptest_config};

        const STATUSES: [u16; 9] = [400, 405, 413, 414, 417, 426, 431, 505, 401];

        proptest! {
            #![proptest_config(proptest_config())]

            #[test]
            fn any_bytes_give_an_upgrade_or_a_refusal_with_a_status(
                bytes in prop::collection::vec(any::<u8>(), 0..512),
            ) {
                if let Err(error) = parse_upgrade(&bytes) {
                    prop_assert!(STATUSES.contains(&error.status), "{error:?}");
                }
            }

            #[test]
            fn mutated_upgrades_give_an_upgrade_or_a_refusal_with_a_status(
                bytes in mutated(GOOD.as_bytes().to_vec()),
            ) {
                match parse_upgrade(&bytes) {
                    Ok(upgrade) => prop_assert!(!upgrade.key.is_empty() && upgrade.key.len() <= 64),
                    Err(error) => prop_assert!(STATUSES.contains(&error.status), "{error:?}"),
                }
            }
        }
    }
}
