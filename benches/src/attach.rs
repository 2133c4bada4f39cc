//! A worker's attach (connect, Hello, Welcome, builder list) over a plain or a TLS stream,
//! written once so that a TLS figure and the plain figure beside it run the same client
//! code. It does what `rollcall_io::client::Session` does (TCP_NODELAY, the stream split
//! into a buffered reader and a writer, one encoded frame per message), and also keeps the
//! handshake the connection took, which a `Session` does not show.

use async_net::TcpStream;
use futures_lite::io::{BufReader, ReadHalf, WriteHalf};
use futures_lite::AsyncWriteExt;
use rollcall_core::{Password, ToWorker};
use rollcall_io::codec;
use rollcall_io::tls::{ClientStream, ClientTls};
use rollcall_io::wire::{ClientMessage, Role, ServerMessage};

use crate::daemon::BoxError;
use crate::fixture::{worker_name, WORKER_PASSWORD};
use crate::tls::{handshake_of, secure, Handshake};

/// The largest frame read from the daemon (as the io client's).
const MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;

/// An attached worker's connection, kept open until dropped.
#[derive(Debug)]
pub struct WorkerSession {
    reader: BufReader<ReadHalf<ClientStream>>,
    writer: WriteHalf<ClientStream>,
    pub handshake: Handshake,
}

impl WorkerSession {
    async fn send(&mut self, message: &ClientMessage) -> Result<(), BoxError> {
        self.writer.write_all(&codec::encode_frame(message)?).await?;
        Ok(())
    }

    async fn receive(&mut self) -> Result<ServerMessage, BoxError> {
        let body = codec::read_frame(&mut self.reader, MAX_FRAME_BYTES).await?;
        match codec::decode(&body)? {
            ServerMessage::Goodbye { reason } => Err(format!("goodbye: {reason}").into()),
            message => Ok(message),
        }
    }

    /// Acknowledges the builder list, as a worker does once it has set its builders up.
    ///
    /// # Errors
    ///
    /// When the connection is gone.
    pub async fn ack(&mut self) -> Result<(), BoxError> {
        self.send(&ClientMessage::BuilderListAck).await
    }
}

/// Worker `worker` (`w<worker>`, the benchmark password) attaches over `socket`, connected
/// to `address` (`host:port`, the name its certificate is verified for), over TLS when
/// `tls` is given: Hello, then the Welcome and the builder list.
///
/// # Errors
///
/// When the TLS handshake fails, the connection breaks, or the daemon answers otherwise.
pub async fn attach_over(
    socket: TcpStream,
    address: &str,
    worker: usize,
    tls: Option<&ClientTls>,
) -> Result<WorkerSession, BoxError> {
    let stream = secure(socket, address, tls).await?;
    let handshake = handshake_of(&stream);
    let (reading, writer) = futures_lite::io::split(stream);
    let mut session = WorkerSession { reader: BufReader::new(reading), writer, handshake };
    let role = Role::Worker { name: worker_name(worker), password: Password::new(WORKER_PASSWORD) };
    session.send(&ClientMessage::hello(role)).await?;
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::Welcome) => {}
        other => return Err(format!("expected a Welcome, got {other:?}").into()),
    }
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::BuilderList { .. }) => {}
        other => return Err(format!("expected a builder list, got {other:?}").into()),
    }
    Ok(session)
}

/// As [`attach_over`], on a new connection to `address`.
///
/// # Errors
///
/// As [`attach_over`], or when the connection cannot be made.
pub async fn attach(
    address: &str,
    worker: usize,
    tls: Option<&ClientTls>,
) -> Result<WorkerSession, BoxError> {
    let socket = TcpStream::connect(address).await?;
    attach_over(socket, address, worker, tls).await
}
