//! The lease row, by the database's clock: taken only once expired (which bumps the
//! epoch), renewed only by its holder before it expires, released on a clean stop.

use std::time::Duration;

use super::error::{signed, unsigned};
use super::ClusterStoreError;

/// The lease as the database holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: Option<String>,
    /// The leader's address for clients and peers, as it advertised it.
    pub address: Option<String>,
    pub epoch: u64,
    /// Milliseconds until it expires, by the database's clock; 0 once expired.
    pub remaining_ms: u64,
    /// The last sequence number of the registry log.
    pub last_seq: u64,
}

/// The lease operations of one node, `holder`, over its own session.
#[derive(Debug)]
pub struct LeaseStore {
    holder: String,
    address: String,
    ttl: Duration,
}

impl LeaseStore {
    pub fn new(holder: impl Into<String>, address: impl Into<String>, ttl: Duration) -> Self {
        LeaseStore { holder: holder.into(), address: address.into(), ttl }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease if it has expired, bumping its epoch; `None` while another node
    /// (or this one, in an earlier life) holds it unexpired.
    ///
    /// # Errors
    ///
    /// The database's failure: the outcome is then unknown, and nothing may be assumed.
    pub fn try_take(
        &self,
        client: &mut postgres::Client,
    ) -> Result<Option<u64>, ClusterStoreError> {
        let row = client.query_opt(
            "UPDATE rollcall_lease
                SET holder = $1, address = $2, epoch = epoch + 1,
                    valid_until = now() + make_interval(secs => $3)
              WHERE valid_until < now()
              RETURNING epoch",
            &[&self.holder, &self.address, &self.ttl.as_secs_f64()],
        )?;
        row.map(|row| unsigned("rollcall_lease.epoch", row.get(0))).transpose()
    }

    /// Extends the lease of `epoch` by a TTL from now, if this node still holds it and it
    /// has not expired; `false` when it is lost.
    ///
    /// # Errors
    ///
    /// The database's failure: the outcome is then unknown.
    pub fn renew(
        &self,
        client: &mut postgres::Client,
        epoch: u64,
    ) -> Result<bool, ClusterStoreError> {
        let renewed = client.execute(
            "UPDATE rollcall_lease
                SET valid_until = now() + make_interval(secs => $3)
              WHERE holder = $1 AND epoch = $2 AND valid_until >= now()",
            &[&self.holder, &signed(epoch), &self.ttl.as_secs_f64()],
        )?;
        Ok(renewed == 1)
    }

    /// Gives the lease of `epoch` up at once (a clean stop), so that a standby need not
    /// wait for it to expire; `false` if it was no longer this node's.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn release(
        &self,
        client: &mut postgres::Client,
        epoch: u64,
    ) -> Result<bool, ClusterStoreError> {
        let released = client.execute(
            "UPDATE rollcall_lease SET valid_until = '-infinity'
              WHERE holder = $1 AND epoch = $2",
            &[&self.holder, &signed(epoch)],
        )?;
        Ok(released == 1)
    }

    /// The lease as it stands.
    ///
    /// # Errors
    ///
    /// The database's failure.
    pub fn read(client: &mut postgres::Client) -> Result<LeaseRow, ClusterStoreError> {
        let row = client.query_one(
            "SELECT holder, address, epoch,
                    GREATEST(0, CEIL(EXTRACT(EPOCH FROM (valid_until - now())) * 1000))::bigint,
                    last_seq
               FROM rollcall_lease",
            &[],
        )?;
        Ok(LeaseRow {
            holder: row.get(0),
            address: row.get(1),
            epoch: unsigned("rollcall_lease.epoch", row.get(2))?,
            remaining_ms: unsigned("the lease's remaining time", row.get(3))?,
            last_seq: unsigned("rollcall_lease.last_seq", row.get(4))?,
        })
    }
}
