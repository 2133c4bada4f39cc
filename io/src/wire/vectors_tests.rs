//! The test vectors in `docs/protocol.md` are checked against the codec, so the
//! specification cannot drift from the code. Each vector is a fenced block
//! ```` ```hex vector=NAME encoding=bincode|messagepack ```` holding a whole frame (length
//! prefix included) of the message this file names NAME; a MessagePack vector is followed
//! by ```` ```json vector=NAME ```` showing the same frame's value as JSON would.
//! `ROLLCALL_BLESS_DOCS=1 cargo test -p rollcall-io vectors` rewrites the blocks after a
//! deliberate change; otherwise a stale block fails this test.

use std::collections::BTreeSet;

use rollcall_core::{CommandError, MasterId, Reply};

use super::{ClientMessage, RequestError, Role, ServerMessage, PROTOCOL_VERSION};
use crate::codec::{self, Encoding};
use crate::credentials::Token;

const SPECIFICATION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");

enum Message {
    Client(ClientMessage),
    Server(ServerMessage),
}

/// The messages the vectors show, by the name the document gives each.
fn message(name: &str) -> Message {
    let master = Role::Master { name: "m1".into(), token: Token::new("rcm_example-token") };
    match name {
        "hello" => Message::Client(ClientMessage::hello(master)),
        "welcome" => Message::Server(ServerMessage::Welcome { protocol_version: PROTOCOL_VERSION }),
        "master_active" => Message::Client(ClientMessage::Request {
            request_id: 1,
            command: rollcall_core::Command::MasterActive { name: "m1".into() },
        }),
        "reply" => Message::Server(ServerMessage::Reply {
            request_id: 1,
            result: Ok(Reply::Master(MasterId(2))),
        }),
        "error" => Message::Server(ServerMessage::Reply {
            request_id: 2,
            result: Err(RequestError::Refused(CommandError::BuildRequestAlreadyClaimed {
                request: rollcall_core::BuildRequestId(7),
                by: MasterId(3),
            })),
        }),
        "goodbye" => Message::Server(ServerMessage::Goodbye {
            reason: "authentication failed: unknown master or wrong token".into(),
        }),
        other => panic!("docs/protocol.md has a vector {other:?} this test does not know"),
    }
}

/// Every message a vector must be given for, in both encodings.
const REQUIRED: [&str; 6] = ["hello", "welcome", "master_active", "reply", "error", "goodbye"];

fn frame(message: &Message, encoding: Encoding) -> Vec<u8> {
    let framed = match message {
        Message::Client(message) => codec::encode_frame_as(encoding, message),
        Message::Server(message) => codec::encode_frame_as(encoding, message),
    };
    framed.expect("encodes")
}

/// Decodes a frame back, checking that it is the message.
fn decodes_to(bytes: &[u8], message: &Message, encoding: Encoding) -> bool {
    let Some(body) = bytes.get(4..) else { return false };
    let length = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    if length != body.len() {
        return false;
    }
    match message {
        Message::Client(message) => {
            codec::decode_as::<ClientMessage>(encoding, body).as_ref() == Ok(message)
        }
        Message::Server(message) => {
            codec::decode_as::<ServerMessage>(encoding, body).as_ref() == Ok(message)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let lines: Vec<String> = bytes
        .chunks(16)
        .map(|line| line.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" "))
        .collect();
    lines.join("\n")
}

fn parse_hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("not hex: {pair:?}")))
        .collect()
}

fn json(bytes: &[u8]) -> String {
    let value: serde_json::Value = rmp_serde::from_slice(&bytes[5..]).expect("MessagePack");
    serde_json::to_string_pretty(&value).expect("JSON")
}

/// A fenced block's info string, `hex vector=NAME encoding=E` or `json vector=NAME`.
struct Block {
    kind: String,
    vector: String,
    encoding: Option<Encoding>,
    /// The lines of its body, as indices into the document's lines.
    body: std::ops::Range<usize>,
}

fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        let Some(info) = line.strip_prefix("```") else { continue };
        let mut words = info.split_whitespace();
        let kind = words.next().unwrap_or("").to_string();
        let (mut vector, mut encoding) = (None, None);
        for word in words {
            match word.split_once('=') {
                Some(("vector", name)) => vector = Some(name.to_string()),
                Some(("encoding", "bincode")) => encoding = Some(Encoding::Bincode),
                Some(("encoding", "messagepack")) => encoding = Some(Encoding::MessagePack),
                _ => panic!("an unknown word {word:?} in {line:?}"),
            }
        }
        let start = index;
        while index < lines.len() && lines[index] != "```" {
            index += 1;
        }
        let body = start..index;
        index += 1;
        if let Some(vector) = vector {
            found.push(Block { kind, vector, encoding, body });
        }
    }
    found
}

#[test]
fn the_specification_s_vectors_are_what_the_codec_writes_and_reads() {
    let text = std::fs::read_to_string(SPECIFICATION).expect("docs/protocol.md");
    let lines: Vec<&str> = text.lines().collect();
    let bless = std::env::var_os("ROLLCALL_BLESS_DOCS").is_some();
    let mut replaced: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut covered = BTreeSet::new();
    let mut last_messagepack: Option<(String, Vec<u8>)> = None;
    for block in blocks(&lines) {
        let written = lines[block.body.clone()].join("\n");
        let expected = match (block.kind.as_str(), block.encoding) {
            ("hex", Some(encoding)) => {
                let message = message(&block.vector);
                let bytes = frame(&message, encoding);
                if !bless {
                    assert!(
                        decodes_to(&parse_hex(&written), &message, encoding),
                        "vector {} ({encoding}) does not decode to its message",
                        block.vector
                    );
                }
                covered.insert((block.vector.clone(), encoding.byte()));
                if encoding == Encoding::MessagePack {
                    last_messagepack = Some((block.vector.clone(), bytes.clone()));
                }
                hex(&bytes)
            }
            ("json", None) => {
                let Some((vector, bytes)) = last_messagepack.take() else {
                    panic!("a json block for {} follows no MessagePack vector", block.vector)
                };
                assert_eq!(vector, block.vector, "a json block after another vector");
                json(&bytes)
            }
            (kind, encoding) => panic!("a {kind} block with encoding {encoding:?}"),
        };
        if written != expected {
            assert!(
                bless,
                "docs/protocol.md: the {} block of vector {} is stale; it should read\n{expected}\n\
                 (ROLLCALL_BLESS_DOCS=1 cargo test -p rollcall-io vectors rewrites it)",
                block.kind, block.vector
            );
            replaced.push((block.body, expected));
        }
    }
    if bless && !replaced.is_empty() {
        let mut out: Vec<String> = Vec::new();
        let mut index = 0;
        for (range, body) in replaced {
            out.extend(lines[index..range.start].iter().map(|line| (*line).to_string()));
            out.push(body);
            index = range.end;
        }
        out.extend(lines[index..].iter().map(|line| (*line).to_string()));
        std::fs::write(SPECIFICATION, out.join("\n") + "\n").expect("rewrite docs/protocol.md");
    }
    for name in REQUIRED {
        for encoding in Encoding::ALL {
            assert!(
                covered.contains(&(name.to_string(), encoding.byte())),
                "docs/protocol.md lacks the {encoding} vector of {name}"
            );
        }
    }
}
