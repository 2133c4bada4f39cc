//! Connections from chosen loopback source addresses: a fleet of workers comes from many
//! hosts, and the daemon caps connections per peer address, so a benchmark of thousands of
//! workers spreads them over addresses of 127/8 as a real fleet is spread over hosts.

use std::net::{Ipv4Addr, SocketAddr};

use async_net::TcpStream;

/// How many clients share one source address.
pub const CLIENTS_PER_ADDRESS: usize = 100;

/// The source address of client `index`: 127.1.x.y, `CLIENTS_PER_ADDRESS` clients each.
pub fn source_of(index: usize) -> Ipv4Addr {
    let host = index / CLIENTS_PER_ADDRESS;
    // 250 hosts per /24, from .1: 64,000 addresses, 6.4 million clients.
    let third = u8::try_from(host / 250 % 256).unwrap_or(0);
    let fourth = u8::try_from(host % 250 + 1).unwrap_or(1);
    Ipv4Addr::new(127, 1, third, fourth)
}

/// Connects to `target` from `source`, without blocking the executor.
///
/// # Errors
///
/// When the socket cannot be bound or the connection fails.
pub async fn connect_from(source: Ipv4Addr, target: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.set_nonblocking(true)?;
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc_einprogress()) => {}
        Err(error) => return Err(error),
    }
    let stream = smol::Async::new(std::net::TcpStream::from(socket))?;
    stream.writable().await?;
    if let Some(error) = stream.get_ref().take_error()? {
        return Err(error);
    }
    Ok(TcpStream::from(stream))
}

/// EINPROGRESS on Linux: a non-blocking connect has started.
fn libc_einprogress() -> i32 {
    115
}
