//! rollcall's side of the comparison with Buildbot 4.3: the same workloads, at the same
//! sizes, that `benches/peer/buildbot_peer.py` runs against Buildbot's own code, timed the
//! same way (one timed run per repeat; median, min and max over the repeats).
//!
//! Usage:
//!   rollcall-compare run --daemon PATH --json OUT [--size 10000] [--ops 1000] [--repeats 5]
//!       [--only NAME,NAME...]   (only these workloads, e.g. list_masters_http)
//!       [--tls]   (the REST listings over HTTPS beside HTTP: list_masters_https and
//!                  list_masters_https_query, which run only when named or with --tls)
//!   rollcall-compare table --rollcall A.json [--buildbot B.json] [--net NET.json]
//!       [--herd HERD.json]
//!   rollcall-compare criterion [--dir target/criterion]
//!   rollcall-compare serve --daemon PATH [--size 10000]   (a daemon to profile by hand)
//!
//! `run` measures, for a registry of `size` masters (every per-operation workload commits
//! each operation on its own with `FjallStore::commit`, an fsync, as Buildbot commits each
//! call; the baseline is Buildbot doing the same on sqlite):
//! - `first_registration`: masterActive of `ops` new names;
//! - `heartbeat_durable`: masterActive of `ops` existing masters spread over the registry;
//! - `master_stopped`: masterStopped of `ops` active masters (revived untimed afterwards);
//! - `expire_0_of_S`, `expire_{S/10}_of_S`: one expireMasters command and its commit;
//! - `expire_{S/10}_of_S_sqlite_memory`: the same sweep with no storage at all, against
//!   Buildbot's run on in-memory sqlite;
//! - `list_masters_data_layer`: copying every master row out of the registry, what the
//!   daemon's REST read job does, against Buildbot's `data.get(("masters",))`;
//! - `list_masters_http`, `list_masters_http_query`: `GET /api/v2/masters` (and a
//!   filtered, ordered, paged query) over real HTTP against a daemon whose store holds
//!   `size` masters, one new connection per request.
//!
//! The TLS mode (`--tls`, or either name in `--only`): `list_masters_https` and
//! `list_masters_https_query` start two daemons holding the same `size` masters, one in the
//! clear and one with `[tls]` (certificates made for the run by `rollcall-test-pki`), and
//! alternate three requests per repeat, each on a new connection and all through the same
//! client code (`rollcall_benches::http::get_with`): HTTP to the plain daemon; HTTPS to the
//! TLS daemon with one `ClientTls` kept across requests (each resumes the session of the one
//! before from its ticket); HTTPS with a `ClientTls` made just before the request, untimed,
//! that never connected (a full handshake). Every handshake's kind is read back and counted.
//! Each prints HTTPS beside HTTP with the HTTPS/HTTP ratio of medians; there is no Buildbot
//! figure (the peer runs no HTTPS).
//!
//! Beyond the peer's list: `heartbeat_group_commit_B` (B heartbeats, one commit) and
//! `list_masters_render_typed` (in this process, no HTTP: the JSON body of the listing
//! rendered from typed records, the cost the REST fix in BENCHMARKS.md would have).
//!
//! `criterion` prints the last `cargo bench` run of every criterion benchmark: the median,
//! min and max over its samples of the time per iteration, the throughput at the median,
//! and the ratio to the baseline beside it in the same group (`naive...`, else the
//! storage floor).
//!
//! `table` prints the side-by-side table: rollcall median (min–max), Buildbot median
//! (min–max), and how many times faster rollcall is (a ratio of medians).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rollcall_benches::daemon::{self, BoxError, DaemonOptions};
use rollcall_benches::fixture::{drain, master_active, master_name, ExpiryFixture, START};
use rollcall_benches::stats::{human, human_summary, Summary};
use rollcall_benches::tls::{Certificates, HandshakeCounts};
use rollcall_core::registry::RegistryInput;
use rollcall_core::{Change, Command, MasterId, Registry, ReplyToken, Timestamp};
use rollcall_io::storage::{FjallStore, Store};
use serde_json::{json, Map, Value};

struct RunOptions {
    daemon: PathBuf,
    json: PathBuf,
    size: usize,
    ops: usize,
    repeats: usize,
    /// Workload names to run; empty runs all of them.
    only: Vec<String>,
}

