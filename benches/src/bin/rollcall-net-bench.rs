//! Loopback throughput of the real daemon, beside a plain async-net baseline measured in
//! the same run.
//!
//! Usage: `rollcall-net-bench --daemon PATH [--seconds S] [--clients C] [--repeats R]
//! [--sessions N,N,...] [--workloads all|heartbeats|attach] [--tls] [--messagepack]
//! [--json OUT]`
//!
//! Starts the daemon binary at PATH on a temporary data directory with 1,000 configured
//! workers, then runs R rounds (default 3) of S seconds (default 4) per workload, the
//! workloads interleaved round by round so that any drift of the machine touches each:
//! - attach: C concurrent clients, each looping connect, Hello, Welcome + builder list,
//!   ack, close, with distinct worker names;
//! - baseline: the same C clients against an in-process async-net server that answers one
//!   request frame with one reply frame (a connect, one round trip, close: the machine's
//!   ceiling for this pattern);
//! - heartbeats: C master sessions (or each count of `--sessions` in turn), each looping a
//!   durable masterActive: a session sends its next heartbeat only once the previous one
//!   is acknowledged, and the daemon acknowledges only after the fsync of the batch that
//!   holds it (group commit: one fsync per batch of inputs).
//!
//! `--messagepack` follows each heartbeat measurement with the same one from as many other
//! master sessions speaking MessagePack (docs/protocol.md), and prints its rate beside
//! bincode's of the same rounds.
//!
//! `--workloads heartbeats` skips attach and its baseline; `--workloads attach` skips the
//! heartbeats. Prints each workload's median (min–max) over the rounds and the
//! attach/baseline ratio of medians, and for heartbeats the daemon's commits per second,
//! heartbeats and time per commit (from its `/metrics`) and the CPU time per heartbeat of
//! the daemon and of this client (from `/proc`); `--json` also writes them, and for attach
//! the CPU time per attach of the daemon and of this client (not printed, so that the
//! printed lines stay as they were).
//!
//! `--cluster` runs the daemon as the leader of a cluster on a durable throw-away
//! PostgreSQL 15 (fsync on), with a second node standing by, and the heartbeat workload
//! through the leader: every batch is then one fenced transaction on PostgreSQL instead of
//! a fjall commit. While heartbeats run, the standby's lag is sampled every 100 ms (the
//! leader's `applied_seq` less the standby's, from their `/api/v2/cluster`) and printed
//! beside each round. Compare with a run without `--cluster` (fjall) in the same session.
//!
//! `--tls` starts a second daemon, the same but with `[tls]` (certificates made for this
//! run by `rollcall-test-pki`), and adds three attach workloads to every round, after the
//! ones above, all with the same client code (`rollcall_benches::attach`, which reads back
//! the handshake each connection took):
//! - attach_plain: the attach cycle against the plain daemon;
//! - attach_tls_resumed: against the TLS daemon, each client task with its own `ClientTls`
//!   kept across its connections (as a worker process keeps one): each connection resumes
//!   the session of that client's previous one from its ticket (one `ClientTls` shared by
//!   all C clients would not do: rustls keeps at most 8 tickets per server name, and with
//!   32 clients about half the connections found none);
//! - attach_tls_full: against the TLS daemon, each connection with a `ClientTls` that has
//!   never connected (made before the round, untimed): a full handshake every time.
//!
//! and prints each beside attach_plain with the TLS/plain ratio of medians, the CPU time
//! per attach of the daemon and of this client (from `/proc`), and the count of full and
//! resumed handshakes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_benches::daemon::{self, BoxError, DaemonOptions};
use rollcall_benches::fixture::{worker_name, WORKER_PASSWORD};
use rollcall_benches::stats::{human_summary, Summary};
use rollcall_benches::tls::{Certificates, FreshClients, HandshakeCounts};
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{MasterClient, Session};
use rollcall_io::codec::Encoding;
use rollcall_io::credentials::Token;
use rollcall_io::tls::ClientTls;
use rollcall_io::wire::{ClientMessage, Role, ServerMessage};
use serde_json::json;

const WORKERS: usize = 1_000;

