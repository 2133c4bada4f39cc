//! The cluster's shared store against a real PostgreSQL 15: the schema's migrations, the
//! lease judged by the database's clock, and the fenced registry log (issue #13).

use std::time::{Duration, Instant};

use rollcall_core::replication::{SharedStore, Take};
use rollcall_io::cluster::{
    connect, migrate, ClusterStoreError, Deadlines, LeaseStore, LogStore, PostgresStore,
    MAX_LIVE_SESSIONS, SCHEMA_VERSION,
};
use rollcall_test_postgres::{Postgres, Proxy};

const TTL: Duration = Duration::from_secs(10);

fn session(postgres: &Postgres) -> postgres::Client {
    connect(&postgres.url(), Deadlines::for_lease_ttl(TTL), None).expect("connect")
}

fn migrated(postgres: &Postgres) -> postgres::Client {
    let mut client = session(postgres);
    migrate(&mut client).expect("migrate");
    client
}

/// The lease expires now by the database's clock, as if its TTL had run out.
fn expire_lease(postgres: &Postgres) {
    postgres
        .client()
        .execute("UPDATE rollcall_lease SET valid_until = now() - interval '1 millisecond'", &[])
        .expect("expire the lease");
}

fn entries(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|text| text.as_bytes().to_vec()).collect()
}

/// An empty database is brought to the current schema, a second run changes nothing, two
/// nodes migrating at once both succeed, and a database a newer rollcall migrated is
/// refused with both versions named.
#[test]
fn the_schema_is_created_once_and_a_newer_one_is_refused() {
    let postgres = Postgres::start();
    let mut client = session(&postgres);
    assert_eq!(migrate(&mut client).expect("first migration"), 0);
    assert_eq!(migrate(&mut client).expect("second migration"), SCHEMA_VERSION);
    let url = postgres.url();
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut client =
                    connect(&url, Deadlines::for_lease_ttl(TTL), None).expect("connect");
                migrate(&mut client).expect("concurrent migration")
            })
        })
        .collect();
    for racer in racers {
        assert_eq!(racer.join().expect("join"), SCHEMA_VERSION);
    }
    postgres.client().execute("UPDATE rollcall_schema SET version = 99", &[]).expect("bump");
    let error = migrate(&mut client).expect_err("a newer schema is refused");
    assert!(matches!(
        error,
        ClusterStoreError::SchemaTooNew { found: 99, supported: SCHEMA_VERSION }
    ));
    assert!(error.to_string().contains("version 99"), "{error}");
    assert!(error.to_string().contains(&format!("up to {SCHEMA_VERSION}")), "{error}");
}

/// One node takes the lease; another cannot while it is unexpired, nor renew what it does
/// not hold. Once it expires by the database's clock, the other takes it at the next
/// epoch, and the first can neither renew nor release it.
#[test]
fn the_lease_is_taken_only_once_expired_and_every_take_bumps_the_epoch() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let mut b_session = session(&postgres);
    let a = LeaseStore::new("a", "127.0.0.1:7001", TTL);
    let b = LeaseStore::new("b", "127.0.0.1:7002", TTL);
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    assert_eq!(b.try_take(&mut b_session).expect("take"), None);
    assert!(a.renew(&mut a_session, 1).expect("renew"));
    assert!(!b.renew(&mut b_session, 1).expect("renew"), "b does not hold epoch 1");
    let lease = LeaseStore::read(&mut b_session).expect("read");
    assert_eq!(lease.holder.as_deref(), Some("a"));
    assert_eq!(lease.address.as_deref(), Some("127.0.0.1:7001"));
    assert_eq!(lease.epoch, 1);
    assert!(lease.remaining_ms > 9_000 && lease.remaining_ms <= 10_000, "{lease:?}");

    expire_lease(&postgres);
    assert!(!a.renew(&mut a_session, 1).expect("renew"), "an expired lease is not renewed");
    assert_eq!(b.try_take(&mut b_session).expect("take"), Some(2));
    assert_eq!(a.try_take(&mut a_session).expect("take"), None);
    assert!(!a.release(&mut a_session, 1).expect("release"), "a holds nothing any more");
    assert!(b.release(&mut b_session, 2).expect("release"));
    assert_eq!(a.try_take(&mut a_session).expect("take after a release"), Some(3));
}

