//! Three rollcall nodes on one real PostgreSQL 15 (issue #13): one leads, the others
//! follow its log; `kill -9`, `SIGSTOP`/`SIGCONT` of the leader, a restart of PostgreSQL
//! itself and a leader cut off from PostgreSQL (but not from its peers) lose nothing
//! acknowledged, and never let two leaders commit at once.
//!
//! The lease is 3 s, renewed every second. The limits on waits are upper bounds for a
//! loaded machine, never timings: failover times are measured in BENCHMARKS.md.

mod common;

use std::time::{Duration, Instant};

use common::http::get;
use common::{eventually_showing, within, Daemon, MASTER_TOKEN};
use rollcall_core::{Command, MasterId, Reply};
use rollcall_io::client::{connect_to_leader, next_request_id, MasterClient, Target};
use rollcall_io::credentials::Token;
use rollcall_test_pki::{Name, TestPki};
use rollcall_test_postgres::{Postgres, Proxy};
use serde_json::Value;

const LEASE_TTL_S: u64 = 3;
const RENEW_INTERVAL_S: u64 = 1;

/// The longest a takeover may take by the lease's rules, with room for a loaded machine
/// to start a process and run a few statements.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(LEASE_TTL_S + RENEW_INTERVAL_S + 10);
const STEP: Duration = Duration::from_secs(20);

struct Cluster {
    /// Node 0's way to PostgreSQL, when it has one of its own.
    proxy: Option<Proxy>,
    postgres: Postgres,
    nodes: Vec<Daemon>,
}

/// Node `index` of a cluster on the PostgreSQL at `url`.
fn start_node(index: usize, url: &str) -> Daemon {
    start_node_with(index, url, "")
}

/// The same, with more `[cluster]` settings.
fn start_node_with(index: usize, url: &str, settings: &str) -> Daemon {
    let number = index + 1;
    let section = format!(
        "[cluster]\npostgres = {url:?}\nnode = \"n{number}\"\nadvertise = \"{{workers}}\"\nlease_ttl_s = {LEASE_TTL_S}\nrenew_interval_s = {RENEW_INTERVAL_S}\nmaster_token_file = \"{{master_token_file}}\"\n{settings}"
    );
    Daemon::start_as(&format!("node-{number}"), &section, &[])
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::start_with("")
    }

    /// Three nodes with `settings` after their `[cluster]` keys (more tables may follow).
    fn start_with(settings: &str) -> Cluster {
        let postgres = Postgres::start();
        let nodes = (0..3).map(|index| start_node_with(index, &postgres.url(), settings)).collect();
        Cluster { proxy: None, postgres, nodes }
    }

    /// A cluster whose node 0 reaches PostgreSQL through a proxy that can cut it off (the
    /// others connect directly), and leads first.
    fn start_with_node_0_behind_a_proxy() -> Cluster {
        let postgres = Postgres::start();
        let proxy = Proxy::start(&postgres);
        let first = start_node(0, &proxy.url());
        let mut cluster = Cluster { proxy: Some(proxy), postgres, nodes: vec![first] };
        assert_eq!(cluster.leader(&[0]), 0);
        for index in 1..3 {
            let node = start_node(index, &cluster.postgres.url());
            cluster.nodes.push(node);
        }
        cluster
    }

    fn status(&self, index: usize) -> Option<Value> {
        let address = self.nodes[index].http_address;
        let response = std::panic::catch_unwind(move || get(address, "/api/v2/cluster"));
        let response = response.ok()?;
        (response.status == 200).then(|| response.json()["cluster"][0].clone())
    }

    /// The index of the one node that says it leads, once exactly one does.
    fn leader(&self, among: &[usize]) -> usize {
        let mut found = None;
        eventually_showing(
            TAKEOVER_LIMIT,
            "exactly one node to lead",
            || {
                let leaders: Vec<usize> = among
                    .iter()
                    .copied()
                    .filter(|&index| {
                        self.status(index).is_some_and(|status| status["role"] == "leader")
                    })
                    .collect();
                found = (leaders.len() == 1).then(|| leaders[0]);
                found.is_some()
            },
            || self.describe(),
        );
        found.expect("a leader")
    }

    fn describe(&self) -> String {
        (0..self.nodes.len())
            .map(|index| {
                format!("\nnode {index}: {:?}\n{}", self.status(index), self.nodes[index].log())
            })
            .collect()
    }

    fn target(&self) -> Target {
        Target {
            addresses: self.nodes.iter().map(Daemon::address).collect(),
            name: "remote:/srv".into(),
            token: Token::new(MASTER_TOKEN),
            tls: None,
        }
    }

    /// A master session at whichever node leads (found from any node's redirect).
    fn master(&self) -> (MasterClient, String) {
        within(STEP, connect_to_leader(&self.target())).expect("a leader accepts the master")
    }

    /// Every epoch in the log, in sequence order.
    fn log_epochs(&self) -> Vec<i64> {
        let mut client = self.postgres.client();
        client
            .query("SELECT epoch FROM rollcall_log ORDER BY seq", &[])
            .expect("read the log")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

fn request(client: &mut MasterClient, command: Command) -> Reply {
    match within(STEP, client.request(command)).expect("connection alive") {
        Ok(reply) => reply,
        Err(error) => panic!("refused: {error}"),
    }
}

/// Registers the test master and submits one build request: both acknowledged.
fn acknowledged_work(client: &mut MasterClient) -> (MasterId, u64) {
    let Reply::Master(master) =
        request(client, Command::MasterActive { name: "remote:/srv".into() })
    else {
        panic!("masterActive answers with an id")
    };
    let submit = Command::SubmitBuildRequest { master, builder_name: "linux".into() };
    let Reply::BuildRequest(request_id) = request(client, submit) else {
        panic!("submit answers with a request id")
    };
    (master, request_id.get())
}

fn build_request_ids(daemon: &Daemon) -> Vec<u64> {
    let body = get(daemon.http_address, "/api/v2/buildrequests").json();
    body["buildrequests"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row["buildrequestid"].as_u64()).collect())
        .unwrap_or_default()
}

