//! A connection's first frame body, judged as the daemon judges a Hello (either encoding,
//! and protocol 2's Hello).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::hello(data);
});
