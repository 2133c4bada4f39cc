//! A thundering herd of workers re-attaching at once, and the daemon's memory per idle
//! attached worker.
//!
//! Usage: `rollcall-herd --daemon PATH [--workers 10000] [--repeats 3] [--backlog 4096]
//! [--max-handshaking 100000] [--json OUT]` (`--max-handshaking 1024` runs the herd under
//! the daemon's default cap of connections in handshake)
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
//! Needs a file descriptor per client here and one per connection in the daemon: run it
//! under `bash -c 'ulimit -n 65536; rollcall-herd ...'` (benches/compare.sh does).
//! The daemon's configuration refuses more than 10,000 workers (io's
//! `config::validate_roster::MAX_NAMES_CONFIGURED`), so that is the largest herd here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_benches::daemon::{self, BoxError, DaemonOptions};
use rollcall_benches::fixture::{worker_name, WORKER_PASSWORD};
use rollcall_benches::source::{connect_from, source_of};
use rollcall_benches::stats::{human_summary, Summary};
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::Session;
use rollcall_io::wire::{Role, ServerMessage};
use serde_json::json;

struct Options {
    daemon: PathBuf,
    workers: usize,
    repeats: usize,
    /// The listen backlog of both servers; 128 shows what std's fixed backlog costs.
    backlog: u32,
    /// `[limits] max_handshaking_connections` of the daemon; 1,024 is its default.
    max_handshaking: usize,
    json: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        daemon: PathBuf::new(),
        workers: 10_000,
        repeats: 3,
        backlog: 4096,
        max_handshaking: DaemonOptions::default().max_handshaking_connections,
        json: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--daemon" => options.daemon = value.into(),
            "--workers" => options.workers = value.parse().map_err(|_| "bad --workers")?,
            "--repeats" => options.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--backlog" => options.backlog = value.parse().map_err(|_| "bad --backlog")?,
            "--max-handshaking" => {
                options.max_handshaking = value.parse().map_err(|_| "bad --max-handshaking")?;
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

/// One worker of the herd: connect, Hello, Welcome, builder list; the session is kept
/// open (idle) and returned.
async fn attach(address: SocketAddr, worker: usize) -> Result<Session, BoxError> {
    let role = Role::Worker { name: worker_name(worker), password: Password::new(WORKER_PASSWORD) };
    let stream = connect_from(source_of(worker), address).await?;
    let mut session = Session::over(stream, role).await?;
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::Welcome) => {}
        other => return Err(format!("expected a Welcome, got {other:?}").into()),
    }
    match session.receive().await? {
        ServerMessage::Worker(ToWorker::BuilderList { .. }) => {}
        other => return Err(format!("expected a builder list, got {other:?}").into()),
    }
    Ok(session)
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
    let listener = rollcall_io::daemon::bind::listen("127.0.0.1:0".parse()?, backlog)?;
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
        let failures = sessions.iter().filter(|result| result.is_err()).count();
        if let Some(Err(error)) = sessions.iter().find(|result| result.is_err()) {
            return Err(format!(
                "{failures} of {} workers failed to attach, e.g.: {error}",
                options.workers
            )
            .into());
        }
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

        let (mut server, baseline_address) = start_baseline_server(options.backlog)?;
        let (streams, elapsed) =
            herd(options.workers, move |worker| baseline_attach(baseline_address, worker));
        let failures = streams.iter().filter(|result| result.is_err()).count();
        if let Some(Err(error)) = streams.iter().find(|result| result.is_err()) {
            return Err(format!("{failures} of the baseline herd failed, e.g.: {error}").into());
        }
        eprintln!("  repeat {repeat}: baseline herd in {:.3} s", elapsed.as_secs_f64());
        baseline_seconds.push(elapsed.as_secs_f64());
        drop(streams);
        drop(server.stdin.take());
        let _ = server.kill();
        let _ = server.wait();
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
    run(&options()?)
}