/// A registry and the store that holds exactly its rows.
struct Durable {
    registry: Registry,
    store: FjallStore,
    changes: Vec<Change>,
    _directory: tempfile::TempDir,
}

impl Durable {
    fn new(registry: Registry) -> Result<Durable, BoxError> {
        let directory = tempfile::tempdir()?;
        let mut store = FjallStore::open(&directory.path().join("data"))?;
        let rows: Vec<Change> = registry.records().into_iter().map(Change::Put).collect();
        store.commit(&rows)?;
        Ok(Durable { registry, store, changes: Vec::new(), _directory: directory })
    }

    /// One command, drained and committed on its own.
    fn command(&mut self, now: Timestamp, command: Command) -> Result<(), BoxError> {
        self.registry.handle(now, RegistryInput { token: ReplyToken(0), command });
        self.changes.clear();
        drain(&mut self.registry, &mut self.changes);
        self.store.commit(&self.changes)?;
        Ok(())
    }
}

/// `n` names evenly spread over a registry of `size` (every size/n-th), as the peer picks.
fn spread(size: usize, n: usize) -> Vec<usize> {
    (0..n).map(|index| index * size / n).collect()
}

fn ops_result(samples_seconds: &[f64], n: usize, size: usize) -> Value {
    let mut value = Summary::rate_of_seconds(n as f64, samples_seconds).to_json("ops/s");
    value["n"] = json!(n);
    value["registry_size"] = json!(size);
    value["samples_seconds"] = json!(samples_seconds);
    value
}

fn seconds_result(samples_seconds: &[f64], n: usize, size: usize) -> Value {
    let mut value = Summary::of(samples_seconds).to_json("s");
    value["n"] = json!(n);
    value["registry_size"] = json!(size);
    value["samples_seconds"] = json!(samples_seconds);
    value
}

fn first_registration(options: &RunOptions) -> Result<Value, BoxError> {
    let mut durable = Durable::new(rollcall_benches::fixture::registry_of(options.size, START))?;
    let mut samples = Vec::new();
    for repeat in 0..options.repeats {
        // Masters are never deleted, so each repeat registers new names; the registry
        // grows by `ops` per repeat (Buildbot's run deletes them between repeats).
        let names: Vec<String> =
            (0..options.ops).map(|index| format!("new-master-r{repeat}-{index:06}")).collect();
        let before = durable.registry.master_count();
        let started = Instant::now();
        for name in names {
            durable.command(START, Command::MasterActive { name })?;
        }
        samples.push(started.elapsed().as_secs_f64());
        assert_eq!(durable.registry.master_count(), before + options.ops);
    }
    Ok(ops_result(&samples, options.ops, options.size))
}

fn heartbeat_durable(options: &RunOptions) -> Result<Value, BoxError> {
    let mut durable = Durable::new(rollcall_benches::fixture::registry_of(options.size, START))?;
    let targets: Vec<String> =
        spread(options.size, options.ops).into_iter().map(master_name).collect();
    let mut samples = Vec::new();
    for repeat in 0..options.repeats {
        let now = START.plus_millis(1 + repeat as u64);
        let started = Instant::now();
        for name in &targets {
            durable.command(now, Command::MasterActive { name: name.clone() })?;
            assert_eq!(durable.changes.len(), 1, "each heartbeat writes its master row");
        }
        samples.push(started.elapsed().as_secs_f64());
    }
    Ok(ops_result(&samples, options.ops, options.size))
}

fn heartbeat_group_commit(options: &RunOptions, batch: usize) -> Result<Value, BoxError> {
    let mut durable = Durable::new(rollcall_benches::fixture::registry_of(options.size, START))?;
    let names: Vec<String> = (0..options.size).map(master_name).collect();
    let batches = (options.ops * 10 / batch).max(3);
    let mut samples = Vec::new();
    let mut next = 0;
    let mut now = START;
    for _ in 0..options.repeats {
        let started = Instant::now();
        for _ in 0..batches {
            durable.changes.clear();
            for _ in 0..batch {
                if next == names.len() {
                    next = 0;
                }
                if next == 0 {
                    now = now.plus_millis(1);
                }
                master_active(&mut durable.registry, now, names[next].clone());
                drain(&mut durable.registry, &mut durable.changes);
                next += 1;
            }
            durable.store.commit(&durable.changes)?;
        }
        samples.push(started.elapsed().as_secs_f64());
    }
    Ok(ops_result(&samples, batches * batch, options.size))
}

