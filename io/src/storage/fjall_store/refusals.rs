//! The refusals an operator must act on, each provoked for real: a second open of one
//! directory (in this process and from another), a file where the directory should be, a
//! directory that cannot be made, and data written in an unknown format.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use rollcall_core::registry::MasterRecord;

use super::*;

/// Tells the child test which directory to hold.
const HOLD_DIRECTORY: &str = "ROLLCALL_TEST_HOLD_STORE";
/// What the child prints once it holds the store.
const HELD: &str = "rollcall-test-store-held";

fn message(error: &StorageError) -> String {
    error.to_string()
}

fn refusal(directory: &Path) -> StorageError {
    match FjallStore::open(directory) {
        Ok(_) => panic!("{} should be refused", directory.display()),
        Err(error) => error,
    }
}

fn assert_locked(error: &StorageError, directory: &Path) {
    let lock_file = directory.join(FJALL_LOCK_FILE);
    let StorageError::Locked { directory: named, lock_file: locked } = error else {
        panic!("{error:?}")
    };
    assert_eq!((named.as_path(), locked), (directory, &lock_file));
    assert_eq!(
        message(error),
        format!(
            "another rollcall is running on {} (its lock file is {}): stop it first, or give \
             this one another master.data_dir",
            directory.display(),
            lock_file.display()
        )
    );
}

#[test]
fn a_second_open_in_this_process_is_refused_naming_the_lock_file() {
    let directory = tempfile::tempdir().expect("tempdir");
    let first = FjallStore::open(directory.path()).expect("first open");
    // The lock file named in the message is the one fjall holds.
    assert!(directory.path().join(FJALL_LOCK_FILE).is_file());
    assert_locked(&refusal(directory.path()), directory.path());
    drop(first);
    FjallStore::open(directory.path()).expect("free again once the first store is closed");
}

