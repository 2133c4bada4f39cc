//! `/healthz` and `/metrics` (Prometheus text format, `rollcall_` prefix).

use std::fmt::Write;

use serde_json::json;

use crate::daemon::metrics::{Metrics, FSYNC_BUCKETS_MICROS};
use crate::http::respond::{Format, Reply};
use crate::http::{read, Context};

pub(super) fn health(context: &Context, format: Format) -> Reply {
    let uptime_s = context.started.elapsed().as_secs();
    let state = read(context, |view| {
        (view.master_name.to_string(), view.master.get(), view.gateway.attached_count())
    });
    match state {
        Some((name, masterid, workers)) => Reply::json(
            format,
            200,
            &json!({
                "status": "ok",
                "master": name,
                "masterid": masterid,
                "uptime_s": uptime_s,
                "workers_connected": workers,
            }),
        ),
        None => Reply::error(format, 503, "the daemon is shutting down".into()),
    }
}

pub(super) fn metrics(context: &Context) -> Reply {
    let gauges = read(context, |view| {
        let active = view.registry.active_master_count();
        (active, view.registry.master_count() - active, view.gateway.attached_count())
    });
    let Some((active, inactive, connected)) = gauges else {
        return Reply::text(503, "shutting down\n".into(), "text/plain; charset=utf-8");
    };
    let metrics = &context.metrics;
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(text, "# HELP rollcall_{name} {help}");
        let _ = writeln!(text, "# TYPE rollcall_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(text, "rollcall_{name}{labels} {value}");
        }
    };
    let count = |counter| Metrics::get(counter);
    family(
        "masters",
        "gauge",
        "Masters in the registry, by state.",
        &[("{state=\"active\"}", active as u64), ("{state=\"inactive\"}", inactive as u64)],
    );
    family(
        "workers_connected",
        "gauge",
        "Workers attached to this master.",
        &[("", connected as u64)],
    );
    family("attaches_total", "counter", "Workers attached.", &[("", count(&metrics.attaches))]);
    family(
        "rejections_total",
        "counter",
        "Connections refused, by reason.",
        &[
            ("{reason=\"unknown_worker\"}", count(&metrics.rejected_unknown_worker)),
            ("{reason=\"wrong_password\"}", count(&metrics.rejected_wrong_password)),
            ("{reason=\"duplicate\"}", count(&metrics.rejected_duplicate)),
            ("{reason=\"connection_limit\"}", count(&metrics.rejected_handshake_limit)),
        ],
    );
    family(
        "duplicates_resolved_total",
        "counter",
        "Duplicate worker connections resolved.",
        &[("", count(&metrics.duplicates_resolved))],
    );
    family(
        "keepalive_timeouts_total",
        "counter",
        "Connections closed for silence.",
        &[("", count(&metrics.keepalive_timeouts))],
    );
    family(
        "masters_expired_total",
        "counter",
        "Masters expired by this daemon.",
        &[("", count(&metrics.masters_expired))],
    );
    family(
        "frames_rejected_total",
        "counter",
        "Connections closed for a bad frame or handshake.",
        &[("", count(&metrics.frames_rejected))],
    );
    family(
        "outbound_overflows_total",
        "counter",
        "Peers disconnected for not reading.",
        &[("", count(&metrics.outbound_overflows))],
    );
    family(
        "storage_batches_total",
        "counter",
        "Atomic storage batches committed.",
        &[("", count(&metrics.storage_batches))],
    );
    family(
        "storage_changes_total",
        "counter",
        "Row changes committed.",
        &[("", count(&metrics.storage_changes))],
    );
    let _ =
        writeln!(text, "# HELP rollcall_storage_fsync_seconds Time to commit one batch durably.");
    let _ = writeln!(text, "# TYPE rollcall_storage_fsync_seconds histogram");
    for (bound, counter) in FSYNC_BUCKETS_MICROS.iter().zip(&metrics.fsync_buckets) {
        let seconds = *bound as f64 / 1e6;
        let _ = writeln!(
            text,
            "rollcall_storage_fsync_seconds_bucket{{le=\"{seconds}\"}} {}",
            count(counter)
        );
    }
    let batches = count(&metrics.storage_batches);
    let _ = writeln!(text, "rollcall_storage_fsync_seconds_bucket{{le=\"+Inf\"}} {batches}");
    let sum = count(&metrics.fsync_micros_sum) as f64 / 1e6;
    let _ = writeln!(text, "rollcall_storage_fsync_seconds_sum {sum}");
    let _ = writeln!(text, "rollcall_storage_fsync_seconds_count {batches}");
    Reply::text(200, text, "text/plain; version=0.0.4; charset=utf-8")
}