fn master_stopped(options: &RunOptions) -> Result<Value, BoxError> {
    let mut durable = Durable::new(rollcall_benches::fixture::registry_of(options.size, START))?;
    let targets = spread(options.size, options.ops);
    let mut samples = Vec::new();
    for repeat in 0..options.repeats {
        let now = START.plus_millis(1 + repeat as u64);
        let started = Instant::now();
        for &index in &targets {
            let master = MasterId(index as u64 + 1);
            durable.command(now, Command::MasterStopped { master })?;
        }
        samples.push(started.elapsed().as_secs_f64());
        assert_eq!(durable.registry.active_master_count(), options.size - options.ops);
        // Revive them, untimed, in one commit.
        durable.changes.clear();
        for &index in &targets {
            master_active(&mut durable.registry, now, master_name(index));
            drain(&mut durable.registry, &mut durable.changes);
        }
        durable.store.commit(&durable.changes)?;
    }
    Ok(ops_result(&samples, options.ops, options.size))
}

/// One expireMasters over a registry of `size`, `expired` of which are past the window;
/// committed with `FjallStore` when `durable`.
fn expire(options: &RunOptions, expired: usize, durable: bool) -> Result<Value, BoxError> {
    let mut fixture = ExpiryFixture::new(options.size, expired);
    let directory = tempfile::tempdir()?;
    let mut store = FjallStore::open(&directory.path().join("data"))?;
    let mut changes = Vec::new();
    let mut samples = Vec::new();
    for _ in 0..options.repeats {
        let now = fixture.prepare_sweep();
        store.commit(&fixture.setup_changes)?;
        fixture.setup_changes.clear();
        changes.clear();
        let command = Command::ExpireMasters { force_housekeeping: false };
        let started = Instant::now();
        fixture.registry.handle(now, RegistryInput { token: ReplyToken(0), command });
        let drained = drain(&mut fixture.registry, &mut changes);
        if durable {
            store.commit(&changes)?;
        }
        samples.push(started.elapsed().as_secs_f64());
        assert_eq!(drained.masters_stopped, expired);
        if !durable {
            store.commit(&changes)?;
        }
    }
    Ok(seconds_result(&samples, expired, options.size))
}

fn list_data_layer(options: &RunOptions) -> Result<Value, BoxError> {
    let registry = rollcall_benches::fixture::registry_of(options.size, START);
    let mut samples = Vec::new();
    for _ in 0..options.repeats {
        let started = Instant::now();
        let rows: Vec<_> = registry.masters().cloned().collect();
        samples.push(started.elapsed().as_secs_f64());
        assert_eq!(rows.len(), options.size);
    }
    Ok(seconds_result(&samples, options.size, options.size))
}

/// Not a daemon figure: what rendering the same rows costs when they stay typed records
/// (copied out as `MasterRecord`s, written straight to bytes with serde_json escaping the
/// names) instead of a `serde_json::Map` per row; the REST fix BENCHMARKS.md suggests.
fn list_render_typed(options: &RunOptions) -> Result<Value, BoxError> {
    use std::io::Write as _;
    let registry = rollcall_benches::fixture::registry_of(options.size, START);
    let mut samples = Vec::new();
    let mut response_bytes = 0;
    for _ in 0..options.repeats {
        let started = Instant::now();
        let rows: Vec<_> = registry.masters().cloned().collect();
        let mut body = Vec::with_capacity(rows.len() * 96);
        body.extend_from_slice(b"{\"masters\":[");
        for (index, row) in rows.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            write!(
                body,
                "{{\"active\":{},\"last_active\":{},\"masterid\":{},\"name\":",
                row.active,
                row.last_active.as_secs(),
                row.id
            )?;
            serde_json::to_writer(&mut body, &row.name)?;
            body.push(b'}');
        }
        write!(body, "],\"meta\":{{\"total\":{}}}}}", rows.len())?;
        samples.push(started.elapsed().as_secs_f64());
        response_bytes = body.len();
    }
    let mut value = seconds_result(&samples, options.size, options.size);
    value["response_bytes"] = json!(response_bytes);
    Ok(value)
}

