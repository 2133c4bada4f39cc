//! Registry state as Buildbot's data API shapes it: the resources, their fields (the
//! schemas of the field tables in `rows/tables.rs`), and which typed rows each route
//! selects. Field names are Buildbot's where the concept matches; times are integer epoch
//! seconds.

use std::collections::HashMap;

use rollcall_core::registry::{BuildRecord, BuildRequestRecord, MasterRecord, WorkerView};
use rollcall_core::{BuilderId, MasterId, Registry, ServiceKind};
use serde_json::Value;

use crate::http::query::Schema;
use crate::http::routes::{IdOrName, Route};
use crate::http::rows::{self, BuilderRow, ServiceRow, WorkerRow};

/// The JSON key a resource type's list is sent under, and its fields.
pub(crate) struct Resource {
    pub(crate) plural: &'static str,
    pub(crate) schema: Schema,
}

pub(crate) const MASTERS: Resource = Resource { plural: "masters", schema: rows::Masters::SCHEMA };

pub(crate) const BUILDERS: Resource =
    Resource { plural: "builders", schema: rows::Builders::SCHEMA };

pub(crate) const WORKERS: Resource = Resource { plural: "workers", schema: rows::Workers::SCHEMA };

pub(crate) const BUILD_REQUESTS: Resource =
    Resource { plural: "buildrequests", schema: rows::BuildRequests::SCHEMA };

pub(crate) const BUILDS: Resource = Resource { plural: "builds", schema: rows::Builds::SCHEMA };

pub(crate) const SCHEDULERS: Resource =
    Resource { plural: "schedulers", schema: rows::Schedulers::SCHEMA };

pub(crate) const CHANGE_SOURCES: Resource =
    Resource { plural: "changesources", schema: rows::ChangeSources::SCHEMA };

/// What a route selects: a list (possibly empty), or one entity that may be missing.
#[derive(Debug)]
pub(crate) enum Selection<R> {
    Many(Vec<R>),
    One(Option<R>),
}

/// The typed rows a route selects, one variant per row type.
#[derive(Debug)]
pub(crate) enum Selected {
    Masters(Selection<MasterRecord>),
    Builders(Selection<BuilderRow>),
    Workers(Selection<WorkerRow>),
    BuildRequests(Selection<BuildRequestRecord>),
    Builds(Selection<BuildRecord>),
    Services(Selection<ServiceRow>),
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
        Route::Health
        | Route::Metrics
        | Route::Cluster
        | Route::StatusPage(_)
        | Route::ApiIndex => return None,
    })
}

/// Copies out what the route selects, as typed rows. Runs on the core thread: it only
/// copies (a few small fields per row); the HTTP thread filters, sorts and renders.
/// `worker_info` is what each worker last reported about itself, by name.
pub(crate) fn select(
    registry: &Registry,
    worker_info: &HashMap<String, Value>,
    route: &Route,
) -> Selected {
    match route {
        Route::Masters => Selected::Masters(Selection::Many(registry.masters().cloned().collect())),
        Route::Master(id) => {
            Selected::Masters(Selection::One(registry.master(MasterId(*id)).cloned()))
        }
        Route::BuilderMasters(builder) => Selected::Masters(Selection::Many(
            builder_id(registry, builder)
                .map(|id| registry.masters_serving(id).cloned().collect())
                .unwrap_or_default(),
        )),
        Route::BuilderMaster(builder, master) => Selected::Masters(Selection::One(
            builder_id(registry, builder)
                .and_then(|id| registry.masters_serving(id).find(|m| m.id == MasterId(*master)))
                .cloned(),
        )),
        Route::Builders => Selected::Builders(Selection::Many(
            registry.builders().map(|builder| builder_row(registry, builder.id)).collect(),
        )),
        Route::Builder(builder) => Selected::Builders(Selection::One(
            builder_id(registry, builder).map(|id| builder_row(registry, id)),
        )),
        Route::Workers => Selected::Workers(Selection::Many(
            registry.workers().map(|w| worker_row(&w, worker_info)).collect(),
        )),
        Route::Worker(worker) => {
            let view = match worker {
                IdOrName::Id(id) => registry.worker(rollcall_core::WorkerId(*id)),
                IdOrName::Name(name) => registry.worker_by_name(name),
            };
            Selected::Workers(Selection::One(view.map(|w| worker_row(&w, worker_info))))
        }
        Route::BuildRequests => {
            Selected::BuildRequests(Selection::Many(registry.build_requests().cloned().collect()))
        }
        Route::BuildRequest(id) => Selected::BuildRequests(Selection::One(
            registry.build_request(rollcall_core::BuildRequestId(*id)).cloned(),
        )),
        Route::Builds => Selected::Builds(Selection::Many(registry.builds().cloned().collect())),
        Route::Build(id) => {
            Selected::Builds(Selection::One(registry.build(rollcall_core::BuildId(*id)).cloned()))
        }
        Route::Schedulers => services(registry, ServiceKind::Scheduler, None),
        Route::Scheduler(id) => services(registry, ServiceKind::Scheduler, Some(*id)),
        Route::ChangeSources => services(registry, ServiceKind::ChangeSource, None),
        Route::ChangeSource(id) => services(registry, ServiceKind::ChangeSource, Some(*id)),
        Route::Health
        | Route::Metrics
        | Route::Cluster
        | Route::StatusPage(_)
        | Route::ApiIndex => Selected::Masters(Selection::Many(Vec::new())),
    }
}

fn builder_id(registry: &Registry, builder: &IdOrName) -> Option<BuilderId> {
    match builder {
        IdOrName::Id(id) => registry.builder(BuilderId(*id)).map(|b| b.id),
        IdOrName::Name(name) => registry.builder_by_name(name).map(|b| b.id),
    }
}

fn builder_row(registry: &Registry, id: BuilderId) -> BuilderRow {
    BuilderRow {
        id,
        name: registry.builder(id).map(|b| b.name.clone()).unwrap_or_default(),
        masterids: registry.masters_serving(id).map(|m| m.id.get()).collect(),
    }
}

fn worker_row(worker: &WorkerView<'_>, worker_info: &HashMap<String, Value>) -> WorkerRow {
    WorkerRow {
        id: worker.record.id,
        name: worker.record.name.clone(),
        connected_to: worker.connected_to.keys().copied().collect(),
        configured_on: worker.configured_on.iter().copied().collect(),
        workerinfo: worker_info.get(&worker.record.name).cloned(),
    }
}

/// Schedulers or change sources (`kind`): all of them, or the one with id `only`.
fn services(registry: &Registry, kind: ServiceKind, only: Option<u64>) -> Selected {
    let rows = registry
        .services()
        .filter(|service| service.kind == kind && only.is_none_or(|id| service.id.get() == id))
        .map(|service| ServiceRow {
            id: service.id,
            kind: service.kind,
            name: service.name.clone(),
            owner: service.owner,
            master: service.owner.and_then(|owner| registry.master(owner)).cloned(),
        });
    Selected::Services(match only {
        None => Selection::Many(rows.collect()),
        Some(_) => Selection::One(rows.last()),
    })
}
