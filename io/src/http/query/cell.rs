//! A row's value seen through its field's type: the one thing filters and sorting compare.

use serde_json::Value;

use super::FieldType;

/// A typed, borrowed view of one JSON value.
///
/// The derived order is the sort order: `Null` is declared first, so it is smaller than any
/// value. Values of one field are all the same variant (or `Null`), so comparing across
/// variants only ever involves `Null`; the derived order still keeps it total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cell<'a> {
    Null,
    Bool(bool),
    /// Wide enough for every JSON integer serde_json holds (`i64` and `u64`).
    Int(i128),
    /// Rust orders `str` by UTF-8 bytes, which is Python's code-point order.
    Str(&'a str),
    /// Ordered element by element, like Python lists.
    List(Vec<Cell<'a>>),
}

impl<'a> Cell<'a> {
    /// An integer field of a typed row.
    pub(crate) fn int(value: impl Into<i128>) -> Cell<'a> {
        Cell::Int(value.into())
    }

    /// A nullable integer (or date) field of a typed row.
    pub(crate) fn optional_int(value: Option<impl Into<i128>>) -> Cell<'a> {
        value.map_or(Cell::Null, Cell::int)
    }

    /// Reads `value` as `field_type` says. A missing value, a JSON null and a value of the
    /// wrong JSON type are all `Null`: rows come from rollcall itself, and a mismatch must
    /// never panic a request.
    pub(crate) fn of(value: Option<&'a Value>, field_type: FieldType) -> Cell<'a> {
        let Some(value) = value else {
            return Cell::Null;
        };
        match field_type {
            FieldType::Integer | FieldType::IntegerOrNull | FieldType::Date => integer(value),
            FieldType::String => string(value),
            FieldType::Boolean => value.as_bool().map_or(Cell::Null, Cell::Bool),
            FieldType::IntegerList => list(value, integer),
            FieldType::StringList => list(value, string),
            // Parsing refuses to filter or order by a JSON field, so this is never compared;
            // if it were, every JSON value would be equal, which is still a total order.
            FieldType::Json => Cell::Null,
        }
    }
}

fn integer(value: &Value) -> Cell<'_> {
    if let Some(signed) = value.as_i64() {
        Cell::Int(signed.into())
    } else if let Some(unsigned) = value.as_u64() {
        Cell::Int(unsigned.into())
    } else {
        Cell::Null
    }
}

fn string(value: &Value) -> Cell<'_> {
    value.as_str().map_or(Cell::Null, Cell::Str)
}

fn list<'a>(value: &'a Value, element: fn(&'a Value) -> Cell<'a>) -> Cell<'a> {
    match value.as_array() {
        Some(items) => Cell::List(items.iter().map(element).collect()),
        None => Cell::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn null_is_smaller_than_every_value() {
        assert!(Cell::Null < Cell::Bool(false));
        assert!(Cell::Null < Cell::Int(i128::from(i64::MIN)));
        assert!(Cell::Null < Cell::Str(""));
        assert!(Cell::Null < Cell::List(vec![]));
    }

    #[test]
    fn values_of_the_wrong_json_type_read_as_null() {
        assert_eq!(Cell::of(Some(&json!("7")), FieldType::Integer), Cell::Null);
        assert_eq!(Cell::of(Some(&json!(1.5)), FieldType::Date), Cell::Null);
        assert_eq!(Cell::of(Some(&json!(1)), FieldType::Boolean), Cell::Null);
        assert_eq!(Cell::of(Some(&json!(["a"])), FieldType::String), Cell::Null);
        assert_eq!(Cell::of(Some(&json!("a")), FieldType::StringList), Cell::Null);
        assert_eq!(Cell::of(None, FieldType::String), Cell::Null);
    }

    #[test]
    fn integers_cover_the_whole_u64_and_i64_ranges() {
        assert_eq!(
            Cell::of(Some(&json!(u64::MAX)), FieldType::Integer),
            Cell::Int(i128::from(u64::MAX))
        );
        assert_eq!(
            Cell::of(Some(&json!(i64::MIN)), FieldType::Integer),
            Cell::Int(i128::from(i64::MIN))
        );
    }

    #[test]
    fn lists_compare_element_by_element() {
        let short = json!([1, 2]);
        let long = json!([1, 2, 0]);
        let bigger = json!([1, 3]);
        let [short, long, bigger] =
            [&short, &long, &bigger].map(|v| Cell::of(Some(v), FieldType::IntegerList));
        assert!(short < long);
        assert!(long < bigger);
    }
}
