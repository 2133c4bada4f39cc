//! Loopback throughput of the real daemon, beside a plain async-net baseline measured in
//! the same run.
//!
//! Usage: `rollcall-net-bench --daemon PATH [--seconds S] [--clients C] [--repeats R]
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
//! - heartbeats: C master sessions, each looping a durable masterActive (the daemon
//!   commits each batch of inputs it takes with one fsync: group commit).
//!
//! Prints each workload's median (min–max) over the rounds and the attach/baseline ratio
//! of medians; `--json` also writes them.

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
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{MasterClient, Session};
use rollcall_io::wire::{ClientMessage, Role, ServerMessage};
use serde_json::json;

const WORKERS: usize = 1_000;

struct Options {
    daemon: PathBuf,
    seconds: u64,
    clients: usize,
    repeats: usize,
    json: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options =
        Options { daemon: PathBuf::new(), seconds: 4, clients: 32, repeats: 3, json: None };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--daemon" => options.daemon = value.into(),
            "--seconds" => options.seconds = value.parse().map_err(|_| "bad --seconds")?,
            "--clients" => options.clients = value.parse().map_err(|_| "bad --clients")?,
            "--repeats" => options.repeats = value.parse().map_err(|_| "bad --repeats")?,
            "--json" => options.json = Some(value.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.daemon.as_os_str().is_empty() {
        return Err("--daemon PATH is required".into());
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

async fn attach_cycle(address: SocketAddr, client: usize, round: u64) -> Result<(), BoxError> {
    // Distinct names per client; rounds walk through that client's share of the roster.
    let per_client = (WORKERS / 64).max(1) as u64;
    let worker = (client as u64 * per_client + round % per_client) as usize % WORKERS;
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

fn main() -> Result<(), BoxError> {
    let options = options()?;
    let settings = DaemonOptions { workers: WORKERS, ..DaemonOptions::default() };
    let daemon = daemon::start(&options.daemon, &settings)?;
    let address = daemon.worker_address;
    let (seconds, clients) = (options.seconds, options.clients);

    let baseline_listener = smol::block_on(TcpListener::bind("127.0.0.1:0"))?;
    let baseline_address = baseline_listener.local_addr()?;
    smol::spawn(serve_baseline(baseline_listener)).detach();

    let sessions: Vec<_> = (0..clients)
        .map(|client| {
            smol::block_on(async {
                let name = format!("bench-master-{client}");
                let mut session = MasterClient::connect(&address.to_string(), &name).await?;
                session.master_active(&name).await?;
                Ok::<_, BoxError>(Arc::new(smol::lock::Mutex::new(session)))
            })
        })
        .collect::<Result<_, _>>()?;
    let sessions = Arc::new(sessions);

    let (mut baseline, mut attach, mut heartbeat) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..options.repeats {
        baseline.push(measure(clients, seconds, move |_, _| baseline_cycle(baseline_address)));
        attach.push(measure(clients, seconds, move |client, round| {
            attach_cycle(address, client, round)
        }));
        let sessions = Arc::clone(&sessions);
        heartbeat.push(measure(clients, seconds, move |client, _| {
            let sessions = Arc::clone(&sessions);
            async move {
                let name = format!("bench-master-{client}");
                sessions[client].lock().await.master_active(&name).await?;
                Ok(())
            }
        }));
        eprintln!(
            "  round {round}: baseline {:.0}/s, attach {:.0}/s, heartbeats {:.0}/s",
            baseline[round], attach[round], heartbeat[round]
        );
    }
    let (baseline, attach, heartbeat) =
        (Summary::of(&baseline), Summary::of(&attach), Summary::of(&heartbeat));
    println!(
        "plain async-net baseline (connect, 1 round trip, close), {clients} clients: {}",
        human_summary(baseline, "ops/s")
    );
    println!(
        "attach through the daemon (connect, Hello, welcome, builders, ack, close): {}  ({:.2} of the baseline)",
        human_summary(attach, "ops/s"),
        attach.median / baseline.median
    );
    println!(
        "durable heartbeats through the daemon ({clients} master sessions): {}",
        human_summary(heartbeat, "ops/s")
    );
    if let Some(path) = &options.json {
        let mut attach_json = attach.to_json("ops/s");
        attach_json["baseline"] = baseline.to_json("ops/s");
        attach_json["baseline_name"] = json!("plain async-net connect, 1 round trip, close");
        let report = json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "clients": clients,
            "seconds": seconds,
            "results": {
                "attach_tcp": attach_json,
                "heartbeat_durable_tcp": heartbeat.to_json("ops/s"),
            }
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    drop(daemon);
    Ok(())
}