fn list_http(options: &RunOptions, path: &str, expect_rows: usize) -> Result<Value, BoxError> {
    let daemon_options =
        DaemonOptions { workers: 0, masters: options.size, ..DaemonOptions::default() };
    let daemon = daemon::start(&options.daemon, &daemon_options)?;
    let mut samples = Vec::new();
    let mut response_bytes = 0;
    for _ in 0..options.repeats {
        let started = Instant::now();
        let (status, body) = rollcall_benches::http::get(daemon.http_address, path)?;
        samples.push(started.elapsed().as_secs_f64());
        if status != 200 {
            return Err(format!("GET {path}: HTTP {status}").into());
        }
        let document: Value = serde_json::from_slice(&body)?;
        let rows = document["masters"].as_array().map_or(0, Vec::len);
        // The daemon is a master too: the registry lists size + 1.
        if rows != expect_rows {
            return Err(format!("GET {path}: {rows} masters, expected {expect_rows}").into());
        }
        response_bytes = body.len();
    }
    let mut value = seconds_result(&samples, expect_rows, options.size + 1);
    value["path"] = json!(path);
    value["response_bytes"] = json!(response_bytes);
    Ok(value)
}

/// Checks a listing's answer: 200 and `expect_rows` masters; its body's size.
fn check_listing(
    path: &str,
    answer: &rollcall_benches::http::Answer,
    expect_rows: usize,
) -> Result<usize, BoxError> {
    if answer.status != 200 {
        return Err(format!("GET {path}: HTTP {}", answer.status).into());
    }
    let document: Value = serde_json::from_slice(&answer.body)?;
    let rows = document["masters"].as_array().map_or(0, Vec::len);
    if rows != expect_rows {
        return Err(format!("GET {path}: {rows} masters, expected {expect_rows}").into());
    }
    Ok(answer.body.len())
}

/// The listing over HTTP and over HTTPS (resumed, then full handshake), alternated request
/// by request against two daemons holding the same masters: see the module's comment.
fn list_https(options: &RunOptions, path: &str, expect_rows: usize) -> Result<Value, BoxError> {
    let certificates = Certificates::new()?;
    let plain_options =
        DaemonOptions { workers: 0, masters: options.size, ..DaemonOptions::default() };
    let tls_options = DaemonOptions { tls: Some(certificates.daemon()), ..plain_options.clone() };
    let plain = daemon::start(&options.daemon, &plain_options)?;
    let secure = daemon::start(&options.daemon, &tls_options)?;
    let shared = rollcall_benches::tls::client(certificates.ca(), 256)?;
    let get = rollcall_benches::http::get_with;
    // One untimed request to each first: the shared client then holds a ticket, and
    // neither daemon's first answer is counted.
    check_listing(path, &get(plain.http_address, path, None)?, expect_rows)?;
    check_listing(path, &get(secure.http_address, path, Some(&shared))?, expect_rows)?;
    let names = ["http", "https_resumed", "https_full"];
    let mut samples: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let counts: [HandshakeCounts; 3] = Default::default();
    let mut response_bytes = 0;
    for _ in 0..options.repeats {
        for (index, samples) in samples.iter_mut().enumerate() {
            let fresh = match index {
                2 => Some(rollcall_benches::tls::client(certificates.ca(), 1)?),
                _ => None,
            };
            let (address, tls) = match index {
                0 => (plain.http_address, None),
                1 => (secure.http_address, Some(&shared)),
                _ => (secure.http_address, fresh.as_ref()),
            };
            let started = Instant::now();
            let answer = get(address, path, tls)?;
            samples.push(started.elapsed().as_secs_f64());
            counts[index].count(answer.handshake);
            response_bytes = check_listing(path, &answer, expect_rows)?;
        }
    }
    let summaries: Vec<Summary> = samples.iter().map(|samples| Summary::of(samples)).collect();
    let (http, resumed, full) = (summaries[0], summaries[1], summaries[2]);
    println!("GET {path} ({response_bytes} bytes), new connection each, alternated:");
    println!("  HTTP:                           {}", human_summary(http, "s"));
    for (summary, what, index) in
        [(resumed, "HTTPS, resumed session:", 1), (full, "HTTPS, full handshake: ", 2)]
    {
        println!(
            "  {what}        {}  ({:.2}x HTTP; handshakes: {})",
            human_summary(summary, "s"),
            summary.median / http.median,
            counts[index].describe()
        );
    }
    let entry = |index: usize| {
        let mut value = seconds_result(&samples[index], expect_rows, options.size + 1);
        let (plain, full, resumed) = counts[index].get();
        value["handshakes"] = json!({ "plain": plain, "full": full, "resumed": resumed });
        value
    };
    let mut value = entry(1);
    value["path"] = json!(path);
    value["response_bytes"] = json!(response_bytes);
    value["what"] = json!("HTTPS, session resumed; `http` and `https_full` alternated with it");
    value["https_full"] = entry(2);
    value["http"] = entry(0);
    value["ratio_resumed_to_http"] = json!(resumed.median / http.median);
    value["ratio_full_to_http"] = json!(full.median / http.median);
    value["order"] = json!(names);
    Ok(value)
}

