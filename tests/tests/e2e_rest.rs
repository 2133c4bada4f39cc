//! REST against the running daemon, with a worker and a remote master attached through the
//! clients: every endpoint, every query parameter, every error, compared with exact JSON
//! (moments are checked to be plausible epoch seconds, then masked as "T").

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::http::{get, raw, request};
use common::{attach, within, Daemon, STEP};
use rollcall_core::{BuildRequestId, Command, MasterId, Reply, ServiceKind};
use rollcall_io::client::{MasterClient, Session};
use serde_json::{json, Value};

const CONFIG: &str = r#"
[[workers]]
name = "w1"
password = "pw1"
[[workers]]
name = "w2"
password = "pw2"
[[builders]]
name = "linux"
workernames = ["w1", "w2"]
[[builders]]
name = "mac"
workernames = ["w1"]
"#;

/// The daemon (master 1, builders linux=1 and mac=2), worker w1 attached, a remote master
/// (2) serving linux and win (3) with a scheduler and a change source, a claimed request
/// with a running build on w2, an unclaimed request, and a stopped master (3).
struct Cluster {
    daemon: Daemon,
    _worker: Session,
    _remote: MasterClient,
    started_secs: u64,
}

fn epoch_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn ok(client: &mut MasterClient, command: Command) -> Reply {
    within(STEP, client.request(command)).expect("connected").expect("accepted")
}

fn cluster() -> Cluster {
    let started_secs = epoch_secs();
    let daemon = Daemon::start(CONFIG);
    let (worker, _) = attach(&daemon.address(), "w1", "pw1");
    let mut remote = common::master_client(&daemon, "remote:/srv");
    let master = within(STEP, remote.master_active("remote:/srv")).expect("register");
    assert_eq!(master, MasterId(2));
    ok(
        &mut remote,
        Command::SetBuilderList { master, builder_names: vec!["linux".into(), "win".into()] },
    );
    ok(
        &mut remote,
        Command::ClaimService { master, kind: ServiceKind::Scheduler, name: "nightly".into() },
    );
    ok(
        &mut remote,
        Command::ClaimService { master, kind: ServiceKind::ChangeSource, name: "git".into() },
    );
    ok(&mut remote, Command::SubmitBuildRequest { master, builder_name: "linux".into() });
    ok(&mut remote, Command::SubmitBuildRequest { master, builder_name: "mac".into() });
    ok(&mut remote, Command::ClaimBuildRequests { master, requests: vec![BuildRequestId(1)] });
    ok(
        &mut remote,
        Command::StartBuild { master, request: BuildRequestId(1), worker_name: "w2".into() },
    );
    let mut stopped = common::master_client(&daemon, "stopped:/srv");
    let third = within(STEP, stopped.master_active("stopped:/srv")).expect("register");
    ok(&mut stopped, Command::MasterStopped { master: third });
    Cluster { daemon, _worker: worker, _remote: remote, started_secs }
}

impl Cluster {
    /// GETs `target` and returns (status, body with moments masked).
    fn get(&self, target: &str) -> (u16, Value) {
        let response = get(self.daemon.http_address, target);
        let mut body = response.json();
        mask_moments(&mut body, self.started_secs, epoch_secs());
        (response.status, body)
    }

    fn error(&self, target: &str) -> (u16, String) {
        let (status, body) = self.get(target);
        let message =
            body["error"].as_str().unwrap_or_else(|| panic!("no error in {body}")).to_string();
        (status, message)
    }

    /// The master ids a masters query returned, in order, with its total.
    fn ids(&self, target: &str) -> (Vec<u64>, u64) {
        let (status, body) = self.get(target);
        assert_eq!(status, 200, "{target}: {body}");
        let ids = body["masters"]
            .as_array()
            .expect("list")
            .iter()
            .map(|m| m["masterid"].as_u64().expect("id"))
            .collect();
        (ids, body["meta"]["total"].as_u64().expect("total"))
    }
}

fn mask_moments(value: &mut Value, earliest: u64, latest: u64) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let is_moment = matches!(
                    key.as_str(),
                    "last_active" | "submitted_at" | "claimed_at" | "complete_at" | "started_at"
                );
                if is_moment && field.is_u64() {
                    let moment = field.as_u64().unwrap_or(0);
                    assert!(
                        (earliest.saturating_sub(1)..=latest + 1).contains(&moment),
                        "{key} = {moment} is not now"
                    );
                    *field = json!("T");
                } else {
                    mask_moments(field, earliest, latest);
                }
            }
        }
        Value::Array(items) => {
            items.iter_mut().for_each(|item| mask_moments(item, earliest, latest))
        }
        _ => {}
    }
}

