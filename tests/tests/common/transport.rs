//! How a test reaches the daemon: in the clear, or over TLS with a CA made for the test, so
//! that one test body runs against both kinds of daemon.
//!
//! Raw byte-level clients ([`Transport::connect_from`], [`Transport::raw`]) are synchronous:
//! over TLS they are a `rustls::StreamOwned` whose handshake is complete before the caller
//! writes anything, so hostile bytes arrive *inside* a TLS session, as they would from a
//! client that holds no credentials but can speak TLS. rollcall sessions go through the
//! daemon's own client (`Session::over_with`) with the same CA.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rollcall_core::Password;
use rollcall_io::client::Session;
use rollcall_io::tls::ClientTls;
use rollcall_io::wire::Role;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::http::Response;
use super::tls::Pki;
use super::{within, Daemon, STEP};

/// A read or write that waits longer than this fails the test instead of hanging it: an
/// upper bound for a loaded machine, never a timing.
const IO_LIMIT: Duration = Duration::from_secs(30);

/// The address legitimate clients connect from (attackers bind another one of 127/8).
const LEGITIMATE: &str = "127.0.0.1";

/// In the clear, or TLS on every port.
pub enum Transport {
    Clear,
    Tls(Box<Tls>),
}

/// A test CA, and the two clients that trust it.
pub struct Tls {
    pub pki: Pki,
    /// For rollcall sessions (async, the daemon's own client code).
    pub client: ClientTls,
    /// For raw bytes (sync rustls over a `std` socket), without session resumption.
    pub raw: Arc<ClientConfig>,
}

impl Transport {
    pub fn clear() -> Transport {
        Transport::Clear
    }

    /// TLS with a new CA; the daemon must be started through [`Transport::daemon`].
    pub fn tls() -> Transport {
        let pki = Pki::new();
        let client = pki.client();
        let pem = std::fs::read(&pki.pki.ca).expect("read the test CA");
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            roots.add(certificate.expect("a PEM certificate")).expect("a CA certificate");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut raw = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Each raw connection a stranger's: a full handshake, the daemon's costliest.
        raw.resumption = rustls::client::Resumption::disabled();
        Transport::Tls(Box::new(Tls { pki, client, raw: Arc::new(raw) }))
    }

    /// The async client for rollcall sessions, `None` in the clear.
    pub fn client_tls(&self) -> Option<&ClientTls> {
        match self {
            Transport::Clear => None,
            Transport::Tls(tls) => Some(&tls.client),
        }
    }

    /// `rest` of a daemon's config, with the `[tls]` section over TLS.
    pub fn config(&self, rest: &str) -> String {
        match self {
            Transport::Clear => rest.to_string(),
            Transport::Tls(tls) => format!("{rest}\n{}", tls.pki.section(false)),
        }
    }

    /// A daemon speaking this transport on every port ([`Daemon::start`]).
    pub fn daemon(&self, rest: &str) -> Daemon {
        Daemon::start(&self.config(rest))
    }

    /// As [`Transport::daemon`], with more arguments for `serve`.
    pub fn daemon_with(&self, rest: &str, extra_args: &[&str]) -> Daemon {
        Daemon::start_with(&self.config(rest), extra_args)
    }

    /// A connection to `target` from `source` (an address of 127/8), its TLS handshake
    /// done; the test fails when it cannot be made.
    pub fn connect_from(&self, source: &str, target: SocketAddr) -> Connection {
        self.try_connect_from(source, target, |_| ())
            .unwrap_or_else(|error| panic!("connect from {source} to {target}: {error}"))
    }

