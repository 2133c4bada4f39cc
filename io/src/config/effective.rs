//! The configuration as the daemon runs it, every default filled in, as TOML
//! (`rollcall check-config --print`). Secrets never appear: passwords, token digests and
//! the password of the PostgreSQL connection string are redacted.

use std::path::Path;

use toml::{Table, Value};

use super::Config;

const REDACTED: &str = "<redacted>";

impl Config {
    /// The effective configuration as a TOML document.
    #[must_use]
    pub fn effective_toml(&self) -> String {
        let mut document = Table::new();
        document.insert("master".into(), self.master_table().into());
        document.insert("listen".into(), self.listen_table().into());
        document.insert("timing".into(), self.timing_table().into());
        let policy = match serde_json::to_value(self.gateway.duplicate_policy) {
            Ok(serde_json::Value::String(policy)) => policy,
            _ => format!("{:?}", self.gateway.duplicate_policy),
        };
        document.insert("gateway".into(), table([("duplicate_policy", policy.into())]).into());
        document.insert("limits".into(), self.limits_table().into());
        document
            .insert("log".into(), table([("format", self.log_format.to_string().into())]).into());
        if let Some(tls) = &self.tls {
            let mut section = table([
                ("certificate", path(&tls.certificate)),
                ("private_key", path(&tls.private_key)),
            ]);
            if let Some(client_ca) = &tls.client_ca {
                section.insert("client_ca".into(), path(client_ca));
            }
            document.insert("tls".into(), section.into());
        }
        if let Some(cluster) = &self.cluster {
            document.insert("cluster".into(), self.cluster_table(cluster).into());
        }
        let workers = self.workers.iter().map(|worker| {
            table([("name", worker.name.clone().into()), ("password", REDACTED.into())])
        });
        insert_array(&mut document, "workers", workers);
        let builders = self.builders.iter().map(|builder| {
            let names = builder.workernames.iter().cloned().map(Value::from).collect::<Vec<_>>();
            table([("name", builder.name.clone().into()), ("workernames", names.into())])
        });
        insert_array(&mut document, "builders", builders);
        let masters = self.masters.iter().map(|master| {
            let tokens = vec![Value::from(REDACTED); master.token_sha256.len()];
            table([("name", master.name.clone().into()), ("token_sha256", tokens.into())])
        });
        insert_array(&mut document, "masters", masters);
        document.to_string()
    }

    fn master_table(&self) -> Table {
        table([
            ("name", self.master.name.clone().into()),
            ("data_dir", path(&self.master.data_dir)),
        ])
    }

    fn listen_table(&self) -> Table {
        let listen = &self.listen;
        let mut section = table([
            ("workers", listen.workers.to_string().into()),
            ("http", listen.http.to_string().into()),
            ("allow_plaintext", listen.allow_plaintext.into()),
        ]);
        if let Some(buildbot) = listen.buildbot_workers {
            section.insert("buildbot_workers".into(), buildbot.to_string().into());
        }
        section
    }

    fn timing_table(&self) -> Table {
        let timing = &self.timing;
        table([
            ("heartbeat_interval_s", integer(timing.heartbeat_interval_s)),
            ("expiry_window_s", integer(timing.expiry_window_s)),
            ("keepalive_timeout_s", integer(timing.keepalive_timeout_s)),
            ("missing_timeout_s", integer(timing.missing_timeout_s)),
            ("ping_timeout_s", integer(timing.ping_timeout_s)),
        ])
    }

    fn limits_table(&self) -> Table {
        let limits = &self.limits;
        let count = |value: usize| integer(value as u64);
        table([
            ("max_frame_bytes", integer(u64::from(limits.max_frame_bytes))),
            ("handshake_timeout_s", integer(limits.handshake_timeout_s)),
            ("max_handshaking_connections", count(limits.max_handshaking_connections)),
            ("max_connections", count(limits.max_connections)),
            ("max_connections_per_address", count(limits.max_connections_per_address)),
            ("max_handshaking_per_address", count(limits.max_handshaking_per_address)),
            ("max_outbound_frames", count(limits.max_outbound_frames)),
            ("max_outbound_bytes", count(limits.max_outbound_bytes)),
            ("http_max_connections", count(limits.http_max_connections)),
            ("http_max_connections_per_address", count(limits.http_max_connections_per_address)),
            ("http_max_in_flight", count(limits.http_max_in_flight)),
            ("http_head_timeout_s", integer(limits.http_head_timeout_s)),
            ("http_write_timeout_s", integer(limits.http_write_timeout_s)),
            ("http_max_buffered_bytes", count(limits.http_max_buffered_bytes)),
            ("max_master_sessions", count(limits.max_master_sessions)),
            ("master_idle_timeout_s", integer(limits.master_idle_timeout_s)),
            ("max_masters", count(limits.max_masters)),
            ("max_rows_per_kind", count(limits.max_rows_per_kind)),
            ("listen_backlog", integer(u64::from(limits.listen_backlog))),
        ])
    }

    fn cluster_table(&self, cluster: &super::ClusterSection) -> Table {
        let mut section = table([
            ("postgres", super::describe_postgres(&cluster.postgres).into()),
            ("node", cluster.node.clone().into()),
            ("advertise", cluster.advertise.clone().into()),
            ("lease_ttl_s", integer(cluster.lease_ttl_s)),
            ("renew_interval_s", integer(cluster.renew_interval_s)),
            ("snapshot_every_entries", integer(cluster.snapshot_every_entries)),
        ]);
        let mut optional = |key: &str, value: Option<&Path>| {
            if let Some(value) = value {
                section.insert(key.into(), path(value));
            }
        };
        if let Some(tls) = &cluster.postgres_tls {
            optional("postgres_ca", tls.ca.as_deref());
            optional("postgres_certificate", tls.certificate.as_deref());
            optional("postgres_private_key", tls.private_key.as_deref());
        }
        optional("master_token_file", cluster.master_token_file.as_deref());
        optional("peer_ca", cluster.peer_tls.ca.as_deref());
        optional("peer_certificate", cluster.peer_tls.certificate.as_deref());
        optional("peer_private_key", cluster.peer_tls.private_key.as_deref());
        section
    }
}

fn table<const N: usize>(entries: [(&str, Value); N]) -> Table {
    entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect()
}

fn path(path: &Path) -> Value {
    path.display().to_string().into()
}

/// TOML integers are i64; a setting beyond that (none is) shows as the largest.
fn integer(value: u64) -> Value {
    Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

fn insert_array(document: &mut Table, key: &str, entries: impl Iterator<Item = Table>) {
    let entries: Vec<Value> = entries.map(Value::Table).collect();
    if !entries.is_empty() {
        document.insert(key.into(), Value::Array(entries));
    }
}
