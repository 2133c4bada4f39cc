//! A byte stream to the workers' port, read frame by frame and decoded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::frames(data);
});
