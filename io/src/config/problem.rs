//! What is wrong with a refused config, one variant per kind of refusal. [`ConfigError`]
//! adds the file and the place.
//!
//! [`ConfigError`]: super::ConfigError

use std::net::SocketAddr;

use rollcall_core::MAX_NAME_BYTES;

use crate::credentials::MAX_TOKENS_PER_MASTER;

/// A refused config's problem. Its text never quotes a password.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// The file could not be read.
    Unreadable(std::io::Error),
    /// Not TOML, or not the file's shape (an unknown key, a value of the wrong type): the
    /// first line of the parser's message, which never quotes the source.
    Toml(String),
    /// The same key twice in one table.
    DuplicateTomlKey {
        key: String,
    },
    /// A setting that must not be empty is.
    Empty {
        key: &'static str,
    },
    /// A path that cannot be made absolute (the current directory is gone).
    NotAbsolute {
        key: &'static str,
        path: String,
        by_default: bool,
        error: std::io::Error,
    },
    NameTooLong {
        key: &'static str,
        bytes: usize,
    },
    /// The master name made from the host and the data directory is too long for the
    /// Registry.
    DefaultMasterNameTooLong {
        name: String,
    },
    NotASocketAddress {
        key: &'static str,
        text: String,
    },
    /// Two listeners on one address.
    SharedAddress {
        first: Setting,
        second: Setting,
        address: SocketAddr,
    },
    /// A listener other hosts can reach, without TLS and without `allow_plaintext`.
    ExposedInClear {
        key: &'static str,
        address: SocketAddr,
    },
    NotPositive {
        key: &'static str,
    },
    LongerThanAYear {
        key: &'static str,
        seconds: u64,
    },
    HeartbeatNotBelowExpiry {
        heartbeat_interval_s: u64,
        expiry_window_s: u64,
    },
    BelowMinimum {
        key: &'static str,
        value: u64,
        minimum: u64,
    },
    AboveMaximum {
        key: &'static str,
        value: u64,
        maximum: u64,
    },
    EmptyEntryName {
        kind: EntryKind,
    },
    EntryNameTooLong {
        kind: EntryKind,
        bytes: usize,
    },
    DuplicateEntry {
        kind: EntryKind,
        name: String,
        first_line: usize,
    },
    TooManyEntries {
        kind: EntryKind,
        limit: usize,
    },
    /// Buildbot worker names cannot hold ':', so such a worker could never attach through
    /// `listen.buildbot_workers`.
    WorkerNameWithColon {
        worker: String,
    },
    PasswordTooLong {
        worker: String,
        limit: usize,
    },
    BothPasswordForms {
        worker: String,
    },
    NoPassword {
        worker: String,
    },
    BadPasswordDigest,
    UnknownWorker {
        builder: String,
        worker: String,
    },
    WorkerListedTwice {
        builder: String,
        worker: String,
        first_line: usize,
    },
    /// A `[[masters]]` entry takes this daemon's own `[master]` name.
    OwnMasterName {
        master: String,
    },
    TokenCount {
        master: String,
    },
    BadTokenDigest,
    /// `cluster.postgres` does not parse (the parser's reason; the text is never quoted,
    /// since it may hold a password).
    BadPostgresUrl {
        reason: String,
    },
    /// `cluster.advertise` is not `host:port`.
    NotHostAndPort {
        text: String,
    },
    /// The lease's TTL and renew interval cannot keep a leader leading.
    LeaseTimings(rollcall_core::lease::LeaseTimingsError),
    /// TLS files for PostgreSQL while the connection string says `sslmode=disable`.
    PostgresTlsDisabled,
    /// One of `cluster.postgres_certificate` and `cluster.postgres_private_key` without
    /// the other.
    PostgresCertificateWithoutKey,
    /// One of `cluster.peer_certificate` and `cluster.peer_private_key` without the other.
    PeerCertificateWithoutKey,
}

/// A setting as a message names it: its key, and whether the file left it at its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static str,
    pub by_default: bool,
}

/// The kinds of entry a file lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Worker,
    Builder,
    Master,
}

