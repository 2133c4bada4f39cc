//! An HTTP request head, whole and as delimited in a stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::http_head(data);
});