    /// As [`Transport::connect_from`], with `configure` applied to the socket before it
    /// connects; an error when the connection or its TLS handshake fails (a daemon that
    /// refuses a connection at accept closes it unanswered).
    pub fn try_connect_from(
        &self,
        source: &str,
        target: SocketAddr,
        configure: impl FnOnce(&socket2::Socket),
    ) -> std::io::Result<Connection> {
        let socket = tcp_from(source, target, configure)?;
        match self {
            Transport::Clear => Ok(Connection::Clear(socket)),
            Transport::Tls(tls) => {
                let name = ServerName::IpAddress(target.ip().into());
                let mut session = ClientConnection::new(Arc::clone(&tls.raw), name)
                    .map_err(std::io::Error::other)?;
                let mut socket = socket;
                while session.is_handshaking() {
                    if session.complete_io(&mut socket)? == (0, 0) {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                Ok(Connection::Tls(Box::new(StreamOwned::new(session, socket))))
            }
        }
    }

    /// A connection from the legitimate address.
    pub fn connect(&self, target: SocketAddr) -> Connection {
        self.connect_from(LEGITIMATE, target)
    }

    /// Sends `request` as is and reads the whole response.
    pub fn raw(&self, target: SocketAddr, request: &[u8]) -> Response {
        self.raw_from(LEGITIMATE, target, request)
    }

    /// As [`Transport::raw`], from `source`.
    pub fn raw_from(&self, source: &str, target: SocketAddr, request: &[u8]) -> Response {
        let mut connection = self.connect_from(source, target);
        connection.write_all(request).expect("send");
        let mut bytes = Vec::new();
        if let Err(error) = connection.read_to_end(&mut bytes) {
            // A TLS peer that closes without close_notify; anything else is a failure.
            assert!(
                error.kind() == std::io::ErrorKind::UnexpectedEof && !bytes.is_empty(),
                "read the response from {target}: {error}"
            );
        }
        super::http::parse(&bytes)
    }

    pub fn request(
        &self,
        target: SocketAddr,
        method: &str,
        path: &str,
        accept: Option<&str>,
    ) -> Response {
        let accept = accept.map(|value| format!("Accept: {value}\r\n")).unwrap_or_default();
        let text =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{accept}Connection: close\r\n\r\n");
        self.raw(target, text.as_bytes())
    }

    /// GET with `Accept: application/json`.
    pub fn get(&self, target: SocketAddr, path: &str) -> Response {
        self.request(target, "GET", path, Some("application/json"))
    }

    /// `/healthz` answers 200.
    pub fn healthy(&self, daemon: &Daemon) -> bool {
        self.get(daemon.http_address, "/healthz").status == 200
    }

    /// The value of one series of `/metrics` (labels included in `series`), or 0 when
    /// absent.
    pub fn metric(&self, daemon: &Daemon, series: &str) -> f64 {
        let text = self.get(daemon.http_address, "/metrics").body;
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// A rollcall session on the workers' port that has said Hello as `role`.
    pub fn session(&self, daemon: &Daemon, role: Role) -> Session {
        self.session_from(LEGITIMATE, daemon, role)
    }

    /// As [`Transport::session`], from `source`.
    pub fn session_from(&self, source: &str, daemon: &Daemon, role: Role) -> Session {
        let socket = tcp_from(source, daemon.workers_address, |_| ()).expect("connect");
        let socket = async_net::TcpStream::try_from(socket).expect("an async socket");
        within(STEP, Session::over_with(socket, &daemon.address(), role, self.client_tls()))
            .expect("connect and say Hello")
    }

    /// Attaches a worker and returns its session and the builder list it was given.
    pub fn attach(&self, daemon: &Daemon, name: &str, password: &str) -> (Session, Vec<String>) {
        let role = Role::Worker { name: name.into(), password: Password::new(password) };
        super::welcomed(self.session(daemon, role))
    }
}

/// A TCP connection to `target` from `source`, `configure`d before it connects, with
/// [`IO_LIMIT`] on its reads and writes.
pub fn tcp_from(
    source: &str,
    target: SocketAddr,
    configure: impl FnOnce(&socket2::Socket),
) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let local: SocketAddr = format!("{source}:0").parse().expect("a source address");
    socket.bind(&local.into())?;
    configure(&socket);
    socket.connect(&target.into())?;
    socket.set_read_timeout(Some(IO_LIMIT))?;
    socket.set_write_timeout(Some(IO_LIMIT))?;
    Ok(socket.into())
}

/// A raw client's connection: TCP, or a TLS session over it whose handshake is done.
pub enum Connection {
    Clear(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Connection {
    /// The TCP socket (for its options).
    pub fn socket(&self) -> &TcpStream {
        match self {
            Connection::Clear(socket) => socket,
            Connection::Tls(tls) => tls.get_ref(),
        }
    }

    /// Everything the daemon sent before it closed, even when a write of ours failed first
    /// (a daemon refusing a connection may close it before taking all we sent). Over TLS the
    /// records are read straight from the socket: a `StreamOwned` would first try to send
    /// what is still unsent, and fail again.
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        match self {
            Connection::Clear(socket) => {
                let _ = socket.read_to_end(&mut bytes);
            }
            Connection::Tls(tls) => {
                let StreamOwned { conn, sock } = tls.as_mut();
                loop {
                    // Stops at what is decrypted so far (WouldBlock), or at close_notify.
                    let _ = conn.reader().read_to_end(&mut bytes);
                    match conn.read_tls(sock) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    if conn.process_new_packets().is_err() {
                        break;
                    }
                }
                let _ = conn.reader().read_to_end(&mut bytes);
            }
        }
        bytes
    }
}

impl Read for Connection {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Connection::Clear(socket) => socket.read(buffer),
            Connection::Tls(tls) => tls.read(buffer),
        }
    }
}

impl Write for Connection {
    /// Over TLS each write is flushed to the socket at once, as a plain write would be.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Connection::Clear(socket) => socket.write(bytes),
            Connection::Tls(tls) => {
                let written = tls.write(bytes)?;
                tls.flush()?;
                Ok(written)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Connection::Clear(socket) => socket.flush(),
            Connection::Tls(tls) => tls.flush(),
        }
    }
}
