//! The HTTP port's front: the only code that reads from an HTTP client.
//!
//! tiny_http stays the request engine (routing and rendering are written against it), but it
//! listens only on a Unix socket in a directory only this process can reach, and is handed
//! nothing but requests this module rebuilt from a validated head ([`head::RequestHead`]).
//! For each client connection, under the acceptor's caps:
//!
//! 1. the head is read within the handshake deadline and [`head::MAX_HEAD_BYTES`]
//!    (408 or 431 otherwise) and validated (405, 413, 417, 400, ... with an `{"error"}` body);
//! 2. a request slot is taken (503 when none frees up in time), which bounds tiny_http's
//!    threads and the core reads in flight;
//! 3. the engine's whole response is read back over the Unix socket, which frees the slot
//!    at once, then written to the client under a write deadline, so a client that stops
//!    reading a large listing is dropped, never waited for.
//!
//! One request per connection: every response says `Connection: close`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::unix::UnixStream;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWriteExt, FutureExt};

use crate::acceptor::{before_deadline, Admission, Refusal};
use crate::http::budget::ResponseBudget;
use crate::http::head::{self, HeadError, RequestHead};
use crate::tls::ServerStream;

/// Bytes written to the client per step; each step has the whole write deadline.
const WRITE_CHUNK_BYTES: usize = 64 * 1024;

/// The engine's responses are this daemon's own; a response larger than this is a bug, and
/// is answered with a 500 rather than buffered.
const MAX_RESPONSE_BYTES: usize = 512 * 1024 * 1024;

/// After the answer, unread request bytes are drained for this long (at most this many), so
/// that closing does not reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Front {
    /// tiny_http's Unix socket.
    pub(crate) backend: PathBuf,
    pub(crate) slots: Arc<smol::lock::Semaphore>,
    /// How long a request may wait for a slot before it gets a 503.
    pub(crate) slot_wait: Duration,
    /// Each write of a response chunk must finish within this, and the whole response
    /// within [`Front::response_deadline`].
    pub(crate) write_timeout: Duration,
    pub(crate) response_deadline: Duration,
    /// The bytes of responses all connections hold while their clients read.
    pub(crate) buffered: Arc<ResponseBudget>,
}

pub(crate) enum HeadRead {
    Complete(usize),
    TooLarge,
    Closed,
}

/// Serves one client connection to its end.
pub(crate) async fn serve(
    mut stream: ServerStream,
    peer: SocketAddr,
    mut admission: Admission,
    front: Arc<Front>,
) {
    let port = Arc::clone(admission.port());
    let mut buffer = Vec::with_capacity(1024);
    let read = before_deadline(&admission, read_head(&mut stream, &mut buffer)).await;
    let end = match read {
        None => {
            let seconds = port.limits.handshake_timeout.as_secs();
            port.refused(Refusal::HandshakeTimeout, peer, "");
            let message = format!("no complete request head within {seconds} s");
            return answer_error(stream, &front, 408, &message).await;
        }
        Some(HeadRead::Closed) => return,
        Some(HeadRead::TooLarge) => {
            let error = HeadError::HeadTooLarge;
            port.refused(Refusal::BadRequest(error.label()), peer, "");
            return answer_error(stream, &front, error.status(), &error.to_string()).await;
        }
        Some(HeadRead::Complete(end)) => end,
    };
    let request = match head::parse_head(&buffer[..end]) {
        Ok(request) => request,
        Err(error) => {
            port.refused(Refusal::BadRequest(error.label()), peer, &format!(": {error}"));
            return answer_error(stream, &front, error.status(), &error.to_string()).await;
        }
    };
    admission.trusted();
    drop(buffer);
    let slot = async { Some(front.slots.acquire_arc().await) }
        .or(async {
            smol::Timer::after(front.slot_wait).await;
            None
        })
        .await;
    let Some(slot) = slot else {
        port.refused(Refusal::Busy, peer, "");
        return answer_error(stream, &front, 503, "too many requests in flight, retry").await;
    };
    let response = ask_engine(&front, &request).await;
    drop(slot);
    match response {
        Ok(response) => {
            let Some(held) = front.buffered.reserve(response.len()) else {
                drop(response);
                port.refused(Refusal::ResponseBudget, peer, "");
                let message =
                    "the daemon holds its limit of response bytes for clients still reading, retry";
                return answer_error(stream, &front, 503, message).await;
            };
            let _ = write_response(&mut stream, &front, &response).await;
            drop((response, held));
            linger(stream).await;
        }
        Err(error) => {
            tracing::error!(%error, "the HTTP engine did not answer");
            answer_error(stream, &front, 500, "the request engine did not answer").await;
        }
    }
}

