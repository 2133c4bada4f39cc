//! The limits: parameters per query, bytes per key or value, values per filter.

use super::super::parse::parse_with_limits;
use super::super::{Limits, MAX_PARAMS, MAX_PARAM_BYTES, MAX_VALUES};
use super::{error, ids, rows, Shape, SCHEMA};

#[test]
fn the_limits_are_those_of_the_issue() {
    assert_eq!((MAX_PARAMS, MAX_PARAM_BYTES, MAX_VALUES), (100, 1024, 1000));
}

#[test]
fn at_most_100_parameters_are_accepted() {
    let hundred = vec!["id__ne=0"; 100].join("&");
    assert_eq!(ids(&hundred), [3, 1, 5, 2, 4]);
    let hundred_and_one = format!("{hundred}&id__ne=0");
    assert_eq!(error(&hundred_and_one), "too many query parameters: at most 100 are allowed");
}

#[test]
fn empty_segments_do_not_count_as_parameters() {
    let raw = format!("{}id=2", "&".repeat(500));
    assert_eq!(ids(&raw), [2]);
}

#[test]
fn a_key_may_have_at_most_1024_bytes_after_decoding() {
    let longest = "k".repeat(1024);
    let message = error(&format!("{longest}=1"));
    assert!(message.starts_with("unrecognized query parameter 'kkkk"), "{message}");

    let too_long = "k".repeat(1025);
    assert_eq!(
        error(&format!("{too_long}=1")),
        format!("query parameter key '{}…' is longer than 1024 bytes once decoded", "k".repeat(64))
    );
}

#[test]
fn a_value_may_have_at_most_1024_bytes_after_decoding() {
    assert_eq!(ids(&format!("name={}", "x".repeat(1024))), Vec::<i64>::new());
    assert_eq!(ids(&format!("name={}", "%78".repeat(1024))), Vec::<i64>::new());
    let message = "the value of query parameter 'name' is longer than 1024 bytes once decoded";
    assert_eq!(error(&format!("name={}", "x".repeat(1025))), message);
    assert_eq!(error(&format!("name={}", "%78".repeat(1025))), message);
    // Two bytes per "é".
    assert_eq!(error(&format!("name={}", "%C3%A9".repeat(513))), message);
}

#[test]
fn a_filter_may_have_at_most_1000_values() {
    // 100 parameters cannot reach 1,000 values, so parse under a larger parameter limit.
    let limits =
        Limits { max_params: 5000, max_param_bytes: MAX_PARAM_BYTES, max_values: MAX_VALUES };
    let values = |n: usize| (0..n).map(|i| format!("id__in={i}")).collect::<Vec<_>>().join("&");

    let query =
        parse_with_limits(&values(1000), &SCHEMA, Shape::Collection, &limits).expect("valid query");
    assert_eq!(query.apply(rows()).total, 5);

    let refused = parse_with_limits(&values(1001), &SCHEMA, Shape::Collection, &limits)
        .map(|_| ())
        .map_err(|e| e.message);
    assert_eq!(
        refused,
        Err("query parameter 'id__in' is given 1001 times: at most 1000 values are allowed"
            .to_owned())
    );
}
