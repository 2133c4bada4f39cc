//! `[tls]` and the plaintext rule: a listener other hosts can reach needs TLS unless the
//! file says `allow_plaintext`.

use super::{assert_refused_at, parsed, refusal};

const TLS: &str = "[tls]\ncertificate = \"server.pem\"\nprivate_key = \"server.key\"\n";

#[test]
fn a_listener_on_every_address_without_tls_is_refused_on_its_line() {
    assert_refused_at(
        "[listen]\n\nworkers = \"0.0.0.0:9989\"\n",
        3,
        "listen.workers = \"0.0.0.0:9989\" is reachable from other hosts but [tls] is not set",
    );
    assert_refused_at("[listen]\nhttp = \"[::]:8010\"\n", 2, "listen.http");
    assert_refused_at(
        "[listen]\nbuildbot_workers = \"192.0.2.7:9990\"\n",
        2,
        "listen.buildbot_workers",
    );
}

#[test]
fn loopback_listeners_may_stay_in_the_clear() {
    let config = parsed(
        "[listen]\nworkers = \"127.0.0.2:9989\"\nhttp = \"[::1]:8010\"\nbuildbot_workers = \"[::ffff:127.0.0.1]:9990\"\n",
    );
    assert!(config.tls.is_none());
    assert!(config.listen.exposed_in_clear(None).is_empty());
}

#[test]
fn tls_or_allow_plaintext_lets_a_public_listener_through() {
    let with_tls = parsed(&format!("[listen]\nworkers = \"0.0.0.0:9989\"\n{TLS}"));
    assert!(with_tls.tls.is_some());
    let allowed = parsed("[listen]\nworkers = \"0.0.0.0:9989\"\nallow_plaintext = true\n");
    assert_eq!(allowed.listen.exposed_in_clear(None).len(), 1, "still reported, for the warning");
    let refused = refusal("[listen]\nworkers = \"0.0.0.0:9989\"\nallow_plaintext = false\n");
    assert!(refused.contains("allow_plaintext = true"), "{refused}");
}

#[test]
fn the_tls_section_needs_both_files_and_no_empty_path() {
    assert!(
        refusal("[tls]\ncertificate = \"server.pem\"\n").contains("missing field `private_key`")
    );
    assert_refused_at(
        "[tls]\ncertificate = \"\"\nprivate_key = \"k\"\n",
        2,
        "tls.certificate is empty",
    );
    assert_refused_at(&format!("{TLS}client_ca = \"\"\n"), 4, "tls.client_ca is empty");
    assert_refused_at(&format!("{TLS}ca = \"x\"\n"), 4, "unknown field `ca`");
}
