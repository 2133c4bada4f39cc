//! A minimal HTTP/1.1 GET over a fresh loopback connection: what a plain client does, and
//! nothing this crate's dependencies would add. [`get`] is blocking std I/O in the clear;
//! [`get_with`] is the same request over async-net, over TLS with a [`ClientTls`] (HTTPS) or
//! in the clear without, so that an HTTPS figure and the HTTP figure beside it run the same
//! client code.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_io::tls::ClientTls;

use crate::daemon::BoxError;
use crate::tls::{handshake_of, secure, Handshake};

/// `GET path` with `Accept: application/json` on a new connection; the status and body.
///
/// # Errors
///
/// When the connection fails or the answer is not HTTP.
pub fn get(address: SocketAddr, path: &str) -> Result<(u16, Vec<u8>), std::io::Error> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse(&response)
}

/// An answer of [`get_with`].
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// Plain for HTTP; for HTTPS, whether the TLS handshake was full or resumed.
    pub handshake: Handshake,
}

/// `GET path` as [`get`] does, on a new async-net connection, over TLS when `tls` is given
/// (HTTPS, the daemon's certificate verified for the address's IP); blocks until the answer
/// is read to its end (the daemon closes: `Connection: close`).
///
/// # Errors
///
/// When the connection or the TLS handshake fails, or the answer is not HTTP.
pub fn get_with(
    address: SocketAddr,
    path: &str,
    tls: Option<&ClientTls>,
) -> Result<Answer, BoxError> {
    smol::block_on(async {
        let socket = async_net::TcpStream::connect(address).await?;
        let mut stream = secure(socket, &address.to_string(), tls).await?;
        let handshake = handshake_of(&stream);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let (status, body) = parse(&response)?;
        Ok(Answer { status, body, handshake })
    })
}

fn parse(response: &[u8]) -> Result<(u16, Vec<u8>), std::io::Error> {
    let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    let header_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = std::str::from_utf8(&response[..header_end]).map_err(|_| invalid("not UTF-8"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status code"))?;
    let mut body = response[header_end + 4..].to_vec();
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase().starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}
