//! Each REST row type and its fields, declared once: name, query type and accessor, listed
//! in sorted order of their names (the order the JSON object is written in).

use rollcall_core::registry::{BuildRecord, BuildRequestRecord, MasterRecord};
use rollcall_core::{BuilderId, MasterId, ServiceId, ServiceKind, Timestamp, WorkerId};
use serde::ser::SerializeMap;
use serde_json::Value;

use super::value::{EmptyList, MasterRefs, MasterRow, Null, ObjectOrEmpty};
use super::{Keep, WriteFields};
use crate::http::query::{Cell, FieldType, QueryRow};

/// Times are integer epoch seconds.
fn seconds(moment: Timestamp) -> u64 {
    moment.as_secs()
}

fn optional_seconds(moment: Option<Timestamp>) -> Option<u64> {
    moment.map(seconds)
}

fn results(results: Option<rollcall_core::Results>) -> Option<u64> {
    results.map(|results| results.0.into())
}

field_table! {
    pub(crate) struct Masters for MasterRecord: impl rows {
        "active": Boolean = |row| row.active,
        "last_active": Date = |row| seconds(row.last_active),
        "masterid": Integer = |row| row.id.get(),
        "name": String = |row| &row.name,
    }
}

/// A builder and the masters serving it. Buildbot's `description` is always null and `tags`
/// always empty: the Registry keeps neither.
#[derive(Debug, Clone)]
pub(crate) struct BuilderRow {
    pub(crate) id: BuilderId,
    pub(crate) name: String,
    pub(crate) masterids: Vec<u64>,
}

field_table! {
    pub(crate) struct Builders for BuilderRow: impl rows {
        "builderid": Integer = |row| row.id.get(),
        "description": String = |_| Null,
        "masterids": IntegerList = |row| row.masterids.as_slice(),
        "name": String = |row| &row.name,
        "tags": StringList = |_| EmptyList,
    }
}

/// A worker, the masters it is connected to and configured on (Buildbot lists (master,
/// builder) pairs there; the Registry knows which masters configure the worker, not which of
/// their builders it serves, so each entry names the master), and what it last reported
/// about itself (`None` writes `{}`).
#[derive(Debug, Clone)]
pub(crate) struct WorkerRow {
    pub(crate) id: WorkerId,
    pub(crate) name: String,
    pub(crate) connected_to: Vec<MasterId>,
    pub(crate) configured_on: Vec<MasterId>,
    pub(crate) workerinfo: Option<Value>,
}

field_table! {
    pub(crate) struct Workers for WorkerRow: impl rows {
        "configured_on": Json = |row| MasterRefs(&row.configured_on),
        "connected_to": Json = |row| MasterRefs(&row.connected_to),
        "graceful": Boolean = |_| false,
        "name": String = |row| &row.name,
        "paused": Boolean = |_| false,
        "workerid": Integer = |row| row.id.get(),
        "workerinfo": Json = |row| ObjectOrEmpty(row.workerinfo.as_ref()),
    }
}

field_table! {
    pub(crate) struct BuildRequests for BuildRequestRecord: impl rows {
        "builderid": Integer = |row| row.builder.get(),
        "buildrequestid": Integer = |row| row.id.get(),
        "claimed": Boolean = |row| row.claimed_by.is_some(),
        "claimed_at": Date = |row| optional_seconds(row.claimed_at),
        "claimed_by_masterid": IntegerOrNull = |row| row.claimed_by.map(MasterId::get),
        "complete": Boolean = |row| row.complete,
        "complete_at": Date = |row| optional_seconds(row.completed_at),
        "results": IntegerOrNull = |row| results(row.results),
        "submitted_at": Date = |row| seconds(row.submitted_at),
    }
}

field_table! {
    pub(crate) struct Builds for BuildRecord: impl rows {
        "builderid": Integer = |row| row.builder.get(),
        "buildid": Integer = |row| row.id.get(),
        "buildrequestid": Integer = |row| row.request.get(),
        "complete": Boolean = |row| row.results.is_some(),
        "complete_at": Date = |row| optional_seconds(row.complete_at),
        "masterid": Integer = |row| row.master.get(),
        "number": Integer = |row| row.number,
        "results": IntegerOrNull = |row| results(row.results),
        "started_at": Date = |row| seconds(row.started_at),
        "workerid": Integer = |row| row.worker.get(),
    }
}

/// A scheduler or change source, with a copy of its owner's master row.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRow {
    pub(crate) id: ServiceId,
    pub(crate) kind: ServiceKind,
    pub(crate) name: String,
    pub(crate) owner: Option<MasterId>,
    pub(crate) master: Option<MasterRecord>,
}

/// The two kinds of service share every field but their id, whose name decides where it
/// sorts: `changesourceid` before `enabled`, `schedulerid` after `name`.
macro_rules! service_table {
    ($table:ident { $($before:tt)* } ... { $($after:tt)* }) => {
        field_table! {
            pub(crate) struct $table for ServiceRow {
                $($before)*
                "enabled": Boolean = |_| true,
                "master": Json = |row| MasterRow(row.master.as_ref()),
                "masterid": IntegerOrNull = |row| row.owner.map(MasterId::get),
                "name": String = |row| &row.name,
                $($after)*
            }
        }
    };
}

service_table!(ChangeSources { "changesourceid": Integer = |row| row.id.get(), } ... {});
service_table!(Schedulers {} ... { "schedulerid": Integer = |row| row.id.get(), });

impl QueryRow for ServiceRow {
    #[inline]
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match self.kind {
            ServiceKind::Scheduler => Schedulers::cell(self, field),
            ServiceKind::ChangeSource => ChangeSources::cell(self, field),
        }
    }
}

impl WriteFields for ServiceRow {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        match self.kind {
            ServiceKind::Scheduler => Schedulers::write(self, map, keep),
            ServiceKind::ChangeSource => ChangeSources::write(self, map, keep),
        }
    }
}
