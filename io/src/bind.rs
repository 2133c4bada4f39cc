//! Listening sockets with a backlog of our choosing.
//!
//! std's `TcpListener::bind` (and so async-net's) always asks the kernel for a backlog of
//! 128. When a fleet of workers reconnects at once after a restart, connections beyond
//! that are dropped at SYN time and each of those clients waits out TCP's retransmission
//! timers (1 s, then 3 s): 10,000 re-attaches took 2.07 s (1.43–2.68 s) at 128 and 0.93 s
//! (0.80–0.96 s) at 4,096, measured in one session (BENCHMARKS.md, table 2).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// A listener that could not be opened, and where.
#[derive(Debug)]
pub struct ListenError {
    pub address: SocketAddr,
    pub error: io::Error,
}

impl std::fmt::Display for ListenError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "cannot listen on {}: {}", self.address, self.error)
    }
}

impl std::error::Error for ListenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Binds `address` and listens with `backlog` (Linux caps it at `net.core.somaxconn`).
///
/// # Errors
///
/// When the socket cannot be created, bound (the address is in use, not ours) or listened on.
pub fn listen(address: SocketAddr, backlog: u32) -> io::Result<async_net::TcpListener> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    // What std does on Unix too: a restarted daemon rebinds while its old connections
    // are still in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    async_net::TcpListener::try_from(std::net::TcpListener::from(socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_accepts_on_the_port_it_was_given() {
        smol::block_on(async {
            let listener = listen("127.0.0.1:0".parse().expect("address"), 4096).expect("listen");
            let address = listener.local_addr().expect("bound");
            let client = async_net::TcpStream::connect(address);
            let (accepted, connected) = futures_lite::future::zip(listener.accept(), client).await;
            let (_, peer) = accepted.expect("accepted");
            assert_eq!(peer, connected.expect("connected").local_addr().expect("local"));
        });
    }

    #[test]
    fn a_port_in_use_is_an_error_not_a_second_listener() {
        let first = listen("127.0.0.1:0".parse().expect("address"), 16).expect("listen");
        let address = first.local_addr().expect("bound");
        assert!(listen(address, 16).is_err());
    }
}