fn master_is_active(daemon: &Daemon, master: MasterId) -> bool {
    let body = get(daemon.http_address, &format!("/api/v2/masters/{}", master.get())).json();
    body["masters"][0]["active"] == Value::Bool(true)
}

fn epochs_never_go_back(epochs: &[i64]) -> bool {
    epochs.windows(2).all(|pair| pair[0] <= pair[1])
}

/// One node leads, the standbys say who and replay its log (their REST reads show the
/// acknowledged request); `kill -9` of the leader hands the registry to a standby within
/// the lease's time, with every acknowledged change and the master still active, and the
/// master follows it. A request sent again to the new leader under its first id (as after
/// a reply lost with the old leader) gets the old leader's answer: no second request.
#[test]
fn a_killed_leader_is_replaced_with_everything_it_acknowledged() {
    let mut cluster = Cluster::start();
    let leader = cluster.leader(&[0, 1, 2]);
    let (mut client, address) = cluster.master();
    assert_eq!(address, cluster.nodes[leader].address(), "the master was sent to the leader");
    let (master, request_id) = acknowledged_work(&mut client);
    let retried_id = next_request_id();
    let retried = Command::SubmitBuildRequest { master, builder_name: "linux".into() };
    let first_answer = within(STEP, client.request_with_id(retried_id, retried.clone()))
        .expect("connection alive")
        .expect("the submit is accepted");
    let standbys: Vec<usize> = (0..3).filter(|&index| index != leader).collect();
    for &standby in &standbys {
        eventually_showing(
            STEP,
            "a standby to replay the request",
            || build_request_ids(&cluster.nodes[standby]).contains(&request_id),
            || cluster.describe(),
        );
        let status = cluster.status(standby).expect("status");
        assert_eq!(status["role"], "standby");
        assert_eq!(status["leader_address"], Value::String(cluster.nodes[leader].address()));
    }
    let epoch_before = cluster.status(leader).expect("status")["epoch"].as_u64().expect("epoch");

    let killed_at = Instant::now();
    cluster.nodes[leader].kill_hard();
    let next = cluster.leader(&standbys);
    let took = killed_at.elapsed();
    println!("takeover after kill -9 took {took:?}");
    let status = cluster.status(next).expect("status");
    assert!(status["epoch"].as_u64().expect("epoch") > epoch_before, "{status}");
    assert!(build_request_ids(&cluster.nodes[next]).contains(&request_id));
    assert!(master_is_active(&cluster.nodes[next], master), "the takeover expired the master");
    cluster.nodes[next].wait_for_log("lease taken epoch=");

    let (mut client, address) = cluster.master();
    assert_eq!(address, cluster.nodes[next].address());
    assert_eq!(
        request(&mut client, Command::MasterActive { name: "remote:/srv".into() }),
        Reply::Master(master)
    );
    let requests_before = build_request_ids(&cluster.nodes[next]);
    let again = within(STEP, client.request_with_id(retried_id, retried)).expect("alive");
    assert_eq!(again, Ok(first_answer), "the retry got another answer than the first");
    assert_eq!(build_request_ids(&cluster.nodes[next]), requests_before, "a second request");
    assert!(epochs_never_go_back(&cluster.log_epochs()));
}