struct Options {
    daemon: PathBuf,
    seconds: u64,
    clients: usize,
    repeats: usize,
    /// Master session counts for the heartbeat workload, each measured in every round.
    sessions: Vec<usize>,
    /// Attach and its baseline run.
    attach: bool,
    /// The heartbeat workload runs.
    heartbeats: bool,
    /// The attach workloads over TLS run too, against a second daemon with `[tls]`.
    tls: bool,
    /// The daemon is a cluster leader on PostgreSQL, with a standby (heartbeats only).
    cluster: bool,
    /// Each heartbeat measurement is followed by the same in MessagePack sessions.
    messagepack: bool,
    json: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        daemon: PathBuf::new(),
        seconds: 4,
        clients: 32,
        repeats: 3,
        sessions: Vec::new(),
        attach: true,
        heartbeats: true,
        tls: false,
        cluster: false,
        messagepack: false,
        json: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        if flag == "--tls" {
            options.tls = true;
            continue;
        }
        if flag == "--cluster" {
            options.cluster = true;
            continue;
        }
        if flag == "--messagepack" {
            options.messagepack = true;
            continue;
        }
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--daemon" => options.daemon = value.into(),
            "--seconds" => options.seconds = value.parse().map_err(|_| "bad --seconds")?,
            "--clients" => options.clients = value.parse().map_err(|_| "bad --clients")?,
            "--repeats" => options.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--sessions" => {
                options.sessions = value
                    .split(',')
                    .map(|count| count.parse().map_err(|_| "bad --sessions"))
                    .collect::<Result<_, _>>()?;
            }
            "--workloads" => {
                (options.attach, options.heartbeats) = match value.as_str() {
                    "all" => (true, true),
                    "heartbeats" => (false, true),
                    "attach" => (true, false),
                    _ => return Err("--workloads is all, heartbeats or attach".into()),
                };
            }
            "--json" => options.json = Some(value.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.daemon.as_os_str().is_empty() {
        return Err("--daemon PATH is required".into());
    }
    if options.sessions.is_empty() {
        options.sessions.push(options.clients);
    }
    if options.sessions.contains(&0) {
        return Err("--sessions counts must be at least 1".into());
    }
    if options.tls && !options.attach {
        return Err("--tls measures attach: not with --workloads heartbeats".into());
    }
    if options.messagepack && !options.heartbeats {
        return Err("--messagepack measures heartbeats: not with --workloads attach".into());
    }
    if options.cluster && (options.attach || options.tls) {
        return Err("--cluster measures heartbeats: use it with --workloads heartbeats".into());
    }
    Ok(options)
}

