//! A trace recorded by the running daemon, replayed into a fresh core, reaches exactly the
//! state the daemon reported over REST.

mod common;

use std::process::Command;

use common::http::get;
use common::{attach, within, Daemon, BINARY, STEP};
use rollcall_core::{BuildRequestId, Command as RegistryCommand, ServiceKind};
use serde_json::Value;

#[test]
fn a_recorded_trace_replays_to_the_state_rest_reported() {
    let mut daemon = Daemon::start_with(
        "[[workers]]\nname = \"w1\"\npassword = \"pw\"\n[[builders]]\nname = \"linux\"\nworkernames = [\"w1\"]\n",
        &["--record", "{dir}/trace.jsonl"],
    );
    let (_worker, _) = attach(&daemon.address(), "w1", "pw");
    let (_refused, _) = (common::worker_hello(&daemon.address(), "w1", "wrong"), ());
    let mut remote = common::master_client(&daemon, "remote:/srv");
    let master = within(STEP, remote.master_active("remote:/srv")).expect("register");
    for command in [
        RegistryCommand::SetBuilderList {
            master,
            builder_names: vec!["linux".into(), "mac".into()],
        },
        RegistryCommand::ClaimService {
            master,
            kind: ServiceKind::Scheduler,
            name: "nightly".into(),
        },
        RegistryCommand::SubmitBuildRequest { master, builder_name: "linux".into() },
        RegistryCommand::SubmitBuildRequest { master, builder_name: "mac".into() },
        RegistryCommand::ClaimBuildRequests { master, requests: vec![BuildRequestId(1)] },
        RegistryCommand::StartBuild {
            master,
            request: BuildRequestId(1),
            worker_name: "w1".into(),
        },
    ] {
        within(STEP, remote.request(command)).expect("connected").expect("accepted");
    }

    let mut reported = serde_json::Map::new();
    for collection in ["masters", "builders", "workers", "buildrequests", "builds"] {
        let body = get(daemon.http_address, &format!("/api/v2/{collection}")).json();
        reported.insert(collection.into(), body[collection].clone());
    }
    // No further input reaches the core: the trace ends where the report was taken.
    daemon.kill_hard();

    let trace = daemon.directory.path().join("trace.jsonl");
    let output = Command::new(BINARY).arg("replay").arg(&trace).output().expect("run replay");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let replayed: Value = serde_json::from_slice(&output.stdout).expect("replay prints JSON");
    assert_eq!(replayed, Value::Object(reported));
    assert_eq!(replayed["builds"].as_array().map(Vec::len), Some(1));
}
