//! End-to-end tests of the built daemon over real sockets and files (they arrive with the daemon).