/// Runs `clients` copies of `cycle` for `seconds`, counting completed cycles per second.
fn measure<F, Fut>(clients: usize, seconds: u64, cycle: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cycle = Arc::new(cycle);
    let started = Instant::now();
    smol::block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|client| {
                let (done, stop, cycle) =
                    (Arc::clone(&done), Arc::clone(&stop), Arc::clone(&cycle));
                smol::spawn(async move {
                    let mut round = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(error) = cycle(client, round).await {
                            eprintln!("client {client}: {error}");
                            return;
                        }
                        round += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        smol::Timer::after(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await;
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The worker client `client` attaches as in its `round`: distinct names per client;
/// rounds walk through that client's share of the roster.
fn worker_of(client: usize, round: u64) -> usize {
    let per_client = (WORKERS / 64).max(1) as u64;
    (client as u64 * per_client + round % per_client) as usize % WORKERS
}

async fn attach_cycle(address: SocketAddr, client: usize, round: u64) -> Result<(), BoxError> {
    let worker = worker_of(client, round);
    let role = Role::Worker { name: worker_name(worker), password: Password::new(WORKER_PASSWORD) };
    let mut session = Session::connect(&address.to_string(), role).await?;
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::Welcome) => {}
        other => return Err(format!("expected a welcome, got {other:?}").into()),
    }
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::BuilderList { .. }) => {}
        other => return Err(format!("expected builders, got {other:?}").into()),
    }
    session.send(&ClientMessage::BuilderListAck).await?;
    Ok(())
}

/// The attach cycle of the `--tls` workloads, plain or over TLS: the same connect, Hello,
/// Welcome, builder list, ack and close, through `rollcall_benches::attach`, counting the
/// handshake each connection took.
async fn attach_cycle_with(
    address: &str,
    client: usize,
    round: u64,
    tls: Option<&ClientTls>,
    counts: &HandshakeCounts,
) -> Result<(), BoxError> {
    let mut session = rollcall_benches::attach::attach(address, worker_of(client, round), tls)
        .await
        .map_err(|error| format!("attach over {}: {error}", tls.map_or("TCP", |_| "TLS")))?;
    counts.count(session.handshake);
    session.ack().await?;
    Ok(())
}

/// The `--tls` workloads: the TLS daemon, its clients, and what each round measured.
struct TlsMode {
    _certificates: Certificates,
    daemon: daemon::Daemon,
    /// One config per client task, kept across its connections, as a worker keeps its own:
    /// each connection resumes the session of the one before it.
    own: Arc<Vec<ClientTls>>,
    /// A config that never connected for each connection: full handshakes.
    fresh: Arc<FreshClients>,
    /// How many fresh configs to keep on each client's shelf before a round.
    stock_per_client: usize,
    /// Per workload (plain, resumed, full): the rate of each round, the CPU time per attach
    /// of each round (daemon, client), and the handshakes counted.
    rates: [Vec<f64>; 3],
    cpu_us: [Vec<(f64, f64)>; 3],
    counts: [Arc<HandshakeCounts>; 3],
}

const PLAIN: usize = 0;
const RESUMED: usize = 1;
const FULL: usize = 2;

/// A rate measured with the CPU time the daemon (`pid`) and this process used meanwhile,
/// per completed cycle, in µs.
fn measure_with_cpu<F>(pid: &str, measure: F) -> Result<(f64, (f64, f64)), BoxError>
where
    F: FnOnce() -> f64,
{
    let (daemon_before, client_before) = (cpu_seconds(pid)?, cpu_seconds("self")?);
    let started = Instant::now();
    let rate = measure();
    let cycles = rate * started.elapsed().as_secs_f64();
    let (daemon_after, client_after) = (cpu_seconds(pid)?, cpu_seconds("self")?);
    let per_cycle = |seconds: f64| if cycles > 0.0 { seconds * 1e6 / cycles } else { 0.0 };
    Ok((rate, (per_cycle(daemon_after - daemon_before), per_cycle(client_after - client_before))))
}

impl TlsMode {
    fn start(
        binary: &std::path::Path,
        settings: &DaemonOptions,
        clients: usize,
        seconds: u64,
    ) -> Result<TlsMode, BoxError> {
        let certificates = Certificates::new()?;
        let settings = DaemonOptions { tls: Some(certificates.daemon()), ..settings.clone() };
        let daemon = daemon::start(binary, &settings)?;
        // The default size of the session cache, as `rollcall worker` has it.
        let own = (0..clients)
            .map(|_| rollcall_benches::tls::client(certificates.ca(), 256))
            .collect::<Result<Vec<_>, _>>()?;
        let fresh = Arc::new(FreshClients::new(certificates.ca(), clients));
        Ok(TlsMode {
            _certificates: certificates,
            daemon,
            own: Arc::new(own),
            fresh,
            // A first guess of 100 full handshakes per second per client; each round
            // keeps half again what the clients used in the one before.
            stock_per_client: 100 * seconds as usize,
            rates: [Vec::new(), Vec::new(), Vec::new()],
            cpu_us: [Vec::new(), Vec::new(), Vec::new()],
            counts: [Arc::default(), Arc::default(), Arc::default()],
        })
    }

    /// One round of the three workloads, each `seconds` long with `clients` clients,
    /// against `plain` and this mode's TLS daemon.
    fn round(
        &mut self,
        plain: &daemon::Daemon,
        clients: usize,
        seconds: u64,
    ) -> Result<[f64; 3], BoxError> {
        let (plain_pid, tls_pid) = (plain.pid().to_string(), self.daemon.pid().to_string());
        let plain_address = plain.worker_address.to_string();
        let tls_address = self.daemon.worker_address.to_string();

        let (address, counts) = (plain_address, Arc::clone(&self.counts[PLAIN]));
        let plain = measure_with_cpu(&plain_pid, || {
            measure(clients, seconds, move |client, round| {
                let (address, counts) = (address.clone(), Arc::clone(&counts));
                async move { attach_cycle_with(&address, client, round, None, &counts).await }
            })
        })?;

        let (address, counts, own) =
            (tls_address.clone(), Arc::clone(&self.counts[RESUMED]), Arc::clone(&self.own));
        let resumed = measure_with_cpu(&tls_pid, || {
            measure(clients, seconds, move |client, round| {
                let (address, counts, own) =
                    (address.clone(), Arc::clone(&counts), Arc::clone(&own));
                async move {
                    let tls = own.get(client).ok_or("no config for this client")?;
                    attach_cycle_with(&address, client, round, Some(tls), &counts).await
                }
            })
        })?;

        self.fresh.stock(self.stock_per_client)?;
        let full_before = self.counts[FULL].get().1;
        let (address, counts, fresh) =
            (tls_address, Arc::clone(&self.counts[FULL]), Arc::clone(&self.fresh));
        let full = measure_with_cpu(&tls_pid, || {
            measure(clients, seconds, move |client, round| {
                let (address, counts, fresh) =
                    (address.clone(), Arc::clone(&counts), Arc::clone(&fresh));
                async move {
                    let tls = fresh.take(client)?;
                    attach_cycle_with(&address, client, round, Some(&tls), &counts).await
                }
            })
        })?;
        // Half again the mean use per client; a shelf that still runs out is counted
        // (`FreshClients::made_inline`) and reported.
        let used = usize::try_from(self.counts[FULL].get().1 - full_before).unwrap_or(usize::MAX);
        self.stock_per_client = self.stock_per_client.max(used * 3 / 2 / clients.max(1));

        let measured = [plain, resumed, full];
        for (index, (rate, cpu)) in measured.into_iter().enumerate() {
            self.rates[index].push(rate);
            self.cpu_us[index].push(cpu);
        }
        Ok(measured.map(|(rate, _)| rate))
    }

    fn cpu_summary(&self, index: usize) -> (Summary, Summary) {
        let samples = &self.cpu_us[index];
        (
            Summary::of(&samples.iter().map(|cpu| cpu.0).collect::<Vec<_>>()),
            Summary::of(&samples.iter().map(|cpu| cpu.1).collect::<Vec<_>>()),
        )
    }

    /// Prints the three workloads and adds them to `results`.
    fn report(&self, clients: usize, results: &mut serde_json::Map<String, serde_json::Value>) {
        let plain = Summary::of(&self.rates[PLAIN]);
        let (daemon_cpu, client_cpu) = self.cpu_summary(PLAIN);
        println!(
            "attach, plain, with the TLS rows' client code ({clients} clients): {}; CPU per attach {:.0} µs daemon, {:.0} µs client",
            human_summary(plain, "ops/s"),
            daemon_cpu.median,
            client_cpu.median
        );
        let mut plain_json = plain.to_json("ops/s");
        plain_json["handshakes"] = handshakes_json(&self.counts[PLAIN]);
        plain_json["daemon_cpu_per_attach"] = daemon_cpu.to_json("µs");
        plain_json["client_cpu_per_attach"] = client_cpu.to_json("µs");
        results.insert("attach_plain".into(), plain_json);
        let rows = [
            (RESUMED, "attach_tls_resumed", "resumed sessions (a ClientTls per client, kept)"),
            (
                FULL,
                "attach_tls_full",
                "full handshakes (a ClientTls that never connected for each connection)",
            ),
        ];
        for (index, name, what) in rows {
            let summary = Summary::of(&self.rates[index]);
            let (daemon_cpu, client_cpu) = self.cpu_summary(index);
            println!(
                "attach over TLS, {what}: {}  ({:.2} of plain; CPU per attach {:.0} µs daemon, {:.0} µs client; handshakes: {})",
                human_summary(summary, "ops/s"),
                summary.median / plain.median,
                daemon_cpu.median,
                client_cpu.median,
                self.counts[index].describe()
            );
            let mut entry = summary.to_json("ops/s");
            entry["baseline"] = plain.to_json("ops/s");
            entry["baseline_name"] = json!("attach_plain, same client code, same rounds");
            entry["ratio_of_medians"] = json!(summary.median / plain.median);
            entry["handshakes"] = handshakes_json(&self.counts[index]);
            entry["daemon_cpu_per_attach"] = daemon_cpu.to_json("µs");
            entry["client_cpu_per_attach"] = client_cpu.to_json("µs");
            results.insert(name.into(), entry);
        }
        let inline = self.fresh.made_inline();
        if inline > 0 {
            println!(
                "  (attach_tls_full: {inline} fresh ClientTls were made inside the timed loop, about 11 µs of client CPU each)"
            );
        }
    }
}

fn handshakes_json(counts: &HandshakeCounts) -> serde_json::Value {
    let (plain, full, resumed) = counts.get();
    json!({ "plain": plain, "full": full, "resumed": resumed })
}

/// The baseline server: read one frame, answer with one frame of the size of a Welcome
/// and a builder list, read the ack, close.
async fn serve_baseline(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        smol::spawn(async move {
            let _ = stream.set_nodelay(true);
            let mut prefix = [0_u8; 4];
            if stream.read_exact(&mut prefix).await.is_err() {
                return;
            }
            let mut body = vec![0_u8; u32::from_be_bytes(prefix) as usize];
            if stream.read_exact(&mut body).await.is_err() {
                return;
            }
            let reply = [0_u8; 24];
            let _ = stream.write_all(&reply).await;
            let mut ack = [0_u8; 6];
            let _ = stream.read_exact(&mut ack).await;
        })
        .detach();
    }
}

