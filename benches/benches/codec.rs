//! A master's heartbeat through the codec, in each encoding of the master protocol.
//!
//! What: the daemon's per-heartbeat codec work: decode the frame body of a
//! `Request { MasterActive }` and encode the frame of its `Reply { Ok(Master) }`, in
//! bincode (rollcall's own clients) and in MessagePack with named fields (other languages,
//! docs/protocol.md). Baseline: the same two steps with serde_json, the text encoding a
//! protocol for other languages would otherwise use, measured in the same run.
//!
//! Run: `cargo bench -p rollcall-benches --bench codec`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rollcall_core::{Command, MasterId, Reply};
use rollcall_io::codec::{self, Encoding};
use rollcall_io::wire::{ClientMessage, ServerMessage};

fn request() -> ClientMessage {
    ClientMessage::Request {
        request_id: 0x1234_5678_9abc_def0,
        command: Command::MasterActive { name: "build-master-17.example.com:/srv/buildbot".into() },
    }
}

fn reply() -> ServerMessage {
    ServerMessage::Reply {
        request_id: 0x1234_5678_9abc_def0,
        result: Ok(Reply::Master(MasterId(17))),
    }
}

fn heartbeat_codec(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("heartbeat_codec");
    group.throughput(Throughput::Elements(1));
    for encoding in Encoding::ALL {
        let body = codec::encode_as(encoding, &request()).expect("encodes");
        let reply = reply();
        group.bench_function(BenchmarkId::new(encoding.name(), body.len()), |bencher| {
            bencher.iter(|| {
                let decoded: ClientMessage =
                    codec::decode_as(encoding, black_box(&body)).expect("decodes");
                black_box(decoded);
                codec::encode_frame_as(encoding, black_box(&reply)).expect("encodes")
            });
        });
    }
    let body = serde_json::to_vec(&request()).expect("encodes");
    let reply = reply();
    group.bench_function(BenchmarkId::new("serde_json baseline", body.len()), |bencher| {
        bencher.iter(|| {
            let decoded: ClientMessage = serde_json::from_slice(black_box(&body)).expect("decodes");
            black_box(decoded);
            serde_json::to_vec(black_box(&reply)).expect("encodes")
        });
    });
    group.finish();
}

criterion_group!(benches, heartbeat_codec);
criterion_main!(benches);
