//! The daemon's control socket: a Unix socket in a directory of the data dir that only the
//! daemon's user may enter, so `rollcall export` reaches a running daemon without a network
//! port and without any credential but the file system's.
//!
//! One request per connection, a line: `export`. The answer is a whole dump, or one line
//! `{"error":"..."}`. The dump's rows are copied on the core thread right after a batch is
//! committed (as REST reads are), so they are one durable state of the registry.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_net::unix::{UnixListener, UnixStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use rollcall_core::Record;

use crate::core_link::inputs::CoreInput;

/// The socket, under the data dir: `DIR/control/rollcall.sock`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control").join("rollcall.sock")
}

/// The one request there is.
pub(crate) const EXPORT_REQUEST: &[u8] = b"export\n";

/// The longest request line read; anything longer is refused.
const MAX_REQUEST_BYTES: usize = 64;

/// How long a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one chunk of the answer may wait for a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the core may take to hand the rows over (it is busy with a long batch at
/// worst).
const CORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Exports served at once; each holds a copy of every row while it is written.
const MAX_CONCURRENT: usize = 2;

const CHUNK_BYTES: usize = 64 * 1024;

/// The bound socket, removed (with its directory) when dropped.
pub(crate) struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds the socket, replacing one a killed daemon left (the caller holds the data
    /// dir's lock, so no live daemon owns it).
    ///
    /// # Errors
    ///
    /// When the directory cannot be made private or the socket bound (a path longer than a
    /// Unix socket's 107 bytes, say).
    pub(crate) fn bind(data_dir: &Path) -> std::io::Result<ControlSocket> {
        let path = socket_path(data_dir);
        let directory = path.parent().unwrap_or(data_dir);
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(directory) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        // The directory's mode is what keeps other users out, whatever the umask gave the
        // socket: it is set again in case an operator's hand changed it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))?;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let listener = UnixListener::bind(&path)?;
        Ok(ControlSocket { listener, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Answers requests until `stop` is closed.
    pub(crate) async fn serve(
        &self,
        core: smol::channel::Sender<CoreInput>,
        stop: smol::channel::Receiver<()>,
    ) {
        let serving = Arc::new(AtomicUsize::new(0));
        loop {
            let accepted = async { Some(self.listener.accept().await) }
                .or(async {
                    let _ = stop.recv().await;
                    None
                })
                .await;
            let Some(accepted) = accepted else { return };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "control socket: accept failed");
                    smol::Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if serving.fetch_add(1, Ordering::AcqRel) >= MAX_CONCURRENT {
                serving.fetch_sub(1, Ordering::AcqRel);
                smol::spawn(refuse(stream, "busy: two exports are running; try again")).detach();
                continue;
            }
            let (core, serving) = (core.clone(), Arc::clone(&serving));
            smol::spawn(async move {
                answer(stream, core).await;
                serving.fetch_sub(1, Ordering::AcqRel);
            })
            .detach();
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(directory) = self.path.parent() {
            let _ = std::fs::remove_dir(directory);
        }
    }
}

async fn answer(mut stream: UnixStream, core: smol::channel::Sender<CoreInput>) {
    let request = read_request(&mut stream).await;
    let reply = match request {
        Ok(request) if request == EXPORT_REQUEST => export(core).await,
        Ok(request) => Err(format!(
            "unknown request {:?}; this daemon answers \"export\"",
            String::from_utf8_lossy(&request).trim_end()
        )),
        Err(why) => Err(why),
    };
    let bytes = match reply {
        Ok(bytes) => bytes,
        Err(why) => error_line(&why),
    };
    for chunk in bytes.chunks(CHUNK_BYTES) {
        let written = stream.write_all(chunk).or(timeout(WRITE_TIMEOUT)).await;
        if written.is_err() {
            return;
        }
    }
    let _ = stream.flush().or(timeout(WRITE_TIMEOUT)).await;
}

async fn refuse(mut stream: UnixStream, why: &str) {
    let _ = stream.write_all(&error_line(why)).or(timeout(WRITE_TIMEOUT)).await;
}

fn error_line(why: &str) -> Vec<u8> {
    let mut line = serde_json::json!({ "error": why }).to_string().into_bytes();
    line.push(b'\n');
    line
}

async fn timeout(limit: Duration) -> std::io::Result<()> {
    smol::Timer::after(limit).await;
    Err(std::io::ErrorKind::TimedOut.into())
}

/// The request line, within [`REQUEST_TIMEOUT`] and [`MAX_REQUEST_BYTES`].
async fn read_request(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let reading = async {
        let mut request = Vec::new();
        let mut byte = [0_u8; 1];
        while request.len() < MAX_REQUEST_BYTES {
            if stream.read(&mut byte).await? == 0 {
                break;
            }
            request.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        Ok(request)
    };
    match reading.or(async { timeout(REQUEST_TIMEOUT).await.map(|()| Vec::new()) }).await {
        Ok(request) if request.last() == Some(&b'\n') => Ok(request),
        Ok(_) => Err(format!("no request line of at most {MAX_REQUEST_BYTES} bytes")),
        Err(error) => Err(format!("the request could not be read: {error}")),
    }
}

/// The rows as of the next committed batch, written as a dump off the core thread.
async fn export(core: smol::channel::Sender<CoreInput>) -> Result<Vec<u8>, String> {
    let (rows_sender, rows) = smol::channel::bounded::<Vec<Record>>(1);
    let job = Box::new(move |view: &crate::core_link::inputs::ReadView<'_>| {
        let _ = rows_sender.try_send(view.registry.records());
    });
    core.send(CoreInput::Read(job)).await.map_err(|_| "the daemon is stopping".to_string())?;
    let rows = rows
        .recv()
        .or(async {
            smol::Timer::after(CORE_TIMEOUT).await;
            Err(smol::channel::RecvError)
        })
        .await
        .map_err(|_| "the daemon did not hand the rows over in time".to_string())?;
    smol::unblock(move || {
        let mut bytes = Vec::new();
        super::dump::write_dump(&mut bytes, rows, "running daemon")
            .map_err(|error| error.to_string())?;
        Ok(bytes)
    })
    .await
}
