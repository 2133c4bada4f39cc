//! A binary WebSocket message from a buildbot-worker (MessagePack).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::buildbot_message(data);
});
