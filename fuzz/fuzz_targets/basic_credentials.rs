//! The Authorization value of a buildbot-worker's WebSocket upgrade.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::basic_credentials(data);
});