fn master(id: u64, name: &str, active: bool) -> Value {
    json!({"active": active, "last_active": "T", "masterid": id, "name": name})
}

#[test]
fn every_endpoint_answers_in_buildbots_shape() {
    let cluster = cluster();
    let all = json!([
        master(1, "test-master", true),
        master(2, "remote:/srv", true),
        master(3, "stopped:/srv", false)
    ]);
    assert_eq!(
        cluster.get("/api/v2/masters"),
        (200, json!({"masters": all, "meta": {"total": 3}}))
    );
    assert_eq!(
        cluster.get("/api/v2/masters/2"),
        (200, json!({"masters": [master(2, "remote:/srv", true)], "meta": {}}))
    );
    assert_eq!(
        cluster.get("/api/v2/builders"),
        (
            200,
            json!({"builders": [
            {"builderid": 1, "description": null, "masterids": [1, 2], "name": "linux", "tags": []},
            {"builderid": 2, "description": null, "masterids": [1], "name": "mac", "tags": []},
            {"builderid": 3, "description": null, "masterids": [2], "name": "win", "tags": []},
        ], "meta": {"total": 3}})
        )
    );
    assert_eq!(
        cluster.get("/api/v2/builders/mac"),
        (
            200,
            json!({"builders": [{"builderid": 2, "description": null, "masterids": [1], "name": "mac", "tags": []}], "meta": {}})
        )
    );
    let serving_linux = json!({"masters": [master(1, "test-master", true), master(2, "remote:/srv", true)], "meta": {"total": 2}});
    assert_eq!(cluster.get("/api/v2/builders/linux/masters"), (200, serving_linux.clone()));
    assert_eq!(cluster.get("/api/v2/builders/1/masters"), (200, serving_linux));
    let one = json!({"masters": [master(2, "remote:/srv", true)], "meta": {}});
    assert_eq!(cluster.get("/api/v2/builders/linux/masters/2"), (200, one.clone()));
    assert_eq!(cluster.get("/api/v2/builders/linux/2"), (200, one.clone()), "the seed's spelling");
    assert_eq!(cluster.get("/api/v2/builders/3/2"), (200, one));
    assert_eq!(
        cluster.get("/api/v2/workers"),
        (
            200,
            json!({"workers": [
            {"configured_on": [{"masterid": 1}], "connected_to": [{"masterid": 1}], "graceful": false,
             "name": "w1", "paused": false, "workerid": 1, "workerinfo": {}},
            {"configured_on": [{"masterid": 1}], "connected_to": [], "graceful": false,
             "name": "w2", "paused": false, "workerid": 2, "workerinfo": {}},
        ], "meta": {"total": 2}})
        )
    );
    assert_eq!(cluster.get("/api/v2/workers/w1").1["workers"][0]["workerid"], json!(1));
    assert_eq!(cluster.get("/api/v2/workers/2").1["workers"][0]["name"], json!("w2"));
    assert_eq!(
        cluster.get("/api/v2/buildrequests"),
        (
            200,
            json!({"buildrequests": [
            {"buildrequestid": 1, "builderid": 1, "claimed": true, "claimed_at": "T", "claimed_by_masterid": 2,
             "complete": false, "complete_at": null, "results": null, "submitted_at": "T"},
            {"buildrequestid": 2, "builderid": 2, "claimed": false, "claimed_at": null, "claimed_by_masterid": null,
             "complete": false, "complete_at": null, "results": null, "submitted_at": "T"},
        ], "meta": {"total": 2}})
        )
    );
    assert_eq!(
        cluster.get("/api/v2/builds"),
        (
            200,
            json!({"builds": [
            {"buildid": 1, "builderid": 1, "buildrequestid": 1, "complete": false, "complete_at": null,
             "masterid": 2, "number": 1, "results": null, "started_at": "T", "workerid": 2},
        ], "meta": {"total": 1}})
        )
    );
    assert_eq!(
        cluster.get("/api/v2/schedulers"),
        (
            200,
            json!({"schedulers": [
            {"enabled": true, "master": master(2, "remote:/srv", true), "masterid": 2, "name": "nightly", "schedulerid": 1},
        ], "meta": {"total": 1}})
        )
    );
    assert_eq!(
        cluster.get("/api/v2/changesources"),
        (
            200,
            json!({"changesources": [
            {"changesourceid": 2, "enabled": true, "master": master(2, "remote:/srv", true), "masterid": 2, "name": "git"},
        ], "meta": {"total": 1}})
        )
    );
}

