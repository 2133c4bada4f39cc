//! The upgrade request's HTTP Basic credentials, as buildbot-worker sends them
//! (`buildbot_worker/msgpack.py`, `encode_http_authorization_header`).

use base64::Engine;

/// Why the Authorization header was refused: the worker sees 401 or 400.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// No header: 401, so a well-behaved client can retry with credentials.
    Missing,
    /// Present but not `Basic base64(name:password)`: 400.
    Undecodable,
}

/// The name and password from an `Authorization: Basic ...` value. The name ends at the
/// first `:` (Buildbot forbids colons in worker names); the password may contain colons.
pub(crate) fn decode_basic(value: Option<&[u8]>) -> Result<(String, String), AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    let encoded = value.strip_prefix(b"Basic ").ok_or(AuthError::Undecodable)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .map_err(|_| AuthError::Undecodable)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthError::Undecodable)?;
    let (name, password) = text.split_once(':').ok_or(AuthError::Undecodable)?;
    Ok((name.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode_and_malformed_ones_are_refused() {
        // base64("w1:pa:ss") = "dzE6cGE6c3M="
        assert_eq!(decode_basic(Some(b"Basic dzE6cGE6c3M=")), Ok(("w1".into(), "pa:ss".into())));
        assert_eq!(decode_basic(None), Err(AuthError::Missing));
        assert_eq!(decode_basic(Some(b"Bearer abc")), Err(AuthError::Undecodable));
        assert_eq!(decode_basic(Some(b"Basic !!!")), Err(AuthError::Undecodable));
        // base64("nocolon")
        assert_eq!(decode_basic(Some(b"Basic bm9jb2xvbg==")), Err(AuthError::Undecodable));
    }

    mod fuzz {
        use base64::Engine;
        use proptest::prelude::*;

        use super::super::decode_basic;
        use crate::fuzzing::{self, mutated, proptest_config};

        fn header(name: &str, password: &str) -> Vec<u8> {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
            format!("Basic {encoded}").into_bytes()
        }

        proptest! {
            #![proptest_config(proptest_config())]

            #[test]
            fn random_header_values_decode_to_credentials_or_an_auth_error(
                bytes in prop::collection::vec(any::<u8>(), 0..96),
            ) {
                fuzzing::basic_credentials(&bytes);
                // Behind the scheme, so the base64 and UTF-8 checks see them too.
                let mut basic = b"Basic ".to_vec();
                basic.extend_from_slice(&bytes);
                fuzzing::basic_credentials(&basic);
            }

            #[test]
            fn credentials_round_trip_through_the_header(
                name in "[^:]{0,16}",
                password in ".{0,16}",
            ) {
                prop_assert_eq!(decode_basic(Some(&header(&name, &password))), Ok((name, password)));
            }

            #[test]
            fn mutated_headers_decode_to_credentials_or_an_auth_error(
                bytes in ("[^:]{0,16}", ".{0,16}")
                    .prop_flat_map(|(name, password)| mutated(header(&name, &password))),
            ) {
                fuzzing::basic_credentials(&bytes);
            }
        }
    }
}