/// A leader frozen past its lease (`SIGSTOP`) is replaced; once continued, its late work
/// is fenced, it steps down and stands by, and the log holds one leader's commits after
/// the other's, never interleaved.
#[test]
fn a_frozen_leader_is_fenced_and_steps_down_when_it_wakes() {
    let cluster = Cluster::start_with(W1);
    let leader = cluster.leader(&[0, 1, 2]);
    let worker = Worker::start(&cluster, leader);
    worker.wait_attached(&cluster);
    let (mut client, _) = cluster.master();
    let (master, request_id) = acknowledged_work(&mut client);
    cluster.nodes[leader].signal("STOP");
    let others: Vec<usize> = (0..3).filter(|&index| index != leader).collect();
    let next = cluster.leader(&others);
    cluster.nodes[leader].signal("CONT");
    cluster.nodes[leader].wait_for_log("stepping down");
    eventually_showing(
        STEP,
        "the woken node to stand by",
        || cluster.status(leader).is_some_and(|status| status["role"] == "standby"),
        || cluster.describe(),
    );
    assert_eq!(cluster.leader(&[0, 1, 2]), next, "still one leader, the new one");
    assert!(build_request_ids(&cluster.nodes[next]).contains(&request_id));

    let (mut client, address) = cluster.master();
    assert_eq!(address, cluster.nodes[next].address());
    let (again, second_request) = acknowledged_work(&mut client);
    assert_eq!(again, master);
    assert!(second_request > request_id);
    assert!(epochs_never_go_back(&cluster.log_epochs()));

    // The deposed node's worker stayed attached to it, and the new leader records it there.
    let old_master = format!("node-{}", leader + 1);
    eventually_showing(
        STEP,
        "the new leader to record w1 on the deposed node's master",
        || {
            master_of_worker(&cluster.nodes[next], "w1")
                .is_some_and(|id| master_name(&cluster.nodes[next], id) == old_master)
        },
        || format!("{}\n{}", worker.printed(), cluster.describe()),
    );
    worker.assert_attached_once();
}

/// With PostgreSQL down nobody can lead, so nothing is acknowledged; once it is back, a
/// node takes the lease by itself and the master's acknowledged work is all there.
#[test]
fn the_cluster_stops_acknowledging_while_postgres_is_down_and_recovers() {
    let cluster = Cluster::start();
    cluster.leader(&[0, 1, 2]);
    let (mut client, _) = cluster.master();
    let (master, request_id) = acknowledged_work(&mut client);
    cluster.postgres.stop_immediate();
    // The leader's next commit fails: the request is never acknowledged.
    let submit = Command::SubmitBuildRequest { master, builder_name: "linux".into() };
    let answered = within(STEP, client.request(submit));
    assert!(!matches!(answered, Ok(Ok(_))), "acknowledged without PostgreSQL: {answered:?}");
    eventually_showing(
        STEP,
        "every node to stand by",
        || {
            (0..3).all(|index| {
                cluster.status(index).is_some_and(|status| status["role"] == "standby")
            })
        },
        || cluster.describe(),
    );

    cluster.postgres.start_again();
    let leader = cluster.leader(&[0, 1, 2]);
    assert!(build_request_ids(&cluster.nodes[leader]).contains(&request_id));
    let (mut client, _) = cluster.master();
    let (again, _) = acknowledged_work(&mut client);
    assert_eq!(again, master);
    assert!(epochs_never_go_back(&cluster.log_epochs()));
}

