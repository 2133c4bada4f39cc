//! A standby's session to the leader, for its own master: the transport of the Node's
//! `ToLeader` requests and of the leader's answers (core/src/node/forwarding.rs).
//!
//! It runs on a thread of its own, so that a slow or silent leader never holds the core
//! thread: requests are pipelined, answers come back to the core as inputs, and the
//! session's opening and end are reported there too, where the Node declares its whole
//! state on each new session. While this node leads, the link stays idle.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::FutureExt;
use rollcall_core::Command;
use smol::channel::{Receiver, Sender, TrySendError};

use crate::client::{ClientError, MasterClient};
use crate::cluster::ClusterStatus;
use crate::core_link::inputs::{CoreInput, LeaderEvent};
use crate::credentials::Token;
use crate::log_limit::{LogLimiter, Verdict};
use crate::tls::ClientTls;
use crate::wire::{ClientMessage, ServerMessage};

/// Room for every request the Node may have in flight, and the resets between them.
const QUEUE_CAPACITY: usize = rollcall_core::node::MAX_IN_FLIGHT_TO_LEADER + 64;

/// How long a connection and its Hello to the leader may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Between attempts while no leader answers, and while this node leads.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// The core thread's end of the link.
#[derive(Debug)]
pub(crate) struct LeaderLink {
    /// `Some` carries a request; `None` gives the session up (the Node asked for a new
    /// one).
    outgoing: Sender<Option<ClientMessage>>,
}

impl LeaderLink {
    /// Starts the link's thread: it follows the leader `status` names, as `name` with
    /// `token`, and reports to the core through `core`.
    pub(crate) fn spawn(
        name: String,
        token: Token,
        tls: Option<ClientTls>,
        status: Arc<ClusterStatus>,
        core: Sender<CoreInput>,
    ) -> std::io::Result<LeaderLink> {
        let (outgoing, queue) = smol::channel::bounded(QUEUE_CAPACITY);
        std::thread::Builder::new().name("rollcall-leader-link".into()).spawn(move || {
            let peer = Peer { name, token, tls };
            smol::block_on(follow(&peer, &status, &core, &queue));
        })?;
        Ok(LeaderLink { outgoing })
    }

    /// Queues a request; a full queue gives the session up (the Node holds no more in
    /// flight than fits, so only a link that stopped sending fills it).
    pub(crate) fn send(&self, request_id: u64, command: Command) {
        let request = ClientMessage::Request { request_id, command };
        if let Err(TrySendError::Full(_)) = self.outgoing.try_send(Some(request)) {
            self.give_up();
        }
    }

    pub(crate) fn give_up(&self) {
        let _ = self.outgoing.try_send(None);
    }
}

/// Who the own master is to the leader.
struct Peer {
    name: String,
    token: Token,
    tls: Option<ClientTls>,
}

/// Until the core is gone: find the leader, open a session, carry requests and answers,
/// and start over when the session ends.
async fn follow(
    peer: &Peer,
    status: &ClusterStatus,
    core: &Sender<CoreInput>,
    queue: &Receiver<Option<ClientMessage>>,
) {
    // A leader that keeps refusing (a wrong token or certificate) is said in the log, but
    // not five times a second.
    let mut refusals = LogLimiter::new(Duration::from_secs(60), 1);
    while !core.is_closed() {
        let state = status.get();
        let leader = state.leader_address.filter(|_| state.role != "leader");
        let Some(address) = leader.filter(|address| *address != status.advertise) else {
            drain(queue);
            smol::Timer::after(RETRY_INTERVAL).await;
            continue;
        };
        let connecting =
            MasterClient::connect_with(&address, &peer.name, &peer.token, peer.tls.as_ref());
        let timeout = async {
            smol::Timer::after(CONNECT_TIMEOUT).await;
            Err(ClientError::Unexpected("no welcome in time".into()))
        };
        let mut client = match connecting.or(timeout).await {
            Ok(client) => client,
            Err(error) => {
                let lasting = matches!(error, ClientError::Goodbye(_) | ClientError::Tls(_));
                let verdict = lasting.then(|| refusals.check(std::time::Instant::now()));
                if let Some(Verdict::Log { suppressed }) = verdict {
                    tracing::warn!(%address, %error, suppressed, "the leader's master port refused this node's master: it is not registered there");
                } else {
                    tracing::debug!(%address, %error, "the leader's master port did not take this master");
                }
                smol::Timer::after(RETRY_INTERVAL).await;
                continue;
            }
        };
        // What was queued for an earlier session is stale: the Node declares everything
        // again on this one.
        drain(queue);
        if core.send(CoreInput::Leader(LeaderEvent::Opened)).await.is_err() {
            return;
        }
        tracing::info!(%address, "session to the leader open for this node's master");
        let ended = client
            .session_mut()
            .pipeline(queue, |message| match message {
                ServerMessage::Reply { request_id, result } => {
                    let reply = CoreInput::Leader(LeaderEvent::Reply { request_id, result });
                    core.send_blocking(reply).is_ok()
                }
                _ => false,
            })
            .await;
        tracing::info!(%address, reason = %ended, "session to the leader ended");
        if core.send(CoreInput::Leader(LeaderEvent::Closed)).await.is_err() {
            return;
        }
        smol::Timer::after(RETRY_INTERVAL).await;
    }
}

fn drain(queue: &Receiver<Option<ClientMessage>>) {
    while queue.try_recv().is_ok() {}
}
