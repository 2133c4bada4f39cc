//! A thundering herd of workers re-attaching at once, and the daemon's memory per idle
//! attached worker.
//!
//! Usage: `rollcall-herd --daemon PATH [--workers 10000] [--repeats 3] [--backlog 4096]
//! [--max-handshaking 100000] [--tls [--tls-clients per-worker|shared]] [--json OUT]`
//! (`--max-handshaking 1024` runs the herd under the daemon's default cap of connections
//! in handshake)
//!
//! For each repeat, a fresh daemon configured with `workers` workers is started; its
//! resident memory (`VmRSS` in `/proc/PID/status`) is read once it is idle; then all
//! `workers` clients, each a task of this process with its own socket, are released at the
//! same moment to connect, send their Hello, and read the Welcome and the builder list.
//! Measured: the time from the release to the last builder list (the herd), and the
//! daemon's `VmRSS` once every worker is attached and idle (the memory per worker is the
//! growth divided by `workers`). Baseline for the herd: the same clients against a plain
//! async-net server in this process that answers each connection's first frame with one
//! frame (the socket ceiling for the same pattern). Clients connect from 127.1.x.y, a
//! hundred per address (`rollcall_benches::source`), as a fleet comes from many hosts: the
//! daemon caps connections and handshakes per peer address.
//!
//! `--tls`: each repeat runs the herd twice, in the clear and over TLS (a daemon with
//! `[tls]`, certificates made for the run by `rollcall-test-pki`), in alternating order
//! from one repeat to the next, with the same client code for both
//! (`rollcall_benches::attach`, which reads back each connection's handshake). For each, a
//! fresh daemon; the herd's first attach (over TLS: full handshakes, each worker with its own
//! `ClientTls`, as each worker of a fleet is its own process); the memory per idle worker;
//! then every worker closes, and once the daemon counts no worker connected, the same
//! workers re-attach at once to the same daemon (over TLS: each resumes the session of its
//! first attach from the ticket in its own cache). The baseline herd runs once per repeat.
//! `--tls-clients shared` gives the whole herd one `ClientTls` instead, whose
//! `resumption_sessions` is the herd's size: rustls keeps at most 8 TLS 1.3 tickets per
//! server name in it, so almost none of the re-attaches can resume (the counts show it).
//!
//! Needs a file descriptor per client here and one per connection in the daemon: run it
//! under `bash -c 'ulimit -n 65536; rollcall-herd ...'` (benches/compare.sh does).
//! The daemon's configuration refuses more than 10,000 workers (io's
//! `config::validate_roster::MAX_NAMES_CONFIGURED`), so that is the largest herd here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_benches::attach::{attach_over, WorkerSession};
use rollcall_benches::daemon::{self, BoxError, DaemonOptions};
use rollcall_benches::source::{connect_from, source_of};
use rollcall_benches::stats::{human_summary, Summary};
use rollcall_benches::tls::{Certificates, HandshakeCounts};
use rollcall_io::tls::ClientTls;
use serde_json::json;

