//! `limit`, `offset`, `order`, and the filter -> count -> sort -> page pipeline.

use serde_json::json;

use super::{error, ids, ids_of, object, parse, run, Shape, SCHEMA};

#[test]
fn total_is_counted_after_filtering_and_before_paging() {
    let page = run("active=true&limit=1");
    assert_eq!(ids_of(&page), [3]);
    assert_eq!(page.total, 3);
    let page = run("active=false&offset=5");
    assert_eq!(ids_of(&page), Vec::<i64>::new());
    assert_eq!(page.total, 2);
}

#[test]
fn limit_and_offset_page_through_the_rows() {
    assert_eq!(ids("limit=2"), [3, 1]);
    assert_eq!(ids("offset=3"), [2, 4]);
    assert_eq!(ids("offset=1&limit=2"), [1, 5]);
    assert_eq!(ids("limit=99"), [3, 1, 5, 2, 4]);
    assert_eq!(ids("limit=007"), [3, 1, 5, 2, 4]);
    assert_eq!(ids("offset=0"), [3, 1, 5, 2, 4]);
}

#[test]
fn offset_past_the_end_gives_no_rows_but_the_full_total() {
    for raw in ["offset=5", "offset=99", "offset=18446744073709551615&limit=1"] {
        let page = run(raw);
        assert_eq!(ids_of(&page), Vec::<i64>::new(), "{raw}");
        assert_eq!(page.total, 5, "{raw}");
    }
}

#[test]
fn limit_zero_gives_no_rows_but_the_full_total() {
    let page = run("limit=0");
    assert_eq!(ids_of(&page), Vec::<i64>::new());
    assert_eq!(page.total, 5);
}

#[test]
fn pages_are_cut_after_sorting() {
    assert_eq!(ids("order=id&offset=1&limit=2"), [2, 3]);
    assert_eq!(ids("order=-id&limit=2&active=false"), [4, 2]);
}

#[test]
fn negative_or_non_numeric_limit_and_offset_are_refused() {
    for param in ["limit", "offset"] {
        for value in ["-1", "abc", "", "+5", "1.5", " 5", "5_0", "0x10"] {
            let raw = format!("{param}={}", value.replace(' ', "%20").replace('+', "%2B"));
            assert_eq!(
                error(&raw),
                format!(
                    "invalid value '{value}' for query parameter '{param}': expected a \
                     non-negative integer"
                ),
                "{raw}"
            );
        }
    }
}

#[test]
fn limit_and_offset_too_large_or_repeated_are_refused() {
    assert_eq!(
        error("limit=99999999999999999999999"),
        "invalid value '99999999999999999999999' for query parameter 'limit': too large"
    );
    assert_eq!(
        error("offset=1&offset=2"),
        "query parameter 'offset' is given 2 times; give it once"
    );
    assert_eq!(error("limit=1&limit=1"), "query parameter 'limit' is given 2 times; give it once");
}

#[test]
fn order_sorts_ascending_and_minus_sorts_descending() {
    assert_eq!(ids("order=id"), [1, 2, 3, 4, 5]);
    assert_eq!(ids("order=-id"), [5, 4, 3, 2, 1]);
    // By UTF-8 bytes, as Python orders code points: 'A' < 'a'.
    assert_eq!(ids("order=name"), [4, 1, 2, 5, 3]);
    assert_eq!(ids("order=-name"), [3, 5, 2, 1, 4]);
}

#[test]
fn ties_keep_the_original_order_in_both_directions() {
    assert_eq!(ids("order=active"), [2, 4, 3, 1, 5]);
    assert_eq!(ids("order=-active"), [3, 1, 5, 2, 4]);
}

#[test]
fn null_sorts_first_ascending_and_last_descending() {
    assert_eq!(ids("order=last_active"), [3, 1, 4, 2, 5]);
    assert_eq!(ids("order=-last_active"), [5, 2, 1, 4, 3]);
    assert_eq!(ids("order=claimed_by_masterid"), [2, 4, 1, 5, 3]);
    assert_eq!(ids("order=-claimed_by_masterid"), [3, 1, 5, 2, 4]);
}

#[test]
fn multiple_orders_sort_by_the_first_then_the_next() {
    assert_eq!(ids("order=active&order=-id"), [4, 2, 5, 3, 1]);
    assert_eq!(ids("order=-active&order=last_active"), [3, 1, 5, 4, 2]);
    assert_eq!(ids("order=last_active&order=-id"), [3, 4, 1, 2, 5]);
}

#[test]
fn lists_sort_element_by_element() {
    assert_eq!(ids("order=masterids"), [2, 5, 1, 3, 4]);
    assert_eq!(ids("order=tags"), [3, 5, 4, 1, 2]);
}

#[test]
fn json_fields_cannot_be_ordered_by() {
    for raw in ["order=info", "order=-info", "order=id&order=info"] {
        assert_eq!(
            error(raw),
            "query parameter 'order': field 'info' is a JSON value, which cannot be ordered by",
            "{raw}"
        );
    }
}

#[test]
fn an_unknown_order_field_is_refused() {
    for (raw, field) in [
        ("order=nope", "nope"),
        ("order=-nope", "nope"),
        ("order=", ""),
        ("order=-", ""),
        ("order=--id", "-id"),
    ] {
        assert_eq!(
            error(raw),
            format!("query parameter 'order': no such field '{field}'"),
            "{raw}"
        );
    }
    assert_eq!(error("order=id&order=nope"), "query parameter 'order': no such field 'nope'");
}

/// Enough rows that an unstable sort would visibly reorder ties (small slices are sorted by
/// insertion, which happens to be stable).
#[test]
fn ties_keep_the_original_order_among_many_rows() {
    let many: Vec<_> =
        (0..300).map(|i| object(json!({"id": (i * 7919) % 300, "active": i % 3 == 0}))).collect();
    let query = parse("order=-active", &SCHEMA, Shape::Collection).expect("valid query");
    let sorted = ids_of(&query.apply(many));
    let expected: Vec<i64> = (0..300)
        .filter(|i| i % 3 == 0)
        .chain((0..300).filter(|i| i % 3 != 0))
        .map(|i| (i * 7919) % 300)
        .collect();
    assert_eq!(sorted, expected);
}
