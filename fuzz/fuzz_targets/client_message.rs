//! A frame body from a peer of the workers' port, decoded as a ClientMessage.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::client_message(data);
});
