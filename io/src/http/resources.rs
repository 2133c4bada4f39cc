//! Registry state as Buildbot's data API shapes it: one JSON object per entity, with the
//! field names Buildbot uses where the concept matches. Times are integer epoch seconds.

use rollcall_core::registry::{
    BuildRecord, BuildRequestRecord, MasterRecord, ServiceRecord, WorkerView,
};
use rollcall_core::{BuilderId, MasterId, Registry, ServiceKind, Timestamp};
use serde_json::{json, Map, Value};

use crate::http::query::{FieldType, Schema};
use crate::http::routes::{IdOrName, Route};

pub(crate) type Row = Map<String, Value>;

/// The JSON key a resource type's list is sent under, and its fields.
pub(crate) struct Resource {
    pub(crate) plural: &'static str,
    pub(crate) schema: Schema,
}

pub(crate) const MASTERS: Resource = Resource {
    plural: "masters",
    schema: Schema {
        fields: &[
            ("masterid", FieldType::Integer),
            ("name", FieldType::String),
            ("active", FieldType::Boolean),
            ("last_active", FieldType::Date),
        ],
    },
};

pub(crate) const BUILDERS: Resource = Resource {
    plural: "builders",
    schema: Schema {
        fields: &[
            ("builderid", FieldType::Integer),
            ("name", FieldType::String),
            ("masterids", FieldType::IntegerList),
            ("description", FieldType::String),
            ("tags", FieldType::StringList),
        ],
    },
};

pub(crate) const WORKERS: Resource = Resource {
    plural: "workers",
    schema: Schema {
        fields: &[
            ("workerid", FieldType::Integer),
            ("name", FieldType::String),
            ("connected_to", FieldType::Json),
            ("configured_on", FieldType::Json),
            ("workerinfo", FieldType::Json),
            ("paused", FieldType::Boolean),
            ("graceful", FieldType::Boolean),
        ],
    },
};

pub(crate) const BUILD_REQUESTS: Resource = Resource {
    plural: "buildrequests",
    schema: Schema {
        fields: &[
            ("buildrequestid", FieldType::Integer),
            ("builderid", FieldType::Integer),
            ("claimed", FieldType::Boolean),
            ("claimed_by_masterid", FieldType::IntegerOrNull),
            ("claimed_at", FieldType::Date),
            ("complete", FieldType::Boolean),
            ("complete_at", FieldType::Date),
            ("results", FieldType::IntegerOrNull),
            ("submitted_at", FieldType::Date),
        ],
    },
};

pub(crate) const BUILDS: Resource = Resource {
    plural: "builds",
    schema: Schema {
        fields: &[
            ("buildid", FieldType::Integer),
            ("number", FieldType::Integer),
            ("builderid", FieldType::Integer),
            ("buildrequestid", FieldType::Integer),
            ("masterid", FieldType::Integer),
            ("workerid", FieldType::Integer),
            ("started_at", FieldType::Date),
            ("complete", FieldType::Boolean),
            ("complete_at", FieldType::Date),
            ("results", FieldType::IntegerOrNull),
        ],
    },
};

const SERVICE_FIELDS: &[(&str, FieldType)] = &[
    ("name", FieldType::String),
    ("enabled", FieldType::Boolean),
    ("masterid", FieldType::IntegerOrNull),
    ("master", FieldType::Json),
];

pub(crate) const SCHEDULERS: Resource = Resource {
    plural: "schedulers",
    schema: Schema {
        fields: &[
            ("schedulerid", FieldType::Integer),
            SERVICE_FIELDS[0],
            SERVICE_FIELDS[1],
            SERVICE_FIELDS[2],
            SERVICE_FIELDS[3],
        ],
    },
};

pub(crate) const CHANGE_SOURCES: Resource = Resource {
    plural: "changesources",
    schema: Schema {
        fields: &[
            ("changesourceid", FieldType::Integer),
            SERVICE_FIELDS[0],
            SERVICE_FIELDS[1],
            SERVICE_FIELDS[2],
            SERVICE_FIELDS[3],
        ],
    },
};

