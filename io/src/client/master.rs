//! A remote master: `rollcall master`, and the typed client tests use.

use std::time::Duration;

use futures_lite::{FutureExt, StreamExt};
use rollcall_core::{Command, MasterId, Reply};

use crate::client::session::{ClientError, Session};
use crate::credentials::Token;
use crate::tls::ClientTls;
use crate::wire::{ClientMessage, RequestError, Role, ServerMessage};

/// A master session: requests answered in order, each once the daemon made it durable.
#[derive(Debug)]
pub struct MasterClient {
    session: Session,
    next_request_id: u64,
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
        let role = Role::Master { name: name.into(), token: token.clone() };
        let mut session = Session::connect_with(address, role, tls).await?;
        match session.receive().await? {
            ServerMessage::MasterWelcome => Ok(MasterClient { session, next_request_id: 1 }),
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
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.session.send(&ClientMessage::Request { request_id, command }).await?;
        match self.session.receive().await? {
            ServerMessage::Reply { request_id: answered, result } if answered == request_id => {
                Ok(result)
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
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
    pub address: String,
    pub name: String,
    /// One of the tokens `[[masters]]` lists the SHA-256 of for `name`.
    pub token: Token,
    pub builders: Vec<String>,
    pub heartbeat_interval: Duration,
    /// TLS to the daemon (and this master's client certificate, for mutual TLS).
    pub tls: Option<ClientTls>,
}

/// Registers a remote master, declares its builders, heartbeats until SIGTERM or SIGINT,
/// then sends masterStopped.
///
/// # Errors
///
/// When the daemon cannot be reached or refuses a request.
pub async fn run_master(options: MasterOptions) -> Result<(), Box<dyn std::error::Error>> {
    use async_signal::{Signal, Signals};

    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let mut client = MasterClient::connect_with(
        &options.address,
        &options.name,
        &options.token,
        options.tls.as_ref(),
    )
    .await?;
    let master = client.master_active(&options.name).await?;
    println!("registered as master {master}");
    if !options.builders.is_empty() {
        let command = Command::SetBuilderList { master, builder_names: options.builders.clone() };
        match client.request(command).await? {
            Ok(Reply::Builders(ids)) => {
                println!("serving builders {:?} as {ids:?}", options.builders)
            }
            other => return Err(format!("builder list refused: {other:?}").into()),
        }
    }
    loop {
        let stop = async {
            smol::Timer::after(options.heartbeat_interval).await;
            false
        }
        .or(async {
            let _ = signals.next().await;
            true
        })
        .await;
        if stop {
            match client.request(Command::MasterStopped { master }).await? {
                Ok(_) => println!("master {master} stopped"),
                Err(error) => return Err(format!("masterStopped refused: {error}").into()),
            }
            return Ok(());
        }
        client.master_active(&options.name).await?;
    }
}
