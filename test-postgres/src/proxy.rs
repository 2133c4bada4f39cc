//! A fault-injecting TCP proxy in front of the test PostgreSQL: a node that connects
//! through it can be cut off from the database while everything else still reaches it
//! directly. Stalled, the proxy stops moving bytes both ways but keeps every connection
//! open, and new ones are accepted and held: as across a partition, or a middlebox that
//! acknowledges and forwards nothing, nothing fails and nothing answers. TCP's own
//! timeouts cannot tell (the kernel acknowledges what the proxy does not read), so only
//! the client's own deadlines notice.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Postgres, ROLE};

/// How often a pump looks at the proxy's state while it waits.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct State {
    stalled: AtomicBool,
    stopping: AtomicBool,
}

/// Listens on `127.0.0.1` and forwards every connection to the server's Unix socket.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `postgres`, passing bytes until stalled.
    pub fn start(postgres: &Postgres) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let address = listener.local_addr().expect("the proxy's address");
        let socket = postgres.socket_path();
        let state = Arc::new(State::default());
        let acceptor = {
            let state = Arc::clone(&state);
            std::thread::spawn(move || accept(&listener, &socket, &state))
        };
        Proxy { address, state, acceptor: Some(acceptor) }
    }

    /// A libpq connection string through the proxy, as [`ROLE`].
    pub fn url(&self) -> String {
        format!(
            "host={} port={} user={ROLE} dbname=postgres",
            self.address.ip(),
            self.address.port()
        )
    }

    /// Stops moving bytes, both ways, on every connection, old and new.
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::Release);
    }

    /// Moves bytes again: what waited is delivered, late.
    pub fn pass(&self) {
        self.state.stalled.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::Release);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: &TcpListener, socket: &Path, state: &Arc<State>) {
    while !state.stopping.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((client, _)) => {
                let Ok(server) = UnixStream::connect(socket) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                start_pumps(client, server, state);
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn start_pumps(client: TcpStream, server: UnixStream, state: &Arc<State>) {
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // Reads wake up often, to see the proxy stall or stop.
    let _ = client_reader.set_read_timeout(Some(POLL));
    let _ = server_reader.set_read_timeout(Some(POLL));
    spawn_pump(client_reader, server, state, |server| server.shutdown(Shutdown::Write));
    spawn_pump(server_reader, client, state, |client| client.shutdown(Shutdown::Write));
}

/// One direction on a thread of its own: `from` copied to `to`, whose write side is shut
/// (`close`) once `from` ends, as the peer would see.
fn spawn_pump<R, W>(from: R, mut to: W, state: &Arc<State>, close: fn(&W) -> std::io::Result<()>)
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let state = Arc::clone(state);
    std::thread::spawn(move || {
        pump(from, &mut to, &state);
        let _ = close(&to);
    });
}

/// Copies `from` to `to` until either ends or the proxy stops; while stalled, reads
/// nothing, so the bytes wait in the kernel's buffers.
fn pump(mut from: impl Read, to: &mut impl Write, state: &State) {
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        if state.stopping.load(Ordering::Acquire) {
            return;
        }
        if state.stalled.load(Ordering::Acquire) {
            std::thread::sleep(POLL);
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    return;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
