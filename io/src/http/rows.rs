//! Typed REST rows: what the core thread copies out for each entity, how the query engine
//! reads their fields ([`QueryRow`]) and how they are written straight to JSON
//! ([`WriteFields`]), without a `serde_json::Map` per row.
//!
//! Each row writes exactly the JSON object Buildbot's data API shape gives the entity, keys
//! in sorted order as a `serde_json::Map` would have them, and reads each field as the
//! [`Cell`] of that same JSON value; the tests below hold both to it.

use rollcall_core::registry::{BuildRecord, BuildRequestRecord, MasterRecord};
use rollcall_core::{BuilderId, MasterId, ServiceId, ServiceKind, WorkerId};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::http::query::{Cell, FieldType, QueryRow};

/// Which fields to write: those `field=` named, or all of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keep<'a> {
    selected: Option<&'a [&'static str]>,
}

impl<'a> Keep<'a> {
    pub(crate) const ALL: Keep<'static> = Keep { selected: None };

    pub(crate) fn only(selected: Option<&'a [&'static str]>) -> Keep<'a> {
        Keep { selected }
    }

    fn field(self, name: &str) -> bool {
        self.selected.is_none_or(|selected| selected.contains(&name))
    }
}

/// A row that writes its own JSON object.
pub(crate) trait WriteFields {
    /// Writes the fields `keep` accepts into `map`, in sorted order of their names.
    ///
    /// # Errors
    ///
    /// When the serializer fails (writing to memory, it does not).
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error>;
}

/// A row and the fields to write of it, as a JSON object.
pub(crate) struct JsonRow<'a, R> {
    pub(crate) row: &'a R,
    pub(crate) keep: Keep<'a>,
}

impl<R: WriteFields> Serialize for JsonRow<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.row.write_fields(&mut map, self.keep)?;
        map.end()
    }
}

/// Writes one field if `keep` accepts it.
fn entry<M: SerializeMap, V: Serialize + ?Sized>(
    map: &mut M,
    keep: Keep<'_>,
    key: &'static str,
    value: &V,
) -> Result<(), M::Error> {
    if keep.field(key) {
        map.serialize_entry(key, value)?;
    }
    Ok(())
}

/// `{"masterid": N}`, how workers name the masters they are connected to or configured on.
struct MasterRef(MasterId);

impl Serialize for MasterRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("masterid", &self.0.get())?;
        map.end()
    }
}

fn seconds(moment: rollcall_core::Timestamp) -> u64 {
    moment.as_secs()
}

impl QueryRow for MasterRecord {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "masterid" => Cell::int(self.id.get()),
            "name" => Cell::Str(&self.name),
            "active" => Cell::Bool(self.active),
            "last_active" => Cell::int(seconds(self.last_active)),
            _ => Cell::Null,
        }
    }
}

impl WriteFields for MasterRecord {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        entry(map, keep, "active", &self.active)?;
        entry(map, keep, "last_active", &seconds(self.last_active))?;
        entry(map, keep, "masterid", &self.id.get())?;
        entry(map, keep, "name", &self.name)
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

impl QueryRow for BuilderRow {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "builderid" => Cell::int(self.id.get()),
            "name" => Cell::Str(&self.name),
            "masterids" => Cell::List(self.masterids.iter().copied().map(Cell::int).collect()),
            "tags" => Cell::List(Vec::new()),
            _ => Cell::Null,
        }
    }
}

impl WriteFields for BuilderRow {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        entry(map, keep, "builderid", &self.id.get())?;
        entry(map, keep, "description", &())?;
        entry(map, keep, "masterids", &self.masterids)?;
        entry(map, keep, "name", &self.name)?;
        entry(map, keep, "tags", &[] as &[&str])
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

impl QueryRow for WorkerRow {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "workerid" => Cell::int(self.id.get()),
            "name" => Cell::Str(&self.name),
            "paused" | "graceful" => Cell::Bool(false),
            // connected_to, configured_on, workerinfo: JSON, never compared.
            _ => Cell::Null,
        }
    }
}

impl WriteFields for WorkerRow {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        let masters = |ids: &[MasterId]| ids.iter().copied().map(MasterRef).collect::<Vec<_>>();
        if keep.field("configured_on") {
            map.serialize_entry("configured_on", &masters(&self.configured_on))?;
        }
        if keep.field("connected_to") {
            map.serialize_entry("connected_to", &masters(&self.connected_to))?;
        }
        entry(map, keep, "graceful", &false)?;
        entry(map, keep, "name", &self.name)?;
        entry(map, keep, "paused", &false)?;
        entry(map, keep, "workerid", &self.id.get())?;
        match &self.workerinfo {
            Some(info) => entry(map, keep, "workerinfo", info),
            None => entry(map, keep, "workerinfo", &serde_json::Map::new()),
        }
    }
}

