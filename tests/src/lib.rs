//! End-to-end tests of the `rollcall` daemon live in `tests/`: each starts the real binary
//! on a temporary data directory and free loopback ports, and talks to it over TCP.
