//! The config file as written, before validation: every key optional, and the place of each
//! value that a later check may need to point at.

use rollcall_core::DuplicatePolicy;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) master: MasterTable,
    #[serde(default)]
    pub(crate) listen: ListenTable,
    #[serde(default)]
    pub(crate) timing: TimingTable,
    #[serde(default)]
    pub(crate) gateway: GatewayTable,
    #[serde(default)]
    pub(crate) limits: LimitsTable,
    #[serde(default)]
    pub(crate) workers: Vec<WorkerEntry>,
    #[serde(default)]
    pub(crate) builders: Vec<BuilderEntry>,
    #[serde(default)]
    pub(crate) masters: Vec<MasterEntry>,
    pub(crate) tls: Option<TlsTable>,
    pub(crate) cluster: Option<ClusterTable>,
    #[serde(default)]
    pub(crate) log: LogTable,
}

/// `[log]`: how the daemon writes its log.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogTable {
    pub(crate) format: Option<crate::logging::LogFormat>,
}

/// A cluster node needs the store, its own name and where it is reached: all required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterTable {
    pub(crate) postgres: Spanned<String>,
    pub(crate) node: Spanned<String>,
    pub(crate) advertise: Spanned<String>,
    pub(crate) lease_ttl_s: Option<Spanned<u64>>,
    pub(crate) renew_interval_s: Option<Spanned<u64>>,
    pub(crate) snapshot_every_entries: Option<Spanned<u64>>,
    pub(crate) postgres_ca: Option<Spanned<String>>,
    pub(crate) postgres_certificate: Option<Spanned<String>>,
    pub(crate) postgres_private_key: Option<Spanned<String>>,
    pub(crate) master_token_file: Option<Spanned<String>>,
    pub(crate) peer_ca: Option<Spanned<String>>,
    pub(crate) peer_certificate: Option<Spanned<String>>,
    pub(crate) peer_private_key: Option<Spanned<String>>,
}

/// A certificate without its key (or the reverse) could serve nothing: both are required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsTable {
    pub(crate) certificate: Spanned<String>,
    pub(crate) private_key: Spanned<String>,
    pub(crate) client_ca: Option<Spanned<String>>,
}

/// A remote master allowed to register, and the SHA-256 of each token it may present.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MasterEntry {
    pub(crate) name: Spanned<String>,
    pub(crate) token_sha256: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MasterTable {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) data_dir: Option<Spanned<String>>,
}

/// Addresses stay text here so that a bad one is refused with a message of ours that shows
/// the expected form.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenTable {
    pub(crate) workers: Option<Spanned<String>>,
    pub(crate) http: Option<Spanned<String>>,
    pub(crate) buildbot_workers: Option<Spanned<String>>,
    pub(crate) allow_plaintext: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimingTable {
    pub(crate) heartbeat_interval_s: Option<Spanned<u64>>,
    pub(crate) expiry_window_s: Option<Spanned<u64>>,
    pub(crate) keepalive_timeout_s: Option<Spanned<u64>>,
    pub(crate) missing_timeout_s: Option<Spanned<u64>>,
    pub(crate) ping_timeout_s: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GatewayTable {
    pub(crate) duplicate_policy: Option<DuplicatePolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsTable {
    pub(crate) max_frame_bytes: Option<Spanned<u64>>,
    pub(crate) handshake_timeout_s: Option<Spanned<u64>>,
    pub(crate) max_handshaking_connections: Option<Spanned<usize>>,
    pub(crate) max_connections: Option<Spanned<usize>>,
    pub(crate) max_outbound_frames: Option<Spanned<usize>>,
    pub(crate) max_outbound_bytes: Option<Spanned<usize>>,
    pub(crate) listen_backlog: Option<Spanned<u64>>,
    pub(crate) max_connections_per_address: Option<Spanned<usize>>,
    pub(crate) max_handshaking_per_address: Option<Spanned<usize>>,
    pub(crate) http_max_connections: Option<Spanned<usize>>,
    pub(crate) http_max_connections_per_address: Option<Spanned<usize>>,
    pub(crate) http_max_in_flight: Option<Spanned<usize>>,
    pub(crate) http_head_timeout_s: Option<Spanned<u64>>,
    pub(crate) http_write_timeout_s: Option<Spanned<u64>>,
    pub(crate) http_max_buffered_bytes: Option<Spanned<usize>>,
    pub(crate) max_master_sessions: Option<Spanned<usize>>,
    pub(crate) master_idle_timeout_s: Option<Spanned<u64>>,
    pub(crate) max_masters: Option<Spanned<usize>>,
    pub(crate) max_rows_per_kind: Option<Spanned<usize>>,
}

/// A worker must say both who it is and its password (in clear, or as its SHA-256): no
/// default could be right. Exactly one of the two forms; validation checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerEntry {
    pub(crate) name: Spanned<String>,
    pub(crate) password: Option<Spanned<SecretText>>,
    pub(crate) password_sha256: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuilderEntry {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) workernames: Vec<Spanned<String>>,
}

/// A password as read. Its `Debug` is redacted, and a value of the wrong type is refused
/// without being quoted: serde's usual message would echo `password = 1234` back.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretText(pub(crate) String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(secret) => Ok(SecretText(secret)),
            other => Err(serde::de::Error::custom(format!(
                "a password must be a string, not {} (quote it)",
                article(other.type_str())
            ))),
        }
    }
}

fn article(type_name: &str) -> String {
    let vowel = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if vowel { "an" } else { "a" })
}
