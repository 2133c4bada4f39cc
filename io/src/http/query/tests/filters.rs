//! Every operator on every field type, repeated values, null fields.
//!
//! The rows, in their original order (see `rows()`):
//!
//! | id | name         | active | last_active | claimed_by_masterid | masterids | tags          |
//! |----|--------------|--------|-------------|---------------------|-----------|---------------|
//! | 3  | gamma:/c     | true   | null        | 9                   | [2]       | []            |
//! | 1  | alpha:/a     | true   | 1000        | 7                   | [1, 2]    | [linux, fast] |
//! | 5  | delta one:/e | true   | 3000        | 7                   | [1]       | [fast]        |
//! | 2  | beta:/b      | false  | 2000        | null                | []        | [windows]     |
//! | 4  | Alpha+:/d    | false  | 1000        | null                | [3]       | [linux]       |
//!
//! and `info`, a JSON field, holds an object, null, a list, a string and an empty object.

use serde_json::json;

use super::{error, ids, object, parse, Shape, SCHEMA};

#[test]
fn integer_field_supports_every_operator_but_contains() {
    assert_eq!(ids("id=2"), [2]);
    assert_eq!(ids("id__eq=2"), [2]);
    assert_eq!(ids("id__ne=2"), [3, 1, 5, 4]);
    assert_eq!(ids("id__lt=3"), [1, 2]);
    assert_eq!(ids("id__le=3"), [3, 1, 2]);
    assert_eq!(ids("id__gt=3"), [5, 4]);
    assert_eq!(ids("id__ge=3"), [3, 5, 4]);
    assert_eq!(ids("id__in=5"), [5]);
    assert_eq!(ids("id__notin=5"), [3, 1, 2, 4]);
    assert_eq!(ids("id__gt=-1"), [3, 1, 5, 2, 4]);
    assert_eq!(ids("id__lt=%2B2"), [1]);
    assert_eq!(
        error("id__contains=1"),
        "query parameter 'id__contains': 'contains' needs a string or list field, \
         and 'id' is an integer"
    );
}

#[test]
fn repeated_equality_means_any_of_and_repeated_inequality_none_of() {
    assert_eq!(ids("id=1&id=4"), [1, 4]);
    assert_eq!(ids("id__eq=4&id__eq=1&id__eq=99"), [1, 4]);
    assert_eq!(ids("id__in=1&id__in=4"), [1, 4]);
    assert_eq!(ids("id__ne=1&id__ne=4"), [3, 5, 2]);
    assert_eq!(ids("id__notin=1&id__notin=4"), [3, 5, 2]);
}

#[test]
fn in_lists_are_repeated_parameters_not_comma_separated() {
    // As in Buildbot: "1,4" is one value, and not an integer.
    assert_eq!(
        error("id__in=1,4"),
        "invalid value '1,4' for query parameter 'id__in': field 'id' is an integer, \
         so the value must be a decimal integer"
    );
    assert_eq!(ids("name__in=alpha:/a,gamma:/c"), Vec::<i64>::new());
}

#[test]
fn a_bad_integer_is_refused_naming_the_parameter_and_value() {
    assert_eq!(
        error("id__gt=abc"),
        "invalid value 'abc' for query parameter 'id__gt': field 'id' is an integer, \
         so the value must be a decimal integer"
    );
    assert_eq!(
        error("id=1&id=%201"),
        "invalid value ' 1' for query parameter 'id': field 'id' is an integer, \
         so the value must be a decimal integer"
    );
}

#[test]
fn string_field_supports_every_operator_case_sensitively() {
    assert_eq!(ids("name=beta:/b"), [2]);
    assert_eq!(ids("name=Beta:/b"), Vec::<i64>::new());
    assert_eq!(ids("name__ne=beta:/b"), [3, 1, 5, 4]);
    // Byte order: 'A' < 'a' < 'b' < 'd' < 'g'.
    assert_eq!(ids("name__lt=beta:/b"), [1, 4]);
    assert_eq!(ids("name__le=beta:/b"), [1, 2, 4]);
    assert_eq!(ids("name__gt=delta one:/e"), [3]);
    assert_eq!(ids("name__ge=delta one:/e"), [3, 5]);
    assert_eq!(ids("name__contains=lpha"), [1, 4]);
    assert_eq!(ids("name__contains=LPHA"), Vec::<i64>::new());
    assert_eq!(ids("name__in=alpha:/a&name__in=gamma:/c"), [3, 1]);
    assert_eq!(ids("name__notin=alpha:/a&name__notin=gamma:/c"), [5, 2, 4]);
}

#[test]
fn repeated_contains_on_a_string_means_contains_any_of_the_values() {
    assert_eq!(ids("name__contains=lpha&name__contains=amm"), [3, 1, 4]);
    // Buildbot's code would match on shared characters: "xa" shares 'a' with every name.
    assert_eq!(ids("name__contains=xa&name__contains=zz"), Vec::<i64>::new());
}