struct Options {
    daemon: PathBuf,
    workers: usize,
    repeats: usize,
    /// The listen backlog of both servers; 128 shows what std's fixed backlog costs.
    backlog: u32,
    /// `[limits] max_handshaking_connections` of the daemon; 1,024 is its default.
    max_handshaking: usize,
    /// The herd in the clear and over TLS, first attach and re-attach, alternated.
    tls: bool,
    /// Over TLS, one `ClientTls` for the whole herd instead of one per worker.
    shared_client: bool,
    json: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        daemon: PathBuf::new(),
        workers: 10_000,
        repeats: 3,
        backlog: 4096,
        max_handshaking: DaemonOptions::default().max_handshaking_connections,
        tls: false,
        shared_client: false,
        json: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        if flag == "--tls" {
            options.tls = true;
            continue;
        }
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--daemon" => options.daemon = value.into(),
            "--workers" => options.workers = value.parse().map_err(|_| "bad --workers")?,
            "--repeats" => options.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--backlog" => options.backlog = value.parse().map_err(|_| "bad --backlog")?,
            "--max-handshaking" => {
                options.max_handshaking = value.parse().map_err(|_| "bad --max-handshaking")?;
            }
            "--tls-clients" => {
                options.shared_client = match value.as_str() {
                    "per-worker" => false,
                    "shared" => true,
                    _ => return Err("--tls-clients is per-worker or shared".into()),
                };
            }
            "--json" => options.json = Some(value.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.daemon.as_os_str().is_empty() {
        return Err("--daemon PATH is required".into());
    }
    Ok(options)
}

/// One worker of the herd in the clear: connect, Hello, Welcome, builder list; the session
/// is kept open (idle) and returned.
async fn attach(address: SocketAddr, worker: usize) -> Result<WorkerSession, BoxError> {
    let stream = connect_from(source_of(worker), address).await?;
    attach_over(stream, &address.to_string(), worker, None).await
}

/// Every worker's session, or how many failed and the first error.
fn all_attached<T>(results: Vec<Result<T, BoxError>>) -> Result<Vec<T>, BoxError> {
    let workers = results.len();
    let failures = results.iter().filter(|result| result.is_err()).count();
    if let Some(Err(error)) = results.iter().find(|result| result.is_err()) {
        return Err(
            format!("{failures} of {workers} workers failed to attach, e.g.: {error}").into()
        );
    }
    Ok(results.into_iter().filter_map(Result::ok).collect())
}

/// The baseline's client: connect, one request frame, one reply frame; kept open.
async fn baseline_attach(address: SocketAddr, worker: usize) -> Result<TcpStream, BoxError> {
    let mut stream = connect_from(source_of(worker), address).await?;
    stream.set_nodelay(true)?;
    let mut frame = [1_u8; 24];
    frame[..4].copy_from_slice(&20_u32.to_be_bytes());
    stream.write_all(&frame).await?;
    let mut reply = [0_u8; 40];
    stream.read_exact(&mut reply).await?;
    Ok(stream)
}

/// The baseline's server, run as a child process of this program (`--baseline-server`) so
/// that, like the daemon, it has its own file descriptors: answer each connection's first
/// frame with one frame, then hold the connection open until the client goes. Prints its
/// address on standard output; exits when standard input closes.
fn baseline_server(backlog: u32) -> Result<(), BoxError> {
    // The daemon's backlog, so the baseline measures the sockets, not a smaller queue.
    let listener = rollcall_io::bind::listen("127.0.0.1:0".parse()?, backlog)?;
    println!("{}", listener.local_addr()?);
    std::thread::spawn(|| {
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        std::process::exit(0);
    });
    smol::block_on(async {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                smol::Timer::after(Duration::from_millis(10)).await;
                continue;
            };
            smol::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut frame = [0_u8; 24];
                if stream.read_exact(&mut frame).await.is_err() {
                    return;
                }
                let _ = stream.write_all(&[0_u8; 40]).await;
                let mut rest = [0_u8; 1];
                let _ = stream.read(&mut rest).await;
            })
            .detach();
        }
    })
}

/// Starts `baseline_server` in a child process; the child and its address.
fn start_baseline_server(backlog: u32) -> Result<(std::process::Child, SocketAddr), BoxError> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--baseline-server")
        .arg(backlog.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout from the baseline server")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    Ok((child, line.trim().parse()?))
}

/// Releases `count` tasks running `attach` at once; their results and the time from the
/// release until the last one finished.
fn herd<T, F, Fut>(count: usize, attach: F) -> (Vec<Result<T, BoxError>>, Duration)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, BoxError>> + Send + 'static,
{
    smol::block_on(async {
        let (release, released) = smol::channel::bounded::<()>(1);
        let tasks: Vec<_> = (0..count)
            .map(|index| {
                let released = released.clone();
                let attach = attach(index);
                smol::spawn(async move {
                    // Closed when the sender drops: every task wakes at the same moment.
                    let _ = released.recv().await;
                    attach.await
                })
            })
            .collect();
        // Let every task reach its wait before the release.
        smol::Timer::after(Duration::from_millis(200)).await;
        let started = Instant::now();
        drop(release);
        let mut results = Vec::with_capacity(count);
        for task in tasks {
            results.push(task.await);
        }
        (results, started.elapsed())
    })
}

/// The baseline herd against a fresh baseline server; its time.
fn baseline_herd(options: &Options) -> Result<Duration, BoxError> {
    let (mut server, baseline_address) = start_baseline_server(options.backlog)?;
    let (streams, elapsed) =
        herd(options.workers, move |worker| baseline_attach(baseline_address, worker));
    let failures = streams.iter().filter(|result| result.is_err()).count();
    if let Some(Err(error)) = streams.iter().find(|result| result.is_err()) {
        return Err(format!("{failures} of the baseline herd failed, e.g.: {error}").into());
    }
    drop(streams);
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();
    Ok(elapsed)
}

