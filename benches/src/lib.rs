//! Expiry and attach throughput benchmarks, each beside a baseline measured in the same run.
