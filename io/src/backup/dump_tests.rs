//! The dump's format: what is written, what is read back, and each damaged dump refused
//! with the line or count at fault.

use rollcall_core::registry::{BuilderRecord, MasterRecord};
use rollcall_core::{BuilderId, MasterId, Record, Timestamp};

use super::*;

fn rows() -> Vec<Record> {
    vec![
        Record::BuilderMaster { builder: BuilderId(1), master: MasterId(1) },
        Record::Builder(BuilderRecord { id: BuilderId(1), name: "linux".into() }),
        Record::Master(MasterRecord {
            id: MasterId(1),
            name: "ci:/srv".into(),
            active: true,
            last_active: Timestamp::from_millis(1_764_756_000_000),
        }),
    ]
}

fn dumped(rows: Vec<Record>) -> String {
    let mut bytes = Vec::new();
    write_dump(&mut bytes, rows, "running daemon").expect("write");
    String::from_utf8(bytes).expect("utf-8")
}

fn read(text: &str) -> Result<Dump, BackupError> {
    read_dump(&mut text.as_bytes(), None)
}

#[test]
fn a_dump_is_a_header_the_rows_in_key_order_and_an_end_line() {
    let text = dumped(rows());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{{\"rollcall_dump\":1,\"data_format\":1,\"rows\":3,\"written_by\":\"rollcall {}\",\"source\":\"running daemon\"}}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        &lines[1..],
        [
            "{\"master\":{\"id\":1,\"name\":\"ci:/srv\",\"active\":true,\"last_active\":1764756000000}}",
            "{\"builder\":{\"id\":1,\"name\":\"linux\"}}",
            "{\"builder_master\":{\"builder\":1,\"master\":1}}",
            "{\"end\":{\"rows\":3}}",
        ]
    );
}

#[test]
fn a_dump_reads_back_to_the_rows_it_was_written_from() {
    let dump = read(&dumped(rows())).expect("read");
    let mut expected = rows();
    expected.sort_by_key(Record::key);
    assert_eq!(dump.rows, expected);
    assert_eq!(dump.header.rows, 3);
    assert_eq!(dump.header.source, "running daemon");
}

#[test]
fn a_copy_while_reading_is_byte_for_byte_the_dump() {
    let text = dumped(rows());
    let mut copy = Vec::new();
    read_dump(&mut text.as_bytes(), Some(&mut copy)).expect("read");
    assert_eq!(copy, text.as_bytes());
}

#[test]
fn a_dump_cut_short_anywhere_is_refused() {
    let text = dumped(rows());
    for cut in 0..text.len() {
        let error = read(&text[..cut]).expect_err("a prefix is no dump");
        assert!(
            matches!(
                error,
                BackupError::Empty | BackupError::Truncated { .. } | BackupError::Line { .. }
            ),
            "cut at {cut}: {error:?}"
        );
    }
    let error = read(&text.replace("{\"end\":{\"rows\":3}}\n", "")).expect_err("no end line");
    assert_eq!(
        error.to_string(),
        "the dump ends after 3 rows without its end line: it was cut short (nothing was imported)"
    );
}

#[test]
fn a_dropped_or_added_row_is_refused_by_the_counts() {
    let text = dumped(rows());
    let dropped: String = text
        .lines()
        .filter(|line| !line.starts_with("{\"builder\""))
        .map(|line| format!("{line}\n"))
        .collect();
    let error = read(&dropped).expect_err("a row is missing");
    assert_eq!(
        error.to_string(),
        "the dump's header says 3 rows and its end line 3, but it holds 2: it is damaged"
    );
    let added = text.replace("{\"end\"", "{\"builder\":{\"id\":2,\"name\":\"mac\"}}\n{\"end\"");
    assert!(matches!(read(&added), Err(BackupError::CountMismatch { read: 4, .. })));
}

#[test]
fn a_newer_dump_or_data_format_is_refused_naming_both_versions() {
    let text = dumped(rows());
    let newer_dump = text.replacen("\"rollcall_dump\":1", "\"rollcall_dump\":2", 1);
    assert_eq!(
        read(&newer_dump).expect_err("newer dump").to_string(),
        "the dump's format version is 2, and this build reads 1: import it with the rollcall \
         release that wrote it"
    );
    let newer_data = text.replacen("\"data_format\":1", "\"data_format\":7", 1);
    assert_eq!(
        read(&newer_data).expect_err("newer data").to_string(),
        "the dump holds data format version 7, and this build reads 1: import it with the \
         rollcall release that wrote it"
    );
}

#[test]
fn a_line_that_is_no_row_is_refused_by_its_number() {
    let text = dumped(rows()).replacen("{\"builder\":{", "{\"bilder\":{", 1);
    let error = read(&text).expect_err("not a row");
    let shown = error.to_string();
    assert!(shown.starts_with("line 3: not a registry row: unknown variant `bilder`"), "{shown}");
    let error = read("{\"hello\":1}\n").expect_err("no header");
    assert!(matches!(error, BackupError::NotADump), "{error:?}");
    let error = read(&format!("{}trailing\n", dumped(rows()))).expect_err("after the end");
    assert_eq!(error.to_string(), "line 6: a line after the dump's end");
}

#[test]
fn a_line_longer_than_the_limit_is_refused_before_it_is_held_whole() {
    let header =
        dumped(Vec::new()).lines().next().expect("header").replace("\"rows\":0", "\"rows\":1");
    let long = format!(
        "{header}\n{{\"builder\":{{\"id\":1,\"name\":\"{}\"}}}}\n",
        "x".repeat(MAX_LINE_BYTES)
    );
    let error = read(&long).expect_err("too long");
    assert_eq!(error.to_string(), format!("line 2: longer than {MAX_LINE_BYTES} bytes"));
}

#[test]
fn a_daemons_refusal_is_told_as_such() {
    let error =
        read("{\"error\":\"busy: two exports are running; try again\"}\n").expect_err("refused");
    assert_eq!(error.to_string(), "the daemon refused: busy: two exports are running; try again");
}
