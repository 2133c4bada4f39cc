//! The daemon's side of TLS: its certificate, key and optional client CA, loaded whole and
//! swapped in one step (a reload that fails leaves the old ones serving), and the handshake
//! of each accepted connection.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

use async_net::TcpStream;
use futures_rustls::TlsAcceptor;
use rustls::server::{ProducesTickets, WebPkiClientVerifier};
use rustls::ServerConfig;

use super::{files, provider, ServerStream, Stream, TlsError};
use crate::acceptor::{before_deadline, Admission, PortName, Refusal};
use crate::config::TlsSection;

/// The first byte of every TLS record that opens a connection (a handshake record). A
/// rollcall Hello starts with its length's high byte (0: a Hello is at most 4 KiB) and
/// HTTP with a method's letter, so one byte tells a plaintext client from a TLS one.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The TLS configurations of every port, or none when the daemon runs in the clear.
#[derive(Debug)]
pub struct ServerTls {
    current: RwLock<Option<Arc<Loaded>>>,
    /// One ticket key set per port kind for the life of the process, so that a reload does
    /// not throw away every client's resumption ticket, and a ticket from one port is never
    /// accepted by another (the HTTP port asks for no client certificate).
    workers_tickets: Arc<dyn ProducesTickets>,
    other_tickets: Arc<dyn ProducesTickets>,
}

/// What a `[tls]` section loaded into: ready to install, or to throw away if the rest of
/// the reload fails.
#[derive(Debug)]
pub struct PreparedTls(Option<Arc<Loaded>>);

#[derive(Debug)]
struct Loaded {
    /// rollcall's worker port: workers and masters. With `client_ca`, it asks every client
    /// for a certificate (and verifies any that is given); the master session checks that
    /// one was given and names it.
    workers: Arc<ServerConfig>,
    buildbot: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
    masters_need_certificate: bool,
}

impl ServerTls {
    /// A daemon in the clear (no `[tls]`), which a reload may still turn to TLS.
    ///
    /// # Errors
    ///
    /// Only when the ring provider cannot make ticket keys (no system randomness).
    pub fn new() -> Result<ServerTls, TlsError> {
        let tickets = || {
            rustls::crypto::ring::Ticketer::new()
                .map_err(|error| TlsError::of(format!("cannot make TLS ticket keys: {error}")))
        };
        Ok(ServerTls {
            current: RwLock::new(None),
            workers_tickets: tickets()?,
            other_tickets: tickets()?,
        })
    }

    /// Reads and checks the files of `section` (`None`: TLS off) without installing them.
    ///
    /// # Errors
    ///
    /// A file that cannot be read or parsed, or a key that is not the certificate's.
    pub fn prepare(&self, section: Option<&TlsSection>) -> Result<PreparedTls, TlsError> {
        let Some(section) = section else { return Ok(PreparedTls(None)) };
        let chain = files::certificates(&section.certificate)?;
        let key = files::private_key(&section.private_key)?;
        let builder = || {
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|error| TlsError::of(format!("TLS versions: {error}")))
        };
        let with_key =
            |config: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>| {
                config
                    .with_single_cert(chain.clone(), key.clone_key())
                    .map_err(|error| key_problem(&section.private_key, &error))
            };
        let mut workers = match &section.client_ca {
            Some(client_ca) => {
                let roots = files::root_store(client_ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        // Workers have no certificates; a master without one is refused
                        // at its Hello, naming why.
                        .allow_unauthenticated()
                        .build()
                        .map_err(|error| TlsError::in_file(client_ca, error.to_string()))?;
                with_key(builder()?.with_client_cert_verifier(verifier))?
            }
            None => with_key(builder()?.with_no_client_auth())?,
        };
        workers.ticketer = Arc::clone(&self.workers_tickets);
        let mut buildbot = with_key(builder()?.with_no_client_auth())?;
        buildbot.ticketer = Arc::clone(&self.other_tickets);
        let mut http = with_key(builder()?.with_no_client_auth())?;
        http.ticketer = Arc::clone(&self.other_tickets);
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(PreparedTls(Some(Arc::new(Loaded {
            workers: Arc::new(workers),
            buildbot: Arc::new(buildbot),
            http: Arc::new(http),
            masters_need_certificate: section.client_ca.is_some(),
        }))))
    }

