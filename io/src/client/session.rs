use async_net::TcpStream;
use futures_lite::io::{BufReader, ReadHalf, WriteHalf};
use futures_lite::AsyncWriteExt;

use crate::codec::{self, CodecError, Encoding, FrameError};
use crate::tls::{ClientStream, ClientTls, Stream};
use crate::wire::{ClientMessage, Role, ServerMessage};

/// The largest frame a client accepts from the daemon.
const CLIENT_MAX_FRAME_BYTES: u32 = 16 * 1024 * 1024;

#[derive(Debug)]
pub enum ClientError {
    Connect(std::io::Error),
    /// The TLS handshake failed: the daemon's certificate did not verify, or the port does
    /// not speak TLS. Retrying cannot help until a flag or a certificate changes.
    Tls(String),
    Send(std::io::Error),
    Receive(FrameError),
    Decode(CodecError),
    /// The daemon closed the connection, saying why.
    Goodbye(String),
    /// A cluster node that does not lead now; the leader's address, when it knows it.
    NotLeader(Option<String>),
    Unexpected(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect(error) => write!(formatter, "cannot connect: {error}"),
            ClientError::Tls(why) => formatter.write_str(why),
            ClientError::Send(error) => write!(formatter, "cannot send: {error}"),
            ClientError::Receive(error) => write!(formatter, "cannot receive: {error}"),
            ClientError::Decode(error) => write!(formatter, "bad frame from the daemon: {error}"),
            ClientError::Goodbye(reason) => {
                write!(formatter, "the daemon closed the connection: {reason}")
            }
            ClientError::NotLeader(Some(leader)) => {
                write!(formatter, "this node does not lead the cluster: the leader is at {leader}")
            }
            ClientError::NotLeader(None) => {
                formatter.write_str("this node does not lead the cluster, and knows no leader yet")
            }
            ClientError::Unexpected(what) => write!(formatter, "unexpected message: {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One connection to the daemon, after its Hello.
#[derive(Debug)]
pub struct Session {
    reader: BufReader<ReadHalf<ClientStream>>,
    writer: WriteHalf<ClientStream>,
    /// What the Hello chose: every frame both ways is encoded so.
    encoding: Encoding,
}

impl Session {
    /// Connects and says Hello in the given role.
    ///
    /// # Errors
    ///
    /// When the daemon cannot be reached or the Hello cannot be sent.
    pub async fn connect(address: &str, role: Role) -> Result<Session, ClientError> {
        Session::connect_with(address, role, None).await
    }

    /// Connects, over TLS when `tls` is given, and says Hello in the given role.
    ///
    /// # Errors
    ///
    /// When the daemon cannot be reached, the TLS handshake fails or the Hello cannot be
    /// sent.
    pub async fn connect_with(
        address: &str,
        role: Role,
        tls: Option<&ClientTls>,
    ) -> Result<Session, ClientError> {
        Session::connect_encoded(address, role, tls, Encoding::Bincode).await
    }

    /// As [`Session::connect_with`], speaking `encoding`.
    ///
    /// # Errors
    ///
    /// As [`Session::connect_with`].
    pub async fn connect_encoded(
        address: &str,
        role: Role,
        tls: Option<&ClientTls>,
        encoding: Encoding,
    ) -> Result<Session, ClientError> {
        let stream = TcpStream::connect(address).await.map_err(ClientError::Connect)?;
        Session::over_encoded(stream, address, role, tls, encoding).await
    }

    /// Says Hello in the given role over a connection made elsewhere (from a chosen source
    /// address, say).
    ///
    /// # Errors
    ///
    /// When the Hello cannot be sent.
    pub async fn over(stream: TcpStream, role: Role) -> Result<Session, ClientError> {
        Session::over_with(stream, "", role, None).await
    }

    /// As [`Session::over`], over TLS when `tls` is given; `address` (`host:port`) names
    /// the daemon whose certificate is verified, unless the TLS options name it.
    ///
    /// # Errors
    ///
    /// When the TLS handshake fails or the Hello cannot be sent.
    pub async fn over_with(
        stream: TcpStream,
        address: &str,
        role: Role,
        tls: Option<&ClientTls>,
    ) -> Result<Session, ClientError> {
        Session::over_encoded(stream, address, role, tls, Encoding::Bincode).await
    }

    /// As [`Session::over_with`], speaking `encoding` (rollcall's own clients speak
    /// bincode; MessagePack is for other languages, and for tests and benchmarks of it).
    ///
    /// # Errors
    ///
    /// When the TLS handshake fails or the Hello cannot be sent.
    pub async fn over_encoded(
        stream: TcpStream,
        address: &str,
        role: Role,
        tls: Option<&ClientTls>,
        encoding: Encoding,
    ) -> Result<Session, ClientError> {
        let _ = stream.set_nodelay(true);
        let stream = match tls {
            Some(tls) => tls.connect(stream, address).await.map_err(ClientError::Tls)?,
            None => Stream::Plain(stream),
        };
        let (reading, writer) = futures_lite::io::split(stream);
        let mut session = Session { reader: BufReader::new(reading), writer, encoding };
        match session.send(&ClientMessage::hello(role)).await {
            Ok(()) => Ok(session),
            // A daemon that refuses a Hello while it is still being written (one over its
            // size limit) says why, then closes: show its reason rather than the broken pipe.
            Err(error) => Err(session.goodbye_after(error).await),
        }
    }

    /// The daemon's Goodbye, if one arrives within a moment of `error`; else `error`.
    async fn goodbye_after(&mut self, error: ClientError) -> ClientError {
        let goodbye = futures_lite::future::or(async { Some(self.receive().await) }, async {
            smol::Timer::after(std::time::Duration::from_secs(1)).await;
            None
        });
        match goodbye.await {
            Some(Err(goodbye @ ClientError::Goodbye(_))) => goodbye,
            _ => error,
        }
    }

    /// # Errors
    ///
    /// When the connection is gone.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let frame = codec::encode_frame_as(self.encoding, message).map_err(ClientError::Decode)?;
        self.writer.write_all(&frame).await.map_err(ClientError::Send)
    }

    /// Sends raw bytes: for tests that check how the daemon treats garbage.
    ///
    /// # Errors
    ///
    /// When the connection is gone.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.write_all(bytes).await.map_err(ClientError::Send)
    }

    /// Sends every message `outgoing` yields while receiving at the same time, each
    /// message received handed to `incoming`, until the connection fails, `outgoing`
    /// closes or yields `None` (the caller gives the session up), or `incoming` returns
    /// `false`: requests are pipelined, not each waiting for the last one's reply.
    pub(crate) async fn pipeline(
        &mut self,
        outgoing: &smol::channel::Receiver<Option<ClientMessage>>,
        mut incoming: impl FnMut(ServerMessage) -> bool,
    ) -> ClientError {
        let Session { reader, writer, encoding } = self;
        let encoding = *encoding;
        let sending = async {
            loop {
                let Ok(Some(message)) = outgoing.recv().await else {
                    return ClientError::Unexpected("the session was given up".into());
                };
                let frame = match codec::encode_frame_as(encoding, &message) {
                    Ok(frame) => frame,
                    Err(error) => return ClientError::Decode(error),
                };
                if let Err(error) = writer.write_all(&frame).await {
                    return ClientError::Send(error);
                }
            }
        };
        let receiving = async {
            loop {
                let body = match codec::read_frame(reader, CLIENT_MAX_FRAME_BYTES).await {
                    Ok(body) => body,
                    Err(error) => return ClientError::Receive(error),
                };
                let message = match codec::decode_as(encoding, &body) {
                    Ok(ServerMessage::Goodbye { reason }) => return ClientError::Goodbye(reason),
                    Ok(ServerMessage::NotLeader { leader }) => {
                        return ClientError::NotLeader(leader)
                    }
                    Ok(message) => message,
                    Err(error) => return ClientError::Decode(error),
                };
                if !incoming(message) {
                    return ClientError::Unexpected("an unexpected message".into());
                }
            }
        };
        futures_lite::FutureExt::or(sending, receiving).await
    }

    /// The next message; a `Goodbye` becomes [`ClientError::Goodbye`].
    ///
    /// # Errors
    ///
    /// When the connection ends or a frame cannot be decoded.
    pub async fn receive(&mut self) -> Result<ServerMessage, ClientError> {
        let body = codec::read_frame(&mut self.reader, CLIENT_MAX_FRAME_BYTES)
            .await
            .map_err(ClientError::Receive)?;
        // A refusal of the Hello itself may come in bincode, if the daemon could not tell
        // what the Hello asked for; everything after it is in the session's encoding.
        let message = match codec::decode_as(self.encoding, &body) {
            Err(CodecError::WrongEncoding { found: Encoding::Bincode, .. }) => {
                codec::decode_as(Encoding::Bincode, &body)
            }
            decoded => decoded,
        };
        match message.map_err(ClientError::Decode)? {
            ServerMessage::Goodbye { reason } => Err(ClientError::Goodbye(reason)),
            ServerMessage::NotLeader { leader } => Err(ClientError::NotLeader(leader)),
            message => Ok(message),
        }
    }
}
