//! Recorded traces: every input the daemon feeds its core, with its moment, as JSON lines,
//! and their replay into a fresh core under a simulated clock.
//!
//! Format (one JSON object per line):
//! - first line: `{"start": {"at": MS, "registry_config": {...}, "rows": [RECORD...],
//!   "gateway_config": {...}, "roster": [WORKER...]}}`: the state the core started from;
//! - then, in order: `{"at": MS, "registry": {"token": N, "command": COMMAND}}`,
//!   `{"at": MS, "registry_timeout": null}`, `{"at": MS, "gateway": GATEWAY_INPUT}`,
//!   `{"at": MS, "gateway_timeout": null}`.
//!
//! Commands, inputs and records are the core's own serde shapes. The roster and Hello
//! inputs carry passwords, so the file is created readable by its owner only.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use rollcall_core::registry::RegistryInput;
use rollcall_core::{
    Gateway, GatewayConfig, GatewayInput, Record, Registry, RegistryConfig, Roster, Timestamp,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Start {
    pub at: Timestamp,
    pub registry_config: RegistryConfig,
    pub rows: Vec<Record>,
    pub gateway_config: GatewayConfig,
    pub roster: Roster,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    Start { start: Start },
    Registry { at: Timestamp, registry: RegistryInput },
    RegistryTimeout { at: Timestamp, registry_timeout: () },
    Gateway { at: Timestamp, gateway: GatewayInput },
    GatewayTimeout { at: Timestamp, gateway_timeout: () },
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

/// Feeds a trace to a fresh core, draining every output, and returns the Registry.
///
/// # Errors
///
/// When the trace cannot be read, a line is malformed, or it does not start with a start line.
pub fn replay(reader: impl BufRead) -> Result<Registry, ReplayError> {
    let mut machines: Option<(Registry, Gateway)> = None;
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let text = line.map_err(ReplayError::Read)?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&text)
            .map_err(|error| ReplayError::Line { number, why: error.to_string() })?;
        if let Line::Start { start } = parsed {
            let registry = Registry::recover(start.registry_config, start.rows)
                .map_err(|error| ReplayError::Line { number, why: error.to_string() })?;
            let gateway = Gateway::new(start.at, start.gateway_config, start.roster)
                .map_err(|error| ReplayError::Line { number, why: error.to_string() })?;
            machines = Some((registry, gateway));
            continue;
        }
        let Some((registry, gateway)) = machines.as_mut() else {
            return Err(ReplayError::Line {
                number,
                why: "the trace must begin with a start line".into(),
            });
        };
        match parsed {
            Line::Start { .. } => unreachable!("handled above"),
            Line::Registry { at, registry: input } => registry.handle(at, input),
            Line::RegistryTimeout { at, .. } => registry.handle_timeout(at),
            Line::Gateway { at, gateway: input } => gateway.handle(at, input),
            Line::GatewayTimeout { at, .. } => gateway.handle_timeout(at),
        }
        // Outputs were acted on when recorded; here only the state they leave matters.
        while registry.poll_output().is_some() {}
        while gateway.poll_output().is_some() {}
    }
    machines
        .map(|(registry, _)| registry)
        .ok_or(ReplayError::Line { number: 0, why: "empty trace".into() })
}
