//! `/healthz` and `/metrics` (OpenMetrics text, `rollcall_` prefix).

use serde_json::json;

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
    let text = context.metrics.encode(active, inactive, connected);
    Reply::text(200, text, "application/openmetrics-text; version=1.0.0; charset=utf-8")
}
