//! Certificates for tests and benchmarks, made when they run: no key is ever committed, and
//! each run's CA is its own.
//!
//! [`TestPki::new`] makes a CA and writes, into a directory of the caller's:
//! `ca.pem`, `server.pem` / `server.key` (for `localhost`, `127.0.0.1` and `::1`); and
//! [`TestPki::client`] makes a client certificate naming whatever it is asked to (a master's
//! name as a URI or DNS SAN).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A CA and the files of the daemon certificate it signed.
#[derive(Debug)]
pub struct TestPki {
    pub directory: PathBuf,
    pub ca: PathBuf,
    pub server_certificate: PathBuf,
    pub server_key: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// A client certificate's files.
#[derive(Clone, Debug)]
pub struct ClientFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// How a client certificate names its holder.
#[derive(Clone, Copy, Debug)]
pub enum Name<'a> {
    Uri(&'a str),
    Dns(&'a str),
}

impl TestPki {
    /// A new CA (`common_name`) and a daemon certificate signed by it, written to
    /// `directory`.
    ///
    /// # Panics
    ///
    /// When a key cannot be made or a file cannot be written: a test cannot go on then.
    pub fn new(directory: &Path, common_name: &str) -> TestPki {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_certificate = params.self_signed(&ca_key).expect("a self-signed CA");
        let ca = directory.join("ca.pem");
        write(&ca, &ca_certificate.pem());
        let issuer = Issuer::new(params, ca_key);
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        let (server_certificate, server_key) =
            (directory.join("server.pem"), directory.join("server.key"));
        let mut server = CertificateParams::new(names).expect("server params");
        server.distinguished_name.push(DnType::CommonName, "rollcall test daemon");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("a server key");
        let certificate = server.signed_by(&key, &issuer).expect("a server certificate");
        write(&server_certificate, &certificate.pem());
        write(&server_key, &key.serialize_pem());
        TestPki { directory: directory.to_path_buf(), ca, server_certificate, server_key, issuer }
    }

    /// A client certificate signed by this CA, naming `name`, written as `<file_stem>.pem`
    /// and `<file_stem>.key`.
    ///
    /// # Panics
    ///
    /// As [`TestPki::new`].
    pub fn client(&self, file_stem: &str, name: Name<'_>) -> ClientFiles {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        let san = match name {
            Name::Uri(uri) => SanType::URI(uri.try_into().expect("an ASCII URI")),
            Name::Dns(dns) => SanType::DnsName(dns.try_into().expect("an ASCII DNS name")),
        };
        params.subject_alt_names = vec![san];
        params.distinguished_name.push(DnType::CommonName, file_stem);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("a client key");
        let certificate = params.signed_by(&key, &self.issuer).expect("a client certificate");
        let files = ClientFiles {
            certificate: self.directory.join(format!("{file_stem}.pem")),
            key: self.directory.join(format!("{file_stem}.key")),
        };
        write(&files.certificate, &certificate.pem());
        write(&files.key, &key.serialize_pem());
        files
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}