#[test]
fn missing_entities_and_unserved_builders_are_404_and_unknown_builders_list_nothing() {
    let cluster = cluster();
    assert_eq!(cluster.error("/api/v2/masters/99"), (404, "not found".into()));
    assert_eq!(
        cluster.error("/api/v2/builders/mac/masters/2"),
        (404, "not found".into()),
        "exists, not served by 2"
    );
    assert_eq!(cluster.error("/api/v2/builders/nosuch/masters/1"), (404, "not found".into()));
    assert_eq!(
        cluster.get("/api/v2/builders/nosuch/masters"),
        (200, json!({"masters": [], "meta": {"total": 0}}))
    );
    assert_eq!(cluster.error("/api/v2/workers/nobody"), (404, "not found".into()));
    assert_eq!(cluster.error("/api/v2/nothing/here"), (404, "Invalid path: nothing/here".into()));
    assert_eq!(cluster.error("/api/v2/masters/x"), (404, "Invalid path: masters/x".into()));
}

#[test]
fn query_parameters_filter_count_sort_page_and_select() {
    let cluster = cluster();
    assert_eq!(cluster.ids("/api/v2/masters?order=-masterid"), (vec![3, 2, 1], 3));
    assert_eq!(cluster.ids("/api/v2/masters?order=-active&order=-masterid"), (vec![2, 1, 3], 3));
    assert_eq!(
        cluster.ids("/api/v2/masters?limit=1&offset=1"),
        (vec![2], 3),
        "total counts before paging"
    );
    assert_eq!(cluster.ids("/api/v2/masters?offset=5"), (vec![], 3));
    assert_eq!(
        cluster.ids("/api/v2/masters?name=test-master&name=stopped%3A%2Fsrv"),
        (vec![1, 3], 2)
    );
    for spelling in ["false", "off", "no", "0", "FALSE"] {
        assert_eq!(
            cluster.ids(&format!("/api/v2/masters?active={spelling}")),
            (vec![3], 1),
            "{spelling}"
        );
    }
    for spelling in ["true", "on", "yes", "1"] {
        assert_eq!(
            cluster.ids(&format!("/api/v2/masters?active={spelling}")),
            (vec![1, 2], 2),
            "{spelling}"
        );
    }
    assert_eq!(cluster.ids("/api/v2/masters?masterid__eq=3"), (vec![3], 1));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__ne=2"), (vec![1, 3], 2));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__lt=2"), (vec![1], 1));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__le=2"), (vec![1, 2], 2));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__gt=2"), (vec![3], 1));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__ge=2"), (vec![2, 3], 2));
    assert_eq!(cluster.ids("/api/v2/masters?name__contains=remote"), (vec![2], 1));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__in=1&masterid__in=3"), (vec![1, 3], 2));
    assert_eq!(cluster.ids("/api/v2/masters?masterid__notin=1"), (vec![2, 3], 2));
    assert_eq!(
        cluster.ids("/api/v2/masters?last_active__gt=0&order=-masterid&limit=2"),
        (vec![3, 2], 3)
    );
    let future = epoch_secs() + 3600;
    assert_eq!(cluster.ids(&format!("/api/v2/masters?last_active__gt={future}")), (vec![], 0));
    assert_eq!(
        cluster.get("/api/v2/masters?field=name&field=masterid&masterid=1"),
        (200, json!({"masters": [{"masterid": 1, "name": "test-master"}], "meta": {"total": 1}}))
    );
    assert_eq!(
        cluster.get("/api/v2/masters/1?field=active"),
        (200, json!({"masters": [{"active": true}], "meta": {}}))
    );
    let (status, body) = cluster.get("/api/v2/buildrequests?claimed=true&field=buildrequestid");
    assert_eq!(
        (status, body),
        (200, json!({"buildrequests": [{"buildrequestid": 1}], "meta": {"total": 1}}))
    );
    let (_, body) = cluster.get("/api/v2/builders?masterids__contains=2&field=name");
    assert_eq!(
        body,
        json!({"builders": [{"name": "linux"}, {"name": "win"}], "meta": {"total": 2}})
    );
}

