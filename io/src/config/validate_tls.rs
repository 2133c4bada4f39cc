//! `[tls]` and the rule that keeps secrets off the network in clear: a listener that a
//! network beyond this host can reach needs TLS, unless `[listen] allow_plaintext = true`.

use std::path::PathBuf;

use toml::Spanned;

use super::error::Origin;
use super::file::{ListenTable, TlsTable};
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

fn path(key: &str, text: &Spanned<String>, origin: &Origin<'_>) -> Result<PathBuf, ConfigError> {
    if text.get_ref().is_empty() {
        return Err(origin.error_at(&text.span(), format!("{key} is empty")));
    }
    std::path::absolute(text.get_ref()).map_err(|error| {
        origin.error_at(
            &text.span(),
            format!("{key} {:?} cannot be made absolute: {error}", text.get_ref()),
        )
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
    let problem = format!(
        "{key} = \"{address}\" is reachable from other hosts but [tls] is not set: worker \
         passwords and master tokens would cross the network in clear. Set [tls] \
         (certificate, private_key), or [listen] allow_plaintext = true to accept that"
    );
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
