//! Limits on everything that grows with input.

/// The longest name (of a master, builder, worker, scheduler) accepted, in bytes.
///
/// Buildbot stores names in columns of 191 characters of up to 4 bytes each; 1 KiB leaves
/// room for any name Buildbot accepts while keeping one command's size bounded.
pub const MAX_NAME_BYTES: usize = 1024;

/// The most builder or worker names one command may declare at once.
pub(crate) const MAX_NAMES_PER_COMMAND: usize = 10_000;

/// The most build requests one claim, unclaim or complete command may name.
pub(crate) const MAX_REQUESTS_PER_COMMAND: usize = 10_000;

/// The most workers a Gateway roster may hold.
pub(crate) const MAX_ROSTER_WORKERS: usize = 1_000_000;

/// The most builders one worker may serve.
pub(crate) const MAX_BUILDERS_PER_WORKER: usize = 10_000;

/// The longest password accepted, in bytes.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;
