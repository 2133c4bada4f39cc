//! Where each row lives: its keyspace and its big-endian key, so that keys sort by id and
//! the liveness index sorts by time.

use rollcall_core::{MasterId, RecordKey, Timestamp};

pub(super) const MASTERS: &str = "masters";
pub(super) const MASTERS_BY_LAST_ACTIVE: &str = "masters_by_last_active";
pub(super) const BUILDERS: &str = "builders";
pub(super) const BUILDER_MASTERS: &str = "builder_masters";
pub(super) const SERVICES: &str = "services";
pub(super) const BUILD_REQUESTS: &str = "build_requests";
pub(super) const BUILDS: &str = "builds";
pub(super) const WORKERS: &str = "workers";
pub(super) const WORKER_MASTERS: &str = "worker_masters";

/// The keyspaces holding rows (the liveness index holds no rows: it is derived).
pub(super) const ROW_KEYSPACES: [&str; 8] =
    [MASTERS, BUILDERS, BUILDER_MASTERS, SERVICES, BUILD_REQUESTS, BUILDS, WORKERS, WORKER_MASTERS];

/// The keyspace and key of a row.
pub(super) fn locate(key: &RecordKey) -> (&'static str, Vec<u8>) {
    match *key {
        RecordKey::Master(id) => (MASTERS, one(id.get())),
        RecordKey::Builder(id) => (BUILDERS, one(id.get())),
        RecordKey::BuilderMaster { builder, master } => {
            (BUILDER_MASTERS, two(builder.get(), master.get()))
        }
        RecordKey::Service(id) => (SERVICES, one(id.get())),
        RecordKey::BuildRequest(id) => (BUILD_REQUESTS, one(id.get())),
        RecordKey::Build(id) => (BUILDS, one(id.get())),
        RecordKey::Worker(id) => (WORKERS, one(id.get())),
        RecordKey::WorkerConfigured { worker, master } => {
            (WORKER_MASTERS, two(worker.get(), master.get()))
        }
    }
}

/// The liveness index key of an active master: `last_active` then id, both big-endian.
pub(super) fn liveness(last_active: Timestamp, id: MasterId) -> Vec<u8> {
    two(last_active.as_millis(), id.get())
}

fn one(value: u64) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

fn two(first: u64, second: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(16);
    key.extend_from_slice(&first.to_be_bytes());
    key.extend_from_slice(&second.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_keys_sort_like_the_numbers_they_hold() {
        let early = liveness(Timestamp::from_millis(255), MasterId(9));
        let late = liveness(Timestamp::from_millis(256), MasterId(1));
        assert!(early < late);
        assert!(one(255) < one(256));
    }
}