/// What a route selects: a list (possibly empty), or one entity that may be missing.
pub(crate) enum Selection {
    Many(Vec<Row>),
    One(Option<Row>),
}

/// The resource a data route serves; `None` for `/healthz` and `/metrics`.
pub(crate) fn resource_of(route: &Route) -> Option<&'static Resource> {
    Some(match route {
        Route::Masters | Route::Master(_) | Route::BuilderMasters(_) | Route::BuilderMaster(..) => {
            &MASTERS
        }
        Route::Builders | Route::Builder(_) => &BUILDERS,
        Route::Workers | Route::Worker(_) => &WORKERS,
        Route::BuildRequests | Route::BuildRequest(_) => &BUILD_REQUESTS,
        Route::Builds | Route::Build(_) => &BUILDS,
        Route::Schedulers | Route::Scheduler(_) => &SCHEDULERS,
        Route::ChangeSources | Route::ChangeSource(_) => &CHANGE_SOURCES,
        Route::Health | Route::Metrics => return None,
    })
}

/// Reads what the route selects. Runs on the core thread: it only copies.
pub(crate) fn select(registry: &Registry, route: &Route) -> Selection {
    match route {
        Route::Masters => Selection::Many(registry.masters().map(master_row).collect()),
        Route::Master(id) => Selection::One(registry.master(MasterId(*id)).map(master_row)),
        Route::BuilderMasters(builder) => Selection::Many(
            builder_id(registry, builder)
                .map(|id| registry.masters_serving(id).map(master_row).collect())
                .unwrap_or_default(),
        ),
        Route::BuilderMaster(builder, master) => Selection::One(
            builder_id(registry, builder)
                .and_then(|id| registry.masters_serving(id).find(|m| m.id == MasterId(*master)))
                .map(master_row),
        ),
        Route::Builders => Selection::Many(
            registry.builders().map(|builder| builder_row(registry, builder.id)).collect(),
        ),
        Route::Builder(builder) => {
            Selection::One(builder_id(registry, builder).map(|id| builder_row(registry, id)))
        }
        Route::Workers => Selection::Many(registry.workers().map(|w| worker_row(&w)).collect()),
        Route::Worker(worker) => {
            let view = match worker {
                IdOrName::Id(id) => registry.worker(rollcall_core::WorkerId(*id)),
                IdOrName::Name(name) => registry.worker_by_name(name),
            };
            Selection::One(view.map(|w| worker_row(&w)))
        }
        Route::BuildRequests => {
            Selection::Many(registry.build_requests().map(build_request_row).collect())
        }
        Route::BuildRequest(id) => Selection::One(
            registry.build_request(rollcall_core::BuildRequestId(*id)).map(build_request_row),
        ),
        Route::Builds => Selection::Many(registry.builds().map(build_row).collect()),
        Route::Build(id) => {
            Selection::One(registry.build(rollcall_core::BuildId(*id)).map(build_row))
        }
        Route::Schedulers => Selection::Many(services(registry, ServiceKind::Scheduler, None)),
        Route::Scheduler(id) => {
            Selection::One(services(registry, ServiceKind::Scheduler, Some(*id)).pop())
        }
        Route::ChangeSources => {
            Selection::Many(services(registry, ServiceKind::ChangeSource, None))
        }
        Route::ChangeSource(id) => {
            Selection::One(services(registry, ServiceKind::ChangeSource, Some(*id)).pop())
        }
        Route::Health | Route::Metrics => Selection::Many(Vec::new()),
    }
}

fn builder_id(registry: &Registry, builder: &IdOrName) -> Option<BuilderId> {
    match builder {
        IdOrName::Id(id) => registry.builder(BuilderId(*id)).map(|b| b.id),
        IdOrName::Name(name) => registry.builder_by_name(name).map(|b| b.id),
    }
}

fn seconds(moment: Timestamp) -> Value {
    json!(moment.as_secs())
}

fn optional_seconds(moment: Option<Timestamp>) -> Value {
    moment.map_or(Value::Null, seconds)
}

