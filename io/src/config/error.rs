//! Why a config was refused, and where in which file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::position::Position;

/// A refused config: the file, the place when one is known, and the problem in one line.
///
/// Problems never quote a password, so the error may be logged as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: PathBuf,
    position: Option<Position>,
    problem: String,
}

impl ConfigError {
    /// A problem with the file as a whole (it cannot be read, or a default does not fit).
    pub(crate) fn in_file(file: &Path, problem: impl Into<String>) -> ConfigError {
        ConfigError { file: file.to_path_buf(), position: None, problem: problem.into() }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// The problem alone, without the file and place.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.display();
        match self.position {
            Some(Position { line, column }) => {
                write!(formatter, "{file}:{line}:{column}: {}", self.problem)
            }
            None => write!(formatter, "{file}: {}", self.problem),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The text being parsed and the file it is said to come from: what turns a byte span into
/// an error naming a line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Origin<'_> {
    pub(crate) fn error_at(&self, span: &Range<usize>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            position: Some(Position::of_offset(self.text, span.start)),
            problem: problem.into(),
        }
    }

    pub(crate) fn error(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError::in_file(self.file, problem)
    }

    /// The toml crate's own rendering spans several lines and quotes the offending source
    /// line, which may hold a password; only its message's first line is kept, and the
    /// place comes from the span.
    pub(crate) fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let mut problem = error
            .message()
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("not valid TOML")
            .to_owned();
        let Some(span) = error.span() else { return self.error(problem) };
        // The parser does not say which key; its span is the repeated key itself (never a
        // value, so never a password), and quoting it saves hunting along the line.
        if problem == "duplicate key" {
            if let Some(key) = self.text.get(span.clone()).filter(|key| !key.contains('\n')) {
                problem = format!("duplicate key `{key}`");
            }
        }
        self.error_at(&span, problem)
    }
}