    /// Serves new connections with `prepared` from now on; open ones keep what they have.
    pub fn install(&self, prepared: PreparedTls) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = prepared.0;
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn is_enabled(&self) -> bool {
        self.current().is_some()
    }

    /// With `client_ca` set, a master must present a certificate naming it.
    pub(crate) fn masters_need_certificate(&self) -> bool {
        self.current().is_some_and(|loaded| loaded.masters_need_certificate)
    }

    fn acceptor(&self, port: PortName) -> Option<TlsAcceptor> {
        let loaded = self.current()?;
        let config = match port {
            PortName::Workers => &loaded.workers,
            PortName::Buildbot => &loaded.buildbot,
            PortName::Http => &loaded.http,
        };
        Some(TlsAcceptor::from(Arc::clone(config)))
    }
}

fn key_problem(key_file: &Path, error: &rustls::Error) -> TlsError {
    match error {
        rustls::Error::InconsistentKeys(_) => {
            TlsError::in_file(key_file, "this key is not the key of the certificate's public key")
        }
        error => TlsError::in_file(key_file, format!("cannot use the key: {error}")),
    }
}

/// Takes the TLS handshake of an admitted connection, when its port speaks TLS, within the
/// port's handshake deadline; in the clear, hands the socket on as it is. `None`: the peer
/// was refused (counted and logged here) or went away.
pub(crate) async fn secure(
    tls: &ServerTls,
    socket: TcpStream,
    peer: SocketAddr,
    admission: &Admission,
) -> Option<ServerStream> {
    let Some(acceptor) = tls.acceptor(admission.port().name) else {
        return Some(Stream::Plain(socket));
    };
    let port = admission.port();
    let _ = socket.set_nodelay(true);
    let mut first = [0_u8; 1];
    match before_deadline(admission, socket.peek(&mut first)).await {
        None => {
            port.refused(Refusal::HandshakeTimeout, peer, ": no TLS ClientHello");
            return None;
        }
        Some(Ok(0) | Err(_)) => return None,
        Some(Ok(_)) => {}
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        port.refused(Refusal::PlaintextOnTls, peer, "");
        answer_plaintext(socket, port.name).await;
        return None;
    }
    // Off the network executor: see handshakes.rs.
    let handshake = super::handshakes::run(async move { acceptor.accept(socket).await });
    match before_deadline(admission, handshake).await {
        None => {
            port.refused(Refusal::HandshakeTimeout, peer, ": the TLS handshake stalled");
            None
        }
        Some(Err(error)) => {
            port.refused_because(Refusal::TlsHandshake, peer, &error.to_string());
            None
        }
        Some(Ok(stream)) => {
            let kind = stream.get_ref().1.handshake_kind();
            let resumed = kind == Some(rustls::HandshakeKind::Resumed);
            port.metrics.tls_handshake(port.name.label(), resumed);
            Some(Stream::Tls(Box::new(stream)))
        }
    }
}

/// A plaintext client on a TLS port is told so in its own protocol, then dropped: a
/// rollcall client shows the Goodbye's reason, a browser or curl the HTTP answer.
async fn answer_plaintext(socket: TcpStream, port: PortName) {
    let answer = match port {
        PortName::Workers => {
            let goodbye = crate::wire::ServerMessage::Goodbye {
                reason: "this port speaks TLS: connect with --tls (and --ca for a private CA)"
                    .into(),
            };
            crate::codec::encode_frame(&goodbye).unwrap_or_default()
        }
        PortName::Buildbot => crate::http::front::error_response_with(
            400,
            "this port speaks TLS: create the worker with --use-tls (or a tls: connection string)",
            "",
        ),
        PortName::Http => {
            crate::http::front::error_response_with(400, "this port speaks HTTPS: use https://", "")
        }
    };
    let timeout = std::time::Duration::from_secs(1);
    crate::http::front::send_and_close(Stream::Plain(socket), &answer, timeout).await;
}
