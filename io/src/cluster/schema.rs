//! The cluster's tables, created and upgraded by rollcall itself: a list of migrations,
//! each applied once, in order, in one transaction with the version it brings.

use super::ClusterStoreError;

/// The schema version this build writes. A database at a higher one is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// Migration `n` (from 1) brings the schema from version `n - 1` to `n`. Never edit one
/// that has shipped: append the next.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: the lease (one row, judged by the database's clock), the registry's input log
    // (sequence numbers handed out by the lease holder inside its fenced transaction,
    // never by a sequence shared by writers), and snapshots of the rows.
    "CREATE TABLE rollcall_lease (
         singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
         holder text,
         address text,
         epoch bigint NOT NULL CHECK (epoch >= 0),
         valid_until timestamptz NOT NULL,
         last_seq bigint NOT NULL CHECK (last_seq >= 0)
     );
     INSERT INTO rollcall_lease (epoch, valid_until, last_seq) VALUES (0, '-infinity', 0);
     CREATE TABLE rollcall_log (
         seq bigint PRIMARY KEY CHECK (seq > 0),
         epoch bigint NOT NULL CHECK (epoch > 0),
         entry bytea NOT NULL
     );
     CREATE TABLE rollcall_snapshot (
         seq bigint PRIMARY KEY CHECK (seq >= 0),
         epoch bigint NOT NULL,
         rows bytea NOT NULL
     );",
];

/// A key for the transaction-scoped advisory lock that makes concurrent migrations wait
/// for each other (released at commit: it guards this transaction only, never leadership).
const MIGRATION_LOCK: i64 = 0x726f_6c6c_6361_6c6c;

/// Brings the database to [`SCHEMA_VERSION`] and returns the version it was at.
///
/// # Errors
///
/// [`ClusterStoreError::SchemaTooNew`] for a database a newer rollcall migrated, or the
/// database's own failure (nothing is then changed).
pub fn migrate(client: &mut postgres::Client) -> Result<i64, ClusterStoreError> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS rollcall_schema (
             singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
             version bigint NOT NULL
         )",
    )?;
    let found: i64 = transaction
        .query_opt("SELECT version FROM rollcall_schema", &[])?
        .map_or(0, |row| row.get(0));
    if found > SCHEMA_VERSION {
        return Err(ClusterStoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    if found < 0 {
        return Err(ClusterStoreError::Corrupt { what: "rollcall_schema.version", value: found });
    }
    for migration in &MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
        transaction.batch_execute(migration)?;
    }
    transaction.execute(
        "INSERT INTO rollcall_schema (version) VALUES ($1)
         ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version",
        &[&SCHEMA_VERSION],
    )?;
    transaction.commit()?;
    Ok(found)
}
