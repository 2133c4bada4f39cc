//! Why a config was refused, and where in which file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::position::Position;
use super::problem::ConfigProblem;

/// A refused config: the file, the place when one is known, and the problem, shown in one
/// line.
///
/// Problems never quote a password, so the error may be logged as it is.
#[derive(Debug)]
pub struct ConfigError {
    file: PathBuf,
    position: Option<Position>,
    /// Boxed: a refusal is rare, and every `Result` of validation carries its size.
    problem: Box<ConfigProblem>,
}

impl ConfigError {
    /// A problem with the file as a whole (it cannot be read, or a default does not fit).
    pub(crate) fn in_file(file: &Path, problem: ConfigProblem) -> ConfigError {
        ConfigError { file: file.to_path_buf(), position: None, problem: Box::new(problem) }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// The problem alone, without the file and place.
    pub fn problem(&self) -> &ConfigProblem {
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

/// The I/O error also shows in the message: `rollcall` prints one line per failure.
impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.problem.io_error().map(|error| error as &(dyn std::error::Error + 'static))
    }
}

/// The text being parsed and the file it is said to come from: what turns a byte span into
/// an error naming a line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Origin<'_> {
    pub(crate) fn error_at(&self, span: &Range<usize>, problem: ConfigProblem) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            position: Some(Position::of_offset(self.text, span.start)),
            problem: Box::new(problem),
        }
    }

    pub(crate) fn error(&self, problem: ConfigProblem) -> ConfigError {
        ConfigError::in_file(self.file, problem)
    }

    /// The toml crate's own rendering spans several lines and quotes the offending source
    /// line, which may hold a password; only its message's first line is kept, and the
    /// place comes from the span.
    pub(crate) fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("not valid TOML")
            .to_owned();
        let Some(span) = error.span() else { return self.error(ConfigProblem::Toml(message)) };
        // The parser does not say which key; its span is the repeated key itself (never a
        // value, so never a password), and quoting it saves hunting along the line.
        let repeated = self.text.get(span.clone()).filter(|key| !key.contains('\n'));
        let problem = match repeated {
            Some(key) if message == "duplicate key" => {
                ConfigProblem::DuplicateTomlKey { key: key.to_owned() }
            }
            _ => ConfigProblem::Toml(message),
        };
        self.error_at(&span, problem)
    }
}