async fn baseline_cycle(address: SocketAddr) -> Result<(), BoxError> {
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let request =
        [0_u8, 0, 0, 20, 1, 0, 2, 119, 49, 2, 112, 119, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    stream.write_all(&request).await?;
    let mut reply = [0_u8; 24];
    stream.read_exact(&mut reply).await?;
    stream.write_all(&[0_u8, 0, 0, 2, 1, 3]).await?;
    Ok(())
}

/// The daemon's committed batches, row changes and seconds spent committing so far, from
/// its `/metrics`.
fn storage_counters(http: SocketAddr) -> Result<(f64, f64, f64), BoxError> {
    let (status, body) = rollcall_benches::http::get(http, "/metrics")?;
    if status != 200 {
        return Err(format!("/metrics answered {status}").into());
    }
    let text = String::from_utf8(body)?;
    let counter = |name: &str| -> Result<f64, BoxError> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .ok_or_else(|| format!("/metrics has no {name}").into())
    };
    Ok((
        counter("rollcall_storage_batches_total")?,
        counter("rollcall_storage_changes_total")?,
        counter("rollcall_storage_fsync_seconds_sum")?,
    ))
}

/// CPU time a process has used so far, user and system, from `/proc/PID/stat` (whose
/// times are in units of 1/100 s on Linux, whatever the kernel's own tick).
fn cpu_seconds(pid: &str) -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name in parentheses may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').ok_or("no command name in /proc/PID/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5), counted from the state (field 3).
    let ticks = |index: usize| -> Result<f64, BoxError> {
        Ok(fields.get(index).ok_or("a short /proc/PID/stat")?.parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// One heartbeat measurement: the rate, and what the daemon committed meanwhile.
struct HeartbeatSample {
    heartbeats_per_second: f64,
    commits_per_second: f64,
    changes_per_commit: f64,
    /// Mean time of one durable commit (fjall's batch commit with its fsync).
    commit_ms: f64,
    /// CPU time per heartbeat, all threads, of the daemon and of this client process.
    daemon_cpu_us: f64,
    client_cpu_us: f64,
}

/// Heartbeats from the first `count` of `sessions`, the session at index `i` being master
/// `remote_master_name(first_name + i)`.
fn measure_heartbeats(
    sessions: &Arc<Vec<Arc<smol::lock::Mutex<MasterClient>>>>,
    first_name: usize,
    count: usize,
    seconds: u64,
    daemon: &daemon::Daemon,
) -> Result<HeartbeatSample, BoxError> {
    let (http, daemon_pid) = (daemon.http_address, daemon.pid().to_string());
    let (batches_before, changes_before, commit_seconds_before) = storage_counters(http)?;
    let (daemon_cpu_before, client_cpu_before) = (cpu_seconds(&daemon_pid)?, cpu_seconds("self")?);
    let started = Instant::now();
    let sessions = Arc::clone(sessions);
    let heartbeats_per_second = measure(count, seconds, move |client, _| {
        let sessions = Arc::clone(&sessions);
        async move {
            let name = daemon::remote_master_name(first_name + client);
            sessions[client].lock().await.master_active(&name).await?;
            Ok(())
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (daemon_cpu_after, client_cpu_after) = (cpu_seconds(&daemon_pid)?, cpu_seconds("self")?);
    let (batches_after, changes_after, commit_seconds_after) = storage_counters(http)?;
    let per_heartbeat_us = |seconds: f64| seconds * 1e6 / (heartbeats_per_second * elapsed);
    let batches = batches_after - batches_before;
    let per_batch = |total: f64| if batches > 0.0 { total / batches } else { 0.0 };
    Ok(HeartbeatSample {
        heartbeats_per_second,
        commits_per_second: batches / elapsed,
        changes_per_commit: per_batch(changes_after - changes_before),
        commit_ms: per_batch(commit_seconds_after - commit_seconds_before) * 1e3,
        daemon_cpu_us: per_heartbeat_us(daemon_cpu_after - daemon_cpu_before),
        client_cpu_us: per_heartbeat_us(client_cpu_after - client_cpu_before),
    })
}

/// One quantity of the heartbeat samples of the rounds, summarised.
fn summarise(samples: &[HeartbeatSample], pick: fn(&HeartbeatSample) -> f64) -> Summary {
    Summary::of(&samples.iter().map(pick).collect::<Vec<_>>())
}

fn main() -> Result<(), BoxError> {
    let options = options()?;
    let remote_masters =
        options.sessions.iter().copied().max().unwrap_or(options.clients).max(options.clients);
    // The MessagePack sessions are masters of their own, after the bincode ones.
    let remote_masters = if options.messagepack { 2 * remote_masters } else { remote_masters };
    let settings = DaemonOptions { workers: WORKERS, remote_masters, ..DaemonOptions::default() };
    let (daemon, standby) = if options.cluster {
        let (leader, standby) = Standby::start(&options.daemon, &settings)?;
        (leader, Some(standby))
    } else {
        (daemon::start(&options.daemon, &settings)?, None)
    };
    let address = daemon.worker_address;
    let (seconds, clients) = (options.seconds, options.clients);

    let baseline_listener = smol::block_on(TcpListener::bind("127.0.0.1:0"))?;
    let baseline_address = baseline_listener.local_addr()?;
    smol::spawn(serve_baseline(baseline_listener)).detach();

    let mut tls = if options.tls {
        Some(TlsMode::start(&options.daemon, &settings, clients, seconds)?)
    } else {
        None
    };

    // Enough sessions for the largest count; a measurement of n sessions uses the first n.
    let most_sessions = if options.heartbeats {
        options.sessions.iter().copied().max().unwrap_or(clients)
    } else {
        0
    };
    let connect_sessions = |encoding: Encoding, first_name: usize| {
        (0..most_sessions)
            .map(|client| {
                smol::block_on(async {
                    let name = daemon::remote_master_name(first_name + client);
                    let token = Token::new(daemon::MASTER_TOKEN);
                    let address = address.to_string();
                    let mut session =
                        MasterClient::connect_encoded(&address, &name, &token, None, encoding)
                            .await?;
                    session.master_active(&name).await?;
                    Ok::<_, BoxError>(Arc::new(smol::lock::Mutex::new(session)))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Arc::new)
    };
    let sessions = connect_sessions(Encoding::Bincode, 0)?;
    let messagepack_sessions = if options.messagepack {
        connect_sessions(Encoding::MessagePack, most_sessions)?
    } else {
        Arc::new(Vec::new())
    };

    let (mut baseline, mut attach, mut attach_cpu) = (Vec::new(), Vec::new(), Vec::new());
    let daemon_pid = daemon.pid().to_string();
    // None without the heartbeat workload, so that nothing is summarised for it.
    let heartbeat_counts = if options.heartbeats { options.sessions.as_slice() } else { &[] };
    let mut heartbeat: Vec<Vec<HeartbeatSample>> =
        heartbeat_counts.iter().map(|_| Vec::new()).collect();
    let mut heartbeat_messagepack: Vec<Vec<HeartbeatSample>> =
        heartbeat_counts.iter().map(|_| Vec::new()).collect();
    let mut lags: Vec<Summary> = Vec::new();
    for round in 0..options.repeats {
        if options.attach {
            baseline.push(measure(clients, seconds, move |_, _| baseline_cycle(baseline_address)));
            let (rate, cpu) = measure_with_cpu(&daemon_pid, || {
                measure(clients, seconds, move |client, round| attach_cycle(address, client, round))
            })?;
            attach.push(rate);
            attach_cpu.push(cpu);
            eprintln!(
                "  round {round}: baseline {:.0}/s, attach {:.0}/s",
                baseline[round], attach[round]
            );
        }
        if let Some(tls) = &mut tls {
            let [plain, resumed, full] = tls.round(&daemon, clients, seconds)?;
            eprintln!(
                "  round {round}: attach_plain {plain:.0}/s, attach_tls_resumed {resumed:.0}/s, attach_tls_full {full:.0}/s"
            );
        }
        if !options.heartbeats {
            continue;
        }
        for (index, &count) in options.sessions.iter().enumerate() {
            let lag = standby.as_ref().map(|standby| standby.sample_lag(daemon.http_address));
            let sample = measure_heartbeats(&sessions, 0, count, seconds, &daemon)?;
            if let Some(lag) = lag {
                let lag = lag.finish()?;
                eprintln!(
                    "  round {round}: the standby's lag, {count} sessions: median {:.0} entries, max {:.0} ({} samples every 100 ms)",
                    lag.median, lag.max, lag.repeats
                );
                lags.push(lag);
            }
            eprintln!(
                "  round {round}: heartbeats, {count} sessions: {:.0}/s ({:.0} commits/s, {:.1} changes and {:.2} ms per commit; CPU per heartbeat {:.1} µs daemon, {:.1} µs client)",
                sample.heartbeats_per_second,
                sample.commits_per_second,
                sample.changes_per_commit,
                sample.commit_ms,
                sample.daemon_cpu_us,
                sample.client_cpu_us
            );
            heartbeat[index].push(sample);
            if options.messagepack {
                let sample = measure_heartbeats(
                    &messagepack_sessions,
                    most_sessions,
                    count,
                    seconds,
                    &daemon,
                )?;
                eprintln!(
                    "  round {round}: heartbeats in MessagePack, {count} sessions: {:.0}/s (CPU per heartbeat {:.1} µs daemon, {:.1} µs client)",
                    sample.heartbeats_per_second, sample.daemon_cpu_us, sample.client_cpu_us
                );
                heartbeat_messagepack[index].push(sample);
            }
        }
    }
    let mut results = serde_json::Map::new();
    if options.attach {
        let (baseline, attach) = (Summary::of(&baseline), Summary::of(&attach));
        println!(
            "plain async-net baseline (connect, 1 round trip, close), {clients} clients: {}",
            human_summary(baseline, "ops/s")
        );
        println!(
            "attach through the daemon (connect, Hello, welcome, builders, ack, close): {}  ({:.2} of the baseline)",
            human_summary(attach, "ops/s"),
            attach.median / baseline.median
        );
        let mut attach_json = attach.to_json("ops/s");
        attach_json["baseline"] = baseline.to_json("ops/s");
        attach_json["baseline_name"] = json!("plain async-net connect, 1 round trip, close");
        // In the JSON only, so the printed lines stay as they were.
        let cpu = |pick: fn(&(f64, f64)) -> f64| {
            Summary::of(&attach_cpu.iter().map(pick).collect::<Vec<_>>()).to_json("µs")
        };
        attach_json["daemon_cpu_per_attach"] = cpu(|sample| sample.0);
        attach_json["client_cpu_per_attach"] = cpu(|sample| sample.1);
        results.insert("attach_tcp".into(), attach_json);
    }
    if let Some(tls) = &tls {
        tls.report(clients, &mut results);
    }
    let mut sweep = Vec::new();
    for (samples, &count) in heartbeat.iter().zip(&options.sessions) {
        let rate = summarise(samples, |s| s.heartbeats_per_second);
        let commits = summarise(samples, |s| s.commits_per_second);
        let per_commit = summarise(samples, |s| s.changes_per_commit);
        let commit_ms = summarise(samples, |s| s.commit_ms);
        let daemon_cpu = summarise(samples, |s| s.daemon_cpu_us);
        let client_cpu = summarise(samples, |s| s.client_cpu_us);
        println!(
            "durable heartbeats through the daemon ({count} master sessions): {}; {:.0} commits/s, {:.1} changes and {:.2} ms per commit; CPU per heartbeat {:.1} µs daemon, {:.1} µs client",
            human_summary(rate, "ops/s"),
            commits.median,
            per_commit.median,
            commit_ms.median,
            daemon_cpu.median,
            client_cpu.median
        );
        let mut entry = rate.to_json("ops/s");
        entry["sessions"] = json!(count);
        entry["commits_per_second"] = commits.to_json("commits/s");
        entry["changes_per_commit"] = per_commit.to_json("changes");
        entry["commit_ms"] = commit_ms.to_json("ms");
        entry["daemon_cpu_per_heartbeat"] = daemon_cpu.to_json("µs");
        entry["client_cpu_per_heartbeat"] = client_cpu.to_json("µs");
        if count == clients || !results.contains_key("heartbeat_durable_tcp") {
            results.insert("heartbeat_durable_tcp".into(), entry.clone());
        }
        sweep.push(entry);
    }
    if options.heartbeats {
        results.insert("heartbeat_durable_tcp_sessions".into(), json!(sweep));
    }
    if options.messagepack {
        let mut sweep = Vec::new();
        for ((samples, bincode), &count) in
            heartbeat_messagepack.iter().zip(&heartbeat).zip(&options.sessions)
        {
            let rate = summarise(samples, |s| s.heartbeats_per_second);
            let bincode_rate = summarise(bincode, |s| s.heartbeats_per_second);
            let daemon_cpu = summarise(samples, |s| s.daemon_cpu_us);
            let bincode_daemon_cpu = summarise(bincode, |s| s.daemon_cpu_us);
            let client_cpu = summarise(samples, |s| s.client_cpu_us);
            println!(
                "durable heartbeats in MessagePack ({count} master sessions): {}  ({:.2} of bincode's in the same rounds); CPU per heartbeat {:.1} µs daemon (bincode {:.1}), {:.1} µs client",
                human_summary(rate, "ops/s"),
                rate.median / bincode_rate.median,
                daemon_cpu.median,
                bincode_daemon_cpu.median,
                client_cpu.median
            );
            let mut entry = rate.to_json("ops/s");
            entry["sessions"] = json!(count);
            entry["bincode"] = bincode_rate.to_json("ops/s");
            entry["daemon_cpu_per_heartbeat"] = daemon_cpu.to_json("µs");
            entry["bincode_daemon_cpu_per_heartbeat"] = bincode_daemon_cpu.to_json("µs");
            entry["client_cpu_per_heartbeat"] = client_cpu.to_json("µs");
            sweep.push(entry);
        }
        results.insert("heartbeat_durable_tcp_messagepack_sessions".into(), json!(sweep));
    }
    if !lags.is_empty() {
        let medians = Summary::of(&lags.iter().map(|lag| lag.median).collect::<Vec<_>>());
        let worst = lags.iter().map(|lag| lag.max).fold(0.0, f64::max);
        println!(
            "standby lag under that load (leader's applied_seq less the standby's, sampled every 100 ms): median of the rounds' medians {:.0} entries ({:.0}-{:.0}), the worst sample {worst:.0}",
            medians.median, medians.min, medians.max
        );
        let mut entry = medians.to_json("entries");
        entry["worst_sample"] = json!(worst);
        results.insert("standby_lag".into(), entry);
    }
    if let Some(path) = &options.json {
        let report = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "clients": clients,
            "seconds": seconds,
            "results": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    drop(tls);
    drop(daemon);
    drop(standby);
    Ok(())
}

/// A cluster under test: the durable PostgreSQL, and the node that stands by while the
/// daemon under test leads.
struct Standby {
    daemon: daemon::Daemon,
    _postgres: rollcall_test_postgres::Postgres,
}

/// Samples the standby's lag until [`LagSampler::finish`].
struct LagSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<Vec<f64>, String>>,
}

impl LagSampler {
    fn finish(self) -> Result<Summary, BoxError> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().map_err(|_| "the lag sampler panicked")??;
        if samples.is_empty() {
            return Err("no lag sample".into());
        }
        Ok(Summary::of(&samples))
    }
}

impl Standby {
    /// A leader (node n1, returned to run the workloads against) and a standby (n2).
    fn start(
        binary: &std::path::Path,
        settings: &DaemonOptions,
    ) -> Result<(daemon::Daemon, Standby), BoxError> {
        let postgres = rollcall_test_postgres::Postgres::start_durable();
        let node = |name: &str| DaemonOptions {
            cluster: Some(daemon::DaemonCluster { postgres: postgres.url(), node: name.into() }),
            ..settings.clone()
        };
        let leader = daemon::start(binary, &node("n1"))?;
        wait_for_role(leader.http_address, "leader")?;
        let standby = daemon::start(binary, &node("n2"))?;
        wait_for_role(standby.http_address, "standby")?;
        Ok((leader, Standby { daemon: standby, _postgres: postgres }))
    }

    fn sample_lag(&self, leader: SocketAddr) -> LagSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let standby = self.daemon.http_address;
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let ahead = cluster_status(leader)?["applied_seq"].as_u64().unwrap_or(0);
                    let behind = cluster_status(standby)?["applied_seq"].as_u64().unwrap_or(0);
                    samples.push(ahead.saturating_sub(behind) as f64);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(samples)
            })
        };
        LagSampler { stop, thread }
    }
}

/// A node's entry of `/api/v2/cluster`.
fn cluster_status(http: SocketAddr) -> Result<serde_json::Value, String> {
    let (status, body) =
        rollcall_benches::http::get(http, "/api/v2/cluster").map_err(|error| error.to_string())?;
    if status != 200 {
        return Err(format!("/api/v2/cluster answered {status}"));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|error| error.to_string())?;
    Ok(body["cluster"][0].clone())
}

/// Waits (at most a minute) until the node at `http` says it has `role`.
fn wait_for_role(http: SocketAddr, role: &str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster_status(http).map(|status| status["role"] == role) != Ok(true) {
        if Instant::now() > deadline {
            return Err(format!("the node at {http} never became {role}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
