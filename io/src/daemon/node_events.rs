//! What the Node's events mean to an operator: log lines and metrics.

use std::time::Instant;

use rollcall_core::gateway::RejectionCause;
use rollcall_core::node::StartKind;
use rollcall_core::{CloseReason, GatewayEvent, NodeEvent, RegistryEvent, StopCause};

use crate::log_limit::{LogLimiter, Verdict};
use crate::logging::Escaped;
use crate::metrics::Metrics;

pub(super) fn report(event: &NodeEvent, metrics: &Metrics, rejection_log: &mut LogLimiter) {
    match event {
        NodeEvent::Registry(event) => registry_event(event, metrics),
        NodeEvent::Gateway(event) => gateway_event(event, metrics, rejection_log),
        NodeEvent::Started { master, kind, rows } => {
            let how = match kind {
                StartKind::Fresh => "first start of this master",
                StartKind::Clean => "the last run stopped cleanly",
                StartKind::CrashRecovered => {
                    "the last run did not stop cleanly: recovered after a crash"
                }
            };
            tracing::info!(masterid = %master, rows, kind = ?kind, "registry loaded; master active ({how})");
        }
        NodeEvent::Revived { master } => {
            tracing::warn!(masterid = %master, "this master had been expired (was the process suspended?); active again, configuration declared again");
        }
        NodeEvent::OwnCommandRefused { command, error } => {
            tracing::error!(command, error = %error, "the registry refused this master's own report");
        }
        NodeEvent::SessionRefused { connection, name } => {
            Metrics::add(&metrics.rejected_master_authentication, 1);
            if let Verdict::Log { suppressed } = rejection_log.check(Instant::now()) {
                tracing::warn!(master = %Escaped(name), connection = %connection, suppressed, "master refused: unknown name or wrong token");
            }
        }
        NodeEvent::RegisteredAtLeader { master } => {
            tracing::info!(masterid = %master, "this master is registered at the leader, its workers and builders declared");
        }
        NodeEvent::LeaderRefused { command, error } => {
            tracing::error!(command, error = %error, "the leader refused this master's own report");
        }
        NodeEvent::Promoted { master } => {
            tracing::info!(masterid = %master, "serving the registry; this master's workers stay attached");
        }
        NodeEvent::Deposed { master } => {
            tracing::info!(masterid = %master, "no longer serving the registry; this master's workers stay attached, its reports go to the next leader");
        }
        NodeEvent::ReconfigApplied => tracing::info!("reconfig complete"),
        NodeEvent::ReconfigRejected { reason } => tracing::error!("reconfig failed: {reason}"),
        NodeEvent::Stopped { master } => tracing::info!(masterid = %master, "master stopped; bye"),
    }
}

fn registry_event(event: &RegistryEvent, metrics: &Metrics) {
    match event {
        RegistryEvent::MasterStarted { master, name } => {
            tracing::info!(masterid = %master, name = %Escaped(name), "master started");
        }
        RegistryEvent::MasterStopped { master, name, cause } => {
            if *cause == StopCause::Expired {
                Metrics::add(&metrics.masters_expired, 1);
            }
            tracing::info!(masterid = %master, name = %Escaped(name), ?cause, "master stopped");
        }
        other => tracing::debug!(topic = %other.topic(), "registry event"),
    }
}

fn gateway_event(event: &GatewayEvent, metrics: &Metrics, rejection_log: &mut LogLimiter) {
    match event {
        GatewayEvent::Attached { worker, connection } => {
            Metrics::add(&metrics.attaches, 1);
            tracing::info!(worker = %Escaped(worker), connection = %connection, "worker attached");
        }
        GatewayEvent::Detached { worker, connection, reason } => {
            if *reason == CloseReason::KeepaliveTimeout {
                Metrics::add(&metrics.keepalive_timeouts, 1);
            }
            tracing::info!(worker = %Escaped(worker), connection = %connection, ?reason, "worker detached");
        }
        GatewayEvent::Rejected { worker, connection, cause } => {
            let counter = match cause {
                RejectionCause::UnknownWorker => &metrics.rejected_unknown_worker,
                RejectionCause::WrongPassword => &metrics.rejected_wrong_password,
                RejectionCause::DuplicateConnection => &metrics.rejected_duplicate,
            };
            Metrics::add(counter, 1);
            if let Verdict::Log { suppressed } = rejection_log.check(Instant::now()) {
                tracing::warn!(worker = %Escaped(worker), connection = %connection, ?cause, suppressed, "worker rejected");
            }
        }
        GatewayEvent::DuplicateResolved { worker, policy, kept, dropped } => {
            Metrics::add(&metrics.duplicates_resolved, 1);
            tracing::info!(worker = %Escaped(worker), ?policy, kept = %kept, dropped = %dropped, "duplicate connection resolved");
        }
        GatewayEvent::Missing { worker } => {
            tracing::warn!(worker = %Escaped(worker), "worker missing")
        }
        GatewayEvent::Reconfigured { added, removed, builders_changed } => {
            tracing::info!(?added, ?removed, ?builders_changed, "gateway reconfigured");
        }
        GatewayEvent::ReconfigRejected { reason } => {
            tracing::warn!(reason = %reason, "gateway refused the new configuration");
        }
    }
}
