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
    /// The first timeout that is zero, in the order the fields are declared.
    pub fn validate(&self) -> Result<(), GatewayConfigError> {
        if self.keepalive_timeout_ms == 0 {
            return Err(GatewayConfigError::ZeroKeepaliveTimeout);
        }
        if self.ping_timeout_ms == 0 {
            return Err(GatewayConfigError::ZeroPingTimeout);
        }
        if self.missing_timeout_ms == 0 {
            return Err(GatewayConfigError::ZeroMissingTimeout);
        }
        Ok(())
    }
}

/// Why gateway settings were refused. Refused settings change nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayConfigError {
    ZeroKeepaliveTimeout,
    ZeroPingTimeout,
    ZeroMissingTimeout,
}

impl GatewayConfigError {
    /// The setting at fault, as [`GatewayConfig`] names it.
    pub fn field(self) -> &'static str {
        match self {
            GatewayConfigError::ZeroKeepaliveTimeout => "keepalive_timeout_ms",
            GatewayConfigError::ZeroPingTimeout => "ping_timeout_ms",
            GatewayConfigError::ZeroMissingTimeout => "missing_timeout_ms",
        }
    }
}

impl std::fmt::Display for GatewayConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} must be greater than zero", self.field())
    }
}

impl std::error::Error for GatewayConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_zero_timeout_is_refused_by_name_the_first_one_first() {
        let valid = GatewayConfig::default();
        assert_eq!(valid.validate(), Ok(()));
        let cases = [
            (GatewayConfig { keepalive_timeout_ms: 0, ..valid }, "keepalive_timeout_ms"),
            (GatewayConfig { ping_timeout_ms: 0, ..valid }, "ping_timeout_ms"),
            (GatewayConfig { missing_timeout_ms: 0, ..valid }, "missing_timeout_ms"),
            (
                GatewayConfig { ping_timeout_ms: 0, missing_timeout_ms: 0, ..valid },
                "ping_timeout_ms",
            ),
        ];
        for (config, field) in cases {
            let error = config.validate().expect_err("a zero timeout");
            assert_eq!(error.field(), field);
            assert_eq!(error.to_string(), format!("{field} must be greater than zero"));
        }
    }
}
