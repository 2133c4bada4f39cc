//! Typed REST rows: what the core thread copies out for each entity, each row type's
//! fields declared once, in one [`field_table!`] (name, query type, accessor). From that one
//! list come the resource's query [`Schema`](crate::http::query::Schema), the
//! [`Cell`](crate::http::query::Cell) that filters and `order` compare
//! ([`QueryRow`](crate::http::query::QueryRow)) and the JSON written straight to the
//! response ([`WriteFields`]), without a `serde_json::Map` per row: an accessor's value is a
//! [`FieldValue`], which is both a cell and JSON.
//!
//! Each row writes exactly the JSON object Buildbot's data API shape gives the entity, keys
//! in sorted order as a `serde_json::Map` would have them: a table lists its fields in that
//! order, which the build checks.
//!
//! - `table.rs`: the macro;
//! - `tables.rs`: the row types and their field tables;
//! - `value.rs`: what a field's value can be;
//! - `tests.rs`: every table against the JSON Buildbot's shape gives.

#[macro_use]
mod table;
mod tables;
mod value;

#[cfg(test)]
mod tests;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::http::query::FieldType;

pub(crate) use tables::{
    BuildRequests, BuilderRow, Builders, Builds, ChangeSources, Masters, Schedulers, ServiceRow,
    WorkerRow, Workers,
};
pub(crate) use value::FieldValue;

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

/// Whether every name comes after the one before it in byte order, the order of a
/// `serde_json::Map`'s keys (so no name is there twice). `Ord` cannot be called in the
/// `const` where [`field_table!`] checks its table.
const fn sorted_once(fields: &[(&str, FieldType)]) -> bool {
    let mut at = 1;
    while at < fields.len() {
        if !precedes(fields[at - 1].0.as_bytes(), fields[at].0.as_bytes()) {
            return false;
        }
        at += 1;
    }
    true
}

const fn precedes(a: &[u8], b: &[u8]) -> bool {
    let mut at = 0;
    while at < a.len() && at < b.len() {
        if a[at] != b[at] {
            return a[at] < b[at];
        }
        at += 1;
    }
    a.len() < b.len()
}
