//! `--pid-file`: the daemon's process id, for `kill -HUP "$(cat FILE)"` and init systems
//! that want one. Written once every port listens (so a pid file names a daemon that
//! serves), removed when the daemon stops cleanly.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::DaemonError;

#[derive(Debug)]
pub(super) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id, replacing a file a crashed run left.
    pub(super) fn write(path: &Path) -> Result<PidFile, DaemonError> {
        let failed = |error| DaemonError::PidFile { path: path.to_path_buf(), error };
        // Written beside and renamed: a reader never sees a half-written number.
        let partial = path.with_extension("pid.partial");
        let mut file = std::fs::File::create(&partial).map_err(failed)?;
        writeln!(file, "{}", std::process::id()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&partial, path).map_err(failed)?;
        Ok(PidFile { path: path.to_path_buf() })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
