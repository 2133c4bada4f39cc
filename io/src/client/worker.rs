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
    pub address: String,
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
    let mut backoff = FIRST_BACKOFF;
    loop {
        let (ending, was_attached) = attach_once(&options).await;
        match ending {
            Ending::Rejected(reason) => {
                return Err(format!("rejected by the master: {reason:?}").into());
            }
            Ending::Lost(error) if options.once => return Err(error.into()),
            // A certificate that does not verify will not verify on the next try either.
            Ending::Lost(error @ ClientError::Tls(_)) => return Err(error.into()),
            Ending::Lost(error) => {
                if was_attached {
                    backoff = FIRST_BACKOFF;
                }
                eprintln!("connection lost ({error}); reconnecting in {} ms", backoff.as_millis());
                smol::Timer::after(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn attach_once(options: &WorkerOptions) -> (Ending, bool) {
    let role = Role::Worker { name: options.name.clone(), password: options.password.clone() };
    let mut session =
        match Session::connect_with(&options.address, role, options.tls.as_ref()).await {
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
                println!("attached to {} as {}", options.address, options.name);
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
