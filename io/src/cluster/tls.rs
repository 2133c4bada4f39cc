//! TLS to the cluster's PostgreSQL. The `postgres` client's connection is a tokio stream
//! (it runs the client's own small runtime, on the session's thread), so the handshake is
//! rustls through tokio-rustls, with the same rustls configuration, provider and CA
//! loading as rollcall's own clients (`crate::tls::ClientTls`): the server's certificate
//! must chain to the configured CA (or the system's bundle) and carry the host's name, as
//! libpq's `sslmode=verify-full`.
//!
//! Channel binding (SCRAM-SHA-256-PLUS) is not offered: the session authenticates with
//! SCRAM-SHA-256 inside a verified TLS session, which is what binding would add to.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::ClientConfig;
use rustls_pki_types::{InvalidDnsNameError, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tls::{ClientTls, ClientTlsOptions, TlsError};

/// Where a node finds the TLS material for its PostgreSQL sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostgresTlsOptions {
    /// PEM: the CA(s) the server's certificate must chain to; the system's bundle if unset.
    pub ca: Option<std::path::PathBuf>,
    /// PEM: this node's certificate chain and key, for a server that asks for one
    /// (`clientcert=verify-full` in `pg_hba.conf`).
    pub certificate: Option<std::path::PathBuf>,
    pub private_key: Option<std::path::PathBuf>,
}

/// The TLS a node's sessions use, loaded once.
#[derive(Clone, Debug)]
pub struct PostgresTls {
    config: Arc<ClientConfig>,
}

impl PostgresTls {
    /// # Errors
    ///
    /// A file that cannot be read or parsed, a certificate without its key, no CA at all.
    pub fn load(options: &PostgresTlsOptions) -> Result<PostgresTls, TlsError> {
        let client = ClientTls::new(&ClientTlsOptions {
            ca: options.ca.clone(),
            certificate: options.certificate.clone(),
            private_key: options.private_key.clone(),
            server_name: None,
            resumption_sessions: 8,
        })?;
        Ok(PostgresTls { config: client.rustls_config() })
    }
}

impl MakeTlsConnect<Socket> for PostgresTls {
    type Stream = PostgresTlsStream;
    type TlsConnect = PostgresTlsConnect;
    type Error = InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<PostgresTlsConnect, InvalidDnsNameError> {
        let server_name = ServerName::try_from(host.to_string())?;
        Ok(PostgresTlsConnect { config: Arc::clone(&self.config), server_name })
    }
}

/// One session's handshake, to the host it connects to.
#[derive(Debug)]
pub struct PostgresTlsConnect {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

type Handshake = Pin<Box<dyn Future<Output = io::Result<PostgresTlsStream>> + Send>>;

impl TlsConnect<Socket> for PostgresTlsConnect {
    type Stream = PostgresTlsStream;
    type Error = io::Error;
    type Future = Handshake;

    fn connect(self, socket: Socket) -> Handshake {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move {
            let stream = connector.connect(self.server_name, socket).await?;
            Ok(PostgresTlsStream(stream))
        })
    }
}

/// A session's stream once TLS is up.
#[derive(Debug)]
pub struct PostgresTlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for PostgresTlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for PostgresTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl AsyncWrite for PostgresTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}
