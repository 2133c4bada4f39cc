//! The value of every key the file leaves out.

use std::net::SocketAddr;
use std::path::Path;

pub(crate) const DATA_DIR: &str = "./rollcall-data";

pub(crate) const LISTEN_WORKERS: SocketAddr = loopback(9989);
pub(crate) const LISTEN_HTTP: SocketAddr = loopback(8010);

// Buildbot's own values (masterActive every minute, expireMasters after ten); the Gateway's
// agree with rollcall_core::GatewayConfig::default() (a test checks it).
pub(crate) const HEARTBEAT_INTERVAL_S: u64 = 60;
pub(crate) const EXPIRY_WINDOW_S: u64 = 600;
pub(crate) const KEEPALIVE_TIMEOUT_S: u64 = 180;
pub(crate) const MISSING_TIMEOUT_S: u64 = 3600;
pub(crate) const PING_TIMEOUT_S: u64 = 10;

pub(crate) const MAX_FRAME_BYTES: u32 = 1024 * 1024;
pub(crate) const HANDSHAKE_TIMEOUT_S: u64 = 10;
/// Per worker port. A fleet of 10,000 reconnecting at once after a restart has thousands in
/// handshake together (the accept loop runs ahead of their Hellos): 1,024 refused 90% of
/// such a herd. A slot costs a task and a 1 KiB buffer; the per-address cap keeps one
/// address to a sliver of them.
pub(crate) const MAX_HANDSHAKING_CONNECTIONS: usize = 16_384;
pub(crate) const MAX_CONNECTIONS: usize = 100_000;
pub(crate) const MAX_OUTBOUND_FRAMES: usize = 1024;
/// Eight full builder lists of the largest size a roster allows fit; a peer that lets more
/// pile up is not reading.
pub(crate) const MAX_OUTBOUND_BYTES: usize = 8 * 1024 * 1024;
/// Per worker port. One address (a NAT, a host running many workers) may hold a thousand
/// workers; a flood from one address gets 128 of the port's 16,384 handshake slots.
pub(crate) const MAX_CONNECTIONS_PER_ADDRESS: usize = 1024;
pub(crate) const MAX_HANDSHAKING_PER_ADDRESS: usize = 128;
pub(crate) const HTTP_MAX_CONNECTIONS: usize = 512;
pub(crate) const HTTP_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Requests inside the request engine at once (its threads); each holds a core read.
pub(crate) const HTTP_MAX_IN_FLIGHT: usize = 4;
pub(crate) const HTTP_HEAD_TIMEOUT_S: u64 = 10;
pub(crate) const HTTP_WRITE_TIMEOUT_S: u64 = 10;
/// The front buffers each whole response so a slow client never holds the engine; this
/// bounds what slow clients together can make it hold (a listing of 10,000 workers is
/// about 3 MiB). A response larger than all of it is still served when nothing else is held.
pub(crate) const HTTP_MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;
pub(crate) const MAX_MASTER_SESSIONS: usize = 1024;
/// Five of Buildbot's heartbeat intervals: a master that has said nothing for that long is
/// gone or wedged, and half the expiry window is still left for it to reconnect.
pub(crate) const MASTER_IDLE_TIMEOUT_S: u64 = 300;
/// Room for a whole fleet reconnecting at once after a restart; Linux silently caps it at
/// `net.core.somaxconn` (4,096 by default since 5.4).
pub(crate) const LISTEN_BACKLOG: u32 = 4096;

const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port))
}

/// `<hostname>:<absolute data_dir>`: unique per data directory on a host, and the same across
/// restarts, so a restarted master takes back its own registry row.
pub(crate) fn master_name(absolute_data_dir: &Path) -> String {
    format!("{}:{}", hostname(), absolute_data_dir.display())
}

fn hostname() -> String {
    hostname_from(
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
        std::env::var("HOSTNAME").ok(),
    )
}

/// The first non-blank of the kernel's hostname and `$HOSTNAME`, else `localhost`.
pub(crate) fn hostname_from(kernel: Option<String>, environment: Option<String>) -> String {
    [kernel, environment]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Rows remote masters may bring the registry to: far above any real cluster (Buildbot's
/// largest run hundreds of masters), low enough that a runaway client is stopped long
/// before the daemon runs out of memory.
pub(crate) const MAX_MASTERS: usize = 100_000;
pub(crate) const MAX_ROWS_PER_KIND: usize = 1_000_000;
