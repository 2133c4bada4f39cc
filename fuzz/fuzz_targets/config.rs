//! A config file's text; bytes that are not UTF-8 never reach the parser (reading the file
//! refuses them first).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        rollcall_io::fuzzing::config(text);
    }
});