const MIB: u64 = 1024 * 1024;

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ConfigProblem as P;
        match self {
            P::Unreadable(error) => write!(formatter, "cannot read the config file: {error}"),
            P::Toml(message) => formatter.write_str(message),
            P::DuplicateTomlKey { key } => write!(formatter, "duplicate key `{key}`"),
            P::Empty { key } => write!(formatter, "{key} is empty"),
            P::NotAbsolute { key, path, by_default, error } => {
                let default = if *by_default { "the default " } else { "" };
                write!(formatter, "{default}{key} {path:?} cannot be made absolute: {error}")
            }
            P::NameTooLong { key, bytes } => write!(
                formatter,
                "{key} is {bytes} bytes long, more than the limit of {MAX_NAME_BYTES}"
            ),
            P::DefaultMasterNameTooLong { name } => write!(
                formatter,
                "the default master name {name:?} is longer than {MAX_NAME_BYTES} bytes; set \
                 master.name"
            ),
            P::NotASocketAddress { key, text } => write!(
                formatter,
                "{key} = {text:?} is not an IP address and port, such as \"127.0.0.1:9989\" or \
                 \"[::1]:9989\""
            ),
            P::SharedAddress { first, second, address } => write!(
                formatter,
                "{first} and {second} are both {address}: each listener needs its own address"
            ),
            P::ExposedInClear { key, address } => write!(
                formatter,
                "{key} = \"{address}\" is reachable from other hosts but [tls] is not set: \
                 worker passwords and master tokens would cross the network in clear. Set \
                 [tls] (certificate, private_key), or [listen] allow_plaintext = true to \
                 accept that"
            ),
            P::NotPositive { key } => write!(formatter, "{key} must be greater than zero"),
            P::LongerThanAYear { key, seconds } => write!(
                formatter,
                "{key} = {seconds} is longer than one year ({} seconds)",
                super::validate::MAX_DURATION_S
            ),
            P::HeartbeatNotBelowExpiry { heartbeat_interval_s, expiry_window_s } => write!(
                formatter,
                "timing.heartbeat_interval_s ({heartbeat_interval_s}) must be smaller than \
                 timing.expiry_window_s ({expiry_window_s}): a master that heartbeats less \
                 often than the expiry window would be expired between its own heartbeats"
            ),
            P::BelowMinimum { key, value, minimum } => {
                write!(formatter, "{key} = {value} is below the minimum of {minimum}")
            }
            P::AboveMaximum { key, value, maximum } => {
                write!(formatter, "{key} = {value} is above the maximum of {maximum}")?;
                // A byte count is easier to check in MiB.
                if *maximum >= MIB && maximum % MIB == 0 {
                    write!(formatter, " ({} MiB)", maximum / MIB)?;
                }
                Ok(())
            }
            P::EmptyEntryName { kind } => write!(formatter, "a {kind} name is empty"),
            P::EntryNameTooLong { kind, bytes } => write!(
                formatter,
                "{kind} name is {bytes} bytes long, more than the limit of {MAX_NAME_BYTES}"
            ),
            P::DuplicateEntry { kind, name, first_line } => write!(
                formatter,
                "{kind} {name:?} is configured twice (first on line {first_line})"
            ),
            P::TooManyEntries { kind, limit } => {
                write!(formatter, "more than {limit} {kind}s are configured")
            }
            P::WorkerNameWithColon { worker } => write!(
                formatter,
                "worker name {worker:?} contains ':', which Buildbot worker names cannot contain"
            ),
            P::PasswordTooLong { worker, limit } => {
                write!(formatter, "the password of worker {worker:?} is longer than {limit} bytes")
            }
            P::BothPasswordForms { worker } => write!(
                formatter,
                "worker {worker:?} has both password and password_sha256: give one"
            ),
            P::NoPassword { worker } => {
                write!(formatter, "worker {worker:?} needs a password (or password_sha256)")
            }
            P::BadPasswordDigest => formatter
                .write_str("a password_sha256 is 64 hex digits: the SHA-256 of the password"),
            P::UnknownWorker { builder, worker } => write!(
                formatter,
                "builder {builder:?} names worker {worker:?}, which is not configured in \
                 [[workers]]"
            ),
            P::WorkerListedTwice { builder, worker, first_line } => write!(
                formatter,
                "builder {builder:?} lists worker {worker:?} twice (first on line {first_line})"
            ),
            P::OwnMasterName { master } => write!(
                formatter,
                "master {master:?} is this daemon's own [master] name: no remote session may \
                 take it"
            ),
            P::TokenCount { master } => write!(
                formatter,
                "master {master:?} needs 1 to {MAX_TOKENS_PER_MASTER} token_sha256 values"
            ),
            P::BadTokenDigest => formatter.write_str(
                "a token_sha256 is 64 hex digits: the SHA-256 of the token, as `rollcall token \
                 new` prints it",
            ),
            P::BadPostgresUrl { reason } => write!(
                formatter,
                "cluster.postgres is not a PostgreSQL connection string (`host=... user=... \
                 dbname=...`) or URL (`postgresql://user@host/db`): {reason} (for TLS, say \
                 sslmode=require and name the CA in cluster.postgres_ca: rollcall always \
                 verifies the server's certificate and name, as libpq's verify-full)"
            ),
            P::NotHostAndPort { text } => {
                write!(formatter, "cluster.advertise {text:?} is not host:port")
            }
            P::LeaseTimings(error) => write!(formatter, "[cluster]: {error}"),
            P::PostgresTlsDisabled => formatter.write_str(
                "cluster.postgres says sslmode=disable, but [cluster] names TLS files for \
                 PostgreSQL: remove one or the other",
            ),
            P::PostgresCertificateWithoutKey => formatter.write_str(
                "cluster.postgres_certificate and cluster.postgres_private_key go together: \
                 give both or neither",
            ),
            P::PeerCertificateWithoutKey => formatter.write_str(
                "cluster.peer_certificate and cluster.peer_private_key go together: give both \
                 or neither",
            ),
        }
    }
}

impl ConfigProblem {
    /// The I/O error behind the problem, if one is.
    pub(super) fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            ConfigProblem::Unreadable(error) | ConfigProblem::NotAbsolute { error, .. } => {
                Some(error)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.key)?;
        if self.by_default {
            formatter.write_str(" (by default)")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            EntryKind::Worker => "worker",
            EntryKind::Builder => "builder",
            EntryKind::Master => "master",
        })
    }
}
