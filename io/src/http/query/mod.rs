//! Buildbot's REST query parameters: `field`, `order`, `limit`, `offset` and filters
//! (`f=v`, `f__op=v`), parsed from a raw query string and applied to rows.
//!
//! `parse` turns the part of the URL after `?` into a [`Query`] (or a [`QueryError`], which
//! the HTTP layer answers with `400 {"error": message}`). [`Query::page`] then filters,
//! counts `total`, sorts and pages any rows that show their fields as [`Cell`]s (the
//! [`QueryRow`] trait): the REST layer's typed rows, which select fields as they are
//! written out ([`Query::selected`]), and JSON objects, for which [`Query::apply`] also
//! selects the fields. One engine, so both kinds of row obey the same rules.
//!
//! References (Buildbot, snapshot 61f2f41):
//! - `master/docs/developer/rest.rst`, sections Field Selection, Filtering, Sorting, Pagination;
//! - `master/buildbot/data/connector.py`, `resultspec_from_jsonapi` (what `www/rest.py`'s
//!   `decodeResultSpec` delegates to): how parameters are classified;
//! - `master/buildbot/data/resultspec.py`, `FieldBase.singular_operators` /
//!   `plural_operators`, `NoneComparator`, `ResultSpec.apply`: what the operators mean;
//! - `master/buildbot/data/types.py`, `valueFromString`, and `util.string2boolean`: how
//!   values are typed.
//!
//! # Semantics
//!
//! - `field=f` (repeatable) keeps only the named fields in each row. `order=f` / `order=-f`
//!   (repeatable) sorts ascending / descending by `f`, then by the next `order`, then by the
//!   row's original position. `limit` and `offset` are non-negative decimal integers.
//! - `f=v` is `f__eq=v`. Operators: `eq ne lt le gt ge contains in notin`. A parameter given
//!   several times collects its values: `eq`, `in` and `contains` match if any value matches,
//!   `ne` and `notin` if none does; `lt le gt ge` take exactly one value. Different
//!   parameters are ANDed (`name=a&name__ne=b` is two filters).
//! - Values are typed by the field: integers (`Integer`, `IntegerOrNull`, `Date` as epoch
//!   seconds, and the elements of `IntegerList`) parse as decimal integers; booleans accept
//!   `on/off true/false yes/no 1/0`, case-insensitively; strings are taken as they are.
//! - `contains` is a case-sensitive substring test on strings and a membership test on lists.
//!   Lists can only be filtered with `contains`; `contains` works only on strings and lists.
//! - A null field (or a value whose JSON type does not match the schema, which is treated as
//!   null) fails `eq lt le gt ge contains in` and passes `ne notin`. In sorting, null is
//!   smaller than every value: first in ascending order, last in descending order.
//! - `Json` fields can be selected with `field`, but not filtered or ordered by.
//! - On a single-entity path (`Shape::Single`) only `field` is allowed.
//! - Keys and values are URL-decoded (`%XX`, `+` is a space) and must be UTF-8 afterwards.
//!   At most [`MAX_PARAMS`] parameters, [`MAX_PARAM_BYTES`] bytes per decoded key or value,
//!   [`MAX_VALUES`] values per filter parameter.
//!
//! # Deliberate differences from Buildbot
//!
//! - Unknown `f__op` parameters (unknown field or operator) are an error; Buildbot ignores them.
//! - `lt le gt ge` given more than once are an error; Buildbot silently drops such a filter.
//! - `contains` given several times on a string field means "contains any of the values", as
//!   the documentation says; Buildbot's code intersects the *characters* of the field instead.
//! - `contains` on an integer, boolean or date field is a 400; in Buildbot it raises
//!   `TypeError`, a 500.
//! - Dates are integer epoch seconds, in rows and in filters, so `last_active__gt=N` works; in
//!   Buildbot the row holds a datetime, the filter value an int, and comparing them is a 500.
//! - Filtering or ordering by a `Json` field is a 400; Buildbot answers "invalid filter value"
//!   (400) for a filter, but ordering by dicts raises `TypeError`, a 500.
//! - Any operator but `contains` on a list field is an error; in Buildbot `tags=x` compares a
//!   list with a string and silently matches nothing.
//! - `limit` and `offset` must be plain digits and given once; Buildbot takes the first value
//!   and lets Python slicing interpret negative numbers. Integer filter values are
//!   `[+-]?[0-9]+`, without the spaces or `_` that Python's `int()` accepts.
//! - `order` and filters may name fields that `field` does not select, because selection is
//!   applied last here (Buildbot selects first, so it refuses with "cannot order on
//!   un-selected fields").
//! - `order`, `limit` and `offset` are refused on a single entity, like filters; Buildbot
//!   accepts and ignores them. Its documentation says they "only apply to collection requests".
//! - An invalid `%` escape is an error; Python's `unquote` leaves it as literal text.
//! - There is no way to write a null filter value (`claimed_by_masterid=null` is an invalid
//!   integer), as in Buildbot. Buildbot's `property` parameter (builds only) is not supported.

mod cell;
mod decode;
mod filter;
mod parse;
mod sort;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{Map, Value};

pub(crate) use cell::Cell;

/// One entity as a JSON object with every schema field present.
pub(crate) type Row = Map<String, Value>;