/// A leader cut off from PostgreSQL but not from its peers or its clients (its proxy holds
/// every byte both ways, so nothing fails and nothing answers) steps down within its call
/// deadlines; another node leads with everything acknowledged, and the master follows it.
/// Once the network heals, the cut-off node stays a standby and replays the new leader's
/// commits: one leader throughout, the log's epochs in order.
#[test]
fn a_leader_cut_off_from_postgres_steps_down_and_another_leads() {
    let cluster = Cluster::start_with_node_0_behind_a_proxy();
    let proxy = cluster.proxy.as_ref().expect("node 0's proxy");
    assert_eq!(cluster.leader(&[0, 1, 2]), 0);
    let (mut client, address) = cluster.master();
    assert_eq!(address, cluster.nodes[0].address());
    let (master, request_id) = acknowledged_work(&mut client);

    proxy.stall();
    cluster.nodes[0].wait_for_log("stepping down");
    let next = cluster.leader(&[1, 2]);
    eventually_showing(
        STEP,
        "the cut-off node to stand by",
        || cluster.status(0).is_some_and(|status| status["role"] == "standby"),
        || cluster.describe(),
    );
    assert!(build_request_ids(&cluster.nodes[next]).contains(&request_id));
    assert!(master_is_active(&cluster.nodes[next], master), "the takeover expired the master");
    let (mut client, address) = cluster.master();
    assert_eq!(address, cluster.nodes[next].address());
    let (again, second_request) = acknowledged_work(&mut client);
    assert_eq!(again, master);

    proxy.pass();
    eventually_showing(
        STEP,
        "the healed node to replay the new leader's commits",
        || build_request_ids(&cluster.nodes[0]).contains(&second_request),
        || cluster.describe(),
    );
    assert_eq!(cluster.status(0).expect("status")["role"], "standby");
    assert_eq!(cluster.leader(&[0, 1, 2]), next, "still one leader, the new one");
    assert!(epochs_never_go_back(&cluster.log_epochs()));
}

/// A node configured with the CA of a PostgreSQL that takes TCP sessions only over TLS
/// leads and acknowledges work there, and every session it holds is encrypted.
#[test]
fn a_node_reaches_postgres_over_tls_and_leads() {
    let directory = tempfile::tempdir().expect("a temp dir");
    let pki = TestPki::new(directory.path(), "rollcall test PostgreSQL CA");
    let postgres = Postgres::start_with_tls(&pki.server_certificate, &pki.server_key);
    let settings = format!("postgres_ca = {:?}\n", pki.ca.display().to_string());
    let node = start_node_with(0, &postgres.tls_url(), &settings);
    let cluster = Cluster { proxy: None, postgres, nodes: vec![node] };
    assert_eq!(cluster.leader(&[0]), 0);
    let (mut client, _) = cluster.master();
    let (_, request_id) = acknowledged_work(&mut client);
    assert!(build_request_ids(&cluster.nodes[0]).contains(&request_id));
    let sessions: Vec<bool> = cluster
        .postgres
        .client()
        .query(
            "SELECT ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
              WHERE application_name = 'rollcall'",
            &[],
        )
        .expect("pg_stat_ssl")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| ssl), "{sessions:?}");
}

/// A roster of one worker, for the tests that attach one.
const W1: &str = "[[workers]]\nname = \"w1\"\npassword = \"s3cret\"\n";

/// `rollcall worker w1` attached to one node of a cluster.
struct Worker {
    process: std::process::Child,
    output: std::path::PathBuf,
    address: String,
}

impl Worker {
    fn start(cluster: &Cluster, node: usize) -> Worker {
        Worker::start_with(cluster, node, &[])
    }

