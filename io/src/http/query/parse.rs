//! From decoded parameters to a [`Query`]: what each key means (Buildbot's
//! `resultspec_from_jsonapi`), and whether it is allowed on this shape of path.

use super::decode::decode_params;
use super::filter::{Filter, Op};
use super::sort::OrderKey;
use super::{excerpt, FieldType, Limits, Query, QueryError, Schema, Shape};

/// What a key asks for, before its values are looked at.
enum Kind {
    Field,
    Order,
    Limit,
    Offset,
    Filter { field: &'static str, field_type: FieldType, op: Op },
}

pub(super) fn parse_with_limits(
    raw_query: &str,
    schema: &Schema,
    shape: Shape,
    limits: &Limits,
) -> Result<Query, QueryError> {
    let mut query =
        Query { filters: Vec::new(), order: Vec::new(), offset: 0, limit: None, selected: None };
    for (key, values) in group_by_key(raw_query, limits)? {
        let kind = classify(&key, schema)?;
        if shape == Shape::Single && !matches!(kind, Kind::Field) {
            return Err(QueryError::new(format!(
                "query parameter {} applies only to collections, and this path names a single \
                 entity: only 'field' is allowed here",
                excerpt(&key)
            )));
        }
        match kind {
            Kind::Field => {
                let selected = query.selected.get_or_insert_with(Vec::new);
                for value in &values {
                    selected.push(field_named(value, "field", schema)?.0);
                }
            }
            Kind::Order => {
                for value in &values {
                    query.order.push(order_key(value, schema)?);
                }
            }
            Kind::Limit => query.limit = Some(count(&key, &values)?),
            Kind::Offset => query.offset = count(&key, &values)?,
            Kind::Filter { field, field_type, op } => {
                if values.len() > limits.max_values {
                    return Err(QueryError::new(format!(
                        "query parameter '{key}' is given {} times: at most {} values are allowed",
                        values.len(),
                        limits.max_values
                    )));
                }
                query.filters.push(Filter::build(&key, field, field_type, op, &values)?);
            }
        }
    }
    Ok(query)
}

/// Decodes the query and collects the values of each key, keys in first-seen order, as
/// Buildbot's `request.args` (a dict of lists) does: `f=a&g=b&f=c` is `f: [a, c], g: [b]`.
/// A linear search is enough for at most `max_params` keys.
fn group_by_key(
    raw_query: &str,
    limits: &Limits,
) -> Result<Vec<(String, Vec<String>)>, QueryError> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for param in decode_params(raw_query, limits)? {
        match groups.iter_mut().find(|(key, _)| *key == param.key) {
            Some((_, values)) => values.push(param.value),
            None => groups.push((param.key, vec![param.value])),
        }
    }
    Ok(groups)
}

/// The reserved names first, then an exact field name (so a field whose name contains `__`
/// still filters by equality), then `field__op` split at the last `__`; as in Buildbot.
fn classify(key: &str, schema: &Schema) -> Result<Kind, QueryError> {
    match key {
        "field" => return Ok(Kind::Field),
        "order" => return Ok(Kind::Order),
        "limit" => return Ok(Kind::Limit),
        "offset" => return Ok(Kind::Offset),
        _ => {}
    }
    if let Some((field, field_type)) = schema.field(key) {
        return Ok(Kind::Filter { field, field_type, op: Op::Eq });
    }
    let Some((field_name, op_name)) = key.rsplit_once("__") else {
        return Err(QueryError::new(format!(
            "unrecognized query parameter {}: not a field, nor one of field, order, limit, offset",
            excerpt(key)
        )));
    };
    let Some((field, field_type)) = schema.field(field_name) else {
        return Err(QueryError::new(format!(
            "unrecognized query parameter {}: no field {}",
            excerpt(key),
            excerpt(field_name)
        )));
    };
    let Some(op) = Op::from_name(op_name) else {
        return Err(QueryError::new(format!(
            "unrecognized query parameter {}: unknown operator {} (known: {})",
            excerpt(key),
            excerpt(op_name),
            Op::all_names()
        )));
    };
    Ok(Kind::Filter { field, field_type, op })
}

/// A field of the schema named by the value of `param` (`field` or `order`).
fn field_named(
    name: &str,
    param: &str,
    schema: &Schema,
) -> Result<(&'static str, FieldType), QueryError> {
    schema.field(name).ok_or_else(|| {
        QueryError::new(format!("query parameter '{param}': no such field {}", excerpt(name)))
    })
}

/// `f` or `-f`. Only one `-`: `--f` names the field `-f`. JSON values have no order
/// (Python cannot compare dicts either).
fn order_key(value: &str, schema: &Schema) -> Result<OrderKey, QueryError> {
    let (name, descending) = match value.strip_prefix('-') {
        Some(name) => (name, true),
        None => (value, false),
    };
    let (field, field_type) = field_named(name, "order", schema)?;
    if field_type == FieldType::Json {
        return Err(QueryError::new(format!(
            "query parameter 'order': field '{field}' is a JSON value, which cannot be ordered by"
        )));
    }
    Ok(OrderKey { field, field_type, descending })
}

/// `limit` or `offset`: given once, decimal digits only (no sign), fitting `usize`.
fn count(param: &str, values: &[String]) -> Result<usize, QueryError> {
    let [value] = values else {
        return Err(QueryError::new(format!(
            "query parameter '{param}' is given {} times; give it once",
            values.len()
        )));
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::new(format!(
            "invalid value {} for query parameter '{param}': expected a non-negative integer",
            excerpt(value)
        )));
    }
    value.parse().map_err(|_| {
        QueryError::new(format!(
            "invalid value {} for query parameter '{param}': too large",
            excerpt(value)
        ))
    })
}
