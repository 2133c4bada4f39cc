//! A MessagePack frame body from a peer of the workers' port (after its format byte),
//! decoded as a ClientMessage.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rollcall_io::fuzzing::messagepack_client_message(data);
});