#[test]
fn bad_query_parameters_are_400_and_say_which() {
    let cluster = cluster();
    for (target, mentions) in [
        ("/api/v2/masters?limit=x", "limit"),
        ("/api/v2/masters?limit=-1", "limit"),
        ("/api/v2/masters?offset=1.5", "offset"),
        ("/api/v2/masters?field=nosuch", "nosuch"),
        ("/api/v2/masters?order=nosuch", "nosuch"),
        ("/api/v2/masters?bogus=1", "bogus"),
        ("/api/v2/masters?masterid__like=1", "masterid__like"),
        ("/api/v2/masters?active=maybe", "maybe"),
        ("/api/v2/masters?masterid=abc", "masterid"),
        ("/api/v2/masters/1?active=true", "active"),
        ("/api/v2/masters?name=%zz", "%"),
    ] {
        let (status, message) = cluster.error(target);
        assert_eq!(status, 400, "{target}: {message}");
        assert!(message.contains(mentions), "{target}: {message:?} should mention {mentions:?}");
    }
}

#[test]
fn content_negotiation_methods_and_malformed_requests() {
    let cluster = cluster();
    let address = cluster.daemon.http_address;
    let compact = request(address, "GET", "/api/v2/masters/1", Some("application/json"));
    assert_eq!(compact.content_type, "application/json; charset=utf-8");
    assert!(!compact.body.contains('\n'));
    let indented = request(address, "GET", "/api/v2/masters/1", None);
    assert_eq!(indented.content_type, "text/plain; charset=utf-8");
    assert!(indented.body.contains("\n  \"masters\": [\n"), "{}", indented.body);
    assert_eq!(compact.json(), indented.json());

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let response = request(address, method, "/api/v2/masters", Some("application/json"));
        assert_eq!(response.status, 405, "{method}");
        assert!(response.json()["error"].is_string());
    }
    let long = format!("/api/v2/masters?name={}", "x".repeat(10_000));
    assert_eq!(get(address, &long).status, 414, "a target over 8 KiB");
    let huge = format!("/api/v2/masters?name={}", "x".repeat(20_000));
    assert_eq!(get(address, &huge).status, 431, "a head over 16 KiB");
    assert_eq!(get(address, "/api/v2/../../etc/passwd").status, 404);
    assert_eq!(get(address, "/api/v2/builders/%ff/masters").status, 404);
    // tiny_http cannot parse a request line that is not UTF-8 and closes the connection
    // without an answer (status 0 here); what matters is that it is never a 500.
    let invalid_utf8 = raw(
        address,
        b"GET /api/v2/builders/\xff\xfe/masters HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert!([0, 400, 404].contains(&invalid_utf8.status), "{invalid_utf8:?}");
    let garbage = raw(address, b"\x00\x01\x02 garbage\r\n\r\n");
    assert!([0, 400].contains(&garbage.status), "{garbage:?}");
    // Still alive and well after all that.
    assert_eq!(cluster.ids("/api/v2/masters").1, 3);
}

#[test]
fn health_and_metrics_describe_the_daemon() {
    let cluster = cluster();
    let (status, body) = cluster.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(body["master"], json!("test-master"));
    assert_eq!(body["masterid"], json!(1));
    assert_eq!(body["workers_connected"], json!(1));
    assert!(body["uptime_s"].is_u64());
    let metrics = request(cluster.daemon.http_address, "GET", "/metrics", None).body;
    for line in [
        "rollcall_masters{state=\"active\"} 2",
        "rollcall_masters{state=\"inactive\"} 1",
        "rollcall_workers_connected 1",
        "rollcall_attaches_total 1",
        "rollcall_rejections_total{reason=\"unknown_worker\"} 0",
        "# TYPE rollcall_storage_fsync_seconds histogram",
        "rollcall_storage_fsync_seconds_bucket{le=\"+Inf\"}",
        "rollcall_masters_expired_total 0",
        "rollcall_frames_rejected_total 0",
        "rollcall_duplicates_resolved_total 0",
        "rollcall_keepalive_timeouts_total 0",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
}
