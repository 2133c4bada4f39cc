//! PEM files: certificate chains, private keys and CA bundles, each read whole under a size
//! cap and refused with the file's name and what is wrong with it.

use std::io::Read;
use std::path::Path;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// Far above any real chain or bundle (Debian's whole CA bundle is 220 KiB); a path pointed
/// at the wrong file (a log, a device) is refused instead of read into memory.
const MAX_PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let file = std::fs::File::open(path)
        .map_err(|error| TlsError::in_file(path, format!("cannot open: {error}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| TlsError::in_file(path, format!("cannot read: {error}")))?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(TlsError::in_file(
            path,
            format!("larger than {MAX_PEM_FILE_BYTES} bytes: not a PEM file"),
        ));
    }
    Ok(bytes)
}

fn pem_problem(path: &Path, error: &pem::Error) -> TlsError {
    TlsError::in_file(path, format!("not valid PEM: {error}"))
}

/// Every certificate in the file, in order (a chain: the leaf first). At least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_problem(path, &error))?;
    if certificates.is_empty() {
        return Err(TlsError::in_file(path, "no CERTIFICATE block in the file"));
    }
    Ok(certificates)
}

/// The file's private key (PKCS#8, PKCS#1 or SEC1). A key readable by other users is
/// loaded, with a warning: refusing would stop a daemon over a mode the operator may have
/// chosen, but it should be seen.
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    warn_if_shared(path);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => {
            TlsError::in_file(path, "no PRIVATE KEY block (PKCS#8, RSA or EC) in the file")
        }
        error => pem_problem(path, &error),
    })
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "the TLS private key is readable by other users: chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

/// A root store of every certificate in the file.
pub(crate) fn root_store(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate).map_err(|error| {
            TlsError::in_file(path, format!("not a usable CA certificate: {error}"))
        })?;
    }
    Ok(roots)
}
