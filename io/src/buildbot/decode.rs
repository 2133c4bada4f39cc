//! Everything a buildbot-worker's bytes are turned into, as pure functions, so that each
//! can be fuzzed without a socket (see `crate::fuzzing`): its binary WebSocket messages
//! here, and the upgrade's Basic credentials in [`super::auth`], re-exported.

use serde_json::{Map, Value};

use super::ops;

pub(crate) use super::auth::decode_basic;

/// One message from the worker, as the session acts on it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FromWorker {
    /// The answer to the request of ours numbered `seq_number`.
    Response { seq_number: u64, failed: bool, result: Value },
    /// A running command's progress; `args` as sent (see [`ops::files_in_update`]).
    Update { seq_number: u64, command_id: String, args: Option<Value> },
    /// A command ended.
    Complete { seq_number: u64, command_id: String },
    /// Any other request, or an update or complete without a command id: only answered.
    Other { seq_number: u64 },
}

/// The bytes are not a MessagePack map with an `op` string and an integer `seq_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecodable;

impl std::fmt::Display for Undecodable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("not a MessagePack map with an op string and an integer seq_number")
    }
}

impl std::error::Error for Undecodable {}

/// Decodes one binary WebSocket message from a buildbot-worker.
///
/// # Errors
///
/// [`Undecodable`] for anything [`ops::decode`] refuses.
pub(crate) fn decode_worker_message(bytes: &[u8]) -> Result<FromWorker, Undecodable> {
    let (op, seq_number, mut fields) = ops::decode(bytes).ok_or(Undecodable)?;
    if op == "response" {
        return Ok(response(seq_number, &fields));
    }
    // Buildbot's command ids are strings; a worker that sent a number still means that
    // number, so it is kept in its JSON spelling rather than refused.
    let command_id = fields.get("command_id").map(|id| match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    Ok(match (op.as_str(), command_id) {
        ("update", Some(command_id)) => {
            FromWorker::Update { seq_number, command_id, args: fields.remove("args") }
        }
        ("complete", Some(command_id)) => FromWorker::Complete { seq_number, command_id },
        _ => FromWorker::Other { seq_number },
    })
}

fn response(seq_number: u64, fields: &Map<String, Value>) -> FromWorker {
    // Buildbot sends `is_exception` only when true; anything but an explicit `false` is
    // taken as a failure, so a garbled flag never passes for success.
    let failed = fields.get("is_exception").is_some_and(|flag| flag.as_bool() != Some(false));
    let result = fields.get("result").cloned().unwrap_or(Value::Null);
    FromWorker::Response { seq_number, failed, result }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::fuzzing::{mutated, proptest_config};

    fn encoded(message: &Value) -> Vec<u8> {
        ops::encode(message)
    }

    #[test]
    fn each_op_decodes_to_what_the_session_acts_on() {
        let response = json!({"op": "response", "seq_number": 4, "result": {"basedir": "/b"}});
        assert_eq!(
            decode_worker_message(&encoded(&response)),
            Ok(FromWorker::Response {
                seq_number: 4,
                failed: false,
                result: json!({"basedir": "/b"})
            })
        );
        let refused = json!({"op": "response", "seq_number": 5, "is_exception": "yes"});
        assert_eq!(
            decode_worker_message(&encoded(&refused)),
            Ok(FromWorker::Response { seq_number: 5, failed: true, result: Value::Null })
        );
        let update = json!({"op": "update", "seq_number": 0, "command_id": 7, "args": [1]});
        assert_eq!(
            decode_worker_message(&encoded(&update)),
            Ok(FromWorker::Update {
                seq_number: 0,
                command_id: "7".into(),
                args: Some(json!([1]))
            })
        );
        let complete = json!({"op": "complete", "seq_number": 1, "command_id": "3"});
        assert_eq!(
            decode_worker_message(&encoded(&complete)),
            Ok(FromWorker::Complete { seq_number: 1, command_id: "3".into() })
        );
        let anonymous = json!({"op": "complete", "seq_number": 2});
        assert_eq!(
            decode_worker_message(&encoded(&anonymous)),
            Ok(FromWorker::Other { seq_number: 2 })
        );
    }

    #[test]
    fn messages_without_an_op_or_a_sequence_number_are_undecodable() {
        for message in [
            json!([1, 2]),
            json!({"seq_number": 1}),
            json!({"op": 3, "seq_number": 1}),
            json!({"op": "update", "seq_number": -1}),
            json!({"op": "update", "seq_number": "1"}),
        ] {
            assert_eq!(decode_worker_message(&encoded(&message)), Err(Undecodable), "{message}");
        }
        assert_eq!(decode_worker_message(&[]), Err(Undecodable));
    }

    /// Messages shaped like a worker's: every op the session distinguishes, with nested
    /// values where a worker sends them.
    fn worker_messages() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|number| json!(number)),
            ".{0,12}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        });
        let op = prop_oneof![
            Just("response"),
            Just("update"),
            Just("complete"),
            Just("keepalive"),
            Just("print")
        ];
        (op, any::<u64>(), prop::option::of(value.clone()), prop::option::of(value)).prop_map(
            |(op, seq_number, command_id, args)| {
                let mut message = json!({"op": op, "seq_number": seq_number});
                if let (Some(map), Some(command_id)) = (message.as_object_mut(), command_id) {
                    map.insert("command_id".into(), command_id);
                }
                if let (Some(map), Some(args)) = (message.as_object_mut(), args) {
                    map.insert("args".into(), args.clone());
                    map.insert("result".into(), args);
                }
                encoded(&message)
            },
        )
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn random_bytes_never_panic_the_worker_message_decoder(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let _ = decode_worker_message(&bytes);
        }

        #[test]
        fn valid_worker_messages_decode(bytes in worker_messages()) {
            prop_assert!(decode_worker_message(&bytes).is_ok());
        }

        #[test]
        fn mutated_worker_messages_decode_or_are_undecodable(
            bytes in worker_messages().prop_flat_map(mutated),
        ) {
            let _ = decode_worker_message(&bytes);
        }
    }
}
