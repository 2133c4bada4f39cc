use super::*;

#[test]
fn values_round_trip_behind_the_version_byte() {
    let value = (7_u64, String::from("w1"), vec![Some(true), None]);
    let bytes = encode(&value).expect("encodes");
    assert_eq!(bytes[0], FORMAT_VERSION);
    assert_eq!(decode::<(u64, String, Vec<Option<bool>>)>(&bytes), Ok(value));
}

/// The cluster's log stores every kind of Registry input through this codec: each
/// comes back as it went in.
#[test]
fn every_logged_registry_input_round_trips() {
    use rollcall_core::{Command, LoggedInput, MasterId, RegistryConfig, Timestamp};
    let at = Timestamp::from_millis(1_700_000_000_123);
    let submit = Command::SubmitBuildRequest { master: MasterId(3), builder_name: "b".into() };
    let inputs = [
        LoggedInput::Command { at, command: Command::MasterActive { name: "m".into() } },
        LoggedInput::Timeout { at },
        LoggedInput::Config(RegistryConfig { expiry_window_ms: 600_000 }),
        LoggedInput::TakeOver { at, grace_ms: 23_000 },
        LoggedInput::Request { at, master: "remote".into(), request_id: u64::MAX, command: submit },
    ];
    for input in inputs {
        let bytes = encode(&input).expect("encodes");
        assert_eq!(decode::<LoggedInput>(&bytes), Ok(input));
    }
}

/// A registry's snapshot (what a cluster stores to spare a replay of its whole log)
/// comes back equal, and restores.
#[test]
fn a_registry_snapshot_round_trips() {
    use rollcall_core::registry::{RegistryInput, RequestKey};
    use rollcall_core::{Command, Registry, RegistryConfig, ReplyToken, Timestamp};
    let mut registry = Registry::new(RegistryConfig::default());
    let at = Timestamp::from_millis(1_700_000_000_000);
    let active = Command::MasterActive { name: "remote".into() };
    registry.handle(at, RegistryInput { token: ReplyToken(1), command: active });
    let submit = Command::SubmitBuildRequest {
        master: rollcall_core::MasterId(1),
        builder_name: "linux".into(),
    };
    let key = RequestKey { master: "remote".into(), request_id: 7 };
    registry.handle_request(at, RegistryInput { token: ReplyToken(2), command: submit }, key);
    registry.take_over(at, 5_000);
    let snapshot = registry.snapshot();
    let bytes = encode(&snapshot).expect("encodes");
    let decoded = decode::<rollcall_core::RegistrySnapshot>(&bytes).expect("decodes");
    assert_eq!(decoded, snapshot);
    let restored = Registry::from_snapshot(decoded).expect("restores");
    assert_eq!(restored.snapshot(), snapshot);
}

#[test]
fn other_versions_garbage_and_trailing_bytes_are_refused() {
    let mut bytes = encode(&42_u32).expect("encodes");
    bytes[0] = 9;
    assert_eq!(decode::<u32>(&bytes), Err(CodecError::UnknownVersion(9)));
    assert_eq!(decode::<u32>(&[]), Err(CodecError::Empty));
    assert!(matches!(
        decode::<String>(&[FORMAT_VERSION, 0xff, 0xff]),
        Err(CodecError::Malformed(_))
    ));
    let mut long = encode(&1_u8).expect("encodes");
    long.push(0);
    assert_eq!(decode::<u8>(&long), Err(CodecError::TrailingBytes(1)));
}

#[test]
fn a_length_prefix_inside_the_payload_cannot_force_a_huge_allocation() {
    // A Vec<u8> claiming 2^62 elements, in a 12-byte payload.
    let mut bytes = vec![FORMAT_VERSION, 0xfd];
    bytes.extend_from_slice(&(1_u64 << 62).to_le_bytes());
    assert!(matches!(decode::<Vec<u8>>(&bytes), Err(CodecError::Malformed(_))));
}

#[test]
fn frames_are_read_back_and_oversized_ones_refused_before_reading() {
    let frame = encode_frame(&"hello").expect("encodes");
    let mut reader = futures_lite::io::Cursor::new(frame.clone());
    let body = smol::block_on(read_frame(&mut reader, 1024)).expect("reads");
    assert_eq!(decode::<String>(&body), Ok("hello".to_string()));
    let mut reader = futures_lite::io::Cursor::new(frame);
    assert!(matches!(
        smol::block_on(read_frame(&mut reader, 3)),
        Err(FrameError::TooLarge { limit: 3, .. })
    ));
    let mut empty = futures_lite::io::Cursor::new(Vec::new());
    assert!(matches!(smol::block_on(read_frame(&mut empty, 3)), Err(FrameError::Closed)));
}

/// Skipping an unknown field recurses into it: a frame of nested arrays is refused at the
/// depth limit rather than exhausting the stack.
#[test]
fn deeply_nested_messagepack_is_refused_not_followed() {
    // {"hello": {"x": [[[[...]]]]}} with 100,000 levels.
    let mut bytes = vec![Encoding::MessagePack.byte(), 0x81, 0xa5];
    bytes.extend_from_slice(b"hello");
    bytes.extend_from_slice(&[0x81, 0xa1, b'x']);
    bytes.extend(std::iter::repeat_n(0x91, 100_000));
    bytes.push(0xc0);
    let decoded = decode_any::<crate::wire::ClientMessage>(&bytes);
    assert!(
        matches!(&decoded, Err(CodecError::Malformed(why)) if why.contains("depth")),
        "{decoded:?}"
    );
}

/// A MessagePack string or array that claims more than the frame holds ends the read; the
/// claim is never reserved.
#[test]
fn a_messagepack_length_cannot_force_a_huge_allocation() {
    // str32 of 4 GiB - 1, then three bytes.
    let string = [Encoding::MessagePack.byte(), 0xdb, 0xff, 0xff, 0xff, 0xff, b'a', b'b', b'c'];
    assert!(matches!(decode_any::<String>(&string), Err(CodecError::Malformed(_))));
    // array32 of 2^32 - 1 integers, then one.
    let array = [Encoding::MessagePack.byte(), 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert!(matches!(decode_any::<Vec<u64>>(&array), Err(CodecError::Malformed(_))));
}

#[test]
fn messagepack_values_round_trip_and_refuse_trailing_bytes() {
    let value = (7_u64, String::from("w1"), vec![Some(true), None]);
    let bytes = encode_as(Encoding::MessagePack, &value).expect("encodes");
    assert_eq!(bytes[0], Encoding::MessagePack.byte());
    assert_eq!(decode_any(&bytes), Ok((Encoding::MessagePack, value.clone())));
    let mut long = bytes;
    long.extend_from_slice(&[0xc0, 0xc0]);
    assert_eq!(
        decode_any::<(u64, String, Vec<Option<bool>>)>(&long),
        Err(CodecError::TrailingBytes(2))
    );
    // Rows on disk are bincode only.
    let mut row = encode_as(Encoding::MessagePack, &1_u8).expect("encodes");
    assert_eq!(
        decode::<u8>(&row),
        Err(CodecError::WrongEncoding {
            expected: Encoding::Bincode,
            found: Encoding::MessagePack
        })
    );
    row[0] = 0;
    assert_eq!(decode::<u8>(&row), Err(CodecError::UnknownVersion(0)));
}