/// Reads until the head's blank line, at most [`head::MAX_HEAD_BYTES`].
pub(crate) async fn read_head(
    stream: &mut (impl AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> HeadRead {
    let mut chunk = [0_u8; 4096];
    loop {
        let room = head::MAX_HEAD_BYTES + 1 - buffer.len();
        let want = room.min(chunk.len());
        let read = match stream.read(&mut chunk[..want]).await {
            Ok(0) | Err(_) => return HeadRead::Closed,
            Ok(read) => read,
        };
        // Only the new bytes and the three before them can complete the blank line.
        let from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = head::head_end(&buffer[from..]) {
            return HeadRead::Complete(from + end);
        }
        if buffer.len() > head::MAX_HEAD_BYTES {
            return HeadRead::TooLarge;
        }
    }
}

/// Sends the rebuilt request to tiny_http and reads its whole response.
async fn ask_engine(front: &Front, request: &RequestHead) -> std::io::Result<Vec<u8>> {
    let mut engine = UnixStream::connect(&front.backend).await?;
    engine.write_all(&request.forwarded()).await?;
    let mut response = Vec::with_capacity(4096);
    (&mut engine).take(MAX_RESPONSE_BYTES as u64 + 1).read_to_end(&mut response).await?;
    if response.len() > MAX_RESPONSE_BYTES {
        return Err(std::io::Error::other("response larger than the front's limit"));
    }
    Ok(response)
}

/// Writes `bytes` chunk by chunk, each within the write timeout, all within the response
/// deadline; `false` when the client was too slow and is being dropped.
async fn write_response(stream: &mut ServerStream, front: &Front, bytes: &[u8]) -> bool {
    let started = Instant::now();
    for chunk in bytes.chunks(WRITE_CHUNK_BYTES) {
        let left = front.response_deadline.saturating_sub(started.elapsed());
        let limit = front.write_timeout.min(left);
        let written = async { stream.write_all(chunk).await.is_ok() }
            .or(async {
                smol::Timer::after(limit).await;
                false
            })
            .await;
        if !written {
            tracing::debug!(sent = bytes.len(), "HTTP client not reading its response: dropped");
            return false;
        }
    }
    true
}

/// The front's own answer, for requests that never reach the engine.
async fn answer_error(stream: ServerStream, front: &Front, status: u16, message: &str) {
    send_and_close(stream, &error_response(status, message), front.write_timeout).await;
}

pub(crate) fn error_response(status: u16, message: &str) -> Vec<u8> {
    let allow = if status == 405 { "Allow: GET, HEAD\r\n" } else { "" };
    error_response_with(status, message, allow)
}

/// An `{"error"}` answer with `extra_headers` (each line ending in CRLF) in its head.
pub(crate) fn error_response_with(status: u16, message: &str, extra_headers: &str) -> Vec<u8> {
    let body = serde_json::json!({ "error": message }).to_string();
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        reason_phrase(status),
        body.len()
    )
    .into_bytes()
}

/// Writes an answer within `timeout`, then lingers so the peer can read it.
pub(crate) async fn send_and_close(mut stream: ServerStream, bytes: &[u8], timeout: Duration) {
    let written = async { stream.write_all(bytes).await.is_ok() }
        .or(async {
            smol::Timer::after(timeout).await;
            false
        })
        .await;
    if written {
        linger(stream).await;
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Half-closes, then drains what the client still sends for a moment: closing a socket with
/// unread bytes resets the connection, and the client may lose the answer it was sent.
async fn linger(mut stream: ServerStream) {
    let socket = stream.socket().clone();
    let drain = async {
        // TLS: close_notify, then the write half; in the clear, the write half.
        let _ = stream.close().await;
        let mut sink = [0_u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => drained += read,
            }
        }
    };
    drain
        .or(async {
            smol::Timer::after(LINGER).await;
        })
        .await;
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fronts_own_answers_are_complete_json_responses() {
        let response =
            String::from_utf8(error_response(405, "method not allowed: only GET and HEAD"))
                .expect("ASCII");
        let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("Allow: GET, HEAD"));
        assert!(head.contains("Connection: close"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let value: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(value["error"], "method not allowed: only GET and HEAD");
    }
}
