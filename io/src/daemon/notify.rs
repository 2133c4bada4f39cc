//! Telling a service manager how the daemon is doing: systemd's `sd_notify` protocol
//! (`READY=1` once the store is loaded and every port listens, `STOPPING=1` when a stop
//! begins, a one-line `STATUS=`), a no-op where `NOTIFY_SOCKET` is unset.

use sd_notify::NotifyState;

use crate::config::Config;

pub(super) fn ready(config: &Config) {
    let status = format!("serving master {} on {}", config.master.name, config.listen.workers);
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

pub(super) fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: masterStopped, closing connections"),
    ]);
}

fn send(states: &[NotifyState<'_>]) {
    // The socket is kept for the later messages; a failure is the manager's, not ours.
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::warn!(%error, "could not notify the service manager");
    }
}
