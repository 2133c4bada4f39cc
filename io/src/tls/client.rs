//! The clients' side of TLS: the CA that the daemon's certificate must chain to, the name
//! it must carry, and a master's own certificate for mutual TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_net::TcpStream;
use futures_rustls::TlsConnector;
use rustls::client::Resumption;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use super::{files, provider, ClientStream, Stream, TlsError};

/// Where a client finds its TLS material. Without `ca`, the system's CA bundle is used
/// (`SSL_CERT_FILE`, else the usual Linux bundle paths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTlsOptions {
    pub ca: Option<PathBuf>,
    /// A master's certificate chain and key, for a daemon with `[tls] client_ca`.
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    /// The name the daemon's certificate must carry; by default the host of the address
    /// connected to (an IP address or a DNS name).
    pub server_name: Option<String>,
    /// Size of the resumption cache. rustls counts it in server names and keeps at most 8
    /// TLS 1.3 tickets per name, so one `ClientTls` resumes at most about 8 connections to
    /// one daemon at once: plenty for a worker or a master; a load generator re-attaching a
    /// herd needs a `ClientTls` per connection.
    pub resumption_sessions: usize,
}

impl Default for ClientTlsOptions {
    fn default() -> Self {
        ClientTlsOptions {
            ca: None,
            certificate: None,
            private_key: None,
            server_name: None,
            resumption_sessions: 256,
        }
    }
}

/// The bundles Debian, Fedora and Alpine (and macOS's `/etc/ssl/cert.pem`) ship.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// A client's TLS configuration, made once and shared by its connections (which is what
/// lets a reconnect resume its session).
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// The rustls configuration, for a transport other than rollcall's own (the cluster's
    /// PostgreSQL sessions).
    pub(crate) fn rustls_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// # Errors
    ///
    /// A file that cannot be read or parsed; a certificate without its key; no CA at all.
    pub fn new(options: &ClientTlsOptions) -> Result<ClientTls, TlsError> {
        let roots = match &options.ca {
            Some(ca) => files::root_store(ca)?,
            None => files::root_store(&system_bundle()?)?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError::of(format!("TLS versions: {error}")))?
            .with_root_certificates(roots);
        let mut config = match (&options.certificate, &options.private_key) {
            (Some(certificate), Some(key)) => builder
                .with_client_auth_cert(files::certificates(certificate)?, files::private_key(key)?)
                .map_err(|error| TlsError::in_file(key, format!("cannot use the key: {error}")))?,
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(TlsError::of("a client certificate needs its --key")),
            (None, Some(_)) => return Err(TlsError::of("a client key needs its --cert")),
        };
        config.resumption = Resumption::in_memory_sessions(options.resumption_sessions.max(1));
        let server_name = match &options.server_name {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| {
                TlsError::of(format!("{name:?} is neither a DNS name nor an IP address"))
            })?),
            None => None,
        };
        Ok(ClientTls { config: Arc::new(config), server_name })
    }

    /// Takes the TLS handshake over `socket`, connected to `address` (`host:port`), whose
    /// host names the daemon unless a server name was given.
    ///
    /// # Errors
    ///
    /// The handshake failed; the message says why in the terms of the flags that fix it.
    pub async fn connect(&self, socket: TcpStream, address: &str) -> Result<ClientStream, String> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => host_of(address)?,
        };
        let shown = name.to_str().into_owned();
        let stream = TlsConnector::from(Arc::clone(&self.config))
            .connect(name, socket)
            .await
            .map_err(|error| explain(&error, &shown))?;
        Ok(Stream::Tls(Box::new(stream)))
    }
}

fn system_bundle() -> Result<PathBuf, TlsError> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return Ok(PathBuf::from(file));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(Path::new)
        .find(|path| path.is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            TlsError::of("no CA given (--ca FILE) and no system CA bundle found (SSL_CERT_FILE)")
        })
}

/// The host part of `host:port`, `[v6]:port` or a bare host.
fn host_of(address: &str) -> Result<ServerName<'static>, String> {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        _ => address,
    };
    let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    ServerName::try_from(host.to_owned())
        .map_err(|_| format!("cannot tell the daemon's name from {address:?}: give --server-name"))
}

fn explain(error: &std::io::Error, name: &str) -> String {
    use rustls::{CertificateError, Error};
    let Some(tls) = error.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
        return format!("TLS handshake failed: {error}");
    };
    match tls {
        // A bad signature on a verified-by-name path: a CA of the same name but another key.
        Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => "the daemon's certificate does not verify: it is not signed by a trusted CA (give the CA that signed it with --ca)".to_string(),
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the daemon's certificate does not verify: it is not valid for {name:?} (connect by a name it carries, or give --server-name)"
        ),
        Error::InvalidCertificate(why) => {
            format!("the daemon's certificate does not verify: {why:?}")
        }
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            "the daemon did not answer in TLS: is this port in the clear? (leave out --tls)".into()
        }
        Error::AlertReceived(alert) => format!(
            "the daemon refused the TLS handshake ({alert:?}): a daemon with client_ca needs --cert and --key signed by it"
        ),
        other => format!("TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_name_is_the_host_of_the_address() {
        let name = |address: &str| host_of(address).map(|name| name.to_str().into_owned());
        assert_eq!(name("127.0.0.1:9989"), Ok("127.0.0.1".into()));
        assert_eq!(name("[::1]:9989"), Ok("::1".into()));
        assert_eq!(name("rollcall.example:9989"), Ok("rollcall.example".into()));
        assert_eq!(name("rollcall.example"), Ok("rollcall.example".into()));
        assert!(name("bad name:1").is_err());
    }
}
