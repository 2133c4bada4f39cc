//! Snapshots of the registry in `rollcall_snapshot`: written by standbys from their
//! replicas (no fence needed: the state after entry `seq` is the same whoever computes it),
//! the newest kept, and the log entries it covers deleted in the same transaction.

use super::error::{signed, unsigned};
use super::ClusterStoreError;

/// A key for the transaction-scoped advisory lock that makes two standbys' snapshot writes
/// wait for each other (released at commit; it guards this transaction only).
const SNAPSHOT_LOCK: i64 = 0x726f_6c6c_736e_6170;

/// The snapshot table's reads and writes.
#[derive(Debug)]
pub struct SnapshotStore;

impl SnapshotStore {
    /// The newest snapshot: the entry it includes, and its encoded body.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn read_newest(
        client: &mut postgres::Client,
    ) -> Result<Option<(u64, Vec<u8>)>, ClusterStoreError> {
        let row = client
            .query_opt("SELECT seq, rows FROM rollcall_snapshot ORDER BY seq DESC LIMIT 1", &[])?;
        row.map(|row| Ok((unsigned("rollcall_snapshot.seq", row.get(0))?, row.get(1)))).transpose()
    }

    /// The entry the newest snapshot includes; 0 without one.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn newest_seq(client: &mut postgres::Client) -> Result<u64, ClusterStoreError> {
        let row =
            client.query_one("SELECT coalesce(max(seq), 0)::bigint FROM rollcall_snapshot", &[])?;
        unsigned("rollcall_snapshot.seq", row.get(0))
    }

    /// Stores `body` as the state after entry `seq`, if it is newer than the newest and
    /// within the log, and deletes the older snapshots and the log entries up to `seq`,
    /// all in one transaction. `false` when a snapshot as new is stored already.
    ///
    /// # Errors
    ///
    /// The database's failure (nothing is then changed).
    pub fn write(
        client: &mut postgres::Client,
        seq: u64,
        body: &[u8],
    ) -> Result<bool, ClusterStoreError> {
        let mut transaction = client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SNAPSHOT_LOCK])?;
        let row = transaction.query_one(
            "SELECT (SELECT coalesce(max(seq), 0)::bigint FROM rollcall_snapshot),
                    last_seq, epoch
               FROM rollcall_lease",
            &[],
        )?;
        let newest = unsigned("rollcall_snapshot.seq", row.get(0))?;
        let last_seq = unsigned("rollcall_lease.last_seq", row.get(1))?;
        let epoch: i64 = row.get(2);
        if seq <= newest || seq > last_seq {
            return Ok(false);
        }
        let seq = signed(seq);
        transaction.execute(
            "INSERT INTO rollcall_snapshot (seq, epoch, rows) VALUES ($1, $2, $3)",
            &[&seq, &epoch, &body],
        )?;
        transaction.execute("DELETE FROM rollcall_snapshot WHERE seq < $1", &[&seq])?;
        transaction.execute("DELETE FROM rollcall_log WHERE seq <= $1", &[&seq])?;
        transaction.commit()?;
        Ok(true)
    }
}
