//! Drives the core for real: sockets, fjall storage, HTTP, config and signals (the daemon issue builds it).