impl QueryRow for BuildRequestRecord {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "buildrequestid" => Cell::int(self.id.get()),
            "builderid" => Cell::int(self.builder.get()),
            "claimed" => Cell::Bool(self.claimed_by.is_some()),
            "claimed_by_masterid" => Cell::optional_int(self.claimed_by.map(MasterId::get)),
            "claimed_at" => Cell::optional_int(self.claimed_at.map(seconds)),
            "complete" => Cell::Bool(self.complete),
            "complete_at" => Cell::optional_int(self.completed_at.map(seconds)),
            "results" => Cell::optional_int(self.results.map(|results| results.0)),
            "submitted_at" => Cell::int(seconds(self.submitted_at)),
            _ => Cell::Null,
        }
    }
}

impl WriteFields for BuildRequestRecord {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        entry(map, keep, "builderid", &self.builder.get())?;
        entry(map, keep, "buildrequestid", &self.id.get())?;
        entry(map, keep, "claimed", &self.claimed_by.is_some())?;
        entry(map, keep, "claimed_at", &self.claimed_at.map(seconds))?;
        entry(map, keep, "claimed_by_masterid", &self.claimed_by.map(MasterId::get))?;
        entry(map, keep, "complete", &self.complete)?;
        entry(map, keep, "complete_at", &self.completed_at.map(seconds))?;
        entry(map, keep, "results", &self.results.map(|results| results.0))?;
        entry(map, keep, "submitted_at", &seconds(self.submitted_at))
    }
}

impl QueryRow for BuildRecord {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "buildid" => Cell::int(self.id.get()),
            "number" => Cell::int(self.number),
            "builderid" => Cell::int(self.builder.get()),
            "buildrequestid" => Cell::int(self.request.get()),
            "masterid" => Cell::int(self.master.get()),
            "workerid" => Cell::int(self.worker.get()),
            "started_at" => Cell::int(seconds(self.started_at)),
            "complete" => Cell::Bool(self.results.is_some()),
            "complete_at" => Cell::optional_int(self.complete_at.map(seconds)),
            "results" => Cell::optional_int(self.results.map(|results| results.0)),
            _ => Cell::Null,
        }
    }
}

impl WriteFields for BuildRecord {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        entry(map, keep, "builderid", &self.builder.get())?;
        entry(map, keep, "buildid", &self.id.get())?;
        entry(map, keep, "buildrequestid", &self.request.get())?;
        entry(map, keep, "complete", &self.results.is_some())?;
        entry(map, keep, "complete_at", &self.complete_at.map(seconds))?;
        entry(map, keep, "masterid", &self.master.get())?;
        entry(map, keep, "number", &self.number)?;
        entry(map, keep, "results", &self.results.map(|results| results.0))?;
        entry(map, keep, "started_at", &seconds(self.started_at))?;
        entry(map, keep, "workerid", &self.worker.get())
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

impl ServiceRow {
    /// `schedulerid` or `changesourceid`.
    fn id_field(&self) -> &'static str {
        match self.kind {
            ServiceKind::Scheduler => "schedulerid",
            ServiceKind::ChangeSource => "changesourceid",
        }
    }
}

