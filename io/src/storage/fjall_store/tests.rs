use rollcall_core::registry::MasterRecord;
use rollcall_core::BuilderId;

use super::*;

fn master(id: u64, active: bool, last_active_ms: u64) -> Record {
    Record::Master(MasterRecord {
        id: MasterId(id),
        name: format!("m{id}:/srv"),
        active,
        last_active: Timestamp::from_millis(last_active_ms),
    })
}

fn sorted(mut rows: Vec<Record>) -> Vec<Record> {
    rows.sort_by_key(Record::key);
    rows
}

fn index_entry(last_active_ms: u64, id: u64) -> (Timestamp, MasterId) {
    (Timestamp::from_millis(last_active_ms), MasterId(id))
}

#[test]
fn a_reopened_store_loads_the_latest_put_of_each_row_and_nothing_deleted() {
    let directory = tempfile::tempdir().expect("tempdir");
    {
        let mut store = FjallStore::open(directory.path()).expect("open");
        let link = Record::BuilderMaster { builder: BuilderId(7), master: MasterId(1) };
        store
            .commit(&[
                Change::Put(master(1, true, 1_000)),
                Change::Put(master(2, true, 1_000)),
                Change::Put(link.clone()),
            ])
            .expect("first batch");
        // A heartbeat, an expiry and a given-back link, all in one later batch.
        store
            .commit(&[
                Change::Put(master(1, true, 2_000)),
                Change::Put(master(2, false, 1_000)),
                Change::Delete(link.key()),
            ])
            .expect("second batch");
    }
    let store = FjallStore::open(directory.path()).expect("reopen");
    assert_eq!(
        sorted(store.load().expect("load")),
        vec![master(1, true, 2_000), master(2, false, 1_000)]
    );
}

#[test]
fn the_stored_index_holds_exactly_the_active_masters_at_their_last_active() {
    let directory = tempfile::tempdir().expect("tempdir");
    {
        let mut store = FjallStore::open(directory.path()).expect("open");
        store
            .commit(&[
                Change::Put(master(1, true, 10)),
                Change::Put(master(2, true, 10)),
                Change::Put(master(3, true, 10)),
            ])
            .expect("registrations");
        // Master 1 beats twice in one batch: only its latest moment stays indexed.
        store
            .commit(&[
                Change::Put(master(1, true, 20)),
                Change::Put(master(1, true, 30)),
                Change::Put(master(2, false, 10)),
            ])
            .expect("heartbeats and an expiry");
        assert_eq!(
            store.liveness_index().expect("index"),
            vec![index_entry(10, 3), index_entry(30, 1)]
        );
        // A stopped master that comes back is indexed again.
        store.commit(&[Change::Put(master(2, true, 40))]).expect("revival");
    }
    let store = FjallStore::open(directory.path()).expect("reopen");
    assert_eq!(
        store.liveness_index().expect("index"),
        vec![index_entry(10, 3), index_entry(30, 1), index_entry(40, 2)]
    );
}

#[test]
fn an_index_that_disagrees_with_the_master_rows_is_rewritten_on_open() {
    let directory = tempfile::tempdir().expect("tempdir");
    {
        let mut store = FjallStore::open(directory.path()).expect("open");
        store
            .commit(&[Change::Put(master(1, true, 10)), Change::Put(master(2, true, 10))])
            .expect("registrations");
        // Damage behind the store's back: a stale key, a missing one, a malformed one.
        let index = store.keyspace(keys::MASTERS_BY_LAST_ACTIVE);
        index.insert(keys::liveness(Timestamp::from_millis(5), MasterId(9)), []).expect("stale");
        index.remove(keys::liveness(Timestamp::from_millis(10), MasterId(2))).expect("missing");
        index.insert([7_u8; 5], []).expect("malformed");
        store.database.persist(PersistMode::SyncAll).expect("persist");
    }
    let mut store = FjallStore::open(directory.path()).expect("reopen");
    assert_eq!(
        store.liveness_index().expect("index"),
        vec![index_entry(10, 1), index_entry(10, 2)]
    );
    assert!(store.stored_liveness_keys().expect("keys").1.is_empty(), "malformed key removed");
    // And the repaired index moves on correctly with the next heartbeat.
    store.commit(&[Change::Put(master(2, true, 20))]).expect("heartbeat");
    assert_eq!(
        store.liveness_index().expect("index"),
        vec![index_entry(10, 1), index_entry(20, 2)]
    );
}

#[test]
fn an_empty_batch_costs_nothing_and_changes_nothing() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut store = FjallStore::open(directory.path()).expect("open");
    assert_eq!(store.commit(&[]).expect("commit"), CommitStats::default());
    assert!(store.load().expect("load").is_empty());
}
