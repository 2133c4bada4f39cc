//! The core thread's table of connections that said Hello: where each one's frames go,
//! and what the transport must remember about it that the Node does not decide.

use std::collections::HashMap;

use rollcall_core::ConnectionId;

use crate::codec;
use crate::core_link::inputs::Outbound;
use crate::wire::ServerMessage;

#[derive(Debug)]
pub(super) enum PeerRole {
    Worker {
        name: String,
        /// Where it connects from.
        address: std::net::SocketAddr,
    },
    /// A master session: the Node holds its name and token.
    Master,
}

#[derive(Debug)]
pub(super) struct Peer {
    pub(super) outbound: Outbound,
    pub(super) role: PeerRole,
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

    /// Queues a frame; a peer over its outbound limits is reported, not sent to.
    pub(super) fn send(
        &mut self,
        connection: ConnectionId,
        frame: Vec<u8>,
    ) -> Result<(), Overflowed> {
        let Some(peer) = self.by_connection.get(&connection) else { return Ok(()) };
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

    /// Forgets the peer after queueing its Goodbye: dropping the queue ends the writer
    /// once the Goodbye is out.
    pub(super) fn close(&mut self, connection: ConnectionId, reason: &str) -> Option<Peer> {
        let peer = self.by_connection.remove(&connection)?;
        let _ = peer.outbound.try_send(encode(&ServerMessage::Goodbye { reason: reason.into() }));
        Some(peer)
    }

    /// Forgets the peer after telling it where the leader is (a master at a standby).
    pub(super) fn redirect(&mut self, connection: ConnectionId, leader: Option<String>) {
        if let Some(peer) = self.by_connection.remove(&connection) {
            let _ = peer.outbound.try_send(encode(&ServerMessage::NotLeader { leader }));
        }
    }

    /// Every peer, for the shutdown's Goodbye.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (ConnectionId, Peer)> + '_ {
        self.by_connection.drain()
    }
}

pub(super) fn encode(message: &ServerMessage) -> Vec<u8> {
    match codec::encode_frame(message) {
        Ok(frame) => frame,
        Err(error) => unreachable!("server messages always encode: {error}"),
    }
}
