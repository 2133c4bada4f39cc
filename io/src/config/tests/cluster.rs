//! `[cluster]`: accepted with its defaults, refused on the line at fault, and its
//! connection string never shown.

use super::{assert_refused_at, parsed, refusal};

const CLUSTER: &str = "\
[cluster]
postgres = \"host=/run/postgresql user=rollcall password=s3cret dbname=rollcall\"
node = \"node-a\"
advertise = \"10.0.0.1:7001\"
";

/// Without `[cluster]` the daemon is one node on fjall, as before.
#[test]
fn no_cluster_section_means_one_node() {
    assert_eq!(parsed("").cluster, None);
}

/// The three required keys, and the lease's defaults (10 s, renewed every 3 s).
#[test]
fn a_cluster_section_takes_the_lease_defaults() {
    let cluster = parsed(CLUSTER).cluster.expect("a cluster section");
    assert_eq!(cluster.node, "node-a");
    assert_eq!(cluster.advertise, "10.0.0.1:7001");
    assert_eq!((cluster.lease_ttl_s, cluster.renew_interval_s), (10, 3));
    assert_eq!(cluster.lease_timings().ttl_ms, 10_000);
    let with_timings = format!("{CLUSTER}lease_ttl_s = 30\nrenew_interval_s = 10\n");
    let cluster = parsed(&with_timings).cluster.expect("a cluster section");
    assert_eq!((cluster.lease_ttl_s, cluster.renew_interval_s), (30, 10));
}

/// The password in the connection string shows in no Debug output.
#[test]
fn the_connection_strings_password_is_never_shown() {
    let config = parsed(CLUSTER);
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("/run/postgresql"), "{shown}");
}

/// Each refusal names its key and line: a missing key, a string that is no connection
/// string, an address without a port, a renew interval too slow for the TTL.
#[test]
fn bad_cluster_settings_are_refused_on_their_lines() {
    let message = refusal("[cluster]\nnode = \"a\"\nadvertise = \"h:1\"\n");
    assert!(message.contains("missing field `postgres`"), "{message}");
    assert_refused_at(
        "[cluster]\npostgres = \"host=h port=notaport\"\nnode = \"a\"\nadvertise = \"h:1\"\n",
        2,
        "cluster.postgres is not a PostgreSQL connection string",
    );
    assert_refused_at(
        "[cluster]\npostgres = \"host=h\"\nnode = \"a\"\nadvertise = \"just-a-host\"\n",
        4,
        "is not host:port",
    );
    assert_refused_at(
        "[cluster]\npostgres = \"host=h\"\nnode = \"\"\nadvertise = \"h:1\"\n",
        3,
        "cluster.node",
    );
    assert_refused_at(
        &format!("{CLUSTER}lease_ttl_s = 10\nrenew_interval_s = 4\n"),
        6,
        "more than a third of the lease TTL",
    );
    assert_refused_at(&format!("{CLUSTER}lease_ttl_s = 0\n"), 5, "cluster.lease_ttl_s");
}

/// A refused connection string is not quoted in the message (it may hold a password).
#[test]
fn a_refused_connection_string_is_not_quoted() {
    let message = refusal(
        "[cluster]\npostgres = \"password=s3cret port=x\"\nnode = \"a\"\nadvertise = \"h:1\"\n",
    );
    assert!(!message.contains("s3cret"), "{message}");
}
