//! TLS for the benchmarks: certificates made when a benchmark runs (`rollcall-test-pki`),
//! clients made the way `rollcall worker` makes them ([`ClientTls`]), and which handshake
//! each connection took, so that a TLS figure says whether it measured full handshakes or
//! resumed ones.
//!
//! rustls turns resumption off only through its `ClientConfig` (`Resumption::disabled()`),
//! which [`ClientTls`] does not expose. A full handshake here is therefore a connection
//! made with a [`ClientTls`] that has never connected: its session cache is empty.
//! [`FreshClients`] makes them ahead of the timed loop (each costs about 11 µs of client
//! CPU, which would otherwise be counted against the daemon), and every connection's
//! handshake kind is read back from rustls and counted ([`HandshakeCounts`]), so a figure
//! labelled "full" or "resumed" is checked, not assumed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_net::TcpStream;
use rollcall_io::tls::{ClientStream, ClientTls, ClientTlsOptions, Stream};
use rollcall_test_pki::TestPki;

use crate::daemon::{BoxError, DaemonTls};

/// A CA and the daemon certificate it signed (valid for `127.0.0.1`), in a temporary
/// directory that lives as long as this value.
#[derive(Debug)]
pub struct Certificates {
    pki: TestPki,
    _directory: tempfile::TempDir,
}

impl Certificates {
    /// # Errors
    ///
    /// When the temporary directory cannot be made.
    pub fn new() -> Result<Certificates, BoxError> {
        let directory = tempfile::tempdir()?;
        let pki = TestPki::new(directory.path(), "rollcall benchmark CA");
        Ok(Certificates { pki, _directory: directory })
    }

    /// The `[tls]` files of a daemon.
    pub fn daemon(&self) -> DaemonTls {
        DaemonTls {
            certificate: self.pki.server_certificate.clone(),
            private_key: self.pki.server_key.clone(),
            ca: self.pki.ca.clone(),
        }
    }

    pub fn ca(&self) -> &Path {
        &self.pki.ca
    }
}

/// A client that verifies the daemon with `ca`, remembering up to `resumption_sessions`
/// sessions ([`ClientTlsOptions::resumption_sessions`]).
///
/// # Errors
///
/// When the CA cannot be read.
pub fn client(ca: &Path, resumption_sessions: usize) -> Result<ClientTls, BoxError> {
    let options = ClientTlsOptions {
        ca: Some(ca.to_path_buf()),
        resumption_sessions,
        ..ClientTlsOptions::default()
    };
    Ok(ClientTls::new(&options)?)
}

/// How a connection was set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    Plain,
    /// A full TLS handshake (key exchange, the daemon's certificate sent and verified).
    Full,
    /// A TLS 1.3 resumption from a session ticket (no certificate).
    Resumed,
}

/// The handshake `stream` took, as rustls reports it (`CommonState::handshake_kind`).
pub fn handshake_of(stream: &ClientStream) -> Handshake {
    match stream {
        Stream::Plain(_) => Handshake::Plain,
        Stream::Tls(tls) => {
            // rustls' `HandshakeKind` is `Full`, `FullWithHelloRetryRequest` or `Resumed`;
            // this crate does not depend on rustls to name it, so its name is read.
            let kind = tls.get_ref().1.handshake_kind().map(|kind| format!("{kind:?}"));
            if kind.as_deref() == Some("Resumed") {
                Handshake::Resumed
            } else {
                Handshake::Full
            }
        }
    }
}

/// Connects `socket` (already connected to `address`) over TLS when `tls` is given, as
/// `rollcall_io::client::Session::over_with` does: TCP_NODELAY, then the handshake.
///
/// # Errors
///
/// When the TLS handshake fails.
pub async fn secure(
    socket: TcpStream,
    address: &str,
    tls: Option<&ClientTls>,
) -> Result<ClientStream, BoxError> {
    let _ = socket.set_nodelay(true);
    match tls {
        Some(tls) => Ok(tls.connect(socket, address).await?),
        None => Ok(Stream::Plain(socket)),
    }
}

/// Connections counted by the handshake they took.
#[derive(Debug, Default)]
pub struct HandshakeCounts {
    plain: AtomicU64,
    full: AtomicU64,
    resumed: AtomicU64,
}

impl HandshakeCounts {
    pub fn count(&self, handshake: Handshake) {
        let counter = match handshake {
            Handshake::Plain => &self.plain,
            Handshake::Full => &self.full,
            Handshake::Resumed => &self.resumed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (plain, full, resumed) so far.
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.plain.load(Ordering::Relaxed),
            self.full.load(Ordering::Relaxed),
            self.resumed.load(Ordering::Relaxed),
        )
    }

    /// Adds `other`'s counts to these.
    pub fn add(&self, other: &HandshakeCounts) {
        for (mine, theirs) in [
            (&self.plain, &other.plain),
            (&self.full, &other.full),
            (&self.resumed, &other.resumed),
        ] {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// `12,345 full, 0 resumed` (plain connections left out when there are none).
    pub fn describe(&self) -> String {
        let (plain, full, resumed) = self.get();
        let mut text = format!("{full} full, {resumed} resumed");
        if plain > 0 {
            text.push_str(&format!(", {plain} plain"));
        }
        text
    }
}

/// [`ClientTls`] configs that have never connected, one per connection to be made, kept
/// on one shelf per client task: a connection made with one takes a full handshake.
#[derive(Debug)]
pub struct FreshClients {
    options: ClientTlsOptions,
    shelves: Vec<Mutex<Vec<ClientTls>>>,
    made_inline: AtomicU64,
}

impl FreshClients {
    /// Empty shelves for `clients` client tasks; [`FreshClients::stock`] fills them.
    pub fn new(ca: &Path, clients: usize) -> FreshClients {
        let options = ClientTlsOptions {
            ca: Some(ca.to_path_buf()),
            // Never used twice: one session is all it could remember.
            resumption_sessions: 1,
            ..ClientTlsOptions::default()
        };
        FreshClients {
            options,
            shelves: (0..clients).map(|_| Mutex::new(Vec::new())).collect(),
            made_inline: AtomicU64::new(0),
        }
    }

    /// Fills every shelf to `per_client` configs (untimed, before a measurement).
    ///
    /// # Errors
    ///
    /// When the CA cannot be read.
    pub fn stock(&self, per_client: usize) -> Result<(), BoxError> {
        for shelf in &self.shelves {
            let mut shelf = shelf.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            while shelf.len() < per_client {
                shelf.push(ClientTls::new(&self.options)?);
            }
        }
        Ok(())
    }

    /// A config that has never connected, from `client`'s shelf; made now (and counted)
    /// when the shelf is empty.
    ///
    /// # Errors
    ///
    /// When the CA cannot be read.
    pub fn take(&self, client: usize) -> Result<ClientTls, BoxError> {
        let taken = self.shelves.get(client).and_then(|shelf| {
            shelf.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop()
        });
        match taken {
            Some(tls) => Ok(tls),
            None => {
                self.made_inline.fetch_add(1, Ordering::Relaxed);
                Ok(ClientTls::new(&self.options)?)
            }
        }
    }

    /// How many configs [`FreshClients::take`] had to make inside the timed loop so far.
    pub fn made_inline(&self) -> u64 {
        self.made_inline.load(Ordering::Relaxed)
    }
}
