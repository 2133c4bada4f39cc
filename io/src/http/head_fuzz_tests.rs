//! Property tests of the head parser: it is the first code to see a client's bytes, so any
//! bytes at all must give a head or a refusal with a status, never a panic. The promises
//! themselves are checked by `crate::fuzzing::http_head`, which the fuzz target runs too.

use proptest::prelude::*;

use super::*;
use crate::fuzzing::{self, mutated, proptest_config};

/// A head this API accepts, with the parts it should parse to.
fn valid_heads() -> impl Strategy<Value = (Vec<u8>, RequestHead)> {
    let method = prop_oneof![Just(Method::Get), Just(Method::Head)];
    let target = "/[!-~]{0,40}";
    let accept = prop::option::of("[ -~]{0,24}");
    let others = prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~\t]{0,24}"), 0..4);
    (method, target, any::<bool>(), accept, others, any::<bool>()).prop_map(
        |(method, target, http11, accept, others, zero_length)| {
            let version = if http11 { "HTTP/1.1" } else { "HTTP/1.0" };
            let mut text = format!("{} {target} {version}\r\n", method.as_str());
            if http11 {
                text.push_str("Host: rollcall.example\r\n");
            }
            if let Some(accept) = &accept {
                text.push_str(&format!("Accept: {accept}\r\n"));
            }
            for (name, value) in &others {
                // Names the parser acts on would change what the head parses to.
                let inert = ["host", "accept", "content-length", "transfer-encoding", "expect"]
                    .iter()
                    .all(|special| !name.eq_ignore_ascii_case(special));
                if inert {
                    text.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            if zero_length {
                text.push_str("Content-Length: 0\r\n");
            }
            text.push_str("\r\n");
            let accept = accept.map(|value| value.trim_matches(' ').to_string());
            (text.into_bytes(), RequestHead { method, target, accept })
        },
    )
}

/// Lines of random bytes joined and ended as a head is, so that the parser gets past the
/// blank-line check and into the request line and headers.
fn random_lines() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..6).prop_map(|lines| {
        let mut bytes = lines.join(&b"\r\n"[..]);
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes
    })
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn random_bytes_give_a_head_or_a_refusal_with_a_status(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        fuzzing::http_head(&bytes);
    }

    #[test]
    fn random_lines_give_a_head_or_a_refusal_with_a_status(bytes in random_lines()) {
        fuzzing::http_head(&bytes);
    }

    #[test]
    fn valid_heads_parse_to_their_parts_and_round_trip_when_forwarded(
        (bytes, expected) in valid_heads(),
    ) {
        prop_assert_eq!(parse_head(&bytes), Ok(expected));
        prop_assert!(fuzzing::http_head(&bytes));
    }

    #[test]
    fn mutated_heads_give_a_head_or_a_refusal_with_a_status(
        bytes in valid_heads().prop_flat_map(|(bytes, _)| mutated(bytes)),
    ) {
        fuzzing::http_head(&bytes);
    }
}
