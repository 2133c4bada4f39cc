//! The dump: JSON lines, a header, one registry row per line in key order, and a trailer
//! that repeats the count, so a dump cut short (a full disk, a killed `export`) is refused
//! instead of restored as a smaller registry.
//!
//! ```text
//! {"rollcall_dump":1,"data_format":1,"rows":3,"written_by":"rollcall 0.1.0","source":"running daemon"}
//! {"master":{"id":1,"name":"ci:/srv","active":true,"last_active":1764756000000}}
//! {"builder":{"id":1,"name":"linux"}}
//! {"builder_master":{"builder":1,"master":1}}
//! {"end":{"rows":3}}
//! ```
//!
//! Rows are the Registry's own serde shape (`Record`), the one its trace files use.

use std::io::{BufRead, Write};

use rollcall_core::Record;
use serde::{Deserialize, Serialize};

use crate::backup::BackupError;
use crate::storage::DATA_FORMAT_VERSION;

/// The dump's own layout (header, rows, trailer). A release that changes it bumps this;
/// one that only adds a kind of row bumps [`DATA_FORMAT_VERSION`] instead.
pub const DUMP_FORMAT_VERSION: u32 = 1;

/// The longest line a dump may hold: a row is a few hundred bytes (names are capped by the
/// config's limits), so a longer line is damage, and is refused before it is buffered.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The most rows a dump may hold: far above any registry's caps, so that a damaged header
/// cannot make the reader reserve without bound.
pub const MAX_ROWS: u64 = 100_000_000;

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub rollcall_dump: u32,
    /// The data directory layout the rows belong to ([`DATA_FORMAT_VERSION`]).
    pub data_format: u32,
    pub rows: u64,
    /// The release that wrote the dump, for the operator.
    pub written_by: String,
    /// Where the rows came from: `running daemon` or `stopped data dir`.
    pub source: String,
}

