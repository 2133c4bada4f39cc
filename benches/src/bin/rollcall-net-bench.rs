//! Loopback throughput of the real daemon, beside a plain async-net baseline measured in
//! the same run.
//!
//! Usage: `rollcall-net-bench --daemon PATH [--seconds S] [--clients C]`
//!
//! Starts the daemon binary at PATH on a temporary data directory with 1,000 configured
//! workers, then measures for S seconds each (default 5):
//! - attach: C concurrent clients, each looping connect, Hello, Welcome + builder list,
//!   ack, close, with distinct worker names;
//! - baseline: the same C clients against an in-process async-net server that answers one
//!   request frame with one reply frame (a connect, one round trip, close: the machine's
//!   ceiling for this pattern);
//! - heartbeats: C master sessions, each looping a durable masterActive.
//!
//! Prints one line per workload with operations per second.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rollcall_core::{Password, ToWorker};
use rollcall_io::client::{MasterClient, Session};
use rollcall_io::wire::{ClientMessage, Role, ServerMessage};

const WORKERS: usize = 1_000;

struct Options {
    daemon: String,
    seconds: u64,
    clients: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options { daemon: String::new(), seconds: 5, clients: 32 };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--daemon" => options.daemon = value,
            "--seconds" => options.seconds = value.parse().map_err(|_| "bad --seconds")?,
            "--clients" => options.clients = value.parse().map_err(|_| "bad --clients")?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.daemon.is_empty() {
        return Err("--daemon PATH is required".into());
    }
    Ok(options)
}

fn free_address() -> Result<SocketAddr, std::io::Error> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

struct Daemon {
    child: Child,
    address: SocketAddr,
    _directory: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(binary: &str) -> Result<Daemon, Box<dyn std::error::Error>> {
    let directory = tempfile::tempdir()?;
    let address = free_address()?;
    let http = free_address()?;
    let mut config = format!(
        "[master]\nname = \"bench\"\ndata_dir = {:?}\n[listen]\nworkers = \"{address}\"\nhttp = \"{http}\"\n[limits]\nmax_handshaking_connections = 100000\n",
        directory.path().join("data")
    );
    for index in 0..WORKERS {
        config.push_str(&format!("[[workers]]\nname = \"w{index}\"\npassword = \"pw\"\n"));
    }
    config.push_str("[[builders]]\nname = \"linux\"\nworkernames = [");
    config.push_str(&(0..WORKERS).map(|i| format!("\"w{i}\"")).collect::<Vec<_>>().join(","));
    config.push_str("]\n");
    let path = directory.path().join("rollcall.toml");
    std::fs::write(&path, config)?;
    let child = Command::new(binary)
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the daemon did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Daemon { child, address, _directory: directory })
}

/// Runs `clients` copies of `cycle` for `seconds`, counting completed cycles.
fn measure<F, Fut>(clients: usize, seconds: u64, cycle: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>> + Send,
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

async fn attach_cycle(
    address: SocketAddr,
    client: usize,
    round: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    // Distinct names per client; rounds walk through that client's share of the roster.
    let per_client = (WORKERS / 64).max(1) as u64;
    let name = format!("w{}", (client as u64 * per_client + round % per_client) as usize % WORKERS);
    let role = Role::Worker { name, password: Password::new("pw") };
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

/// The baseline server: read one frame, answer with one frame of the same size as a
/// Welcome + builder list, close.
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

async fn baseline_cycle(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let daemon = start_daemon(&options.daemon)?;
    let address = daemon.address;
    let (seconds, clients) = (options.seconds, options.clients);

    let baseline_listener = smol::block_on(TcpListener::bind("127.0.0.1:0"))?;
    let baseline_address = baseline_listener.local_addr()?;
    smol::spawn(serve_baseline(baseline_listener)).detach();

    let baseline = measure(clients, seconds, move |_, _| baseline_cycle(baseline_address));
    let attach =
        measure(clients, seconds, move |client, round| attach_cycle(address, client, round));
    let heartbeat = {
        let sessions: Vec<_> = (0..clients)
            .map(|client| {
                smol::block_on(async {
                    let name = format!("bench-master-{client}");
                    let mut session = MasterClient::connect(&address.to_string(), &name).await?;
                    session.master_active(&name).await?;
                    Ok::<_, Box<dyn std::error::Error>>(Arc::new(smol::lock::Mutex::new(session)))
                })
            })
            .collect::<Result<_, _>>()?;
        let sessions = Arc::new(sessions);
        measure(clients, seconds, move |client, _| {
            let sessions = Arc::clone(&sessions);
            async move {
                let name = format!("bench-master-{client}");
                sessions[client].lock().await.master_active(&name).await?;
                Ok(())
            }
        })
    };
    println!("plain async-net baseline (connect, 1 round trip, close): {baseline:>10.0} /s");
    println!("attach through the daemon (connect, Hello, welcome, builders, ack, close): {attach:>10.0} /s  ({:.2} of the baseline)", attach / baseline);
    println!(
        "durable heartbeats through the daemon ({clients} master sessions): {heartbeat:>10.0} /s"
    );
    drop(daemon);
    Ok(())
}