/// The TTL is counted by the database's clock: a one-second lease cannot be taken by
/// another node before a second has passed, and can be right after.
#[test]
fn a_lease_expires_by_the_database_clock_after_its_ttl() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let mut b_session = session(&postgres);
    let short = Duration::from_secs(1);
    let a = LeaseStore::new("a", "a:1", short);
    let b = LeaseStore::new("b", "b:1", short);
    let taken = Instant::now();
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    let mut took = None;
    while took.is_none() {
        took = b.try_take(&mut b_session).expect("take");
        if took.is_none() {
            assert!(taken.elapsed() < Duration::from_secs(10), "the lease never expired");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(
        taken.elapsed() >= Duration::from_millis(900),
        "taken over after {:?}",
        taken.elapsed()
    );
    assert_eq!(took, Some(2));
}

/// Appends are fenced by the lease: the holder's append lands with the next sequence
/// numbers; a deposed leader's late append is refused whole and names the epoch that
/// replaced it; an expired lease fences its own holder even before anyone takes over; and
/// a writer whose view of the log is stale is refused.
#[test]
fn a_deposed_leaders_append_is_fenced_and_writes_nothing() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let mut b_session = session(&postgres);
    let a = LeaseStore::new("a", "a:1", TTL);
    let b = LeaseStore::new("b", "b:1", TTL);
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    let last = LogStore::append_fenced(&mut a_session, "a", 1, 0, &entries(&["one", "two"]))
        .expect("the holder appends");
    assert_eq!(last, 2);

    expire_lease(&postgres);
    let error = LogStore::append_fenced(&mut a_session, "a", 1, 2, &entries(&["late"]))
        .expect_err("an expired lease fences its holder");
    assert!(
        matches!(error, ClusterStoreError::Fenced { epoch: 1, current_epoch: 1, .. }),
        "{error}"
    );

    assert_eq!(b.try_take(&mut b_session).expect("take"), Some(2));
    let error = LogStore::append_fenced(&mut a_session, "a", 1, 2, &entries(&["later"]))
        .expect_err("the deposed leader is fenced");
    match &error {
        ClusterStoreError::Fenced { epoch: 1, current_epoch: 2, holder } => {
            assert_eq!(holder.as_deref(), Some("b"));
        }
        other => panic!("expected a fence, got {other}"),
    }
    let stale = LogStore::append_fenced(&mut b_session, "b", 2, 1, &entries(&["stale"]))
        .expect_err("a stale view of the log is refused");
    assert!(matches!(stale, ClusterStoreError::LogMoved { expected_last: 1, found_last: 2 }));
    assert_eq!(
        LogStore::append_fenced(&mut b_session, "b", 2, 2, &entries(&["three"])).expect("append"),
        3
    );
    let log = LogStore::read_after(&mut a_session, 0).expect("read");
    let seen: Vec<(u64, u64, &[u8])> =
        log.iter().map(|entry| (entry.seq, entry.epoch, entry.entry.as_slice())).collect();
    assert_eq!(
        seen,
        vec![(1, 1, b"one".as_slice()), (2, 1, b"two".as_slice()), (3, 2, b"three".as_slice())]
    );
    assert_eq!(LogStore::read_after(&mut a_session, 2).expect("read").len(), 1);
}

/// A new leader's take waits for the old leader's commit in flight (both lock the lease
/// row): the commit that passed its epoch check lands before the new epoch begins, so the
/// two leaders' commits never interleave.
#[test]
fn a_take_waits_for_the_commit_in_flight_and_does_not_interleave_with_it() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let a = LeaseStore::new("a", "a:1", Duration::from_secs(1));
    let taken = Instant::now();
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    // The old leader's transaction holds the lease row, as append_fenced's does, from
    // before its lease expired until after.
    let mut in_flight = a_session.transaction().expect("begin");
    in_flight.query_one("SELECT epoch FROM rollcall_lease FOR UPDATE", &[]).expect("lock");
    std::thread::sleep(Duration::from_millis(1_100).saturating_sub(taken.elapsed()));
    let url = postgres.url();
    let taker = std::thread::spawn(move || {
        let mut session = connect(&url, Deadlines::for_lease_ttl(Duration::from_secs(60)), None)
            .expect("connect");
        LeaseStore::new("b", "b:1", TTL).try_take(&mut session).expect("take")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!taker.is_finished(), "the take did not wait for the commit in flight");
    in_flight
        .execute("INSERT INTO rollcall_log (seq, epoch, entry) VALUES (1, 1, 'x')", &[])
        .expect("the old leader's write");
    in_flight.execute("UPDATE rollcall_lease SET last_seq = 1", &[]).expect("head");
    in_flight.commit().expect("commit");
    assert_eq!(taker.join().expect("join"), Some(2));
    let lease = LeaseStore::read(&mut a_session).expect("read");
    assert_eq!((lease.epoch, lease.last_seq), (2, 1));
}