#[test]
fn contains_the_empty_string_matches_every_non_null_string() {
    assert_eq!(ids("name__contains="), [3, 1, 5, 2, 4]);
}

#[test]
fn boolean_field_accepts_every_spelling_in_any_case() {
    for spelling in ["on", "true", "yes", "1", "ON", "True", "YES"] {
        assert_eq!(ids(&format!("active={spelling}")), [3, 1, 5], "{spelling}");
    }
    for spelling in ["off", "false", "no", "0", "Off", "FALSE", "No"] {
        assert_eq!(ids(&format!("active={spelling}")), [2, 4], "{spelling}");
    }
}

#[test]
fn boolean_field_supports_every_operator_but_contains() {
    assert_eq!(ids("active__eq=yes"), [3, 1, 5]);
    assert_eq!(ids("active__ne=yes"), [2, 4]);
    // false < true, as in Python.
    assert_eq!(ids("active__lt=true"), [2, 4]);
    assert_eq!(ids("active__le=false"), [2, 4]);
    assert_eq!(ids("active__gt=false"), [3, 1, 5]);
    assert_eq!(ids("active__ge=false"), [3, 1, 5, 2, 4]);
    assert_eq!(ids("active__in=on&active__in=off"), [3, 1, 5, 2, 4]);
    assert_eq!(ids("active__notin=on"), [2, 4]);
    assert_eq!(
        error("active__contains=true"),
        "query parameter 'active__contains': 'contains' needs a string or list field, \
         and 'active' is a boolean"
    );
}

#[test]
fn a_bad_boolean_is_refused_naming_the_field_and_the_value() {
    assert_eq!(
        error("active=maybe"),
        "invalid value 'maybe' for query parameter 'active': field 'active' is a boolean \
         (use on/off, true/false, yes/no or 1/0)"
    );
    assert_eq!(
        error("active__ne=2"),
        "invalid value '2' for query parameter 'active__ne': field 'active' is a boolean \
         (use on/off, true/false, yes/no or 1/0)"
    );
    assert_eq!(
        error("active="),
        "invalid value '' for query parameter 'active': field 'active' is a boolean \
         (use on/off, true/false, yes/no or 1/0)"
    );
}

#[test]
fn last_active_gt_filters_on_epoch_seconds() {
    assert_eq!(ids("last_active__gt=1000"), [5, 2]);
    assert_eq!(ids("last_active__gt=1999"), [5, 2]);
    assert_eq!(ids("last_active__gt=2000"), [5]);
}

#[test]
fn date_field_supports_every_operator_but_contains_with_null_failing_comparisons() {
    assert_eq!(ids("last_active=1000"), [1, 4]);
    assert_eq!(ids("last_active__eq=1000"), [1, 4]);
    assert_eq!(ids("last_active__ne=1000"), [3, 5, 2]);
    assert_eq!(ids("last_active__lt=2000"), [1, 4]);
    assert_eq!(ids("last_active__le=2000"), [1, 2, 4]);
    assert_eq!(ids("last_active__ge=1000"), [1, 5, 2, 4]);
    assert_eq!(ids("last_active__in=1000&last_active__in=3000"), [1, 5, 4]);
    assert_eq!(ids("last_active__notin=1000&last_active__notin=3000"), [3, 2]);
    assert_eq!(
        error("last_active__contains=1"),
        "query parameter 'last_active__contains': 'contains' needs a string or list field, \
         and 'last_active' is a date in epoch seconds"
    );
    assert_eq!(
        error("last_active__gt=2024-01-01"),
        "invalid value '2024-01-01' for query parameter 'last_active__gt': field 'last_active' \
         is a date in epoch seconds, so the value must be a decimal integer"
    );
}

#[test]
fn integer_or_null_field_supports_every_operator_but_contains() {
    assert_eq!(ids("claimed_by_masterid=7"), [1, 5]);
    assert_eq!(ids("claimed_by_masterid__ne=7"), [3, 2, 4]);
    assert_eq!(ids("claimed_by_masterid__lt=9"), [1, 5]);
    assert_eq!(ids("claimed_by_masterid__le=9"), [3, 1, 5]);
    assert_eq!(ids("claimed_by_masterid__gt=7"), [3]);
    assert_eq!(ids("claimed_by_masterid__ge=7"), [3, 1, 5]);
    assert_eq!(ids("claimed_by_masterid__in=7&claimed_by_masterid__in=9"), [3, 1, 5]);
    assert_eq!(ids("claimed_by_masterid__notin=7&claimed_by_masterid__notin=9"), [2, 4]);
    assert_eq!(
        error("claimed_by_masterid__contains=7"),
        "query parameter 'claimed_by_masterid__contains': 'contains' needs a string or list \
         field, and 'claimed_by_masterid' is an integer"
    );
}

