use serde::{Deserialize, Serialize};

/// What to do when a worker that already has a connection authenticates again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// The new connection wins: the old one is closed and detached first (the seed's rule).
    #[default]
    DropOlder,
    /// Ping the old connection; if it answers within `ping_timeout_ms` the new one is
    /// rejected, otherwise the old one is dropped and the new one attached (Buildbot 0.8.3+).
    PingOld,
}

/// The Gateway's settings, all changeable by a reconfig.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    pub duplicate_policy: DuplicatePolicy,
    /// A connection silent for longer than this is closed (Buildbot has no such deadline).
    pub keepalive_timeout_ms: u64,
    /// How long the old connection has to answer a ping under `ping-old`.
    pub ping_timeout_ms: u64,
    /// A configured worker disconnected for longer than this is reported missing.
    pub missing_timeout_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            duplicate_policy: DuplicatePolicy::DropOlder,
            keepalive_timeout_ms: 180_000,
            ping_timeout_ms: 10_000,
            missing_timeout_ms: 3_600_000,
        }
    }
}

impl GatewayConfig {
    /// Every timeout must be positive: a zero timeout would close connections the moment
    /// they open.
    ///
    /// # Errors
    ///
    /// Names the first timeout that is zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("keepalive_timeout_ms", self.keepalive_timeout_ms),
            ("ping_timeout_ms", self.ping_timeout_ms),
            ("missing_timeout_ms", self.missing_timeout_ms),
        ] {
            if value == 0 {
                return Err(format!("{name} must be greater than zero"));
            }
        }
        Ok(())
    }
}
