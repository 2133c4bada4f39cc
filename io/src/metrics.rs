//! Counters the daemon keeps for `/metrics` and for the logs, in the Prometheus project's
//! own client library (`prometheus-client`), which writes the OpenMetrics text format.
//! Shared between the core thread, the connection tasks and the HTTP threads: every metric
//! is atomic inside.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds, in seconds, of the fsync latency histogram's buckets.
const FSYNC_BUCKETS_S: [f64; 12] =
    [0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PortReasonLabels {
    pub port: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PortLabel {
    pub port: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PortKindLabels {
    pub port: &'static str,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    pub attaches: Counter,
    pub rejected_unknown_worker: Counter,
    pub rejected_wrong_password: Counter,
    pub rejected_duplicate: Counter,
    pub rejected_master_authentication: Counter,
    pub duplicates_resolved: Counter,
    pub keepalive_timeouts: Counter,
    pub masters_expired: Counter,
    pub frames_rejected: Counter,
    pub outbound_overflows: Counter,
    pub storage_batches: Counter,
    pub storage_changes: Counter,
    pub fsync_seconds: Histogram,
    refused: Family<PortReasonLabels, Counter>,
    accept_errors: Family<PortLabel, Counter>,
    tls_handshakes: Family<PortKindLabels, Counter>,
    open_connections: Family<PortLabel, Gauge>,
    handshaking_connections: Family<PortLabel, Gauge>,
    masters: Family<StateLabel, Gauge>,
    workers_connected: Gauge,
    registry: Registry,
    /// A cluster node's view of its cluster (`None` for one node on its own store).
    pub(crate) cluster: Option<std::sync::Arc<crate::cluster::ClusterStatus>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rollcall");
        let rejections = Family::<ReasonLabel, Counter>::default();
        let rejected = |reason| rejections.get_or_create(&ReasonLabel { reason }).clone();
        let metrics = Metrics {
            attaches: Counter::default(),
            rejected_unknown_worker: rejected("unknown_worker"),
            rejected_wrong_password: rejected("wrong_password"),
            rejected_duplicate: rejected("duplicate"),
            rejected_master_authentication: rejected("master_authentication"),
            duplicates_resolved: Counter::default(),
            keepalive_timeouts: Counter::default(),
            masters_expired: Counter::default(),
            frames_rejected: Counter::default(),
            outbound_overflows: Counter::default(),
            storage_batches: Counter::default(),
            storage_changes: Counter::default(),
            fsync_seconds: Histogram::new(FSYNC_BUCKETS_S),
            refused: Family::default(),
            accept_errors: Family::default(),
            tls_handshakes: Family::default(),
            open_connections: Family::default(),
            handshaking_connections: Family::default(),
            masters: Family::default(),
            workers_connected: Gauge::default(),
            registry: Registry::default(),
            cluster: None,
        };
        registry.register("masters", "Masters in the registry, by state", metrics.masters.clone());
        registry.register(
            "workers_connected",
            "Workers attached to this master",
            metrics.workers_connected.clone(),
        );
        registry.register("attaches", "Workers attached", metrics.attaches.clone());
        registry.register(
            "rejections",
            "Workers and masters refused at their Hello, by reason",
            rejections,
        );
        registry.register(
            "connections_refused",
            "Connections refused before they were trusted, by port and reason",
            metrics.refused.clone(),
        );
        registry.register(
            "accept_errors",
            "Failed accepts (out of file descriptors, ...), by port",
            metrics.accept_errors.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes completed, by port and kind (full, resumed from a ticket)",
            metrics.tls_handshakes.clone(),
        );
        registry.register(
            "connections_open",
            "Open connections, by port",
            metrics.open_connections.clone(),
        );
        registry.register(
            "connections_handshaking",
            "Connections not yet trusted, by port",
            metrics.handshaking_connections.clone(),
        );
        registry.register(
            "duplicates_resolved",
            "Duplicate worker connections resolved",
            metrics.duplicates_resolved.clone(),
        );
        registry.register(
            "keepalive_timeouts",
            "Connections closed for silence",
            metrics.keepalive_timeouts.clone(),
        );
        registry.register(
            "masters_expired",
            "Masters expired by this daemon",
            metrics.masters_expired.clone(),
        );
        registry.register(
            "frames_rejected",
            "Connections closed for a bad frame or handshake",
            metrics.frames_rejected.clone(),
        );
        registry.register(
            "outbound_overflows",
            "Peers disconnected for not reading",
            metrics.outbound_overflows.clone(),
        );
        registry.register(
            "storage_batches",
            "Atomic storage batches committed",
            metrics.storage_batches.clone(),
        );
        registry.register(
            "storage_changes",
            "Row changes committed",
            metrics.storage_changes.clone(),
        );
        registry.register(
            "storage_fsync_seconds",
            "Time to commit one batch durably",
            metrics.fsync_seconds.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// The metrics of a cluster node: these, and the `rollcall_cluster_*` series of `status`.
    pub(crate) fn for_cluster(status: std::sync::Arc<crate::cluster::ClusterStatus>) -> Metrics {
        let mut metrics = Metrics::new();
        status.register(&mut metrics.registry);
        metrics.cluster = Some(status);
        metrics
    }

    pub fn add(counter: &Counter, amount: u64) {
        counter.inc_by(amount);
    }

    pub fn get(counter: &Counter) -> u64 {
        counter.get()
    }

    pub fn observe_fsync(&self, micros: u64) {
        self.fsync_seconds.observe(micros as f64 / 1e6);
    }

    pub(crate) fn refused(&self, port: &'static str, reason: &'static str) {
        self.refused.get_or_create(&PortReasonLabels { port, reason }).inc();
    }

    #[cfg(test)]
    pub(crate) fn refusal_count(&self, port: &'static str, reason: &'static str) -> u64 {
        self.refused.get_or_create(&PortReasonLabels { port, reason }).get()
    }

    pub(crate) fn tls_handshake(&self, port: &'static str, resumed: bool) {
        let kind = if resumed { "resumed" } else { "full" };
        self.tls_handshakes.get_or_create(&PortKindLabels { port, kind }).inc();
    }

    pub(crate) fn accept_error(&self, port: &'static str) {
        self.accept_errors.get_or_create(&PortLabel { port }).inc();
    }

    pub(crate) fn set_connections(&self, port: &'static str, open: usize, handshaking: usize) {
        let label = PortLabel { port };
        self.open_connections.get_or_create(&label).set(gauge_value(open));
        self.handshaking_connections.get_or_create(&label).set(gauge_value(handshaking));
    }

    /// The OpenMetrics text of every metric, with the gauges read from the core just now.
    pub(crate) fn encode(
        &self,
        active: usize,
        inactive: usize,
        workers_connected: usize,
    ) -> String {
        self.masters.get_or_create(&StateLabel { state: "active" }).set(gauge_value(active));
        self.masters.get_or_create(&StateLabel { state: "inactive" }).set(gauge_value(inactive));
        self.workers_connected.set(gauge_value(workers_connected));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_labelled_series_of_one_family() {
        let metrics = Metrics::new();
        metrics.refused("http", "head_too_large");
        metrics.refused("http", "head_too_large");
        metrics.refused("workers", "address_full");
        metrics.observe_fsync(300);
        Metrics::add(&metrics.rejected_wrong_password, 3);
        let text = metrics.encode(2, 1, 0);
        for line in [
            "rollcall_connections_refused_total{port=\"http\",reason=\"head_too_large\"} 2",
            "rollcall_connections_refused_total{port=\"workers\",reason=\"address_full\"} 1",
            "rollcall_rejections_total{reason=\"wrong_password\"} 3",
            "rollcall_masters{state=\"active\"} 2",
            "rollcall_storage_fsync_seconds_count 1",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}

#[cfg(test)]
#[path = "metrics_reference_tests.rs"]
mod reference;
