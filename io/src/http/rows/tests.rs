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
use crate::http::query::{Cell, FieldType, QueryRow, Schema};
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
        assert_eq!(row.cell("no_such_field", FieldType::Integer), Cell::Null);
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
    let master =
        json!({"active": true, "last_active": 1_700_000_000, "masterid": 1, "name": "host:/srv"});
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

#[test]
fn tables_out_of_order_or_naming_a_field_twice_are_caught() {
    let field = |name| (name, FieldType::Integer);
    assert!(sorted_once(&[field("a"), field("ab"), field("b"), field("b_c"), field("bc")]));
    assert!(!sorted_once(&[field("name"), field("active")]), "out of order");
    assert!(!sorted_once(&[field("name"), field("name")]), "twice");
    // Byte order, as serde_json's Map: '_' (0x5f) sorts before 'a' (0x61), after 'Z'.
    assert!(sorted_once(&[field("Z"), field("_"), field("a")]));
}