fn run(options: &Options) -> Result<(), BoxError> {
    let mut herd_seconds = Vec::new();
    let mut baseline_seconds = Vec::new();
    let mut bytes_per_worker = Vec::new();
    let mut rss = Vec::new();
    for repeat in 0..options.repeats {
        let settings = DaemonOptions {
            workers: options.workers,
            listen_backlog: options.backlog,
            max_handshaking_connections: options.max_handshaking,
            ..DaemonOptions::default()
        };
        let daemon = daemon::start(&options.daemon, &settings)?;
        std::thread::sleep(Duration::from_secs(1));
        let idle_before = daemon.resident_bytes()?;
        let address = daemon.worker_address;
        let (sessions, elapsed) = herd(options.workers, move |worker| attach(address, worker));
        let sessions = all_attached(sessions)?;
        // Idle: nothing more is sent; give the daemon a moment to settle.
        std::thread::sleep(Duration::from_secs(2));
        let idle_after = daemon.resident_bytes()?;
        let per_worker = idle_after.saturating_sub(idle_before) as f64 / options.workers as f64;
        eprintln!(
            "  repeat {repeat}: {} workers re-attached in {:.3} s; daemon VmRSS {} -> {} bytes ({per_worker:.0} per idle worker)",
            options.workers,
            elapsed.as_secs_f64(),
            idle_before,
            idle_after
        );
        herd_seconds.push(elapsed.as_secs_f64());
        bytes_per_worker.push(per_worker);
        rss.push(json!({ "idle_before_bytes": idle_before, "idle_after_bytes": idle_after }));
        drop(sessions);
        drop(daemon);

        let elapsed = baseline_herd(options)?;
        eprintln!("  repeat {repeat}: baseline herd in {:.3} s", elapsed.as_secs_f64());
        baseline_seconds.push(elapsed.as_secs_f64());
    }
    let herd_summary = Summary::of(&herd_seconds);
    let baseline_summary = Summary::of(&baseline_seconds);
    let memory_summary = Summary::of(&bytes_per_worker);
    println!(
        "{} workers re-attaching at once (connect, Hello, Welcome, builder list): {}",
        options.workers,
        human_summary(herd_summary, "s")
    );
    println!(
        "plain async-net baseline (connect, 1 round trip), same herd: {}  (rollcall takes {:.2}x the baseline)",
        human_summary(baseline_summary, "s"),
        herd_summary.median / baseline_summary.median
    );
    println!(
        "daemon memory per idle attached worker ({} workers): {}",
        options.workers,
        human_summary(memory_summary, "bytes")
    );
    if let Some(path) = &options.json {
        let mut herd_json = herd_summary.to_json("s");
        herd_json["baseline"] = baseline_summary.to_json("s");
        herd_json["baseline_name"] = json!("plain async-net, same herd");
        herd_json["samples_seconds"] = json!(herd_seconds);
        let mut memory_json = memory_summary.to_json("bytes");
        memory_json["rss"] = json!(rss);
        let report = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "results": {
                format!("reattach_{}_at_once", options.workers): herd_json,
                format!("rss_per_idle_worker_{}", options.workers): memory_json,
            }
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    if std::env::args().nth(1).as_deref() == Some("--baseline-server") {
        let backlog = std::env::args().nth(2).and_then(|value| value.parse().ok());
        return baseline_server(backlog.ok_or("--baseline-server BACKLOG")?);
    }
    let options = options()?;
    if options.tls {
        run_tls(&options)
    } else {
        run(&options)
    }
}

/// What `--tls` measures of one transport over the repeats.
#[derive(Default)]
struct Series {
    first_seconds: Vec<f64>,
    again_seconds: Vec<f64>,
    bytes_per_worker: Vec<f64>,
    first_handshakes: HandshakeCounts,
    again_handshakes: HandshakeCounts,
}

/// The herd of `--tls`, over one transport: a fresh daemon (with `[tls]` when
/// `certificates` is given), the first attach, the memory per idle worker, every worker
/// closing, and the re-attach to the same daemon.
fn transport_herd(
    options: &Options,
    certificates: Option<&Certificates>,
    series: &mut Series,
    repeat: usize,
) -> Result<(), BoxError> {
    let settings = DaemonOptions {
        workers: options.workers,
        listen_backlog: options.backlog,
        max_handshaking_connections: options.max_handshaking,
        tls: certificates.map(Certificates::daemon),
        ..DaemonOptions::default()
    };
    let daemon = daemon::start(&options.daemon, &settings)?;
    let label = if certificates.is_some() { "TLS" } else { "plain" };
    // Made before the herd, untimed: each worker's own config (a worker process makes one
    // at startup and keeps it), which remembers the one daemon it talks to; or one for all.
    let clients: Vec<ClientTls> = match certificates {
        None => Vec::new(),
        Some(certificates) if options.shared_client => {
            vec![rollcall_benches::tls::client(certificates.ca(), options.workers)?]
        }
        Some(certificates) => (0..options.workers)
            .map(|_| rollcall_benches::tls::client(certificates.ca(), 8))
            .collect::<Result<_, _>>()?,
    };
    let clients = Arc::new(clients);
    let metrics_client = match certificates {
        Some(certificates) => Some(rollcall_benches::tls::client(certificates.ca(), 8)?),
        None => None,
    };
    std::thread::sleep(Duration::from_secs(1));
    let idle_before = daemon.resident_bytes()?;

    let first_counts = HandshakeCounts::default();
    let (sessions, first) = tls_herd(options, daemon.worker_address, &clients, &first_counts)?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_after = daemon.resident_bytes()?;
    let per_worker = idle_after.saturating_sub(idle_before) as f64 / options.workers as f64;
    drop(sessions);
    let detached_in = wait_until_no_worker(&daemon, metrics_client.as_ref())?;

    let again_counts = HandshakeCounts::default();
    let (sessions, again) = tls_herd(options, daemon.worker_address, &clients, &again_counts)?;
    eprintln!(
        "  repeat {repeat}, {label}: first attach {:.3} s ({}), VmRSS {idle_before} -> {idle_after} bytes ({per_worker:.0} per idle worker); all detached {:.1} s after the close; re-attach {:.3} s ({})",
        first.as_secs_f64(),
        first_counts.describe(),
        detached_in.as_secs_f64(),
        again.as_secs_f64(),
        again_counts.describe()
    );
    drop(sessions);
    drop(daemon);
    series.first_seconds.push(first.as_secs_f64());
    series.again_seconds.push(again.as_secs_f64());
    series.bytes_per_worker.push(per_worker);
    series.first_handshakes.add(&first_counts);
    series.again_handshakes.add(&again_counts);
    Ok(())
}

/// The whole herd attaching at once through `rollcall_benches::attach`, over TLS with
/// `clients` (one per worker, or one for all) unless it is empty; fails if any worker did.
fn tls_herd(
    options: &Options,
    address: SocketAddr,
    clients: &Arc<Vec<ClientTls>>,
    counts: &HandshakeCounts,
) -> Result<(Vec<WorkerSession>, Duration), BoxError> {
    let name = address.to_string();
    let (results, elapsed) = herd(options.workers, |worker| {
        let (clients, name) = (Arc::clone(clients), name.clone());
        async move {
            let socket = connect_from(source_of(worker), address).await?;
            let tls = match clients.len() {
                0 => None,
                1 => clients.first(),
                _ => clients.get(worker),
            };
            attach_over(socket, &name, worker, tls).await
        }
    });
    let sessions = all_attached(results)?;
    for session in &sessions {
        counts.count(session.handshake);
    }
    Ok((sessions, elapsed))
}

/// Waits until the daemon's `/metrics` shows no worker connected and no connection open on
/// its worker port; how long that took.
fn wait_until_no_worker(
    daemon: &daemon::Daemon,
    tls: Option<&ClientTls>,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    loop {
        let answer = rollcall_benches::http::get_with(daemon.http_address, "/metrics", tls)?;
        let text = String::from_utf8(answer.body)?;
        let gauge = |prefix: &str| {
            text.lines().find_map(|line| line.strip_prefix(prefix)?.trim().parse::<f64>().ok())
        };
        let connected = gauge("rollcall_workers_connected ");
        let open = gauge("rollcall_connections_open{port=\"workers\"} ");
        if connected == Some(0.0) && open.unwrap_or(0.0) == 0.0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "60 s after the herd closed, the daemon still counts {connected:?} workers connected, {open:?} connections open"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_tls(options: &Options) -> Result<(), BoxError> {
    let certificates = Certificates::new()?;
    let (mut plain, mut tls) = (Series::default(), Series::default());
    let mut baseline_seconds = Vec::new();
    for repeat in 0..options.repeats {
        // Alternate which goes first, so that a drift of the machine touches both.
        if repeat % 2 == 0 {
            transport_herd(options, None, &mut plain, repeat)?;
            transport_herd(options, Some(&certificates), &mut tls, repeat)?;
        } else {
            transport_herd(options, Some(&certificates), &mut tls, repeat)?;
            transport_herd(options, None, &mut plain, repeat)?;
        }
        let elapsed = baseline_herd(options)?;
        eprintln!("  repeat {repeat}: baseline herd in {:.3} s", elapsed.as_secs_f64());
        baseline_seconds.push(elapsed.as_secs_f64());
    }
    let workers = options.workers;
    let clients = if options.shared_client {
        format!("one ClientTls for the herd, resumption_sessions {workers}")
    } else {
        "a ClientTls per worker".to_owned()
    };
    let summaries = |series: &Series| {
        (
            Summary::of(&series.first_seconds),
            Summary::of(&series.again_seconds),
            Summary::of(&series.bytes_per_worker),
        )
    };
    let (plain_first, plain_again, plain_memory) = summaries(&plain);
    let (tls_first, tls_again, tls_memory) = summaries(&tls);
    let baseline = Summary::of(&baseline_seconds);
    println!(
        "{workers} workers attaching at once, plain, first attach: {}; re-attach to the same daemon: {}",
        human_summary(plain_first, "s"),
        human_summary(plain_again, "s")
    );
    println!(
        "{workers} workers attaching at once over TLS ({clients}), first attach: {}  ({:.2}x plain; handshakes over the repeats: {})",
        human_summary(tls_first, "s"),
        tls_first.median / plain_first.median,
        tls.first_handshakes.describe()
    );
    println!(
        "{workers} workers re-attaching at once over TLS to the same daemon: {}  ({:.2}x plain; handshakes over the repeats: {})",
        human_summary(tls_again, "s"),
        tls_again.median / plain_again.median,
        tls.again_handshakes.describe()
    );
    println!(
        "plain async-net baseline (connect, 1 round trip), same herd: {}",
        human_summary(baseline, "s")
    );
    println!(
        "daemon memory per idle attached worker ({workers} workers): plain {}, TLS {}",
        human_summary(plain_memory, "bytes"),
        human_summary(tls_memory, "bytes")
    );
    if let Some(path) = &options.json {
        let entry = |summary: Summary, base: Summary, samples: &[f64], counts: &HandshakeCounts| {
            let (plain, full, resumed) = counts.get();
            let mut value = summary.to_json("s");
            value["baseline"] = base.to_json("s");
            value["baseline_name"] = json!("the same herd in the clear, same repeats");
            value["samples_seconds"] = json!(samples);
            value["handshakes"] = json!({ "plain": plain, "full": full, "resumed": resumed });
            value
        };
        let mut plain_first_json = plain_first.to_json("s");
        plain_first_json["baseline"] = baseline.to_json("s");
        plain_first_json["baseline_name"] = json!("plain async-net, same herd");
        plain_first_json["samples_seconds"] = json!(plain.first_seconds);
        let mut plain_again_json = plain_again.to_json("s");
        plain_again_json["samples_seconds"] = json!(plain.again_seconds);
        let report = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "tls_clients": clients,
            "results": {
                format!("attach_{workers}_at_once_plain"): plain_first_json,
                format!("reattach_{workers}_at_once_plain"): plain_again_json,
                format!("attach_{workers}_at_once_tls"): entry(tls_first, plain_first, &tls.first_seconds, &tls.first_handshakes),
                format!("reattach_{workers}_at_once_tls"): entry(tls_again, plain_again, &tls.again_seconds, &tls.again_handshakes),
                format!("rss_per_idle_worker_{workers}_plain"): plain_memory.to_json("bytes"),
                format!("rss_per_idle_worker_{workers}_tls"): tls_memory.to_json("bytes"),
            }
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(())
}
