//! `rollcall worker`: attaches, prints what the master tells it, keeps alive, reconnects.

use std::time::Duration;

use futures_lite::FutureExt;
use rollcall_core::{Password, RejectReason, ToWorker};

use crate::client::session::{ClientError, Session};
use crate::tls::ClientTls;
use crate::wire::{ClientMessage, Role, ServerMessage};

/// Options of `rollcall worker`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The daemon's address, or a cluster's nodes: the worker attaches to whichever leads,
    /// following a standby's redirect, and moves on to the next when one is lost.
    pub addresses: Vec<String>,
    pub name: String,
    pub password: Password,
    pub keepalive_interval: Duration,
    /// Do not reconnect when the connection is lost.
    pub once: bool,
    /// TLS to the daemon; one config for every reconnect, so each resumes its session.
    pub tls: Option<ClientTls>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// While a cluster is telling the worker where to go (a standby's `NotLeader`), it retries
/// sooner: a takeover takes seconds, and the redirect says the nodes are up.
const MAX_CLUSTER_BACKOFF: Duration = Duration::from_secs(2);
/// A worker replaced by another connection for its name (drop-older) waits this long
/// before taking the name back, doubled each time it is replaced again: two processes that
/// share a name settle down instead of taking turns twice a second.
const FIRST_REPLACED_BACKOFF: Duration = Duration::from_secs(1);
const MAX_REPLACED_BACKOFF: Duration = Duration::from_secs(300);
/// Attached this long without being replaced, the worker counts as settled again.
const SETTLED_AFTER: Duration = Duration::from_secs(60);
/// What the daemon's goodbye says when another connection took the worker's name.
const REPLACED: &str = "replaced by another connection";
/// Redirects followed in a row before the worker tries the next configured address: two
/// standbys that each name the other (a stale view) cannot hold it in a loop.
const MAX_REDIRECTS: usize = 4;

/// How one connection ended.
enum Ending {
    Rejected(RejectReason),
    Lost(ClientError),
}

/// Runs until rejected (an error: retrying cannot help) or, with `once`, until the
/// connection is lost. Otherwise reconnects with exponential backoff.
///
/// # Errors
///
/// A message saying why the worker gave up.
pub async fn run_worker(options: WorkerOptions) -> Result<(), Box<dyn std::error::Error>> {
    if options.addresses.is_empty() {
        return Err("no address to connect to".into());
    }
    let mut backoff = FIRST_BACKOFF;
    let mut next = 0_usize;
    let mut redirect: Option<String> = None;
    let mut redirects = 0;
    let mut replaced_backoff = FIRST_REPLACED_BACKOFF;
    loop {
        let address = redirect.take().unwrap_or_else(|| {
            redirects = 0;
            let address = options.addresses[next % options.addresses.len()].clone();
            next += 1;
            address
        });
        let started = std::time::Instant::now();
        let (ending, was_attached) = attach_once(&options, &address).await;
        if was_attached {
            backoff = FIRST_BACKOFF;
        }
        if started.elapsed() >= SETTLED_AFTER {
            replaced_backoff = FIRST_REPLACED_BACKOFF;
        }
        match ending {
            Ending::Lost(ClientError::Goodbye(reason)) if reason.starts_with(REPLACED) => {
                if options.once {
                    return Err(reason.into());
                }
                eprintln!(
                    "{reason} (is another process using this name?); taking it back in {} s",
                    replaced_backoff.as_secs()
                );
                smol::Timer::after(replaced_backoff).await;
                replaced_backoff = (replaced_backoff * 2).min(MAX_REPLACED_BACKOFF);
            }
            Ending::Rejected(reason) => {
                return Err(format!("rejected by the master: {reason:?}").into());
            }
            Ending::Lost(error) if options.once => return Err(error.into()),
            // A certificate that does not verify will not verify on the next try either.
            Ending::Lost(error @ ClientError::Tls(_)) => return Err(error.into()),
            Ending::Lost(ClientError::NotLeader(Some(leader)))
                if leader != address && redirects < MAX_REDIRECTS =>
            {
                println!("{address} does not lead; following it to {leader}");
                redirects += 1;
                redirect = Some(leader);
            }
            Ending::Lost(error @ ClientError::NotLeader(_)) => {
                backoff = backoff.min(MAX_CLUSTER_BACKOFF);
                eprintln!("{error}; trying again in {} ms", backoff.as_millis());
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(MAX_CLUSTER_BACKOFF);
            }
            Ending::Lost(error) => {
                eprintln!(
                    "connection to {address} lost ({error}); reconnecting in {} ms",
                    backoff.as_millis()
                );
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn attach_once(options: &WorkerOptions, address: &str) -> (Ending, bool) {
    let role = Role::Worker { name: options.name.clone(), password: options.password.clone() };
    let mut session = match Session::connect_with(address, role, options.tls.as_ref()).await {
        Ok(session) => session,
        Err(error) => return (Ending::Lost(error), false),
    };
    let mut attached = false;
    loop {
        let next = async { Some(session.receive().await) }
            .or(async {
                smol::Timer::after(options.keepalive_interval).await;
                None
            })
            .await;
        let message = match next {
            None => {
                if let Err(error) = session.send(&ClientMessage::Keepalive).await {
                    return (Ending::Lost(error), attached);
                }
                continue;
            }
            Some(Ok(message)) => message,
            Some(Err(error)) => return (Ending::Lost(error), attached),
        };
        let reply = match message {
            ServerMessage::Worker(ToWorker::Welcome) => {
                attached = true;
                println!("attached to {address} as {}", options.name);
                None
            }
            ServerMessage::Worker(ToWorker::BuilderList { builders }) => {
                println!("builders: {}", builders.join(", "));
                Some(ClientMessage::BuilderListAck)
            }
            ServerMessage::Worker(ToWorker::Ping { nonce }) => Some(ClientMessage::Pong { nonce }),
            ServerMessage::Worker(ToWorker::Rejected { reason }) => {
                return (Ending::Rejected(reason), attached)
            }
            ServerMessage::Worker(ToWorker::KeepaliveAck) => None,
            other => {
                let error = ClientError::Unexpected(format!("{other:?}"));
                return (Ending::Lost(error), attached);
            }
        };
        if let Some(reply) = reply {
            if let Err(error) = session.send(&reply).await {
                return (Ending::Lost(error), attached);
            }
        }
    }
}
