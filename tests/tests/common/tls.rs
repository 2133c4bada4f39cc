//! TLS for the end-to-end tests: a CA made for the test, the daemon's `[tls]` section, and
//! clients that verify against it.

use std::net::SocketAddr;
use std::path::Path;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_io::tls::{ClientTls, ClientTlsOptions};
use rollcall_test_pki::{ClientFiles, TestPki};

use super::http::Response;
use super::{within, STEP};

/// A CA for one test, with its files in their own directory.
pub struct Pki {
    pub pki: TestPki,
    _directory: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let directory = tempfile::tempdir().expect("a directory for certificates");
        let pki = TestPki::new(directory.path(), "rollcall e2e CA");
        Pki { pki, _directory: directory }
    }

    /// The daemon's `[tls]` section; with `client_ca`, masters need certificates from this
    /// CA.
    pub fn section(&self, client_ca: bool) -> String {
        let client_ca =
            if client_ca { format!("client_ca = {:?}\n", self.pki.ca) } else { String::new() };
        format!(
            "[tls]\ncertificate = {:?}\nprivate_key = {:?}\n{client_ca}",
            self.pki.server_certificate, self.pki.server_key
        )
    }

    /// A client that trusts this CA.
    pub fn client(&self) -> ClientTls {
        client_trusting(&self.pki.ca, None)
    }

    /// A client that trusts this CA and presents `identity`.
    pub fn client_as(&self, identity: &ClientFiles) -> ClientTls {
        client_trusting(&self.pki.ca, Some(identity))
    }
}

pub fn client_trusting(ca: &Path, identity: Option<&ClientFiles>) -> ClientTls {
    let options = ClientTlsOptions {
        ca: Some(ca.to_path_buf()),
        certificate: identity.map(|files| files.certificate.clone()),
        private_key: identity.map(|files| files.key.clone()),
        ..ClientTlsOptions::default()
    };
    ClientTls::new(&options).expect("a client TLS config")
}

/// Sends `request` as is over TLS and reads the whole response.
pub fn https_raw(address: SocketAddr, tls: &ClientTls, request: &[u8]) -> Response {
    let bytes = within(STEP, async {
        let socket = async_net::TcpStream::connect(address).await.expect("connect");
        let mut stream = tls.connect(socket, &address.to_string()).await.expect("TLS handshake");
        stream.write_all(request).await.expect("send");
        stream.flush().await.expect("flush");
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    });
    super::http::parse(&bytes)
}

/// GET over HTTPS with `Accept: application/json`.
pub fn https_get(address: SocketAddr, tls: &ClientTls, target: &str) -> Response {
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n");
    https_raw(address, tls, request.as_bytes())
}
