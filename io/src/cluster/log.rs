//! The registry's input log: appended only by the lease holder, in one statement that
//! first locks the lease row and checks that its epoch is still the writer's (fencing);
//! read in order by the standbys that replay it.

use postgres::types::Type;

use super::error::{signed, unsigned};
use super::ClusterStoreError;

/// One appended entry: an encoded registry input, at the epoch that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub epoch: u64,
    pub entry: Vec<u8>,
}

/// The most entries one read returns: a standby far behind reads in steps of this.
pub const MAX_ENTRIES_PER_READ: usize = 4_096;

/// Appends and reads of the log.
#[derive(Debug)]
pub struct LogStore;

impl LogStore {
    /// Appends `entries` after `after_seq` as `holder` at `epoch`, all or nothing, and
    /// returns the sequence number of the last. Fenced: the transaction locks the lease
    /// row, and commits only if the lease is still this holder's, at this epoch, unexpired
    /// by the database's clock, and the log still ends at `after_seq`.
    ///
    /// # Errors
    ///
    /// [`ClusterStoreError::Fenced`] or [`ClusterStoreError::LogMoved`] when this node may
    /// no longer write (nothing was written); the database's failure otherwise (the
    /// outcome is then unknown: the caller re-reads the log before acknowledging anything).
    pub fn append_fenced(
        client: &mut postgres::Client,
        holder: &str,
        epoch: u64,
        after_seq: u64,
        entries: &[Vec<u8>],
    ) -> Result<u64, ClusterStoreError> {
        // One statement, so one round trip and atomic on its own: it locks the lease row,
        // and appends and moves the log's end only if the lease is this holder's at this
        // epoch, unexpired, and the log ends at `after_seq`. Data-modifying CTEs run once
        // and to completion whether or not the final SELECT reads them; `allowed` is
        // empty when the fence fails, so they change nothing. Under a concurrent take,
        // `FOR UPDATE` waits and sees the row as the take left it.
        let lease = client.query_typed_one(
            "WITH lease AS (
                 SELECT holder, epoch, valid_until > now() AS unexpired, last_seq
                   FROM rollcall_lease FOR UPDATE
             ), allowed AS (
                 SELECT last_seq FROM lease
                  WHERE holder = $1 AND epoch = $2 AND unexpired AND last_seq = $3
             ), appended AS (
                 INSERT INTO rollcall_log (seq, epoch, entry)
                 SELECT allowed.last_seq + entries.ordinality, $2, entries.entry
                   FROM allowed, unnest($4::bytea[]) WITH ORDINALITY AS entries(entry, ordinality)
             ), moved AS (
                 UPDATE rollcall_lease SET last_seq = last_seq + cardinality($4::bytea[])
                  WHERE EXISTS (SELECT 1 FROM allowed)
             )
             SELECT holder, epoch, unexpired, last_seq FROM lease",
            &[
                (&holder, Type::TEXT),
                (&signed(epoch), Type::INT8),
                (&signed(after_seq), Type::INT8),
                (&entries, Type::BYTEA_ARRAY),
            ],
        )?;
        let current_holder: Option<String> = lease.get(0);
        let current_epoch = unsigned("rollcall_lease.epoch", lease.get(1))?;
        let unexpired: bool = lease.get(2);
        let last_seq = unsigned("rollcall_lease.last_seq", lease.get(3))?;
        if current_epoch != epoch || current_holder.as_deref() != Some(holder) || !unexpired {
            return Err(ClusterStoreError::Fenced { epoch, current_epoch, holder: current_holder });
        }
        if last_seq != after_seq {
            return Err(ClusterStoreError::LogMoved {
                expected_last: after_seq,
                found_last: last_seq,
            });
        }
        Ok(last_seq + entries.len() as u64)
    }

    /// Up to [`MAX_ENTRIES_PER_READ`] entries after `after_seq`, in order.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn read_after(
        client: &mut postgres::Client,
        after_seq: u64,
    ) -> Result<Vec<LogEntry>, ClusterStoreError> {
        let rows = client.query(
            "SELECT seq, epoch, entry FROM rollcall_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&signed(after_seq), &signed(MAX_ENTRIES_PER_READ as u64)],
        )?;
        rows.iter()
            .map(|row| {
                Ok(LogEntry {
                    seq: unsigned("rollcall_log.seq", row.get(0))?,
                    epoch: unsigned("rollcall_log.epoch", row.get(1))?,
                    entry: row.get(2),
                })
            })
            .collect()
    }
}
