//! URL decoding of keys and values, seen through whole queries.

use super::{error, ids};

#[test]
fn plus_decodes_to_a_space() {
    assert_eq!(ids("name=delta+one:/e"), [5]);
    assert_eq!(ids("name__contains=+"), [5]);
}

#[test]
fn percent_2b_decodes_to_a_plus() {
    assert_eq!(ids("name__contains=%2B"), [4]);
    assert_eq!(ids("name=Alpha%2b:/d"), [4]);
}

#[test]
fn percent_escapes_decode_in_values_and_keys() {
    assert_eq!(ids("name=delta%20one%3A%2Fe"), [5]);
    assert_eq!(ids("n%61me=beta:/b"), [2]);
    assert_eq!(ids("id__%6Ct=2"), [1]);
    assert_eq!(ids("%6Frder=-id&limit=1"), [5]);
    assert_eq!(ids("name__contains=%C3%A9"), Vec::<i64>::new());
}

#[test]
fn empty_segments_are_skipped_and_a_bare_key_has_an_empty_value() {
    assert_eq!(ids("&&name=beta:/b&"), [2]);
    assert_eq!(ids("name__contains"), [3, 1, 5, 2, 4]);
    assert_eq!(
        error("active"),
        "invalid value '' for query parameter 'active': field 'active' is a boolean \
         (use on/off, true/false, yes/no or 1/0)"
    );
}

#[test]
fn only_the_first_equals_sign_separates_key_from_value() {
    assert_eq!(
        error("id==1"),
        "invalid value '=1' for query parameter 'id': field 'id' is an integer, \
         so the value must be a decimal integer"
    );
}

#[test]
fn an_invalid_percent_escape_in_a_value_is_refused() {
    let hint = "(a '%' must be followed by two hex digits)";
    for (raw, escape) in
        [("name=%zz", "%zz"), ("name=a%4", "%4"), ("name=abc%", "%"), ("name=%G1", "%G1")]
    {
        assert_eq!(
            error(raw),
            format!(
                "the value of query parameter 'name' has an invalid percent-escape '{escape}' \
                 {hint}"
            ),
            "{raw}"
        );
    }
}

#[test]
fn an_invalid_percent_escape_in_a_key_is_refused() {
    assert_eq!(
        error("na%zme=1"),
        "query parameter key 'na%zme' has an invalid percent-escape '%zm' \
         (a '%' must be followed by two hex digits)"
    );
    assert_eq!(
        error("id=1&%=1"),
        "query parameter key '%' has an invalid percent-escape '%' \
         (a '%' must be followed by two hex digits)"
    );
}

#[test]
fn invalid_utf8_after_decoding_is_refused() {
    assert_eq!(
        error("name=%ff"),
        "the value of query parameter 'name' is not valid UTF-8 once decoded"
    );
    assert_eq!(
        error("name=%C3%28"),
        "the value of query parameter 'name' is not valid UTF-8 once decoded"
    );
    assert_eq!(error("%C3=1"), "query parameter key '%C3' is not valid UTF-8 once decoded");
}