fn object(value: Value) -> Row {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("rows are built from object literals"),
    }
}

pub(crate) fn master_row(master: &MasterRecord) -> Row {
    object(json!({
        "masterid": master.id.get(),
        "name": master.name,
        "active": master.active,
        "last_active": seconds(master.last_active),
    }))
}

fn builder_row(registry: &Registry, id: BuilderId) -> Row {
    let name = registry.builder(id).map(|b| b.name.clone()).unwrap_or_default();
    let masterids: Vec<u64> = registry.masters_serving(id).map(|m| m.id.get()).collect();
    object(json!({
        "builderid": id.get(),
        "name": name,
        "masterids": masterids,
        "description": Value::Null,
        "tags": [],
    }))
}

fn worker_row(worker: &WorkerView<'_>) -> Row {
    let connected_to: Vec<Value> =
        worker.connected_to.keys().map(|master| json!({"masterid": master.get()})).collect();
    // Buildbot lists (master, builder) pairs; the Registry knows which masters configure
    // the worker, not which of their builders it serves, so each entry names the master.
    let configured_on: Vec<Value> =
        worker.configured_on.iter().map(|master| json!({"masterid": master.get()})).collect();
    object(json!({
        "workerid": worker.record.id.get(),
        "name": worker.record.name,
        "connected_to": connected_to,
        "configured_on": configured_on,
        "workerinfo": {},
        "paused": false,
        "graceful": false,
    }))
}

pub(crate) fn build_request_row(request: &BuildRequestRecord) -> Row {
    object(json!({
        "buildrequestid": request.id.get(),
        "builderid": request.builder.get(),
        "claimed": request.claimed_by.is_some(),
        "claimed_by_masterid": request.claimed_by.map(MasterId::get),
        "claimed_at": optional_seconds(request.claimed_at),
        "complete": request.complete,
        "complete_at": optional_seconds(request.completed_at),
        "results": request.results.map(|r| r.0),
        "submitted_at": seconds(request.submitted_at),
    }))
}

pub(crate) fn build_row(build: &BuildRecord) -> Row {
    object(json!({
        "buildid": build.id.get(),
        "number": build.number,
        "builderid": build.builder.get(),
        "buildrequestid": build.request.get(),
        "masterid": build.master.get(),
        "workerid": build.worker.get(),
        "started_at": seconds(build.started_at),
        "complete": build.results.is_some(),
        "complete_at": optional_seconds(build.complete_at),
        "results": build.results.map(|r| r.0),
    }))
}

fn services(registry: &Registry, kind: ServiceKind, only: Option<u64>) -> Vec<Row> {
    registry
        .services()
        .filter(|service| service.kind == kind && only.is_none_or(|id| service.id.get() == id))
        .map(|service| service_row(registry, service))
        .collect()
}

fn service_row(registry: &Registry, service: &ServiceRecord) -> Row {
    let id_field = match service.kind {
        ServiceKind::Scheduler => "schedulerid",
        ServiceKind::ChangeSource => "changesourceid",
    };
    let master = service.owner.and_then(|owner| registry.master(owner)).map(master_row);
    let mut row = object(json!({
        "name": service.name,
        "enabled": true,
        "masterid": service.owner.map(MasterId::get),
        "master": master,
    }));
    row.insert(id_field.into(), json!(service.id.get()));
    row
}

/// Fills `workerinfo` with what each worker last reported (Buildbot workers report it in
/// answer to `get_worker_info`; rollcall's own workers report nothing).
pub(crate) fn add_worker_info(
    selection: &mut Selection,
    reported: &std::collections::HashMap<String, Value>,
) {
    let rows: &mut [Row] = match selection {
        Selection::Many(rows) => rows,
        Selection::One(Some(row)) => std::slice::from_mut(row),
        Selection::One(None) => return,
    };
    for row in rows {
        let info =
            row.get("name").and_then(Value::as_str).and_then(|name| reported.get(name)).cloned();
        if let (Some(info), Some(field)) = (info, row.get_mut("workerinfo")) {
            *field = info;
        }
    }
}
