//! Every worker connection the network has carried, as a table indexed by its id: the
//! simulator hands ids out from 1 upwards and never forgets a link (late messages on a
//! closed connection still need to know where it went), so a vector beats any map.

use rollcall_core::{ConnectionId, Timestamp};

/// A worker connection, as the network sees it.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) worker: usize,
    pub(super) master: usize,
    pub(super) incarnation: u64,
    /// The name and password offered were right for the master's roster at Hello time.
    pub(super) credentials_valid: bool,
    /// Last delivery moment in each direction: TCP keeps a connection's order.
    pub(super) last_to_master: Timestamp,
    pub(super) last_to_worker: Timestamp,
}

#[derive(Debug)]
pub(super) struct Links {
    /// `table[i]` is connection `i + 1`.
    table: Vec<Link>,
    /// Per master, every connection ever made to it, in id order.
    by_master: Vec<Vec<ConnectionId>>,
}

impl Links {
    pub(super) fn new(masters: usize) -> Links {
        Links { table: Vec::new(), by_master: vec![Vec::new(); masters] }
    }

    /// Records a new connection and returns its id: one more than the last.
    pub(super) fn open(&mut self, link: Link) -> ConnectionId {
        let connection = ConnectionId(self.table.len() as u64 + 1);
        self.by_master[link.master].push(connection);
        self.table.push(link);
        connection
    }

    fn index(connection: ConnectionId) -> usize {
        (connection.get() as usize).wrapping_sub(1)
    }

    pub(super) fn get(&self, connection: ConnectionId) -> Option<&Link> {
        self.table.get(Self::index(connection))
    }

    pub(super) fn get_mut(&mut self, connection: ConnectionId) -> Option<&mut Link> {
        self.table.get_mut(Self::index(connection))
    }

    /// Every connection ever made to `master`, in id order.
    pub(super) fn to_master(&self, master: usize) -> &[ConnectionId] {
        &self.by_master[master]
    }
}
