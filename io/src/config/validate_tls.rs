//! `[tls]` and the rule that keeps secrets off the network in clear: a listener that a
//! network beyond this host can reach needs TLS, unless `[listen] allow_plaintext = true`.

use std::path::PathBuf;

use toml::Spanned;

use super::error::Origin;
use super::file::{ListenTable, TlsTable};
use super::problem::ConfigProblem;
use super::{ConfigError, ListenSection, TlsSection};

pub(crate) fn tls(
    table: Option<&TlsTable>,
    origin: &Origin<'_>,
) -> Result<Option<TlsSection>, ConfigError> {
    let Some(table) = table else { return Ok(None) };
    Ok(Some(TlsSection {
        certificate: path("tls.certificate", &table.certificate, origin)?,
        private_key: path("tls.private_key", &table.private_key, origin)?,
        client_ca: match &table.client_ca {
            Some(client_ca) => Some(path("tls.client_ca", client_ca, origin)?),
            None => None,
        },
    }))
}

pub(crate) fn path(
    key: &'static str,
    text: &Spanned<String>,
    origin: &Origin<'_>,
) -> Result<PathBuf, ConfigError> {
    if text.get_ref().is_empty() {
        return Err(origin.error_at(&text.span(), ConfigProblem::Empty { key }));
    }
    std::path::absolute(text.get_ref()).map_err(|error| {
        let path = text.get_ref().clone();
        let problem = ConfigProblem::NotAbsolute { key, path, by_default: false, error };
        origin.error_at(&text.span(), problem)
    })
}

/// Refuses the first non-loopback listener without TLS, unless plaintext is allowed.
pub(crate) fn check_plaintext(
    table: &ListenTable,
    listen: &ListenSection,
    tls: Option<&TlsSection>,
    origin: &Origin<'_>,
) -> Result<(), ConfigError> {
    if listen.allow_plaintext {
        return Ok(());
    }
    let Some((key, address)) = listen.exposed_in_clear(tls).into_iter().next() else {
        return Ok(());
    };
    let problem = ConfigProblem::ExposedInClear { key, address };
    let text = match key {
        "listen.workers" => table.workers.as_ref(),
        "listen.http" => table.http.as_ref(),
        _ => table.buildbot_workers.as_ref(),
    };
    Err(match text {
        Some(text) => origin.error_at(&text.span(), problem),
        None => origin.error(problem),
    })
}
