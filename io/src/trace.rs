//! Recorded traces: every input the daemon feeds its Node, with its moment, as JSON lines,
//! and their replay into a fresh Node under a simulated clock.
//!
//! Format (one JSON object per line):
//! - first line: `{"start": {"at": MS, "config": NODE_CONFIG, "rows": [RECORD...]}}`: the
//!   configuration and stored rows the Node started from;
//! - then, in order: `{"at": MS, "input": NODE_INPUT}`, `{"at": MS, "timeout": null}`, and
//!   `{"batch": N}` where the daemon ended batch N.
//!
//! Inputs, the configuration and records are the core's own serde shapes. The roster and
//! Hello inputs carry passwords, so the file is created readable by its owner only.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use rollcall_core::{Node, NodeConfig, NodeInput, Record, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Start {
    pub at: Timestamp,
    pub config: NodeConfig,
    pub rows: Vec<Record>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    Start { start: Start },
    Input { at: Timestamp, input: NodeInput },
    Timeout { at: Timestamp, timeout: () },
    Batch { batch: u64 },
}

/// Appends trace lines; a write error stops recording (logged once) but never the daemon.
pub struct Recorder {
    writer: Option<BufWriter<std::fs::File>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Recorder")
    }
}

impl Recorder {
    /// Creates the trace as a new file of mode 0600 (a trace holds every worker's
    /// password). An existing file at `path` is replaced, not reused: the new file is made
    /// beside it and renamed over it, so it never keeps the old file's mode, a process that
    /// had the old file open never sees a byte of the new trace, and a symbolic link at
    /// `path` is replaced rather than followed.
    ///
    /// # Errors
    ///
    /// When the file cannot be created in `path`'s directory or renamed into place.
    pub fn create(path: &Path) -> std::io::Result<Recorder> {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // tempfile creates its files 0600.
        let file = tempfile::Builder::new()
            .prefix(".rollcall-trace-")
            .tempfile_in(directory)?
            .persist(path)
            .map_err(|error| error.error)?;
        Ok(Recorder { writer: Some(BufWriter::new(file)) })
    }

    pub fn record(&mut self, line: &Line) {
        let Some(writer) = self.writer.as_mut() else { return };
        let written = serde_json::to_writer(&mut *writer, line)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"));
        if let Err(error) = written {
            tracing::error!(error = %error, "cannot write the trace; recording stops");
            self.writer = None;
        }
    }

    /// Pushes buffered lines to the file (once per batch).
    pub fn flush(&mut self) {
        if let Some(writer) = self.writer.as_mut() {
            if let Err(error) = writer.flush() {
                tracing::error!(error = %error, "cannot write the trace; recording stops");
                self.writer = None;
            }
        }
    }
}

/// Why a trace could not be replayed.
#[derive(Debug)]
pub enum ReplayError {
    Read(std::io::Error),
    Line { number: usize, why: String },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Read(error) => write!(formatter, "cannot read the trace: {error}"),
            ReplayError::Line { number, why } => write!(formatter, "trace line {number}: {why}"),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Feeds a trace to a fresh Node, ending its batches where the daemon did, and returns
/// the Node with every batch ended and reported durable.
///
/// # Errors
///
/// When the trace cannot be read, a line is malformed, or it does not start with a start line.
pub fn replay(reader: impl BufRead) -> Result<Node, ReplayError> {
    let mut node: Option<Node> = None;
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let text = line.map_err(ReplayError::Read)?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&text)
            .map_err(|error| ReplayError::Line { number, why: error.to_string() })?;
        if let Line::Start { start } = parsed {
            let started = Node::start(start.at, start.config, start.rows)
                .map_err(|error| ReplayError::Line { number, why: error.to_string() })?;
            node = Some(started);
            continue;
        }
        let Some(node) = node.as_mut() else {
            return Err(ReplayError::Line {
                number,
                why: "the trace must begin with a start line".into(),
            });
        };
        match parsed {
            Line::Start { .. } => unreachable!("handled above"),
            Line::Input { at, input } => node.handle(at, input),
            Line::Timeout { at, .. } => node.handle_timeout(at),
            Line::Batch { batch } => {
                let replayed = settle(node);
                if replayed != batch {
                    let why = format!("batch {batch} recorded where the replay ends batch {replayed}: is the trace cut or interleaved?");
                    return Err(ReplayError::Line { number, why });
                }
            }
        }
    }
    let mut node = node.ok_or(ReplayError::Line { number: 0, why: "empty trace".into() })?;
    // Inputs after the last batch line were never committed by the daemon (it stopped
    // or died first); applying them shows what it was doing, not what it stored.
    settle(&mut node);
    Ok(node)
}

/// Ends the batch and reports it durable at once: outputs were acted on when recorded;
/// here only the state they leave matters.
fn settle(node: &mut Node) -> u64 {
    let batch = node.end_batch();
    node.batch_durable(batch.number);
    while node.poll_output().is_some() {}
    batch.number
}
