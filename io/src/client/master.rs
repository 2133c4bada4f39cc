//! A remote master: `rollcall master`, and the typed client tests use.

use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use rollcall_core::{Command, MasterId, Reply};

use crate::client::follow::{connect_to_leader, Target};
use crate::client::request_ids::next_request_id;
use crate::client::session::{ClientError, Session};
use crate::codec::Encoding;
use crate::credentials::Token;
use crate::tls::ClientTls;
use crate::wire::{ClientMessage, RequestError, Role, ServerMessage};

/// A master session: requests answered in order, each once the daemon made it durable.
#[derive(Debug)]
pub struct MasterClient {
    session: Session,
}

impl MasterClient {
    /// Connects and waits for the daemon's welcome.
    ///
    /// # Errors
    ///
    /// When the daemon cannot be reached or refuses the session.
    pub async fn connect(
        address: &str,
        name: &str,
        token: &Token,
    ) -> Result<MasterClient, ClientError> {
        MasterClient::connect_with(address, name, token, None).await
    }

    /// As [`MasterClient::connect`], over TLS when `tls` is given.
    ///
    /// # Errors
    ///
    /// When the daemon cannot be reached, the TLS handshake fails or the daemon refuses the
    /// session.
    pub async fn connect_with(
        address: &str,
        name: &str,
        token: &Token,
        tls: Option<&ClientTls>,
    ) -> Result<MasterClient, ClientError> {
        MasterClient::connect_encoded(address, name, token, tls, Encoding::Bincode).await
    }

    /// As [`MasterClient::connect_with`], the session speaking `encoding` (for tests and
    /// benchmarks of the MessagePack encoding other languages use).
    ///
    /// # Errors
    ///
    /// As [`MasterClient::connect_with`].
    pub async fn connect_encoded(
        address: &str,
        name: &str,
        token: &Token,
        tls: Option<&ClientTls>,
        encoding: Encoding,
    ) -> Result<MasterClient, ClientError> {
        let role = Role::Master { name: name.into(), token: token.clone() };
        let mut session = Session::connect_encoded(address, role, tls, encoding).await?;
        match session.receive().await? {
            ServerMessage::Welcome { .. } | ServerMessage::MasterWelcome => {
                Ok(MasterClient { session })
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends one command and waits for its reply.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the connection fails; the inner `Err` when the daemon refused.
    pub async fn request(
        &mut self,
        command: Command,
    ) -> Result<Result<Reply, RequestError>, ClientError> {
        self.request_with_id(next_request_id(), command).await
    }

    /// Sends one command under `request_id` and waits for its reply: how a request whose
    /// reply was lost with its connection is sent again, on a new one. A retry (same id,
    /// same command) is answered with what the first one committed, and changes nothing.
    ///
    /// # Errors
    ///
    /// As [`MasterClient::request`].
    pub async fn request_with_id(
        &mut self,
        request_id: u64,
        command: Command,
    ) -> Result<Result<Reply, RequestError>, ClientError> {
        self.session.send(&ClientMessage::Request { request_id, command }).await?;
        match self.session.receive().await? {
            ServerMessage::Reply { request_id: answered, result } if answered == request_id => {
                Ok(result)
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// The session, for a caller that pipelines its requests ([`Session::pipeline`]).
    pub(crate) fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Registers (or heartbeats) under `name` and returns the master id.
    ///
    /// # Errors
    ///
    /// As [`MasterClient::request`], or when the daemon refuses.
    pub async fn master_active(&mut self, name: &str) -> Result<MasterId, ClientError> {
        match self.request(Command::MasterActive { name: name.into() }).await? {
            Ok(Reply::Master(id)) => Ok(id),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }
}

/// Options of `rollcall master`.
#[derive(Debug, Clone)]
pub struct MasterOptions {
    /// The nodes to try, and the master's name, token and TLS.
    pub target: Target,
    pub builders: Vec<String>,
    pub heartbeat_interval: Duration,
}

/// Registers a remote master, declares its builders and heartbeats until SIGTERM or
/// SIGINT, then sends masterStopped. A lost connection (a daemon restart, a cluster's
/// failover) is followed to the node that leads, where the master registers again and
/// declares its builders again before it heartbeats on.
///
/// # Errors
///
/// When the daemon refuses the master (its token) or a request.
pub async fn run_master(options: MasterOptions) -> Result<(), Box<dyn std::error::Error>> {
    use async_signal::{Signal, Signals};

    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    // Once asked to stop, a master stops even if its connection is lost on the way: on the
    // next connection it registers (which binds the session to it) and stops at once.
    let mut stopping = false;
    loop {
        let (mut client, address) = connect_to_leader(&options.target).await?;
        let session = async {
            let master = register(&mut client, &options).await?;
            println!("registered as master {master} at {address}");
            loop {
                if stopping {
                    return Ok(client.request(Command::MasterStopped { master }).await?);
                }
                stopping = async {
                    smol::Timer::after(options.heartbeat_interval).await;
                    false
                }
                .or(async {
                    let _ = signals.next().await;
                    true
                })
                .await;
                if !stopping {
                    client.master_active(&options.target.name).await?;
                }
            }
        };
        match session.await {
            Ok(Ok(_)) => {
                println!("master stopped");
                return Ok(());
            }
            Ok(Err(error)) => return Err(format!("masterStopped refused: {error}").into()),
            Err(Lost::Refused(why)) => return Err(why.into()),
            Err(Lost::Connection(error)) => {
                eprintln!("rollcall: lost the daemon at {address} ({error}); reconnecting");
            }
        }
    }
}

/// How a master's session ended before its stop.
enum Lost {
    /// The connection went (retried elsewhere).
    Connection(ClientError),
    /// The daemon refused a request: retrying cannot help.
    Refused(String),
}

impl From<ClientError> for Lost {
    fn from(error: ClientError) -> Self {
        Lost::Connection(error)
    }
}

/// masterActive, then the builder list: what a master says first on every connection.
async fn register(client: &mut MasterClient, options: &MasterOptions) -> Result<MasterId, Lost> {
    let master =
        match client.request(Command::MasterActive { name: options.target.name.clone() }).await? {
            Ok(Reply::Master(id)) => id,
            Ok(other) => return Err(Lost::Refused(format!("masterActive answered {other:?}"))),
            Err(error) => return Err(Lost::Refused(format!("masterActive refused: {error}"))),
        };
    if !options.builders.is_empty() {
        let command = Command::SetBuilderList { master, builder_names: options.builders.clone() };
        match client.request(command).await? {
            Ok(Reply::Builders(ids)) => {
                println!("serving builders {:?} as {ids:?}", options.builders);
            }
            other => return Err(Lost::Refused(format!("builder list refused: {other:?}"))),
        }
    }
    Ok(master)
}
