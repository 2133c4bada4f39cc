//! Why TLS material could not be loaded: the file at fault and the problem, one line.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    file: Option<PathBuf>,
    problem: String,
}

impl TlsError {
    pub(crate) fn in_file(file: &Path, problem: impl Into<String>) -> TlsError {
        TlsError { file: Some(file.to_path_buf()), problem: problem.into() }
    }

    /// A problem with the files together (a key that is not the certificate's, say).
    pub(crate) fn of(problem: impl Into<String>) -> TlsError {
        TlsError { file: None, problem: problem.into() }
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(formatter, "{}: {}", file.display(), self.problem),
            None => formatter.write_str(&self.problem),
        }
    }
}

impl std::error::Error for TlsError {}
