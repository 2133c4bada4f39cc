//! Benchmarks of rollcall's expiry, heartbeats, attach and REST, each beside a baseline
//! measured in the same run.
//!
//! The criterion micro-benchmarks live in `benches/benches/`, the end-to-end programs in
//! `benches/src/bin/`; this library holds what they share: the deliberately naive
//! baselines ([`naive`]), registries and gateways prepared for a measurement ([`fixture`]),
//! a real daemon to measure against ([`daemon`]), a small HTTP client ([`http`]), a
//! worker's attach over a plain or TLS stream ([`attach`]), certificates and TLS clients
//! ([`tls`]) and the median/min/max summaries every figure is reported with ([`stats`]).

pub mod attach;
pub mod daemon;
pub mod fixture;
pub mod http;
pub mod naive;
pub mod source;
pub mod stats;
pub mod tls;
