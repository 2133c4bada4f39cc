//! Filters: `f=v` and `f__op=v`, what each operator accepts and which rows it keeps
//! (Buildbot's `resultspec.FieldBase` operators).

use super::cell::Cell;
use super::value::{parse_value, FilterValue};
use super::{FieldType, QueryError, QueryRow};

/// The operators of Buildbot's REST filters, named by their query-string suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    In,
    NotIn,
}

impl Op {
    const ALL: [Op; 9] =
        [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Contains, Op::In, Op::NotIn];

    /// The suffix after `__` in `f__op`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Contains => "contains",
            Op::In => "in",
            Op::NotIn => "notin",
        }
    }

    /// Case-sensitive, like Buildbot's operator dictionaries.
    pub(super) fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// "eq, ne, ..." for error messages.
    pub(super) fn all_names() -> String {
        Op::ALL.map(Op::name).join(", ")
    }

    /// Comparisons take one bound: "less than any of 3 and 5" is ambiguous, and Buildbot has
    /// no plural form of them (it drops such a filter).
    fn takes_one_value(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// One filter parameter, with every value it was given.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    field: &'static str,
    field_type: FieldType,
    op: Op,
    /// Never empty: a parameter that appears has at least one value.
    values: Vec<FilterValue>,
}

impl Filter {
    /// Checks that `op` applies to `field_type` with this many values, then types the values.
    /// `param` is the query parameter as written (`name__contains`), for error messages.
    pub(super) fn build(
        param: &str,
        field: &'static str,
        field_type: FieldType,
        op: Op,
        texts: &[String],
    ) -> Result<Filter, QueryError> {
        check_op_applies(param, field, field_type, op)?;
        if op.takes_one_value() && texts.len() > 1 {
            return Err(QueryError::new(format!(
                "query parameter '{param}' is given {} times, but '{}' takes exactly one value",
                texts.len(),
                op.name()
            )));
        }
        let values = texts
            .iter()
            .map(|text| parse_value(text, param, field, field_type))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { field, field_type, op, values })
    }

    /// Whether `row` passes this filter. See the module documentation for null.
    pub(super) fn matches<R: QueryRow>(&self, row: &R) -> bool {
        let cell = row.cell(self.field, self.field_type);
        if cell == Cell::Null {
            // A null field equals, orders against and contains nothing, so only the negative
            // operators keep it.
            return matches!(self.op, Op::Ne | Op::NotIn);
        }
        let mut wanted = self.values.iter().map(FilterValue::as_cell);
        match self.op {
            Op::Eq | Op::In => wanted.any(|w| cell == w),
            Op::Ne | Op::NotIn => wanted.all(|w| cell != w),
            Op::Lt => wanted.all(|w| cell < w),
            Op::Le => wanted.all(|w| cell <= w),
            Op::Gt => wanted.all(|w| cell > w),
            Op::Ge => wanted.all(|w| cell >= w),
            Op::Contains => wanted.any(|w| contains(&cell, &w)),
        }
    }
}

/// `contains` only means something on strings and lists; every other operator only on
/// scalars; nothing on JSON. Refusing the rest gives a 400 where Buildbot either raises (500)
/// or silently matches nothing (`tags=x` compares a list with a string).
fn check_op_applies(
    param: &str,
    field: &str,
    field_type: FieldType,
    op: Op,
) -> Result<(), QueryError> {
    if field_type == FieldType::Json {
        return Err(QueryError::new(format!(
            "query parameter '{param}': field '{field}' is a JSON value, which cannot be filtered"
        )));
    }
    let is_list = matches!(field_type, FieldType::IntegerList | FieldType::StringList);
    if is_list && op != Op::Contains {
        return Err(QueryError::new(format!(
            "query parameter '{param}': field '{field}' is {}, which only \
             '{field}__contains' can filter",
            field_type.describe()
        )));
    }
    if op == Op::Contains && !is_list && field_type != FieldType::String {
        return Err(QueryError::new(format!(
            "query parameter '{param}': 'contains' needs a string or list field, \
             and '{field}' is {}",
            field_type.describe()
        )));
    }
    Ok(())
}

/// A substring test on strings (case-sensitive, like Python's `in`), membership on lists.
fn contains(haystack: &Cell<'_>, needle: &Cell<'_>) -> bool {
    match (haystack, needle) {
        (Cell::Str(text), Cell::Str(part)) => text.contains(part),
        (Cell::List(items), _) => items.contains(needle),
        _ => false,
    }
}
