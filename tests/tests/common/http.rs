//! A minimal HTTP/1.1 client for the REST tests: one request per connection, raw bytes
//! allowed, so malformed requests can be sent too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// Sends `request` as is and reads the whole response.
pub fn raw(address: SocketAddr, request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(address).expect("connect to the HTTP port");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the response");
    parse(&bytes)
}

/// A response's status, content type and body.
pub fn parse(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_string();
    Response { status, content_type, body: body.to_string() }
}

pub fn request(address: SocketAddr, method: &str, target: &str, accept: Option<&str>) -> Response {
    let accept = accept.map(|value| format!("Accept: {value}\r\n")).unwrap_or_default();
    let text =
        format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{accept}Connection: close\r\n\r\n");
    raw(address, text.as_bytes())
}

/// GET with `Accept: application/json`.
pub fn get(address: SocketAddr, target: &str) -> Response {
    request(address, "GET", target, Some("application/json"))
}