/// The TLS mode's workloads: run only when named in `--only`, or with `--tls`.
const TLS_WORKLOADS: [&str; 2] = ["list_masters_https", "list_masters_https_query"];

fn run(options: &RunOptions) -> Result<(), BoxError> {
    let (size, tenth) = (options.size, options.size / 10);
    let query = "/api/v2/masters?active=true&order=-last_active&limit=50&offset=100";
    type Workload<'a> = (String, Box<dyn Fn() -> Result<Value, BoxError> + 'a>);
    let workloads: Vec<Workload<'_>> = vec![
        ("list_masters_data_layer".into(), Box::new(|| list_data_layer(options))),
        ("list_masters_http".into(), Box::new(|| list_http(options, "/api/v2/masters", size + 1))),
        ("list_masters_http_query".into(), Box::new(|| list_http(options, query, 50))),
        (
            "list_masters_https".into(),
            Box::new(|| list_https(options, "/api/v2/masters", size + 1)),
        ),
        ("list_masters_https_query".into(), Box::new(|| list_https(options, query, 50))),
        ("list_masters_render_typed".into(), Box::new(|| list_render_typed(options))),
        ("heartbeat_durable".into(), Box::new(|| heartbeat_durable(options))),
        ("first_registration".into(), Box::new(|| first_registration(options))),
        ("master_stopped".into(), Box::new(|| master_stopped(options))),
        (format!("expire_0_of_{size}"), Box::new(|| expire(options, 0, true))),
        (format!("expire_{tenth}_of_{size}"), Box::new(|| expire(options, tenth, true))),
        (
            format!("expire_{tenth}_of_{size}_sqlite_memory"),
            Box::new(|| expire(options, tenth, false)),
        ),
        ("heartbeat_group_commit_64".into(), Box::new(|| heartbeat_group_commit(options, 64))),
        ("heartbeat_group_commit_1024".into(), Box::new(|| heartbeat_group_commit(options, 1024))),
    ];
    let mut results = Map::new();
    let unknown: Vec<&String> =
        options.only.iter().filter(|name| !workloads.iter().any(|(n, _)| n == *name)).collect();
    if !unknown.is_empty() {
        return Err(format!("--only names no workload {unknown:?}").into());
    }
    for (name, workload) in workloads {
        let wanted = if options.only.is_empty() {
            !TLS_WORKLOADS.contains(&name.as_str())
        } else {
            options.only.contains(&name)
        };
        if !wanted {
            continue;
        }
        let started = Instant::now();
        let result = workload()?;
        eprintln!("  {name}: done in {:.1} s", started.elapsed().as_secs_f64());
        results.insert(name, result);
    }
    let report = json!({
        "peer": "rollcall",
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "results": results,
    });
    std::fs::write(&options.json, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("wrote {}", options.json.display());
    Ok(())
}

/// nproc, the CPU model and memory, as BENCHMARKS.md reports them.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total_mb = meminfo
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib / 1024);
    let cpus = std::thread::available_parallelism().map(|count| count.get()).ok();
    // Other work on the machine skews every figure: the load average says how much.
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": cpus,
        "cpu_model": model,
        "mem_total_mb": mem_total_mb,
        "loadavg": loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn read_json(path: &Path) -> Result<Value, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn summary_of(value: &Value) -> Option<(Summary, String)> {
    let number = |key: &str| value.get(key).and_then(Value::as_f64);
    let summary = Summary {
        median: number("median")?,
        min: number("min")?,
        max: number("max")?,
        repeats: value.get("repeats").and_then(Value::as_u64).unwrap_or(0) as usize,
    };
    Some((summary, value.get("unit")?.as_str()?.to_owned()))
}

/// How many times faster rollcall is: rates divide one way, durations the other.
fn speedup(ours: Summary, theirs: Summary, unit: &str) -> f64 {
    if unit == "s" {
        theirs.median / ours.median
    } else {
        ours.median / theirs.median
    }
}