/// PostgreSQL stopped at once and started again: requests fail while it is down, with the
/// database's error; once it is back, a new session finds the lease and the log as they
/// were committed.
#[test]
fn a_postgres_restart_fails_requests_while_down_and_keeps_what_was_committed() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let a = LeaseStore::new("a", "a:1", TTL);
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    LogStore::append_fenced(&mut a_session, "a", 1, 0, &entries(&["kept"])).expect("append");
    postgres.stop_immediate();
    let error = a.renew(&mut a_session, 1).expect_err("the server is down");
    assert!(matches!(error, ClusterStoreError::Database(_)), "{error}");
    assert!(connect(&postgres.url(), Deadlines::for_lease_ttl(TTL), None).is_err());
    postgres.start_again();
    let mut again = session(&postgres);
    let lease = LeaseStore::read(&mut again).expect("read");
    assert_eq!((lease.holder.as_deref(), lease.epoch, lease.last_seq), (Some("a"), 1, 1));
    assert!(a.renew(&mut again, 1).expect("renew after the restart"));
    assert_eq!(LogStore::read_after(&mut again, 0).expect("read").len(), 1);
}

/// The replication path end to end through PostgreSQL: a leader's Registry logs its
/// inputs, each batch is appended fenced, and a standby that reads the log back and
/// replays it holds the leader's rows and clock exactly.
#[test]
fn a_standby_replaying_the_log_from_postgres_holds_the_leaders_registry() {
    use rollcall_core::registry::RegistryInput;
    use rollcall_core::{
        Command, LoggedInput, MasterId, Registry, RegistryConfig, ReplyToken, Timestamp,
    };
    let postgres = Postgres::start();
    let mut leader_session = migrated(&postgres);
    let mut standby_session = session(&postgres);
    let lease = LeaseStore::new("a", "a:1", TTL);
    let epoch = lease.try_take(&mut leader_session).expect("take").expect("the lease is free");
    let config = RegistryConfig { expiry_window_ms: 60_000 };
    let mut leader = Registry::new(config);
    leader.start_input_log();
    let start = Timestamp::from_millis(1_700_000_000_000);
    let mut last_seq = 0;
    for round in 0..5_u64 {
        let now = start.plus_millis(round * 30_000);
        for command in [
            Command::MasterActive { name: format!("m{}", round % 3) },
            Command::SubmitBuildRequest { master: MasterId(1), builder_name: "b".into() },
        ] {
            leader.handle(now, RegistryInput { token: ReplyToken(round), command });
        }
        leader.handle_timeout(now);
        while leader.poll_output().is_some() {}
        let batch: Vec<Vec<u8>> = leader
            .take_logged_inputs()
            .iter()
            .map(|input| rollcall_io::codec::encode(input).expect("encode"))
            .collect();
        last_seq = LogStore::append_fenced(&mut leader_session, "a", epoch, last_seq, &batch)
            .expect("append");
    }
    let mut replica = Registry::new(config);
    let mut applied = 0;
    loop {
        let entries = LogStore::read_after(&mut standby_session, applied).expect("read");
        let Some(last) = entries.last() else { break };
        applied = last.seq;
        for entry in &entries {
            let input: LoggedInput = rollcall_io::codec::decode(&entry.entry).expect("decode");
            replica.replay(input);
        }
    }
    assert_eq!(applied, last_seq);
    assert_eq!(replica.records(), leader.records());
    assert_eq!(replica.now(), leader.now());
}

