//! What a field's accessor may give: a value that is both the [`Cell`] filters and `order`
//! compare and the JSON the client reads, so the two cannot disagree. Each is a plain type
//! (or a borrowed view of the row), so writing a field costs what writing that type costs.

use rollcall_core::registry::MasterRecord;
use rollcall_core::MasterId;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::Value;

use super::{JsonRow, Keep};
use crate::http::query::Cell;

/// A field's value, borrowed from a row for `'a`.
pub(crate) trait FieldValue<'a>: Serialize {
    fn cell(self) -> Cell<'a>;
}

impl<'a> FieldValue<'a> for bool {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Bool(self)
    }
}

impl<'a> FieldValue<'a> for u64 {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::int(self)
    }
}

/// An integer or date that may be null.
impl<'a> FieldValue<'a> for Option<u64> {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::optional_int(self)
    }
}

impl<'a> FieldValue<'a> for &'a String {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Str(self)
    }
}

impl<'a> FieldValue<'a> for &'a [u64] {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::List(self.iter().copied().map(Cell::int).collect())
    }
}

/// Always null: a field Buildbot has and the Registry does not keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Null;

impl Serialize for Null {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<'a> FieldValue<'a> for Null {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Null
    }
}

/// Always `[]`: a list Buildbot has and the Registry does not keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_seq(Some(0))?.end()
    }
}

impl<'a> FieldValue<'a> for EmptyList {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::List(Vec::new())
    }
}

// The rest are JSON values, which parsing refuses to filter or order by: never compared,
// they read as null, as `Cell::of` reads a JSON field.

/// `[{"masterid": N}, ...]`: how workers name the masters they are connected to or
/// configured on, written from the row's own list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MasterRefs<'a>(pub(crate) &'a [MasterId]);

impl Serialize for MasterRefs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|&id| MasterRef(id)))
    }
}

impl<'a> FieldValue<'a> for MasterRefs<'a> {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Null
    }
}

struct MasterRef(MasterId);

impl Serialize for MasterRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("masterid", &self.0.get())?;
        map.end()
    }
}

/// Any JSON object as it is, `{}` when there is none (what a worker reported about itself).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectOrEmpty<'a>(pub(crate) Option<&'a Value>);

impl Serialize for ObjectOrEmpty<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

impl<'a> FieldValue<'a> for ObjectOrEmpty<'a> {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Null
    }
}

/// A master's whole row, or null (a service's owner).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MasterRow<'a>(pub(crate) Option<&'a MasterRecord>);

impl Serialize for MasterRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(row) => JsonRow { row, keep: Keep::ALL }.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

impl<'a> FieldValue<'a> for MasterRow<'a> {
    #[inline]
    fn cell(self) -> Cell<'a> {
        Cell::Null
    }
}
