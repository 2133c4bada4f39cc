//! A frame's length prefix against a limit (the first 8 bytes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::frame_length(data);
});
