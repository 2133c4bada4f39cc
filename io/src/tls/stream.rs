//! A TCP connection in the clear or inside TLS: one type, so every handler is written once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_net::TcpStream;
use futures_lite::{AsyncRead, AsyncWrite};

use super::CertificateNames;

/// A connection as a handler sees it. The TLS state is boxed: it is a few KiB of buffers,
/// and a plain connection should not carry that size.
#[derive(Debug)]
pub enum Stream<T> {
    Plain(TcpStream),
    Tls(Box<T>),
}

/// A connection the daemon accepted.
pub type ServerStream = Stream<futures_rustls::server::TlsStream<TcpStream>>;
/// A connection a client made.
pub type ClientStream = Stream<futures_rustls::client::TlsStream<TcpStream>>;

/// The TCP socket under a TLS stream.
pub trait OverTcp {
    fn tcp(&self) -> &TcpStream;
}

impl OverTcp for futures_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl OverTcp for futures_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl<T: OverTcp> Stream<T> {
    /// The socket itself: for options, and for a shutdown that ends every half of the
    /// connection at once, whatever a TLS peer does with its close_notify.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(tls) => tls.tcp(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl ServerStream {
    /// The names of the client's certificate, which rustls verified against `client_ca`;
    /// `None` when the client presented none (or the connection is plain).
    pub(crate) fn client_certificate_names(&self) -> Option<CertificateNames> {
        let Stream::Tls(tls) = self else { return None };
        let leaf = tls.get_ref().1.peer_certificates()?.first()?;
        Some(CertificateNames::of(leaf))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(socket) => Pin::new(socket).poll_read(context, buffer),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(context, buffer),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(socket) => Pin::new(socket).poll_write(context, bytes),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(context, bytes),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(socket) => Pin::new(socket).poll_flush(context),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(context),
        }
    }

    /// TLS: sends close_notify, then shuts the socket's write half; plain: the write half.
    fn poll_close(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(socket) => Pin::new(socket).poll_close(context),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_close(context),
        }
    }
}
