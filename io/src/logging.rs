//! Logs go to standard error through `tracing`, as text (for a terminal or journald) or as
//! JSON lines (for a log shipper: one object a line, the structured fields as keys).
//! `RUST_LOG` filters them; the default shows rollcall's own `info` lines and only
//! warnings from its dependencies, whose `info` lines describe their own housekeeping
//! (the storage engine's every sequence number, say).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};

/// Everything of rollcall's at `info`, everything else at `warn`.
pub(crate) const DEFAULT_FILTER: &str =
    "warn,rollcall=info,rollcall_io=info,rollcall_core=info,rollcall_under_test=info";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-12-02T10:00:00Z  INFO target: message key=value`, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `message` and each field.
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Starts logging (once per process; a second call changes nothing).
pub(crate) fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}

/// A value that came from a peer (a name, a path, a reason), shown in a log line with every
/// control character escaped: no newline can forge a line, no ANSI escape can repaint the
/// operator's terminal. Quotes and backslashes are escaped too, so the text stays one
/// unambiguous field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for character in self.0.chars() {
            match character {
                '"' | '\\' => {
                    formatter.write_char('\\')?;
                    formatter.write_char(character)?;
                }
                character if character.is_control() || is_invisible(character) => {
                    write!(formatter, "\\u{{{:x}}}", u32::from(character))?;
                }
                character => formatter.write_char(character)?,
            }
        }
        Ok(())
    }
}

/// Characters that are not control characters but reorder or hide text on a terminal.
fn is_invisible(character: char) -> bool {
    matches!(character, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_cannot_start_a_line_or_send_a_terminal_escape() {
        let forged = "w1\n2026-12-01T00:00:00Z  INFO attached\x1b[31m\r\u{202e}\"\\";
        let shown = Escaped(forged).to_string();
        assert_eq!(
            shown,
            "w1\\u{a}2026-12-01T00:00:00Z  INFO attached\\u{1b}[31m\\u{d}\\u{202e}\\\"\\\\"
        );
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(Escaped("build2:/srv/rollcall").to_string(), "build2:/srv/rollcall");
    }
}