impl QueryRow for ServiceRow {
    fn cell(&self, field: &'static str, _: FieldType) -> Cell<'_> {
        match field {
            "name" => Cell::Str(&self.name),
            "enabled" => Cell::Bool(true),
            "masterid" => Cell::optional_int(self.owner.map(MasterId::get)),
            // `master` is JSON, never compared.
            field if field == self.id_field() => Cell::int(self.id.get()),
            _ => Cell::Null,
        }
    }
}

impl WriteFields for ServiceRow {
    fn write_fields<M: SerializeMap>(&self, map: &mut M, keep: Keep<'_>) -> Result<(), M::Error> {
        let master = self.master.as_ref().map(|row| JsonRow { row, keep: Keep::ALL });
        // "changesourceid" sorts before "enabled", "schedulerid" after "name".
        if self.kind == ServiceKind::ChangeSource {
            entry(map, keep, "changesourceid", &self.id.get())?;
        }
        entry(map, keep, "enabled", &true)?;
        entry(map, keep, "master", &master)?;
        entry(map, keep, "masterid", &self.owner.map(MasterId::get))?;
        entry(map, keep, "name", &self.name)?;
        if self.kind == ServiceKind::Scheduler {
            entry(map, keep, "schedulerid", &self.id.get())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Every row type, written out, must be byte for byte what a `serde_json::Value` of the
    //! same object writes (so keys are sorted and nothing else differs), hold exactly its
    //! schema's fields, and read each field as the cell of the value it writes.

    use rollcall_core::registry::{BuildRecord, BuildRequestRecord, MasterRecord};
    use rollcall_core::{
        BuildId, BuildRequestId, BuilderId, MasterId, Results, ServiceId, ServiceKind, Timestamp,
        WorkerId,
    };
    use serde_json::{json, Value};

    use super::*;
    use crate::http::query::Schema;
    use crate::http::resources;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_millis(secs * 1000 + 999)
    }

    fn masters() -> Vec<MasterRecord> {
        vec![
            MasterRecord {
                id: MasterId(1),
                name: "host:/srv".into(),
                active: true,
                last_active: at(1_700_000_000),
            },
            MasterRecord {
                id: MasterId(u64::MAX),
                name: "\"quoted\" \\ é \u{1}\n".into(),
                active: false,
                last_active: at(0),
            },
        ]
    }

    fn builders() -> Vec<BuilderRow> {
        vec![
            BuilderRow { id: BuilderId(3), name: "linux".into(), masterids: vec![1, 2] },
            BuilderRow { id: BuilderId(4), name: "mac".into(), masterids: vec![] },
        ]
    }

    fn workers() -> Vec<WorkerRow> {
        vec![
            WorkerRow {
                id: WorkerId(1),
                name: "w1".into(),
                connected_to: vec![MasterId(1)],
                configured_on: vec![MasterId(1), MasterId(2)],
                workerinfo: Some(
                    json!({"os": "linux", "admin": "me", "numbers": [1, {"z": 1, "a": 2}]}),
                ),
            },
            WorkerRow {
                id: WorkerId(2),
                name: "w2".into(),
                connected_to: vec![],
                configured_on: vec![],
                workerinfo: None,
            },
        ]
    }

    fn build_requests() -> Vec<BuildRequestRecord> {
        vec![
            BuildRequestRecord {
                id: BuildRequestId(1),
                builder: BuilderId(3),
                submitted_at: at(100),
                claimed_by: Some(MasterId(2)),
                claimed_at: Some(at(101)),
                complete: true,
                completed_at: Some(at(102)),
                results: Some(Results::RETRY),
            },
            BuildRequestRecord {
                id: BuildRequestId(2),
                builder: BuilderId(4),
                submitted_at: at(200),
                claimed_by: None,
                claimed_at: None,
                complete: false,
                completed_at: None,
                results: None,
            },
        ]
    }

    fn builds() -> Vec<BuildRecord> {
        vec![
            BuildRecord {
                id: BuildId(7),
                number: 2,
                builder: BuilderId(3),
                request: BuildRequestId(1),
                master: MasterId(2),
                worker: WorkerId(1),
                started_at: at(101),
                complete_at: Some(at(102)),
                results: Some(Results::SUCCESS),
            },
            BuildRecord {
                id: BuildId(8),
                number: 1,
                builder: BuilderId(4),
                request: BuildRequestId(2),
                master: MasterId(1),
                worker: WorkerId(2),
                started_at: at(300),
                complete_at: None,
                results: None,
            },
        ]
    }

    fn services(kind: ServiceKind) -> Vec<ServiceRow> {
        let owner = masters().into_iter().next();
        vec![
            ServiceRow {
                id: ServiceId(5),
                kind,
                name: "nightly".into(),
                owner: owner.as_ref().map(|master| master.id),
                master: owner,
            },
            ServiceRow { id: ServiceId(6), kind, name: "git".into(), owner: None, master: None },
        ]
    }

    fn written<R: WriteFields>(row: &R, keep: Keep<'_>) -> Value {
        serde_json::to_value(JsonRow { row, keep }).expect("rows serialize")
    }

    /// Checks every row against `schema`, and against `expected` (the rows as JSON).
    fn check<R: WriteFields + QueryRow>(rows: &[R], schema: &Schema, expected: &Value) {
        let all: Vec<Value> = rows.iter().map(|row| written(row, Keep::ALL)).collect();
        assert_eq!(&Value::Array(all.clone()), expected);
        for (row, value) in rows.iter().zip(&all) {
            for pretty in [false, true] {
                assert_eq!(
                    bytes(&JsonRow { row, keep: Keep::ALL }, pretty),
                    bytes(value, pretty),
                    "keys in sorted order, same bytes as a Value"
                );
            }
            let mut keys: Vec<&str> =
                value.as_object().expect("object").keys().map(String::as_str).collect();
            let mut fields: Vec<&str> = schema.fields.iter().map(|(name, _)| *name).collect();
            keys.sort_unstable();
            fields.sort_unstable();
            assert_eq!(keys, fields, "exactly the schema's fields");
            for &(field, field_type) in schema.fields {
                assert_eq!(
                    row.cell(field, field_type),
                    Cell::of(value.get(field), field_type),
                    "{field} reads as the value written"
                );
            }
            let (first, _) = schema.fields[0];
            let (last, _) = schema.fields[schema.fields.len() - 1];
            let selected = [last, first, last];
            let some = written(row, Keep::only(Some(&selected)));
            let expected_some: serde_json::Map<String, Value> =
                [first, last].iter().map(|f| ((*f).to_owned(), value[*f].clone())).collect();
            assert_eq!(some, Value::Object(expected_some), "only the selected fields");
        }
    }

    /// Renders the way `respond.rs` does.
    fn bytes<T: Serialize>(value: &T, pretty: bool) -> Vec<u8> {
        let rendered =
            if pretty { serde_json::to_vec_pretty(value) } else { serde_json::to_vec(value) };
        rendered.expect("renders")
    }

    #[test]
    fn masters_are_written_as_before() {
        check(
            &masters(),
            &resources::MASTERS.schema,
            &json!([
                {"active": true, "last_active": 1_700_000_000, "masterid": 1, "name": "host:/srv"},
                {"active": false, "last_active": 0, "masterid": u64::MAX,
                 "name": "\"quoted\" \\ é \u{1}\n"},
            ]),
        );
    }

    #[test]
    fn builders_are_written_as_before() {
        check(
            &builders(),
            &resources::BUILDERS.schema,
            &json!([
                {"builderid": 3, "name": "linux", "masterids": [1, 2], "description": null,
                 "tags": []},
                {"builderid": 4, "name": "mac", "masterids": [], "description": null, "tags": []},
            ]),
        );
    }

    #[test]
    fn workers_are_written_as_before() {
        check(
            &workers(),
            &resources::WORKERS.schema,
            &json!([
                {"workerid": 1, "name": "w1", "connected_to": [{"masterid": 1}],
                 "configured_on": [{"masterid": 1}, {"masterid": 2}],
                 "workerinfo": {"os": "linux", "admin": "me", "numbers": [1, {"z": 1, "a": 2}]},
                 "paused": false, "graceful": false},
                {"workerid": 2, "name": "w2", "connected_to": [], "configured_on": [],
                 "workerinfo": {}, "paused": false, "graceful": false},
            ]),
        );
    }

    #[test]
    fn build_requests_are_written_as_before() {
        check(
            &build_requests(),
            &resources::BUILD_REQUESTS.schema,
            &json!([
                {"buildrequestid": 1, "builderid": 3, "claimed": true, "claimed_by_masterid": 2,
                 "claimed_at": 101, "complete": true, "complete_at": 102, "results": 5,
                 "submitted_at": 100},
                {"buildrequestid": 2, "builderid": 4, "claimed": false,
                 "claimed_by_masterid": null, "claimed_at": null, "complete": false,
                 "complete_at": null, "results": null, "submitted_at": 200},
            ]),
        );
    }

    #[test]
    fn builds_are_written_as_before() {
        check(
            &builds(),
            &resources::BUILDS.schema,
            &json!([
                {"buildid": 7, "number": 2, "builderid": 3, "buildrequestid": 1, "masterid": 2,
                 "workerid": 1, "started_at": 101, "complete": true, "complete_at": 102,
                 "results": 0},
                {"buildid": 8, "number": 1, "builderid": 4, "buildrequestid": 2, "masterid": 1,
                 "workerid": 2, "started_at": 300, "complete": false, "complete_at": null,
                 "results": null},
            ]),
        );
    }

    #[test]
    fn schedulers_and_change_sources_are_written_as_before() {
        let master = json!({"active": true, "last_active": 1_700_000_000, "masterid": 1, "name": "host:/srv"});
        for (kind, resource, id_field) in [
            (ServiceKind::Scheduler, &resources::SCHEDULERS, "schedulerid"),
            (ServiceKind::ChangeSource, &resources::CHANGE_SOURCES, "changesourceid"),
        ] {
            check(
                &services(kind),
                &resource.schema,
                &json!([
                    {id_field: 5, "name": "nightly", "enabled": true, "masterid": 1,
                     "master": master},
                    {id_field: 6, "name": "git", "enabled": true, "masterid": null,
                     "master": null},
                ]),
            );
        }
    }
}
