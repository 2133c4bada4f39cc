//! `field` selection, single-entity paths, and unrecognized parameters.

use serde_json::{json, Value};

use super::{error, error_for, object, parse, rows, run, Page, Shape, SCHEMA};

fn rows_as_json(page: &Page) -> Value {
    Value::Array(page.rows.iter().cloned().map(Value::Object).collect())
}

#[test]
fn field_keeps_only_the_named_field() {
    let page = run("field=name&order=id&limit=2");
    assert_eq!(rows_as_json(&page), json!([{"name": "alpha:/a"}, {"name": "beta:/b"}]));
    assert_eq!(page.total, 5);
}

#[test]
fn field_is_repeatable_and_duplicates_are_harmless() {
    let page = run("field=id&field=tags&field=id&active=false");
    assert_eq!(
        rows_as_json(&page),
        json!([{"id": 2, "tags": ["windows"]}, {"id": 4, "tags": ["linux"]}])
    );
}

#[test]
fn json_fields_can_be_selected() {
    let page = run("field=info&order=id&limit=3");
    assert_eq!(
        rows_as_json(&page),
        json!([{"info": null}, {"info": "x"}, {"info": {"os": "linux"}}])
    );
}

#[test]
fn filters_and_orders_may_use_fields_that_are_not_selected() {
    let page = run("field=name&order=-last_active&claimed_by_masterid__ne=9");
    assert_eq!(
        rows_as_json(&page),
        json!([{"name": "delta one:/e"}, {"name": "beta:/b"}, {"name": "alpha:/a"},
               {"name": "Alpha+:/d"}])
    );
}

#[test]
fn an_unknown_field_is_refused() {
    assert_eq!(error("field=nope"), "query parameter 'field': no such field 'nope'");
    assert_eq!(error("field=id&field=nope"), "query parameter 'field': no such field 'nope'");
    assert_eq!(error("field="), "query parameter 'field': no such field ''");
    // As in Buildbot, one value names one field.
    assert_eq!(error("field=id,name"), "query parameter 'field': no such field 'id,name'");
}

#[test]
fn a_single_entity_allows_field_selection() {
    let query = parse("field=id&field=active", &SCHEMA, Shape::Single).expect("valid query");
    let one_row = rows().into_iter().take(1).collect();
    let page = query.apply(one_row);
    assert_eq!(rows_as_json(&page), json!([{"id": 3, "active": true}]));
    assert_eq!(page.total, 1);
}

#[test]
fn a_single_entity_with_no_parameters_is_returned_whole() {
    let query = parse("", &SCHEMA, Shape::Single).expect("valid query");
    let row = object(json!({"id": 1, "name": "x"}));
    assert_eq!(query.apply(vec![row.clone()]), Page { rows: vec![row], total: 1 });
}

#[test]
fn filters_on_a_single_entity_are_refused() {
    for (raw, param) in [
        ("name=alpha:/a", "name"),
        ("id__gt=1", "id__gt"),
        ("tags__contains=linux", "tags__contains"),
        ("field=id&active=maybe", "active"),
        ("order=id", "order"),
        ("limit=1", "limit"),
        ("offset=0", "offset"),
    ] {
        assert_eq!(
            error_for(raw, Shape::Single),
            format!(
                "query parameter '{param}' applies only to collections, and this path names a \
                 single entity: only 'field' is allowed here"
            ),
            "{raw}"
        );
    }
}

#[test]
fn unknown_parameters_are_refused_naming_the_parameter() {
    let not_a_field = "not a field, nor one of field, order, limit, offset";
    assert_eq!(error("nope=1"), format!("unrecognized query parameter 'nope': {not_a_field}"));
    assert_eq!(error("Name=x"), format!("unrecognized query parameter 'Name': {not_a_field}"));
    assert_eq!(
        error("property=owner"),
        format!("unrecognized query parameter 'property': {not_a_field}")
    );
    assert_eq!(error("=x"), format!("unrecognized query parameter '': {not_a_field}"));
    assert_eq!(error("nope__eq=1"), "unrecognized query parameter 'nope__eq': no field 'nope'");
    assert_eq!(error("__eq=1"), "unrecognized query parameter '__eq': no field ''");
    let known = "known: eq, ne, lt, le, gt, ge, contains, in, notin";
    assert_eq!(
        error("name__like=x"),
        format!("unrecognized query parameter 'name__like': unknown operator 'like' ({known})")
    );
    assert_eq!(
        error("name__EQ=x"),
        format!("unrecognized query parameter 'name__EQ': unknown operator 'EQ' ({known})")
    );
    assert_eq!(
        error("name__=x"),
        format!("unrecognized query parameter 'name__': unknown operator '' ({known})")
    );
    assert_eq!(error("id=1&nope=1"), format!("unrecognized query parameter 'nope': {not_a_field}"));
    assert_eq!(
        error_for("nope=1", Shape::Single),
        format!("unrecognized query parameter 'nope': {not_a_field}")
    );
}