/// Across a stalled network (a proxy that holds every byte, so TCP itself notices
/// nothing), every call of the store fails within its deadline instead of hanging; the
/// sessions given up on are capped; once the network heals, the store works again and
/// the stalled sessions end.
#[test]
fn a_stalled_network_fails_each_call_within_its_deadline_and_the_store_heals() {
    let postgres = Postgres::start();
    let proxy = Proxy::start(&postgres);
    // A short lease makes the call deadline short (a third of the TTL): 200 ms.
    let ttl = Duration::from_millis(600);
    let mut store = PostgresStore::new(proxy.url(), "n1", "n1:7001", ttl);
    let call_deadline = store.deadlines().call;
    let Take::Taken { epoch } = store.try_take().expect("take through the proxy") else {
        panic!("a new lease is free")
    };
    assert_eq!(store.live_sessions(), 1);

    proxy.stall();
    // The session's call is abandoned, then each new session's opening, until the cap.
    let mut unanswered = 0;
    let refused = loop {
        let started = Instant::now();
        match store.renew(epoch) {
            Err(ClusterStoreError::Unanswered { after_ms, .. }) => {
                assert_eq!(u128::from(after_ms), call_deadline.as_millis());
                // Bounded, not timed: the call gave up instead of waiting for TCP.
                assert!(started.elapsed() < call_deadline * 20, "{:?}", started.elapsed());
                unanswered += 1;
            }
            Err(error @ ClusterStoreError::StalledSessions { .. }) => break error,
            other => panic!("a stalled network answered: {other:?}"),
        }
        assert!(unanswered <= MAX_LIVE_SESSIONS, "the stalled sessions are not capped");
    };
    assert_eq!(unanswered, MAX_LIVE_SESSIONS);
    assert_eq!(store.live_sessions(), MAX_LIVE_SESSIONS);
    assert!(refused.to_string().contains("stalled"), "{refused}");

    proxy.pass();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.read_after(0).is_err() {
        assert!(Instant::now() < deadline, "the store does not heal");
        std::thread::sleep(Duration::from_millis(50));
    }
    while store.live_sessions() > 1 {
        assert!(Instant::now() < deadline, "the stalled sessions do not end");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An append that waits on a take in flight (the row locked by the new leader's
/// transaction) sees the lease as the take left it once it commits: fenced, nothing
/// written, the log's end unmoved. The append's one statement rereads the row it locks.
#[test]
fn an_append_waiting_on_a_take_in_flight_is_fenced_by_it() {
    let postgres = Postgres::start();
    let mut a_session = migrated(&postgres);
    let a = LeaseStore::new("a", "a:1", TTL);
    assert_eq!(a.try_take(&mut a_session).expect("take"), Some(1));
    let mut b_session = session(&postgres);
    let mut take = b_session.transaction().expect("begin");
    take.execute(
        "UPDATE rollcall_lease SET holder = 'b', address = 'b:1', epoch = epoch + 1,
                valid_until = now() + interval '10 seconds'",
        &[],
    )
    .expect("the take, uncommitted");
    let appender = std::thread::spawn(move || {
        let appended = LogStore::append_fenced(&mut a_session, "a", 1, 0, &entries(&["late"]));
        (appended, a_session)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!appender.is_finished(), "the append did not wait for the take in flight");
    take.commit().expect("the take commits");
    let (appended, mut a_session) = appender.join().expect("join");
    match appended {
        Err(ClusterStoreError::Fenced { epoch: 1, current_epoch: 2, holder }) => {
            assert_eq!(holder.as_deref(), Some("b"));
        }
        other => panic!("expected a fence, got {other:?}"),
    }
    let lease = LeaseStore::read(&mut a_session).expect("read");
    assert_eq!((lease.epoch, lease.last_seq), (2, 0));
    assert!(LogStore::read_after(&mut a_session, 0).expect("read the log").is_empty());
}

/// A snapshot is stored only if newer than the newest and within the log; storing it
/// deletes the log it covers and older snapshots; readers are told where it stands, and
/// it comes back as written.
#[test]
fn a_snapshot_prunes_the_log_it_covers_and_only_a_newer_one_replaces_it() {
    use rollcall_core::{Command, LoggedInput, Registry, RegistryConfig, Timestamp};
    let postgres = Postgres::start();
    let mut store = PostgresStore::new(postgres.url(), "n1", "n1:7001", TTL);
    let Take::Taken { epoch } = store.try_take().expect("take") else { panic!("a free lease") };
    let at = Timestamp::from_millis(1_700_000_000_000);
    let inputs: Vec<LoggedInput> = (0..5)
        .map(|index| LoggedInput::Command {
            at,
            command: Command::MasterActive { name: format!("m{index}") },
        })
        .collect();
    assert_eq!(store.append_fenced(epoch, 0, &inputs).ok(), Some(5));
    let mut replica = Registry::new(RegistryConfig::default());
    for input in &inputs[..3] {
        replica.replay(input.clone());
    }
    let snapshot = replica.snapshot();
    assert!(!store.write_snapshot(6, &snapshot).expect("write"), "beyond the log's end");
    assert!(store.write_snapshot(3, &snapshot).expect("write"));
    assert!(!store.write_snapshot(3, &snapshot).expect("write"), "not newer");
    assert!(!store.write_snapshot(2, &snapshot).expect("write"), "older");

    let page = store.read_after(0).expect("read");
    assert_eq!(page.snapshot_seq, 3);
    assert_eq!(page.entries.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![4, 5]);
    let (seq, stored) = store.read_snapshot().expect("read").expect("a snapshot");
    assert_eq!((seq, &stored), (3, &snapshot));

    let mut later = Registry::from_snapshot(stored).expect("restores");
    for (_, input) in page.entries {
        later.replay(input);
    }
    assert!(store.write_snapshot(5, &later.snapshot()).expect("write"));
    let rows = postgres.client().query("SELECT seq FROM rollcall_snapshot", &[]).expect("query");
    assert_eq!(rows.len(), 1, "older snapshots are deleted");
    assert!(store.read_after(0).expect("read").entries.is_empty());
}
