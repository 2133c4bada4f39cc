//! `/healthz`, `/api/v2/cluster` and `/metrics` (OpenMetrics text, `rollcall_` prefix).

use serde_json::json;

use crate::http::respond::{Format, Reply};
use crate::http::{read, Context};

pub(super) fn health(context: &Context, format: Format) -> Reply {
    let uptime_s = context.started.elapsed().as_secs();
    let state = read(context, |view| {
        (view.master_name.to_string(), view.master.get(), view.gateway.attached_count())
    });
    match state {
        Some((name, masterid, workers)) => {
            let mut body = json!({
                "status": "ok",
                "master": name,
                "masterid": masterid,
                "uptime_s": uptime_s,
                "workers_connected": workers,
            });
            if let Some(cluster) = cluster_json(context) {
                body["cluster"] = cluster;
            }
            Reply::json(format, 200, &body)
        }
        None => Reply::error(format, 503, "the daemon is shutting down".into()),
    }
}

/// `/api/v2/cluster`: this node's role, epoch, leader and lag. A node on its own store is
/// no cluster: 404, saying so.
pub(super) fn cluster(context: &Context, format: Format) -> Reply {
    match cluster_json(context) {
        Some(cluster) => Reply::json(format, 200, &json!({ "cluster": [cluster] })),
        None => {
            Reply::error(format, 404, "this daemon runs alone: no [cluster] is configured".into())
        }
    }
}

fn cluster_json(context: &Context) -> Option<serde_json::Value> {
    let status = context.metrics.cluster.as_ref()?;
    let state = status.get();
    Some(json!({
        "node": status.node,
        "advertise": status.advertise,
        "role": state.role,
        "epoch": state.epoch,
        "leader": state.leader,
        "leader_address": state.leader_address,
        "applied_seq": state.applied_seq,
        "log_last_seq": state.log_last_seq,
        "snapshot_seq": state.snapshot_seq,
        "lag_entries": state.lag_entries,
        "leases_taken": state.leases_taken,
        "last_error": state.last_error,
    }))
}

pub(super) fn metrics(context: &Context) -> Reply {
    let gauges = read(context, |view| {
        let active = view.registry.active_master_count();
        (active, view.registry.master_count() - active, view.gateway.attached_count())
    });
    let Some((active, inactive, connected)) = gauges else {
        return Reply::text(503, "shutting down\n".into(), "text/plain; charset=utf-8");
    };
    let text = context.metrics.encode(active, inactive, connected);
    Reply::text(200, text, "application/openmetrics-text; version=1.0.0; charset=utf-8")
}