/// A row as filters and `order` see it: each field of its schema as a [`Cell`].
///
/// `field` and `field_type` always come from the row's own schema. A row must give the cell
/// of exactly the value it writes out for that field, or filters would disagree with what
/// the client reads.
pub(crate) trait QueryRow {
    fn cell(&self, field: &'static str, field_type: FieldType) -> Cell<'_>;
}

impl QueryRow for Row {
    fn cell(&self, field: &'static str, field_type: FieldType) -> Cell<'_> {
        Cell::of(self.get(field), field_type)
    }
}

/// At most this many parameters in one query string.
pub(crate) const MAX_PARAMS: usize = 100;
/// At most this many bytes in one key or one value, after URL decoding.
pub(crate) const MAX_PARAM_BYTES: usize = 1024;
/// At most this many values for one filter parameter (`f__in=a&f__in=b&...`). With
/// [`MAX_PARAMS`] below it this cannot bind today; it keeps filters bounded if that changes.
pub(crate) const MAX_VALUES: usize = 1000;

/// The limits a query is parsed under; tests parse under smaller or larger ones.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_params: usize,
    max_param_bytes: usize,
    max_values: usize,
}

const LIMITS: Limits =
    Limits { max_params: MAX_PARAMS, max_param_bytes: MAX_PARAM_BYTES, max_values: MAX_VALUES };

/// The type of a field, which decides how filter values are parsed and how rows compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Integer,
    String,
    Boolean,
    IntegerList,
    StringList,
    /// An integer that may be null, e.g. a build request's `claimed_by_masterid`.
    IntegerOrNull,
    /// Integer epoch seconds, may be null (Buildbot's `last_active`, a datetime there).
    Date,
    /// Any other JSON (a worker's `workerinfo`, its `connected_to` list of objects): returned
    /// and selectable with `field`, but it can neither be filtered nor ordered by.
    Json,
}

impl FieldType {
    /// How error messages name the type: "'masterid' is an integer".
    fn describe(self) -> &'static str {
        match self {
            FieldType::Integer | FieldType::IntegerOrNull => "an integer",
            FieldType::String => "a string",
            FieldType::Boolean => "a boolean",
            FieldType::IntegerList => "a list of integers",
            FieldType::StringList => "a list of strings",
            FieldType::Date => "a date in epoch seconds",
            FieldType::Json => "a JSON value",
        }
    }
}

/// The fields of one resource type, as `(name, type)` pairs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    pub(crate) fields: &'static [(&'static str, FieldType)],
}

impl Schema {
    /// The schema's own `'static` name for `name`, so a parsed query borrows nothing from the
    /// request.
    fn field(&self, name: &str) -> Option<(&'static str, FieldType)> {
        self.fields.iter().copied().find(|(field, _)| *field == name)
    }
}

/// Whether the request's path names a collection (`/masters`) or one entity (`/masters/1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Collection,
    Single,
}

/// Why a query string was refused; the HTTP layer answers `400 {"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) message: String,
}

impl QueryError {
    fn new(message: impl Into<String>) -> Self {
        QueryError { message: message.into() }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// A parsed query: what to keep, how to sort, which page, which fields.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    filters: Vec<filter::Filter>,
    order: Vec<sort::OrderKey>,
    offset: usize,
    limit: Option<usize>,
    /// `None` keeps every field.
    selected: Option<Vec<&'static str>>,
}

/// One page of rows, and how many rows matched the filters before paging.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page<R = Row> {
    pub(crate) rows: Vec<R>,
    pub(crate) total: usize,
}

/// Parses `raw_query`, the part of the URL after `?` (possibly empty), against `schema`.
pub(crate) fn parse(raw_query: &str, schema: &Schema, shape: Shape) -> Result<Query, QueryError> {
    parse::parse_with_limits(raw_query, schema, shape, &LIMITS)
}

impl Query {
    /// Filter, count, sort, page. Fields are not selected: see [`Query::selected`].
    pub(crate) fn page<R: QueryRow>(&self, rows: Vec<R>) -> Page<R> {
        let rows: Vec<R> = if self.filters.is_empty() {
            rows
        } else {
            rows.into_iter().filter(|row| self.filters.iter().all(|f| f.matches(row))).collect()
        };
        // Buildbot's meta.total counts what the filters kept, before paging.
        let total = rows.len();
        let limit = self.limit.unwrap_or(usize::MAX);
        let rows = sort::sorted_page(rows, &self.order, self.offset, limit);
        Page { rows, total }
    }

    /// The fields `field=` asked for, in the order given (duplicates included); `None` keeps
    /// every field.
    pub(crate) fn selected(&self) -> Option<&[&'static str]> {
        self.selected.as_deref()
    }

    /// Filter, count, sort, page, select, on JSON objects with every schema field present
    /// (null allowed): the engine's tests drive it through hand-written JSON rows.
    #[cfg(test)]
    pub(crate) fn apply(&self, rows: Vec<Row>) -> Page {
        let mut page = self.page(rows);
        if let Some(selected) = &self.selected {
            for row in &mut page.rows {
                row.retain(|key, _| selected.contains(&key.as_str()));
            }
        }
        page
    }
}

/// Quotes user input in an error message, cut short so a 1 KiB value does not flood it.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        None => format!("'{text}'"),
        Some((cut, _)) => format!("'{}…'", &text[..cut]),
    }
}