fn table(rollcall: &Path, buildbot: Option<&Path>, extras: &[&Path]) -> Result<(), BoxError> {
    let ours = read_json(rollcall)?;
    let theirs = match buildbot {
        Some(path) => read_json(path)?,
        None => json!({}),
    };
    let empty = Map::new();
    let our_results = ours["results"].as_object().unwrap_or(&empty);
    let their_results = theirs["results"].as_object().unwrap_or(&empty);
    println!("| workload | unit | rollcall median (min–max) | Buildbot 4.3 median (min–max) | rollcall faster by |");
    println!("|---|---|---|---|---|");
    let mut names: Vec<&String> = our_results.keys().collect();
    names.extend(their_results.keys().filter(|name| !our_results.contains_key(*name)));
    for name in names {
        let our = our_results.get(name).and_then(summary_of);
        let their = their_results.get(name).and_then(summary_of);
        let unit = our.as_ref().or(their.as_ref()).map_or("", |(_, unit)| unit.as_str());
        let shown = |entry: &Option<(Summary, String)>| {
            entry.as_ref().map_or("—".to_owned(), |(summary, unit)| human_summary(*summary, unit))
        };
        let ratio = match (&our, &their) {
            (Some((ours, unit)), Some((theirs, _))) => {
                format!("{:.0}×", speedup(*ours, *theirs, unit))
            }
            _ => "—".to_owned(),
        };
        println!("| {name} | {unit} | {} | {} | {ratio} |", shown(&our), shown(&their));
    }
    let extra: Vec<Value> = extras.iter().map(|path| read_json(path)).collect::<Result<_, _>>()?;
    if !extra.is_empty() {
        println!();
        println!(
            "| through the daemon | unit | rollcall median (min–max) | baseline median (min–max) | rollcall / baseline |"
        );
        println!("|---|---|---|---|---|");
    }
    for document in &extra {
        for (name, entry) in document["results"].as_object().unwrap_or(&empty) {
            let Some((summary, unit)) = summary_of(entry) else { continue };
            let (baseline_text, ratio) = match entry.get("baseline").and_then(summary_of) {
                Some((base, base_unit)) => (
                    format!(
                        "{}: {}",
                        entry["baseline_name"].as_str().unwrap_or("baseline"),
                        human_summary(base, &base_unit)
                    ),
                    format!("{:.2}", summary.median / base.median),
                ),
                None => ("—".to_owned(), "—".to_owned()),
            };
            println!(
                "| {name} | {unit} | {} | {baseline_text} | {ratio} |",
                human_summary(summary, &unit)
            );
        }
    }
    Ok(())
}

/// One criterion benchmark's last run.
struct CriterionRun {
    group: String,
    function: String,
    value: String,
    seconds_per_iteration: Summary,
    elements: Option<f64>,
}

fn criterion_runs(directory: &Path, runs: &mut Vec<CriterionRun>) -> Result<(), BoxError> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let benchmark = path.join("new").join("benchmark.json");
        if !benchmark.is_file() {
            criterion_runs(&path, runs)?;
            continue;
        }
        let benchmark = read_json(&benchmark)?;
        let sample = read_json(&path.join("new").join("sample.json"))?;
        let iterations = sample["iters"].as_array().ok_or("sample.json has no iters")?;
        let times = sample["times"].as_array().ok_or("sample.json has no times")?;
        let per_iteration: Vec<f64> = iterations
            .iter()
            .zip(times)
            .filter_map(|(count, nanos)| Some(nanos.as_f64()? / count.as_f64()? / 1e9))
            .collect();
        let text = |key: &str| benchmark[key].as_str().unwrap_or("").to_owned();
        runs.push(CriterionRun {
            group: text("group_id"),
            function: text("function_id"),
            value: text("value_str"),
            seconds_per_iteration: Summary::of(&per_iteration),
            elements: benchmark["throughput"]["Elements"].as_f64(),
        });
    }
    Ok(())
}

