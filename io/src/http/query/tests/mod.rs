//! End-to-end tests of `parse` + `apply` on a small hand-written row set.

mod decoding;
mod filters;
mod limits;
mod paging_and_order;
mod selection_and_shape;

use serde_json::{json, Value};

use super::{parse, FieldType, Page, Row, Schema, Shape};

/// One field of every type.
const SCHEMA: Schema = Schema {
    fields: &[
        ("id", FieldType::Integer),
        ("name", FieldType::String),
        ("active", FieldType::Boolean),
        ("last_active", FieldType::Date),
        ("claimed_by_masterid", FieldType::IntegerOrNull),
        ("masterids", FieldType::IntegerList),
        ("tags", FieldType::StringList),
        ("info", FieldType::Json),
    ],
};

/// Five rows, deliberately not in id order, so "original order" and "sorted by id" differ.
fn rows() -> Vec<Row> {
    [
        json!({"id": 3, "name": "gamma:/c", "active": true, "last_active": null,
               "claimed_by_masterid": 9, "masterids": [2], "tags": [], "info": {"os": "linux"}}),
        json!({"id": 1, "name": "alpha:/a", "active": true, "last_active": 1000,
               "claimed_by_masterid": 7, "masterids": [1, 2], "tags": ["linux", "fast"], "info": null}),
        json!({"id": 5, "name": "delta one:/e", "active": true, "last_active": 3000,
               "claimed_by_masterid": 7, "masterids": [1], "tags": ["fast"], "info": [{"masterid": 1}]}),
        json!({"id": 2, "name": "beta:/b", "active": false, "last_active": 2000,
               "claimed_by_masterid": null, "masterids": [], "tags": ["windows"], "info": "x"}),
        json!({"id": 4, "name": "Alpha+:/d", "active": false, "last_active": 1000,
               "claimed_by_masterid": null, "masterids": [3], "tags": ["linux"], "info": {}}),
    ]
    .into_iter()
    .map(object)
    .collect()
}

fn object(value: Value) -> Row {
    match value {
        Value::Object(map) => map,
        other => panic!("test rows are objects, not {other}"),
    }
}

/// Parses `raw` for a collection and applies it to [`rows`].
fn run(raw: &str) -> Page {
    match parse(raw, &SCHEMA, Shape::Collection) {
        Ok(query) => query.apply(rows()),
        Err(e) => panic!("{raw:?} should parse, got: {e}"),
    }
}

/// The ids of the rows `raw` returns, in order.
fn ids(raw: &str) -> Vec<i64> {
    ids_of(&run(raw))
}

fn ids_of(page: &Page) -> Vec<i64> {
    page.rows.iter().map(|row| row.get("id").and_then(Value::as_i64).unwrap_or(-1)).collect()
}

/// The error message `raw` is refused with, for a collection.
fn error(raw: &str) -> String {
    error_for(raw, Shape::Collection)
}

fn error_for(raw: &str, shape: Shape) -> String {
    match parse(raw, &SCHEMA, shape) {
        Ok(query) => panic!("{raw:?} should be refused, parsed as {query:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_empty_query_returns_every_row_unchanged() {
    let page = run("");
    assert_eq!(page, Page { rows: rows(), total: 5 });
}
