//! The core thread's table of connections that said Hello: where each one's frames go,
//! and what the transport must remember about it that the Node does not decide.

use std::collections::HashMap;

use rollcall_core::ConnectionId;

use crate::codec::{self, Encoding};
use crate::core_link::inputs::Outbound;
use crate::wire::ServerMessage;

#[derive(Debug)]
pub(super) enum PeerRole {
    Worker {
        name: String,
        /// Where it connects from.
        address: std::net::SocketAddr,
    },
    /// A master session: the Node holds its name and token. The version its Hello chose
    /// says how it is welcomed.
    Master { protocol_version: u32 },
}

#[derive(Debug)]
pub(super) struct Peer {
    pub(super) outbound: Outbound,
    pub(super) role: PeerRole,
    /// What its Hello chose: every frame to it is encoded so.
    pub(super) encoding: Encoding,
}

/// Frames queued to peers, with the outbound limits that say when a peer stopped reading.
#[derive(Debug)]
pub(super) struct Peers {
    by_connection: HashMap<ConnectionId, Peer>,
    max_outbound_frames: usize,
    max_outbound_bytes: usize,
}

/// A send that found the peer's queue full: the peer stopped reading.
#[derive(Debug)]
pub(super) struct Overflowed(pub(super) ConnectionId);

impl Peers {
    pub(super) fn new(max_outbound_frames: usize, max_outbound_bytes: usize) -> Peers {
        Peers { by_connection: HashMap::new(), max_outbound_frames, max_outbound_bytes }
    }

    pub(super) fn set_limits(&mut self, max_outbound_frames: usize, max_outbound_bytes: usize) {
        self.max_outbound_frames = max_outbound_frames;
        self.max_outbound_bytes = max_outbound_bytes;
    }

    pub(super) fn insert(&mut self, connection: ConnectionId, peer: Peer) {
        self.by_connection.insert(connection, peer);
    }

    pub(super) fn get(&self, connection: ConnectionId) -> Option<&Peer> {
        self.by_connection.get(&connection)
    }

    pub(super) fn remove(&mut self, connection: ConnectionId) -> Option<Peer> {
        self.by_connection.remove(&connection)
    }

    /// Queues a message in the peer's encoding; a peer over its outbound limits is
    /// reported, not sent to.
    pub(super) fn send(
        &mut self,
        connection: ConnectionId,
        message: &ServerMessage,
    ) -> Result<(), Overflowed> {
        let Some(peer) = self.by_connection.get(&connection) else { return Ok(()) };
        let frame = encode(peer.encoding, message);
        let full = peer.outbound.would_overflow(
            frame.len(),
            self.max_outbound_frames,
            self.max_outbound_bytes,
        );
        if full {
            tracing::warn!(
                connection = %connection,
                queued_frames = peer.outbound.frames(),
                queued_bytes = peer.outbound.bytes(),
                "peer is not reading; disconnecting it"
            );
        }
        if full || peer.outbound.try_send(frame).is_err() {
            return Err(Overflowed(connection));
        }
        Ok(())
    }

    /// Welcomes a master session as its protocol version says.
    pub(super) fn welcome(&mut self, connection: ConnectionId) -> Result<(), Overflowed> {
        let welcome = match self.by_connection.get(&connection).map(|peer| &peer.role) {
            Some(PeerRole::Master { protocol_version: 2 }) => ServerMessage::MasterWelcome,
            Some(PeerRole::Master { protocol_version }) => {
                ServerMessage::Welcome { protocol_version: *protocol_version }
            }
            Some(PeerRole::Worker { .. }) | None => return Ok(()),
        };
        self.send(connection, &welcome)
    }

    /// Forgets the peer after queueing its Goodbye: dropping the queue ends the writer
    /// once the Goodbye is out.
    pub(super) fn close(&mut self, connection: ConnectionId, reason: &str) -> Option<Peer> {
        let peer = self.by_connection.remove(&connection)?;
        let goodbye = ServerMessage::Goodbye { reason: reason.into() };
        let _ = peer.outbound.try_send(encode(peer.encoding, &goodbye));
        Some(peer)
    }

    /// Forgets the peer after telling it where the leader is (a master at a standby).
    pub(super) fn redirect(&mut self, connection: ConnectionId, leader: Option<String>) {
        if let Some(peer) = self.by_connection.remove(&connection) {
            let not_leader = ServerMessage::NotLeader { leader };
            let _ = peer.outbound.try_send(encode(peer.encoding, &not_leader));
        }
    }

    /// Every peer, for the shutdown's Goodbye.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (ConnectionId, Peer)> + '_ {
        self.by_connection.drain()
    }
}

pub(super) fn encode(encoding: Encoding, message: &ServerMessage) -> Vec<u8> {
    match codec::encode_frame_as(encoding, message) {
        Ok(frame) => frame,
        Err(error) => unreachable!("server messages always encode: {error}"),
    }
}
