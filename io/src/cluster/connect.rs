//! Connecting to the cluster's PostgreSQL with a deadline on everything that can wait.

use std::time::Duration;

use super::{ClusterStoreError, PostgresTls};

/// How long the store may take, per step. A leader that cannot commit within these steps
/// down (its acting window runs out) rather than wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub connect: Duration,
    /// Per statement, enforced by the server (`statement_timeout`).
    pub statement: Duration,
    /// Waiting for a row lock, e.g. the lease row another node's commit holds.
    pub lock: Duration,
    /// A whole call (opening a session, a transaction), enforced by the client: what the
    /// server's deadlines cannot bound, a network that stalls.
    pub call: Duration,
}

impl Deadlines {
    /// Deadlines for a lease of `ttl`: every step well inside the third of the TTL that a
    /// leader's acting window leaves over, and a whole call within that third.
    pub fn for_lease_ttl(ttl: Duration) -> Deadlines {
        let step = (ttl / 6).max(Duration::from_millis(100));
        Deadlines { connect: step, statement: step, lock: step, call: step * 2 }
    }
}

/// Opens a session to `url` (a libpq connection string or URL) with `deadlines` applied:
/// the connect timeout by the client, the statement and lock timeouts by the server, and
/// TCP keepalives and a TCP user timeout so that a session across a dead network ends by
/// itself (the caller's call deadline has given up on it long before: `session.rs`).
///
/// With `tls`, the session is encrypted and the server verified, always: a string that
/// says `sslmode=prefer` (libpq's default) is held to `require`, since falling back to
/// the clear would undo what configuring a CA asked for.
///
/// # Errors
///
/// When the string does not parse, or the server cannot be reached or refuses the session.
pub fn connect(
    url: &str,
    deadlines: Deadlines,
    tls: Option<&PostgresTls>,
) -> Result<postgres::Client, ClusterStoreError> {
    let mut config: postgres::Config =
        url.parse().map_err(|error| ClusterStoreError::BadUrl { error })?;
    config
        .connect_timeout(deadlines.connect)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(3)
        .tcp_user_timeout(deadlines.call * 2)
        .application_name("rollcall");
    let target = describe(&config);
    let session = match tls {
        Some(tls) => {
            if config.get_ssl_mode() == postgres::config::SslMode::Prefer {
                config.ssl_mode(postgres::config::SslMode::Require);
            }
            config.connect(tls.clone())
        }
        None => config.connect(postgres::NoTls),
    };
    let mut client =
        session.map_err(|error| ClusterStoreError::Connect { target: target.clone(), error })?;
    let settings = format!(
        "SET statement_timeout = {}; SET lock_timeout = {}; \
         SET idle_in_transaction_session_timeout = {};",
        deadlines.statement.as_millis(),
        deadlines.lock.as_millis(),
        deadlines.statement.as_millis().saturating_mul(2),
    );
    client
        .batch_execute(&settings)
        .map_err(|error| ClusterStoreError::Connect { target, error })?;
    Ok(client)
}

/// Where a configuration points, without its password: for error messages and logs.
pub(crate) fn describe(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "PostgreSQL at {} (port {}, database {}, user {})",
        if hosts.is_empty() { "localhost".to_string() } else { hosts.join(",") },
        if ports.is_empty() { "5432".to_string() } else { ports.join(",") },
        config.get_dbname().unwrap_or("(the user's)"),
        config.get_user().unwrap_or("(the OS user's)"),
    )
}
