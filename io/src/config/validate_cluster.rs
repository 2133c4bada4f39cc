//! `[cluster]`: this node's part in a cluster on PostgreSQL (docs/cluster.md).

use postgres::config::SslMode;
use rollcall_core::lease::LeaseTimings;
use rollcall_core::MAX_NAME_BYTES;

use crate::cluster::PostgresTlsOptions;

use super::error::Origin;
use super::file::ClusterTable;
use super::problem::ConfigProblem;
use super::validate::positive_seconds;
use super::validate_tls::path;
use super::{ClusterSection, ConfigError};

/// The lease's defaults, as Kubernetes' leader election spaces them (15 s, 10 s renew)
/// but shorter, since every commit is fenced anyway.
pub(super) const LEASE_TTL_S: u64 = 10;
pub(super) const RENEW_INTERVAL_S: u64 = 3;
/// Snapshots every 100,000 entries: a rebuilding node replays at most that much log (a
/// fifth of a second), and a snapshot of 10,000 masters costs a standby milliseconds.
pub(super) const SNAPSHOT_EVERY_ENTRIES: u64 = 100_000;

pub(super) fn cluster(
    table: &ClusterTable,
    origin: &Origin<'_>,
) -> Result<ClusterSection, ConfigError> {
    let postgres = table.postgres.get_ref();
    let parsed = match postgres.parse::<postgres::Config>() {
        Ok(parsed) => parsed,
        Err(error) => {
            let problem = ConfigProblem::BadPostgresUrl { reason: error.to_string() };
            return Err(origin.error_at(&table.postgres.span(), problem));
        }
    };
    let postgres_tls = postgres_tls(table, &parsed, origin)?;
    let node = table.node.get_ref();
    if node.is_empty() {
        return Err(
            origin.error_at(&table.node.span(), ConfigProblem::Empty { key: "cluster.node" })
        );
    }
    if node.len() > MAX_NAME_BYTES {
        let problem = ConfigProblem::NameTooLong { key: "cluster.node", bytes: node.len() };
        return Err(origin.error_at(&table.node.span(), problem));
    }
    let advertise = table.advertise.get_ref();
    if !is_host_and_port(advertise) {
        let problem = ConfigProblem::NotHostAndPort { text: advertise.clone() };
        return Err(origin.error_at(&table.advertise.span(), problem));
    }
    let lease_ttl_s =
        positive_seconds("cluster.lease_ttl_s", table.lease_ttl_s.as_ref(), LEASE_TTL_S, origin)?;
    let renew_interval_s = positive_seconds(
        "cluster.renew_interval_s",
        table.renew_interval_s.as_ref(),
        RENEW_INTERVAL_S,
        origin,
    )?;
    let timings =
        LeaseTimings { ttl_ms: lease_ttl_s * 1_000, renew_interval_ms: renew_interval_s * 1_000 };
    if let Err(error) = timings.validate() {
        let span = table
            .renew_interval_s
            .as_ref()
            .or(table.lease_ttl_s.as_ref())
            .map_or_else(|| table.node.span(), toml::Spanned::span);
        return Err(origin.error_at(&span, ConfigProblem::LeaseTimings(error)));
    }
    Ok(ClusterSection {
        postgres: postgres.clone(),
        node: node.clone(),
        advertise: advertise.clone(),
        lease_ttl_s,
        renew_interval_s,
        snapshot_every_entries: table
            .snapshot_every_entries
            .as_ref()
            .map_or(SNAPSHOT_EVERY_ENTRIES, |entries| *entries.get_ref()),
        postgres_tls,
        master_token_file: table
            .master_token_file
            .as_ref()
            .map(|text| path("cluster.master_token_file", text, origin))
            .transpose()?,
        peer_tls: peer_tls(table, origin)?,
    })
}

/// The leader link's TLS files: a certificate only with its key.
fn peer_tls(
    table: &ClusterTable,
    origin: &Origin<'_>,
) -> Result<crate::tls::ClientTlsOptions, ConfigError> {
    let optional = |key, text: &Option<toml::Spanned<String>>| {
        text.as_ref().map(|text| path(key, text, origin)).transpose()
    };
    let certificate = optional("cluster.peer_certificate", &table.peer_certificate)?;
    let private_key = optional("cluster.peer_private_key", &table.peer_private_key)?;
    if certificate.is_some() != private_key.is_some() {
        let span = table
            .peer_certificate
            .as_ref()
            .or(table.peer_private_key.as_ref())
            .map_or_else(|| table.node.span(), toml::Spanned::span);
        return Err(origin.error_at(&span, ConfigProblem::PeerCertificateWithoutKey));
    }
    Ok(crate::tls::ClientTlsOptions {
        ca: optional("cluster.peer_ca", &table.peer_ca)?,
        certificate,
        private_key,
        ..crate::tls::ClientTlsOptions::default()
    })
}

/// TLS to PostgreSQL when a TLS file is named or the string requires it; refused when the
/// string disables it.
fn postgres_tls(
    table: &ClusterTable,
    parsed: &postgres::Config,
    origin: &Origin<'_>,
) -> Result<Option<PostgresTlsOptions>, ConfigError> {
    let optional = |key, text: &Option<toml::Spanned<String>>| {
        text.as_ref().map(|text| path(key, text, origin)).transpose()
    };
    let options = PostgresTlsOptions {
        ca: optional("cluster.postgres_ca", &table.postgres_ca)?,
        certificate: optional("cluster.postgres_certificate", &table.postgres_certificate)?,
        private_key: optional("cluster.postgres_private_key", &table.postgres_private_key)?,
    };
    if options.certificate.is_some() != options.private_key.is_some() {
        let span = table
            .postgres_certificate
            .as_ref()
            .or(table.postgres_private_key.as_ref())
            .map_or_else(|| table.postgres.span(), toml::Spanned::span);
        return Err(origin.error_at(&span, ConfigProblem::PostgresCertificateWithoutKey));
    }
    let files_named = options != PostgresTlsOptions::default();
    match parsed.get_ssl_mode() {
        SslMode::Disable if files_named => {
            Err(origin.error_at(&table.postgres.span(), ConfigProblem::PostgresTlsDisabled))
        }
        SslMode::Require => Ok(Some(options)),
        _ if files_named => Ok(Some(options)),
        _ => Ok(None),
    }
}

/// `host:port`, `[v6]:port`: a non-empty host and a port number.
fn is_host_and_port(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else { return false };
    let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    !host.is_empty()
        && !host.contains(char::is_whitespace)
        && port.parse::<u16>().is_ok_and(|port| port > 0)
}

/// Where a connection string points, without its password (for `Debug`, logs and
/// `check-config`).
pub fn describe_postgres(text: &str) -> String {
    match text.parse::<postgres::Config>() {
        Ok(config) => crate::cluster::describe(&config),
        Err(_) => "(unparsable)".into(),
    }
}