impl Header {
    pub(crate) fn new(rows: usize, source: &str) -> Header {
        Header {
            rollcall_dump: DUMP_FORMAT_VERSION,
            data_format: DATA_FORMAT_VERSION,
            rows: rows as u64,
            written_by: format!("rollcall {}", env!("CARGO_PKG_VERSION")),
            source: source.to_string(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: End,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    rows: u64,
}

/// Writes a whole dump of `rows`, sorted by key here so that two dumps of one registry are
/// byte for byte the same.
///
/// # Errors
///
/// When `out` fails.
pub fn write_dump(
    out: &mut (impl Write + ?Sized),
    mut rows: Vec<Record>,
    source: &str,
) -> Result<(), BackupError> {
    rows.sort_by_key(Record::key);
    let header = Header::new(rows.len(), source);
    let mut line = serde_json::to_vec(&header).map_err(BackupError::Encode)?;
    line.push(b'\n');
    out.write_all(&line).map_err(BackupError::Write)?;
    for row in &rows {
        line.clear();
        serde_json::to_writer(&mut line, row).map_err(BackupError::Encode)?;
        line.push(b'\n');
        out.write_all(&line).map_err(BackupError::Write)?;
    }
    let trailer = Trailer { end: End { rows: rows.len() as u64 } };
    line.clear();
    serde_json::to_writer(&mut line, &trailer).map_err(BackupError::Encode)?;
    line.push(b'\n');
    out.write_all(&line).map_err(BackupError::Write)?;
    out.flush().map_err(BackupError::Write)
}

/// A whole dump, read and checked: its header and its rows, in the order written.
#[derive(Debug)]
pub struct Dump {
    pub header: Header,
    pub rows: Vec<Record>,
}

/// Reads a whole dump, refusing anything but a complete one this build understands. When
/// `copy` is given, every line read is written there too (the export client passes the
/// daemon's stream through while checking it).
///
/// # Errors
///
/// A [`BackupError`] naming the line at fault.
pub fn read_dump(
    input: &mut (impl BufRead + ?Sized),
    mut copy: Option<&mut dyn Write>,
) -> Result<Dump, BackupError> {
    let mut line = Vec::new();
    let mut number = 0_u64;
    let mut next_line = |line: &mut Vec<u8>, copy: &mut Option<&mut dyn Write>| {
        number += 1;
        let read = read_line(input, line, number)?;
        if let (true, Some(copy)) = (read, copy.as_mut()) {
            copy.write_all(line).map_err(BackupError::Write)?;
        }
        Ok::<_, BackupError>((read, number))
    };
    let (read, _) = next_line(&mut line, &mut copy)?;
    if !read {
        return Err(BackupError::Empty);
    }
    let header = parse_header(&line)?;
    let mut rows = Vec::with_capacity(usize::try_from(header.rows.min(1 << 20)).unwrap_or(0));
    loop {
        let (read, number) = next_line(&mut line, &mut copy)?;
        if !read {
            return Err(BackupError::Truncated { rows_read: rows.len() as u64 });
        }
        let value: serde_json::Value = serde_json::from_slice(&line)
            .map_err(|error| BackupError::Line { number, why: error.to_string() })?;
        if value.get("end").is_some() {
            let trailer: Trailer = serde_json::from_value(value)
                .map_err(|error| BackupError::Line { number, why: error.to_string() })?;
            let read = rows.len() as u64;
            if trailer.end.rows != read || header.rows != read {
                return Err(BackupError::CountMismatch {
                    header: header.rows,
                    trailer: trailer.end.rows,
                    read,
                });
            }
            break;
        }
        if rows.len() as u64 >= header.rows {
            return Err(BackupError::CountMismatch {
                header: header.rows,
                trailer: 0,
                read: rows.len() as u64 + 1,
            });
        }
        let row: Record = serde_json::from_value(value).map_err(|error| BackupError::Line {
            number,
            why: format!("not a registry row: {error}"),
        })?;
        rows.push(row);
    }
    let (read, number) = next_line(&mut line, &mut copy)?;
    if read {
        return Err(BackupError::Line { number, why: "a line after the dump's end".into() });
    }
    if let Some(copy) = copy {
        copy.flush().map_err(BackupError::Write)?;
    }
    Ok(Dump { header, rows })
}

/// The header, refusing a layout newer than this build's with both versions named.
fn parse_header(line: &[u8]) -> Result<Header, BackupError> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|error| BackupError::Line { number: 1, why: error.to_string() })?;
    // The control socket's refusal, in place of a dump.
    if let Some(message) = value.get("error").and_then(serde_json::Value::as_str) {
        return Err(BackupError::Daemon(message.to_string()));
    }
    let Some(dump_format) = value.get("rollcall_dump").and_then(serde_json::Value::as_u64) else {
        return Err(BackupError::NotADump);
    };
    if dump_format != u64::from(DUMP_FORMAT_VERSION) {
        return Err(BackupError::DumpFormat { found: dump_format });
    }
    let header: Header = serde_json::from_value(value)
        .map_err(|error| BackupError::Line { number: 1, why: error.to_string() })?;
    if header.data_format != DATA_FORMAT_VERSION {
        return Err(BackupError::DataFormat { found: header.data_format });
    }
    if header.rows > MAX_ROWS {
        return Err(BackupError::Line {
            number: 1,
            why: format!("{} rows is more than a dump may hold ({MAX_ROWS})", header.rows),
        });
    }
    Ok(header)
}

/// Reads one line (its newline kept) into `line`; `false` at the end of the input. A line
/// longer than [`MAX_LINE_BYTES`] is refused before it is held whole.
fn read_line(
    input: &mut (impl BufRead + ?Sized),
    line: &mut Vec<u8>,
    number: u64,
) -> Result<bool, BackupError> {
    line.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let read = std::io::Read::take(&mut *input, limit)
        .read_until(b'\n', line)
        .map_err(BackupError::Read)?;
    if read == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        if line.len() > MAX_LINE_BYTES {
            return Err(BackupError::Line {
                number,
                why: format!("longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        // The last line of a dump cut short mid-line.
        return Err(BackupError::Line { number, why: "cut short (no newline)".into() });
    }
    Ok(true)
}

#[cfg(test)]
#[path = "dump_tests.rs"]
mod tests;
