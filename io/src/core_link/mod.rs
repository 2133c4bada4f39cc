//! What the network side and the core thread share: the inputs the listeners send the core
//! thread, the outbound queues it answers through, and the settings every connection task
//! reads. A leaf: the daemon, the worker port, the Buildbot port and HTTP all use it, and it
//! uses none of them.

pub(crate) mod inputs;
pub(crate) mod outbound;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::core_link::inputs::CoreInput;
use crate::metrics::Metrics;
use crate::tls::ServerTls;

/// What every connection task shares.
#[derive(Debug)]
pub(crate) struct NetShared {
    pub(crate) core: smol::channel::Sender<CoreInput>,
    pub(crate) max_frame_bytes: u32,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) master_sessions: AtomicUsize,
    pub(crate) max_master_sessions: usize,
    pub(crate) master_idle_timeout: Duration,
    /// For mutual TLS: whether a master must present a certificate naming it.
    pub(crate) tls: Arc<ServerTls>,
}
