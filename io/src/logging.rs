//! Logs go to standard error through `tracing`; `RUST_LOG` filters them. The default shows
//! rollcall's own `info` lines and only warnings from the storage engine, whose `info`
//! lines describe its internal housekeeping.

use std::io::IsTerminal;

const DEFAULT_FILTER: &str = "info,fjall=warn,lsm_tree=warn";

pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
