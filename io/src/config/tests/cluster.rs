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

/// TLS to PostgreSQL: off by default; on when a TLS file is named (the paths made
/// absolute) or the string says `sslmode=require` (then with the system's CAs).
#[test]
fn postgres_tls_follows_the_files_named_and_the_sslmode() {
    assert_eq!(parsed(CLUSTER).cluster.expect("a cluster").postgres_tls, None);
    let with_ca = format!("{CLUSTER}postgres_ca = \"/etc/rollcall/pg-ca.pem\"\n");
    let tls = parsed(&with_ca).cluster.expect("a cluster").postgres_tls.expect("TLS");
    assert_eq!(tls.ca.as_deref(), Some(std::path::Path::new("/etc/rollcall/pg-ca.pem")));
    assert_eq!((tls.certificate, tls.private_key), (None, None));
    let required = CLUSTER.replace("dbname=rollcall", "dbname=rollcall sslmode=require");
    let tls = parsed(&required).cluster.expect("a cluster").postgres_tls.expect("TLS");
    assert_eq!(tls, crate::cluster::PostgresTlsOptions::default());
    let relative = format!(
        "{CLUSTER}postgres_certificate = \"node.pem\"\npostgres_private_key = \"node.key\"\n"
    );
    let tls = parsed(&relative).cluster.expect("a cluster").postgres_tls.expect("TLS");
    assert!(tls.certificate.is_some_and(|path| path.is_absolute() && path.ends_with("node.pem")));
}

/// TLS files with `sslmode=disable`, and a certificate without its key, are refused on
/// their lines.
#[test]
fn contradictory_postgres_tls_settings_are_refused() {
    let disabled = CLUSTER.replace("dbname=rollcall", "dbname=rollcall sslmode=disable");
    assert_refused_at(
        &format!("{disabled}postgres_ca = \"/ca.pem\"\n"),
        2,
        "sslmode=disable, but [cluster] names TLS files",
    );
    assert_refused_at(
        &format!("{CLUSTER}postgres_certificate = \"/node.pem\"\n"),
        5,
        "give both or neither",
    );
    let verify_full = CLUSTER.replace("dbname=rollcall", "dbname=rollcall sslmode=verify-full");
    assert_refused_at(&verify_full, 2, "name the CA in cluster.postgres_ca");
}

/// The leader link's TLS files: absolute once parsed, a certificate refused without its
/// key on its line, and the own master's token file kept.
#[test]
fn the_leader_links_files_are_read_and_a_certificate_needs_its_key() {
    let section = parsed(CLUSTER).cluster.expect("a cluster");
    assert_eq!(section.peer_tls, crate::tls::ClientTlsOptions::default());
    assert_eq!(section.master_token_file, None);
    let text = format!(
        "{CLUSTER}peer_ca = \"/ca.pem\"\npeer_certificate = \"node.pem\"\npeer_private_key = \"node.key\"\nmaster_token_file = \"/etc/rollcall/token\"\n"
    );
    let section = parsed(&text).cluster.expect("a cluster");
    assert_eq!(section.peer_tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert!(section.peer_tls.certificate.is_some_and(|path| path.ends_with("node.pem")));
    assert_eq!(
        section.master_token_file.as_deref(),
        Some(std::path::Path::new("/etc/rollcall/token"))
    );
    assert_refused_at(&format!("{CLUSTER}peer_certificate = \"/node.pem\"\n"), 5, "give both");
}
