//! Replication of the Registry across a cluster's nodes (docs/cluster.md): the lease says
//! who leads, the leader commits each batch's logged inputs to a shared store fenced by
//! its epoch, and every standby replays the log into a replica.
//!
//! The [`Replicator`] holds the rules and is generic over the [`SharedStore`], so the
//! daemon drives it over PostgreSQL and the simulator over its model of one.

mod replicator;
mod store;

pub use replicator::{CommitRefused, Replicator, Role};
pub use store::{AppendRefused, LogPage, SharedStore, Take};
