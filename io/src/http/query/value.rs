//! Filter values: the text of `f=v` typed by the field it filters (Buildbot's
//! `Type.valueFromString`).

use super::cell::Cell;
use super::{excerpt, FieldType, QueryError};

/// One typed filter value. For a list field it is one element, which `contains` looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FilterValue {
    Bool(bool),
    Int(i128),
    Str(String),
}

impl FilterValue {
    /// The value as a [`Cell`], so it compares with row values by the same rules as sorting.
    pub(super) fn as_cell(&self) -> Cell<'_> {
        match self {
            FilterValue::Bool(b) => Cell::Bool(*b),
            FilterValue::Int(i) => Cell::Int(*i),
            FilterValue::Str(s) => Cell::Str(s),
        }
    }
}

/// Types `text`, given in query parameter `param`, for `field` of type `field_type`.
pub(super) fn parse_value(
    text: &str,
    param: &str,
    field: &str,
    field_type: FieldType,
) -> Result<FilterValue, QueryError> {
    match field_type {
        FieldType::String | FieldType::StringList => Ok(FilterValue::Str(text.to_owned())),
        FieldType::Boolean => parse_bool(text).map(FilterValue::Bool).ok_or_else(|| {
            QueryError::new(format!(
                "invalid value {} for query parameter '{param}': field '{field}' is a boolean \
                 (use on/off, true/false, yes/no or 1/0)",
                excerpt(text)
            ))
        }),
        // `Filter::build` refuses JSON fields before typing values; say the same here rather
        // than panic.
        FieldType::Json => Err(QueryError::new(format!(
            "query parameter '{param}': field '{field}' is a JSON value, which cannot be filtered"
        ))),
        FieldType::Integer
        | FieldType::IntegerOrNull
        | FieldType::Date
        | FieldType::IntegerList => parse_integer(text).map(FilterValue::Int).ok_or_else(|| {
            QueryError::new(format!(
                "invalid value {} for query parameter '{param}': field '{field}' is {}, \
                 so the value must be a decimal integer",
                excerpt(text),
                field_type.describe()
            ))
        }),
    }
}

/// Buildbot's `util.string2boolean`: these eight spellings, ASCII case-insensitive.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["on", "true", "yes", "1"];
    const FALSE: [&str; 4] = ["off", "false", "no", "0"];
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// `[+-]?[0-9]+`, as `i128` parses it: no spaces, no `_` (Python's `int()` allows both).
/// `i128` holds every integer a row can hold (`i64` and `u64`); a longer number is refused.
fn parse_integer(text: &str) -> Option<i128> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_buildbots_eight_spellings_in_any_case() {
        for text in ["on", "true", "yes", "1", "ON", "True", "yEs"] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["off", "false", "no", "0", "OFF", "False", "nO"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "y", "n", "2", " true", "truee", "t"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }

    #[test]
    fn integers_are_an_optional_sign_and_decimal_digits() {
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer("-42"), Some(-42));
        assert_eq!(parse_integer("+42"), Some(42));
        assert_eq!(parse_integer("007"), Some(7));
        assert_eq!(parse_integer("18446744073709551615"), Some(i128::from(u64::MAX)));
        for text in [
            "",
            " 1",
            "1 ",
            "1_000",
            "0x10",
            "1.0",
            "1e3",
            "-",
            "999999999999999999999999999999999999999999",
        ] {
            assert_eq!(parse_integer(text), None, "{text}");
        }
    }

    #[test]
    fn list_fields_type_their_values_as_elements() {
        assert_eq!(
            parse_value("3", "masterids__contains", "masterids", FieldType::IntegerList),
            Ok(FilterValue::Int(3))
        );
        assert_eq!(
            parse_value("3", "tags__contains", "tags", FieldType::StringList),
            Ok(FilterValue::Str("3".to_owned()))
        );
    }
}
