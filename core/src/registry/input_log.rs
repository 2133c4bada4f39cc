//! The Registry's inputs, as it was fed them: what a cluster's leader logs and a standby
//! replays (docs/cluster.md). The Registry is deterministic given its inputs and their
//! moments, so a standby that replays the same inputs from the same state holds the
//! leader's exact state, its clock included.

use serde::{Deserialize, Serialize};

use super::{Command, Registry, RegistryConfig, RegistryInput, ReplyToken};
use crate::Timestamp;

/// One input of the Registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoggedInput {
    /// [`Registry::handle`] of `command` at `at`.
    Command { at: Timestamp, command: Command },
    /// [`Registry::handle_timeout`] at `at`.
    Timeout { at: Timestamp },
    /// [`Registry::set_config`].
    Config(RegistryConfig),
    /// [`Registry::take_over`] at `at`.
    TakeOver { at: Timestamp, grace_ms: u64 },
    /// [`Registry::handle_request`] of a remote master's `command` at `at`. (Last: the
    /// codec numbers variants in order.)
    Request { at: Timestamp, master: String, request_id: u64, command: Command },
}

impl Registry {
    /// From now on, keep every input fed (see [`Registry::take_logged_inputs`]).
    pub fn start_input_log(&mut self) {
        self.input_log.get_or_insert_with(Vec::new);
    }

    /// The inputs fed since the last call, in order, if the log was started; empty if not.
    pub fn take_logged_inputs(&mut self) -> Vec<LoggedInput> {
        self.input_log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(super) fn log_input(&mut self, input: impl FnOnce() -> LoggedInput) {
        if let Some(log) = self.input_log.as_mut() {
            log.push(input());
        }
    }

    /// A new leader starts serving this registry at `now`: no master is expired before
    /// `now + grace_ms`. Masters that heartbeated to the old leader lost their coordinator
    /// for the takeover; the grace (a heartbeat interval plus the takeover's time) lets
    /// them find the new one before anyone judges their silence, as Nomad and Consul
    /// re-arm their TTLs on failover. `now` is clamped to the latest moment logged, so the
    /// new leader's clock never starts before the old one's last word.
    pub fn take_over(&mut self, now: Timestamp, grace_ms: u64) {
        self.log_input(|| LoggedInput::TakeOver { at: now, grace_ms });
        let now = self.clock.advance(now);
        self.expiry_not_before = self.expiry_not_before.max(now.plus_millis(grace_ms));
    }

    /// Feeds a logged input as the leader fed it, and drops what it outputs: a replica's
    /// changes were the leader's to persist, its replies and events the leader's to send.
    pub fn replay(&mut self, input: LoggedInput) {
        match input {
            LoggedInput::Command { at, command } => {
                self.handle(at, RegistryInput { token: ReplyToken(0), command });
            }
            LoggedInput::Timeout { at } => self.handle_timeout(at),
            LoggedInput::Config(config) => self.set_config(config),
            LoggedInput::TakeOver { at, grace_ms } => self.take_over(at, grace_ms),
            LoggedInput::Request { at, master, request_id, command } => {
                let key = super::RequestKey { master, request_id };
                self.handle_request(at, RegistryInput { token: ReplyToken(0), command }, key);
            }
        }
        self.outputs.clear();
    }
}

#[cfg(test)]
mod tests;