    /// With more arguments for `rollcall worker` (TLS).
    fn start_with(cluster: &Cluster, node: usize, extra_args: &[&str]) -> Worker {
        let output = cluster.nodes[node].directory.path().join("worker.out");
        let address = cluster.nodes[node].address();
        let process = std::process::Command::new(common::BINARY)
            .args(["worker", "--name", "w1", "--keepalive-interval-s", "1", "--connect", &address])
            .args(extra_args)
            .env("ROLLCALL_WORKER_PASSWORD", "s3cret")
            .stdout(std::fs::File::create(&output).expect("the worker's output"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start rollcall worker");
        Worker { process, output, address }
    }

    fn printed(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    fn wait_attached(&self, cluster: &Cluster) {
        let attached = format!("attached to {} as w1", self.address);
        eventually_showing(
            STEP,
            "the worker to attach",
            || self.printed().contains(&attached),
            || format!("{}\n{}", self.printed(), cluster.describe()),
        );
    }

    /// It attached once and never had to again: no failover dropped it.
    fn assert_attached_once(&self) {
        let printed = self.printed();
        assert_eq!(printed.matches("attached to").count(), 1, "the worker reconnected:\n{printed}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Every node is a build master with its own workers: a worker attaches to a standby,
/// which records it at the leader through its own master's session; `kill -9` of the
/// leader leaves it attached (it never reconnects), and the new leader's registry shows it
/// connected to the standby's master, which is still active.
#[test]
fn a_worker_stays_attached_to_its_standby_across_a_takeover() {
    let cluster = Cluster::start_with(W1);
    let leader = cluster.leader(&[0, 1, 2]);
    let standby = (0..3).find(|&index| index != leader).expect("a standby");
    let worker = Worker::start(&cluster, standby);
    worker.wait_attached(&cluster);
    let standby_master = format!("node-{}", standby + 1);
    let recorded_at = |cluster: &Cluster, index: usize| {
        master_of_worker(&cluster.nodes[index], "w1")
            .is_some_and(|master| master_name(&cluster.nodes[index], master) == standby_master)
    };
    eventually_showing(
        STEP,
        "the leader to record w1 on the standby's master",
        || recorded_at(&cluster, leader),
        || cluster.describe(),
    );
    eventually_showing(
        STEP,
        "the standby's replica to show w1 on its master",
        || recorded_at(&cluster, standby),
        || cluster.describe(),
    );

    let mut cluster = cluster;
    cluster.nodes[leader].kill_hard();
    let others: Vec<usize> = (0..3).filter(|&index| index != leader).collect();
    let next = cluster.leader(&others);
    eventually_showing(
        TAKEOVER_LIMIT,
        "the new leader to record w1 on the standby's master",
        || recorded_at(&cluster, next),
        || format!("{}\n{}", worker.printed(), cluster.describe()),
    );
    let masters = get(cluster.nodes[next].http_address, "/api/v2/masters").json();
    let row = masters["masters"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["name"] == standby_master.as_str()))
        .cloned()
        .expect("the standby's master has a row");
    assert_eq!(row["active"], Value::Bool(true), "{row}");
    worker.assert_attached_once();
    assert!(cluster.nodes[standby].log().contains("registered at the leader"));
}

/// With `[tls]` on every node's master port (masters presenting certificates named for
/// them), a standby's own master reaches the leader over TLS with its `[cluster]
/// peer_*` files, and the leader records the standby's worker on it.
#[test]
fn over_tls_a_standby_registers_its_master_and_its_worker_at_the_leader() {
    let pki = common::tls::Pki::new();
    let postgres = Postgres::start();
    let nodes = (0..2)
        .map(|index| {
            let master = format!("node-{}", index + 1);
            let identity = pki.pki.client(&master, Name::Uri(&master));
            let settings = format!(
                "peer_ca = {:?}\npeer_certificate = {:?}\npeer_private_key = {:?}\n{W1}{}",
                pki.pki.ca,
                identity.certificate,
                identity.key,
                pki.section(true)
            );
            start_node_with(index, &postgres.url(), &settings)
        })
        .collect();
    let cluster = Cluster { proxy: None, postgres, nodes };
    let client = pki.client();
    let status = |index: usize| {
        let response =
            common::tls::https_get(cluster.nodes[index].http_address, &client, "/api/v2/cluster");
        response.json()["cluster"][0]["role"].as_str().unwrap_or_default().to_string()
    };
    let mut leader = None;
    eventually_showing(
        TAKEOVER_LIMIT,
        "one node to lead",
        || {
            leader = (0..2).find(|&index| status(index) == "leader");
            leader.is_some()
        },
        || cluster.describe(),
    );
    let leader = leader.expect("a leader");
    let standby = 1 - leader;
    let ca = pki.pki.ca.display().to_string();
    let worker = Worker::start_with(&cluster, standby, &["--tls", "--ca", &ca]);
    worker.wait_attached(&cluster);
    let standby_master = format!("node-{}", standby + 1);
    eventually_showing(
        STEP,
        "the leader to record w1 on the standby's master",
        || {
            let address = cluster.nodes[leader].http_address;
            let workers = common::tls::https_get(address, &client, "/api/v2/workers").json();
            let Some(master) = workers["workers"]
                .as_array()
                .and_then(|rows| rows.iter().find(|row| row["name"] == "w1"))
                .and_then(|row| row["connected_to"][0]["masterid"].as_u64())
            else {
                return false;
            };
            let path = format!("/api/v2/masters/{master}");
            let row = common::tls::https_get(address, &client, &path).json();
            row["masters"][0]["name"] == standby_master.as_str()
        },
        || format!("{}\n{}", worker.printed(), cluster.describe()),
    );
    assert!(cluster.nodes[standby].log().contains("registered at the leader"));
}

/// The master a worker's REST row says it is connected to, if one.
fn master_of_worker(daemon: &Daemon, worker: &str) -> Option<u64> {
    let body = get(daemon.http_address, "/api/v2/workers").json();
    let row = body["workers"].as_array()?.iter().find(|row| row["name"] == worker)?.clone();
    row["connected_to"].as_array()?.first()?["masterid"].as_u64()
}

fn master_name(daemon: &Daemon, master: u64) -> String {
    let body = get(daemon.http_address, &format!("/api/v2/masters/{master}")).json();
    body["masters"][0]["name"].as_str().unwrap_or_default().to_string()
}

/// With snapshots every 10 entries, a standby snapshots its replica and the log before it
/// is deleted; a node started afresh starts from the snapshot and shows every acknowledged
/// request, and so does the next leader after `kill -9` of this one.
#[test]
fn a_standbys_snapshot_prunes_the_log_and_a_fresh_node_starts_from_it() {
    let mut cluster = Cluster::start_with("snapshot_every_entries = 10\n");
    let leader = cluster.leader(&[0, 1, 2]);
    let (mut client, _) = cluster.master();
    let (master, _) = acknowledged_work(&mut client);
    let mut submitted = Vec::new();
    for _ in 0..30 {
        let submit = Command::SubmitBuildRequest { master, builder_name: "linux".into() };
        let Reply::BuildRequest(id) = request(&mut client, submit) else { panic!("submitted") };
        submitted.push(id.get());
    }
    let pruned = || {
        let mut client = cluster.postgres.client();
        let snapshot: i64 = client
            .query_one("SELECT coalesce(max(seq), 0)::bigint FROM rollcall_snapshot", &[])
            .expect("snapshots")
            .get(0);
        let first: Option<i64> =
            client.query_one("SELECT min(seq) FROM rollcall_log", &[]).expect("log").get(0);
        snapshot >= 10 && first.is_none_or(|first| first > snapshot)
    };
    eventually_showing(STEP, "a snapshot that pruned the log", pruned, || cluster.describe());

    let standby = (0..3).find(|&index| index != leader).expect("a standby");
    cluster.nodes[standby].kill_hard();
    cluster.nodes[standby].spawn();
    let shows_everything = |daemon: &Daemon| {
        let shown = build_request_ids(daemon);
        submitted.iter().all(|id| shown.contains(id))
    };
    eventually_showing(
        STEP,
        "the restarted node to show every request",
        || shows_everything(&cluster.nodes[standby]),
        || cluster.describe(),
    );
    let status = cluster.status(standby).expect("status");
    assert!(status["snapshot_seq"].as_u64().expect("snapshot_seq") >= 10, "{status}");

    cluster.nodes[leader].kill_hard();
    let others: Vec<usize> = (0..3).filter(|&index| index != leader).collect();
    let next = cluster.leader(&others);
    assert!(shows_everything(&cluster.nodes[next]));
    assert!(epochs_never_go_back(&cluster.log_epochs()));
}