#[test]
fn a_store_held_by_another_process_is_refused_naming_the_lock_file() {
    let directory = tempfile::tempdir().expect("tempdir");
    let test_binary = std::env::current_exe().expect("the test binary");
    // libtest names tests by their path below the crate.
    let module = module_path!().split_once("::").map_or(module_path!(), |(_, path)| path);
    let mut child = Command::new(test_binary)
        .args([&format!("{module}::hold_the_store_until_stdin_closes"), "--exact"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(HOLD_DIRECTORY, directory.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the holding child");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let held = lines.by_ref().map_while(Result::ok).any(|line| line.contains(HELD));
    assert!(held, "the child never said it holds the store");
    assert_locked(&refusal(directory.path()), directory.path());
    drop(child.stdin.take());
    // Read what libtest still prints: a closed pipe would fail the child.
    lines.for_each(drop);
    let status = child.wait().expect("the child ends");
    assert!(status.success(), "the child failed: {status}");
}

/// Not a test of its own: the other process of the test above, which runs this test binary
/// again for this test alone. Run any other way, it does nothing.
#[test]
#[ignore = "the child process of a_store_held_by_another_process_is_refused_naming_the_lock_file"]
fn hold_the_store_until_stdin_closes() {
    let Some(directory) = std::env::var_os(HOLD_DIRECTORY) else { return };
    let store = FjallStore::open(Path::new(&directory)).expect("the child opens the store");
    println!("{HELD}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(store);
}

#[test]
fn a_file_where_the_directory_should_be_is_refused_by_name() {
    let parent = tempfile::tempdir().expect("tempdir");
    let file = parent.path().join("data");
    std::fs::write(&file, b"not a directory").expect("write");
    let error = refusal(&file);
    assert!(matches!(&error, StorageError::NotADirectory { directory } if *directory == file));
    assert_eq!(
        message(&error),
        format!(
            "{} is not a directory: move it away, or set master.data_dir to a directory (or to \
             a path where one can be created)",
            file.display()
        )
    );
}

#[test]
fn a_directory_that_cannot_be_created_is_refused_with_the_os_error() {
    let parent = tempfile::tempdir().expect("tempdir");
    let file = parent.path().join("file");
    std::fs::write(&file, b"").expect("write");
    // Under a file, whoever runs the test (root included) cannot create it.
    let directory = file.join("data");
    let error = refusal(&directory);
    let StorageError::CannotCreate { directory: named, error: cause } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*named, directory);
    assert_eq!(
        message(&error),
        format!(
            "cannot create {}: {cause}: create it by hand (mode 700), or set master.data_dir \
             to a path this user can create",
            directory.display()
        )
    );
    let source = std::error::Error::source(&error).expect("the I/O error is the source");
    assert!(source.downcast_ref::<std::io::Error>().is_some());
}

fn master(id: u64) -> Record {
    Record::Master(MasterRecord {
        id: MasterId(id),
        name: format!("m{id}:/srv"),
        active: true,
        last_active: Timestamp::from_millis(1_000),
    })
}

/// A store in `directory` holding one master and, in `keyspace`, one row whose format byte
/// is `version`.
fn store_with_a_row_of_version(directory: &Path, keyspace: &'static str, version: u8) {
    let mut store = FjallStore::open(directory).expect("open");
    store.commit(&[Change::Put(master(1))]).expect("commit");
    let mut row = codec::encode(&master(2)).expect("encode");
    row[0] = version;
    store.keyspace(keyspace).insert(2_u64.to_be_bytes(), row).expect("insert");
    store.database.persist(PersistMode::SyncAll).expect("persist");
}

fn assert_unknown_row(error: &StorageError, directory: &Path, keyspace: &'static str) {
    let StorageError::UnknownVersion { directory: named, found } = error else {
        panic!("{error:?}")
    };
    assert_eq!(named, directory);
    assert_eq!(*found, UnknownVersion::Row { keyspace, version: 9 });
    assert_eq!(
        message(error),
        format!(
            "{} holds data from an unknown format version: a row in {keyspace:?} has format \
             version 9, and this build reads {}; run the rollcall release that wrote it, or \
             move the directory away to start with an empty registry",
            directory.display(),
            codec::FORMAT_VERSION
        )
    );
}

#[test]
fn a_master_row_of_an_unknown_version_refuses_the_open() {
    let directory = tempfile::tempdir().expect("tempdir");
    store_with_a_row_of_version(directory.path(), keys::MASTERS, 9);
    assert_unknown_row(&refusal(directory.path()), directory.path(), keys::MASTERS);
}

#[test]
fn any_other_row_of_an_unknown_version_refuses_the_load() {
    let directory = tempfile::tempdir().expect("tempdir");
    store_with_a_row_of_version(directory.path(), keys::BUILDS, 9);
    // Only master rows are read at open (for the liveness index); the rest at load.
    let store = FjallStore::open(directory.path()).expect("open");
    let error = store.load().expect_err("the build row is refused");
    assert_unknown_row(&error, directory.path(), keys::BUILDS);
}

#[test]
fn a_row_of_this_version_that_does_not_decode_is_corrupt_not_unknown() {
    let directory = tempfile::tempdir().expect("tempdir");
    let store = FjallStore::open(directory.path()).expect("open");
    let damaged = [codec::FORMAT_VERSION, 0xff];
    store.keyspace(keys::BUILDS).insert(3_u64.to_be_bytes(), damaged).expect("insert");
    let error = store.load().expect_err("the damaged row is refused");
    assert!(matches!(error, StorageError::Corrupt { keyspace: keys::BUILDS, .. }), "{error:?}");
    assert!(std::error::Error::source(&error).is_some_and(|source| source.is::<CodecError>()));
}

#[test]
fn a_database_of_another_fjall_format_is_refused_as_an_unknown_version() {
    // fjall's version file: "FJL" and the format number. 2 is fjall 2's, 9 none at all.
    for (marker, version) in [(*b"FJL\x02", Some(fjall::FormatVersion::V2)), (*b"FJL\x09", None)] {
        let directory = tempfile::tempdir().expect("tempdir");
        drop(FjallStore::open(directory.path()).expect("create"));
        let version_file = directory.path().join("version");
        assert!(version_file.is_file(), "fjall keeps its format in {}", version_file.display());
        std::fs::write(&version_file, marker).expect("rewrite the version file");
        let error = refusal(directory.path());
        let StorageError::UnknownVersion { directory: named, found } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(named, directory.path());
        assert_eq!(*found, UnknownVersion::Database { version });
        let shown = message(&error);
        assert!(
            shown.starts_with(&format!(
                "{} holds data from an unknown format version: its fjall ",
                directory.path().display()
            )),
            "{shown}"
        );
        assert!(shown.contains("this build reads 3"), "{shown}");
    }
}

#[test]
fn engine_errors_keep_fjalls_error_as_the_source() {
    let error = StorageError::from(fjall::Error::Poisoned);
    assert!(std::error::Error::source(&error).is_some_and(|source| source.is::<fjall::Error>()));
    assert!(message(&error).starts_with("storage engine failed: "));
}

#[test]
fn storage_errors_can_cross_threads_boxed() {
    // The daemon returns them from its core thread, the benchmarks as `Box<dyn Error + Send
    // + Sync>`.
    fn sendable<T: std::error::Error + Send + Sync + 'static>() {}
    sendable::<StorageError>();
}

/// The directory's recorded layout version, as stored.
fn recorded_format_version(directory: &Path) -> Option<Vec<u8>> {
    let database = Database::builder(directory).open().expect("open with fjall");
    let meta = database.keyspace(format::META, KeyspaceCreateOptions::default).expect("meta");
    meta.get(b"data_format_version").expect("read").map(|value| value.to_vec())
}

fn record_format_version(directory: &Path, value: &[u8]) {
    let database = Database::builder(directory).open().expect("open with fjall");
    let meta = database.keyspace(format::META, KeyspaceCreateOptions::default).expect("meta");
    meta.insert(b"data_format_version", value).expect("write");
    database.persist(PersistMode::SyncAll).expect("persist");
}

#[test]
fn a_new_directory_records_this_builds_data_format_version() {
    let directory = tempfile::tempdir().expect("tempdir");
    drop(FjallStore::open(directory.path()).expect("create"));
    assert_eq!(
        recorded_format_version(directory.path()),
        Some(DATA_FORMAT_VERSION.to_be_bytes().to_vec())
    );
}

#[test]
fn a_directory_from_before_the_version_was_recorded_is_version_1_and_keeps_its_rows() {
    let directory = tempfile::tempdir().expect("tempdir");
    {
        let mut store = FjallStore::open(directory.path()).expect("create");
        store.commit(&[Change::Put(master(1))]).expect("commit");
    }
    // As the releases before the version was recorded left it: no `meta` entry.
    {
        let database = Database::builder(directory.path()).open().expect("open with fjall");
        let meta = database.keyspace(format::META, KeyspaceCreateOptions::default).expect("meta");
        meta.remove(b"data_format_version").expect("remove");
        database.persist(PersistMode::SyncAll).expect("persist");
    }
    let store = FjallStore::open(directory.path()).expect("an unversioned directory opens");
    assert_eq!(store.load().expect("load"), vec![master(1)]);
    drop(store);
    assert_eq!(recorded_format_version(directory.path()), Some(1_u32.to_be_bytes().to_vec()));
}

#[test]
fn a_directory_of_a_newer_data_format_is_refused_naming_both_versions_and_left_as_it_is() {
    let directory = tempfile::tempdir().expect("tempdir");
    drop(FjallStore::open(directory.path()).expect("create"));
    let newer = DATA_FORMAT_VERSION + 1;
    record_format_version(directory.path(), &newer.to_be_bytes());
    let error = refusal(directory.path());
    let StorageError::UnknownVersion { directory: named, found } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(named, directory.path());
    assert_eq!(*found, UnknownVersion::DataFormat { version: newer });
    assert_eq!(
        message(&error),
        format!(
            "{} holds data from an unknown format version: its data format version is {newer}, \
             and this build reads {DATA_FORMAT_VERSION} (a newer rollcall wrote it); run the \
             rollcall release that wrote it, or move the directory away to start with an empty \
             registry",
            directory.path().display()
        )
    );
    // The refusal wrote nothing over the newer release's version.
    assert_eq!(recorded_format_version(directory.path()), Some(newer.to_be_bytes().to_vec()));
}

#[test]
fn an_unreadable_data_format_version_is_refused_as_damage() {
    let directory = tempfile::tempdir().expect("tempdir");
    drop(FjallStore::open(directory.path()).expect("create"));
    record_format_version(directory.path(), b"\x01");
    let error = refusal(directory.path());
    assert!(
        matches!(error, StorageError::MalformedMeta { key: "data_format_version", .. }),
        "{error:?}"
    );
    assert!(message(&error).contains("is damaged"), "{}", message(&error));
}
