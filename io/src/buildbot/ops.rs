//! Messages of `msgpack_experimental_v7`: one binary WebSocket message is one MessagePack
//! map with string keys. Requests carry `op` and `seq_number` (each side numbers its own
//! from 0); every request is answered by `{op: "response", seq_number, result,
//! is_exception?}`. See `buildbot_worker/msgpack.py` (4.3.0).

use serde_json::{json, Map, Value};

/// Encodes a message as a MessagePack map (never an array: the worker rejects those).
pub(crate) fn encode(message: &Value) -> Vec<u8> {
    match rmp_serde::to_vec_named(message) {
        Ok(bytes) => bytes,
        Err(error) => unreachable!("JSON values always encode as MessagePack: {error}"),
    }
}

/// Decodes one message from the worker; `None` for anything that is not a map with an
/// `op` string and an integer `seq_number`.
pub(crate) fn decode(bytes: &[u8]) -> Option<(String, u64, Map<String, Value>)> {
    let Ok(Value::Object(map)) = rmp_serde::from_slice::<Value>(bytes) else { return None };
    let op = map.get("op")?.as_str()?.to_string();
    let seq_number = map.get("seq_number")?.as_u64()?;
    Some((op, seq_number, map))
}

pub(crate) fn request(op: &str, seq_number: u64, fields: Value) -> Value {
    let mut message = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    message.insert("op".into(), json!(op));
    message.insert("seq_number".into(), json!(seq_number));
    Value::Object(message)
}

/// Our answer to one of the worker's requests (`update`, `complete`, ...): accepted.
pub(crate) fn response(seq_number: u64) -> Value {
    json!({ "op": "response", "seq_number": seq_number, "result": Value::Null })
}

/// The `files` a `listdir` command reported in its updates: update args are lists of
/// `[key, value]` pairs, possibly batched into a list of such lists.
pub(crate) fn files_in_update(args: &Value) -> Option<Vec<String>> {
    let items = args.as_array()?;
    if let [key, value] = items.as_slice() {
        if key.as_str() == Some("files") {
            return Some(
                value.as_array()?.iter().filter_map(|f| f.as_str().map(String::from)).collect(),
            );
        }
    }
    items.iter().find_map(files_in_update)
}

/// Buildbot's `safeTranslate` for builder directory names: anything but letters, digits,
/// `-`, `_` and `.` becomes `_`, so a builder name can never escape the worker's basedir.
pub(crate) fn builder_directory(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if safe.chars().all(|c| c == '.') {
        safe.replace('.', "_")
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_maps_with_string_keys_and_round_trip() {
        let message = request("print", 3, json!({"message": "attached"}));
        let bytes = encode(&message);
        assert_eq!(bytes[0] & 0xf0, 0x80, "a fixmap, not an array");
        let (op, seq_number, map) = decode(&bytes).expect("decodes");
        assert_eq!((op.as_str(), seq_number), ("print", 3));
        assert_eq!(map["message"], json!("attached"));
        assert_eq!(decode(&encode(&json!([1, 2]))), None);
    }

    #[test]
    fn listdir_files_are_found_in_single_and_batched_updates() {
        let single = json!(["files", ["a", "b"]]);
        let batched = json!([["rc", 0], ["files", ["x"]]]);
        assert_eq!(files_in_update(&single), Some(vec!["a".into(), "b".into()]));
        assert_eq!(files_in_update(&batched), Some(vec!["x".into()]));
        assert_eq!(files_in_update(&json!([["rc", 0]])), None);
    }

    #[test]
    fn builder_directories_cannot_escape_the_basedir() {
        assert_eq!(builder_directory("linux-x86_64"), "linux-x86_64");
        assert_eq!(builder_directory("../../etc"), ".._.._etc");
        assert_eq!(builder_directory(".."), "__");
        assert_eq!(builder_directory("a b/c"), "a_b_c");
    }
}