#[test]
fn there_is_no_null_literal() {
    assert_eq!(
        error("claimed_by_masterid=null"),
        "invalid value 'null' for query parameter 'claimed_by_masterid': field \
         'claimed_by_masterid' is an integer, so the value must be a decimal integer"
    );
}

#[test]
fn integer_list_field_supports_contains_as_membership() {
    assert_eq!(ids("masterids__contains=2"), [3, 1]);
    assert_eq!(ids("masterids__contains=1&masterids__contains=3"), [1, 5, 4]);
    assert_eq!(ids("masterids__contains=99"), Vec::<i64>::new());
    assert_eq!(
        error("masterids__contains=x"),
        "invalid value 'x' for query parameter 'masterids__contains': field 'masterids' is a \
         list of integers, so the value must be a decimal integer"
    );
}

#[test]
fn string_list_field_supports_contains_as_membership_not_substring() {
    assert_eq!(ids("tags__contains=linux"), [1, 4]);
    assert_eq!(ids("tags__contains=fast&tags__contains=windows"), [1, 5, 2]);
    assert_eq!(ids("tags__contains=lin"), Vec::<i64>::new());
}

#[test]
fn list_fields_refuse_every_operator_but_contains() {
    for op in ["", "__eq", "__ne", "__lt", "__le", "__gt", "__ge", "__in", "__notin"] {
        assert_eq!(
            error(&format!("masterids{op}=1")),
            format!(
                "query parameter 'masterids{op}': field 'masterids' is a list of integers, \
                 which only 'masterids__contains' can filter"
            )
        );
        assert_eq!(
            error(&format!("tags{op}=linux")),
            format!(
                "query parameter 'tags{op}': field 'tags' is a list of strings, \
                 which only 'tags__contains' can filter"
            )
        );
    }
}

#[test]
fn json_fields_refuse_every_operator() {
    for op in ["", "__eq", "__ne", "__lt", "__le", "__gt", "__ge", "__contains", "__in", "__notin"]
    {
        assert_eq!(
            error(&format!("info{op}=linux")),
            format!(
                "query parameter 'info{op}': field 'info' is a JSON value, which cannot be \
                 filtered"
            )
        );
    }
}

#[test]
fn comparisons_take_exactly_one_value() {
    for op in ["lt", "le", "gt", "ge"] {
        assert_eq!(
            error(&format!("id__{op}=3&id__{op}=4")),
            format!(
                "query parameter 'id__{op}' is given 2 times, but '{op}' takes exactly one value"
            )
        );
    }
}

#[test]
fn different_filters_are_all_required() {
    assert_eq!(ids("active=true&claimed_by_masterid=7&last_active__gt=1000"), [5]);
    assert_eq!(ids("id__gt=1&id__lt=5"), [3, 2, 4]);
    // `name` and `name__eq` are two parameters, so two filters: nothing is both.
    assert_eq!(ids("name=alpha:/a&name__eq=beta:/b"), Vec::<i64>::new());
}

/// A row where every field is null, against every operator each type accepts.
#[test]
fn null_fields_pass_only_ne_and_notin() {
    let null_row = object(json!({
        "id": null, "name": null, "active": null, "last_active": null,
        "claimed_by_masterid": null, "masterids": null, "tags": null,
    }));
    let cases: [(&str, &[&str], &str); 7] = [
        ("id", &["eq", "ne", "lt", "le", "gt", "ge", "in", "notin"], "0"),
        ("name", &["eq", "ne", "lt", "le", "gt", "ge", "contains", "in", "notin"], ""),
        ("active", &["eq", "ne", "lt", "le", "gt", "ge", "in", "notin"], "false"),
        ("last_active", &["eq", "ne", "lt", "le", "gt", "ge", "in", "notin"], "0"),
        ("claimed_by_masterid", &["eq", "ne", "lt", "le", "gt", "ge", "in", "notin"], "0"),
        ("masterids", &["contains"], "0"),
        ("tags", &["contains"], ""),
    ];
    for (field, ops, value) in cases {
        for op in ops {
            let raw = format!("{field}__{op}={value}");
            let query = parse(&raw, &SCHEMA, Shape::Collection).expect("valid query");
            let kept = query.apply(vec![null_row.clone()]).total == 1;
            assert_eq!(kept, matches!(*op, "ne" | "notin"), "{raw}");
        }
    }
}

#[test]
fn a_missing_field_or_a_value_of_the_wrong_type_counts_as_null() {
    let odd_row = object(json!({"id": "7", "name": 7}));
    for (raw, kept) in [("id=7", false), ("id__ne=7", true), ("name__contains=7", false)] {
        let query = parse(raw, &SCHEMA, Shape::Collection).expect("valid query");
        assert_eq!(query.apply(vec![odd_row.clone()]).total == 1, kept, "{raw}");
    }
    let query = parse("active__notin=true", &SCHEMA, Shape::Collection).expect("valid query");
    assert_eq!(query.apply(vec![odd_row]).total, 1);
}