fn criterion_table(directory: &Path) -> Result<(), BoxError> {
    let mut runs = Vec::new();
    criterion_runs(directory, &mut runs)?;
    runs.sort_by(|a, b| (&a.group, &a.value, &a.function).cmp(&(&b.group, &b.value, &b.function)));
    println!("| benchmark | time per iteration, median (min–max) | throughput at the median | baseline | baseline time / rollcall time |");
    println!("|---|---|---|---|---|");
    for run in runs.iter().filter(|run| run.function.starts_with("rollcall")) {
        let suffix = run.function.trim_start_matches("rollcall");
        let candidates = [
            format!("naive{suffix}"),
            "naive".to_owned(),
            "naive-scan+fjall".to_owned(),
            "fsync-floor".to_owned(),
        ];
        let baseline = candidates.iter().find_map(|name| {
            runs.iter().find(|other| {
                other.group == run.group && other.value == run.value && &other.function == name
            })
        });
        let throughput = match run.elements {
            Some(elements) if elements > 0.0 => {
                human(elements / run.seconds_per_iteration.median, "ops/s")
            }
            _ => "—".to_owned(),
        };
        let (baseline_text, ratio) = match baseline {
            Some(base) => (
                format!("{}: {}", base.function, human_summary(base.seconds_per_iteration, "s")),
                format!(
                    "{:.2}",
                    base.seconds_per_iteration.median / run.seconds_per_iteration.median
                ),
            ),
            None => ("—".to_owned(), "—".to_owned()),
        };
        let id = if run.value.is_empty() {
            format!("{}/{}", run.group, run.function)
        } else {
            format!("{}/{}/{}", run.group, run.function, run.value)
        };
        println!(
            "| {id} | {} | {throughput} | {baseline_text} | {ratio} |",
            human_summary(run.seconds_per_iteration, "s")
        );
    }
    Ok(())
}

fn flag_values() -> Result<(String, std::collections::HashMap<String, String>), String> {
    let mut arguments = std::env::args().skip(1);
    let mode = arguments.next().ok_or("usage: rollcall-compare run|table ...")?;
    let mut flags = std::collections::HashMap::new();
    while let Some(flag) = arguments.next() {
        // The one flag without a value.
        if flag == "--tls" {
            flags.insert(flag, String::new());
            continue;
        }
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        flags.insert(flag, value);
    }
    Ok((mode, flags))
}

fn number(
    flags: &std::collections::HashMap<String, String>,
    flag: &str,
    default: usize,
) -> Result<usize, String> {
    flags.get(flag).map_or(Ok(default), |value| value.parse().map_err(|_| format!("bad {flag}")))
}

fn main() -> Result<(), BoxError> {
    let (mode, flags) = flag_values()?;
    match mode.as_str() {
        "run" => {
            let options = RunOptions {
                daemon: flags.get("--daemon").ok_or("--daemon PATH is required")?.into(),
                json: flags.get("--json").ok_or("--json OUT is required")?.into(),
                size: number(&flags, "--size", 10_000)?,
                ops: number(&flags, "--ops", 1_000)?,
                repeats: number(&flags, "--repeats", 5)?,
                only: match flags.get("--only") {
                    Some(names) => names.split(',').map(str::to_owned).collect(),
                    None if flags.contains_key("--tls") => {
                        TLS_WORKLOADS.iter().map(|name| (*name).to_owned()).collect()
                    }
                    None => Vec::new(),
                },
            };
            if options.size % 10 != 0 || options.ops > options.size || options.ops == 0 {
                return Err("--size must be a multiple of 10 and --ops within 1..=size".into());
            }
            run(&options)
        }
        "table" => {
            let extras: Vec<&Path> = ["--net", "--herd"]
                .iter()
                .filter_map(|flag| flags.get(*flag))
                .map(Path::new)
                .collect();
            table(
                Path::new(flags.get("--rollcall").ok_or("--rollcall A.json is required")?),
                flags.get("--buildbot").map(Path::new),
                &extras,
            )
        }
        "serve" => {
            // For profiling the daemon by hand: a daemon holding --size masters, until
            // standard input closes.
            let binary = PathBuf::from(flags.get("--daemon").ok_or("--daemon PATH is required")?);
            let masters = number(&flags, "--size", 10_000)?;
            let settings = DaemonOptions { workers: 0, masters, ..DaemonOptions::default() };
            let daemon = daemon::start(&binary, &settings)?;
            println!(
                "pid {} http {} workers {}",
                daemon.pid(),
                daemon.http_address,
                daemon.worker_address
            );
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
            Ok(())
        }
        "criterion" => criterion_table(Path::new(
            flags.get("--dir").map_or("target/criterion", String::as_str),
        )),
        other => Err(format!("unknown mode {other}: use run, table or criterion").into()),
    }
}
