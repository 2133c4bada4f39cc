//! Refused files: each problem is reported on the line at fault, in one line naming it.

use rollcall_core::MAX_NAME_BYTES;

use super::{assert_refused_at, parsed, refusal};

const TWO_WORKERS: &str = "\
[[workers]]
name = \"w1\"
password = \"p1\"
[[workers]]
name = \"w2\"
password = \"p2\"
";

#[test]
fn an_unknown_key_is_refused_on_its_line() {
    assert_refused_at("[master]\nname = \"m\"\n\n[limits]\nmax_frames = 3\n", 5, "`max_frames`");
}

#[test]
fn an_unknown_section_is_refused_on_its_line() {
    assert_refused_at("[master]\n\n[listener]\nworkers = \"127.0.0.1:1\"\n", 3, "`listener`");
}

#[test]
fn an_unknown_key_in_a_worker_entry_is_refused_on_its_line() {
    assert_refused_at(
        "[[workers]]\nname = \"w1\"\npassword = \"p\"\nbuilders = [\"linux\"]\n",
        4,
        "unknown field `builders`",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused_on_its_line() {
    assert_refused_at("[timing]\n\nheartbeat_interval_s = \"60\"\n", 3, "invalid type");
    assert_refused_at("[timing]\nping_timeout_s = -1\n", 2, "expected u64");
    assert_refused_at("[[builders]]\nname = \"b\"\nworkernames = \"w1\"\n", 3, "invalid type");
}

#[test]
fn invalid_toml_is_refused_on_its_line() {
    assert_refused_at("[master]\nname = \"unterminated\n", 2, "string");
}

#[test]
fn a_repeated_key_is_refused_on_the_repeat_naming_the_key() {
    assert_refused_at(
        "[[workers]]\nname = \"w1\"\npassword = \"a\"\npassword = \"b\"\n",
        4,
        "duplicate key `password`",
    );
    assert_refused_at("[timing]\n[limits]\n[timing]\n", 3, "duplicate key `timing`");
}

#[test]
fn a_bad_socket_address_is_refused_on_its_line() {
    assert_refused_at(
        "[listen]\nworkers = \"127.0.0.1:9989\"\nhttp = \"localhost:8010\"\n",
        3,
        "listen.http = \"localhost:8010\" is not an IP address and port",
    );
    assert_refused_at("[listen]\nbuildbot_workers = \"127.0.0.1\"\n", 2, "listen.buildbot_workers");
}

#[test]
fn two_listeners_on_one_address_are_refused() {
    assert_refused_at(
        "[listen]\nworkers = \"127.0.0.1:7000\"\nhttp = \"127.0.0.1:7000\"\n",
        3,
        "listen.workers and listen.http are both 127.0.0.1:7000",
    );
    // The clash is with a default: the line is that of the key that is set.
    assert_refused_at("[listen]\n\nworkers = \"127.0.0.1:8010\"\n", 3, "listen.http (by default)");
}

#[test]
fn a_bad_duplicate_policy_is_refused_on_its_line() {
    assert_refused_at("[gateway]\nduplicate_policy = \"newest\"\n", 2, "unknown variant `newest`");
}

#[test]
fn a_worker_without_a_password_is_refused() {
    assert_refused_at("[[workers]]\nname = \"w1\"\n", 2, "needs a password (or password_sha256)");
}

#[test]
fn a_duplicate_worker_name_is_refused_on_the_second_entry() {
    let text = format!("{TWO_WORKERS}[[workers]]\nname = \"w1\"\npassword = \"p3\"\n");
    assert_refused_at(&text, 8, "worker \"w1\" is configured twice (first on line 2)");
}

#[test]
fn a_duplicate_builder_name_is_refused_on_the_second_entry() {
    let text = format!(
        "{TWO_WORKERS}[[builders]]\nname = \"linux\"\n[[builders]]\nname = \"mac\"\n\
         [[builders]]\nname = \"linux\"\nworkernames = [\"w1\"]\n"
    );
    assert_refused_at(&text, 12, "builder \"linux\" is configured twice (first on line 8)");
}

#[test]
fn a_builder_naming_an_unknown_worker_is_refused_naming_both() {
    let text = format!(
        "{TWO_WORKERS}[[builders]]\nname = \"linux\"\nworkernames = [\n  \"w1\",\n  \"w9\",\n]\n"
    );
    assert_refused_at(&text, 11, "builder \"linux\" names worker \"w9\", which is not configured");
}

#[test]
fn a_worker_listed_twice_by_one_builder_is_refused_on_the_second_mention() {
    let text = format!(
        "{TWO_WORKERS}[[builders]]\nname = \"linux\"\nworkernames = [\n  \"w1\",\n  \"w2\",\n  \
         \"w1\",\n]\n"
    );
    assert_refused_at(&text, 12, "builder \"linux\" lists worker \"w1\" twice (first on line 10)");
}

#[test]
fn the_same_worker_in_two_builders_is_fine() {
    let text = format!(
        "{TWO_WORKERS}[[builders]]\nname = \"a\"\nworkernames = [\"w1\"]\n\
         [[builders]]\nname = \"b\"\nworkernames = [\"w1\", \"w2\"]\n"
    );
    assert_eq!(parsed(&text).builders.len(), 2);
}

#[test]
fn empty_names_are_refused_on_their_line() {
    assert_refused_at("[[workers]]\nname = \"\"\npassword = \"p\"\n", 2, "a worker name is empty");
    assert_refused_at("[[builders]]\n\nname = \"\"\n", 3, "a builder name is empty");
    assert_refused_at("[master]\nname = \"\"\n", 2, "master.name is empty");
}

#[test]
fn names_longer_than_the_limit_are_refused_on_their_line() {
    let long = "n".repeat(MAX_NAME_BYTES + 1);
    let too_long = format!("more than the limit of {MAX_NAME_BYTES}");
    assert_refused_at(
        &format!("[[workers]]\npassword = \"p\"\nname = \"{long}\"\n"),
        3,
        &format!("worker name is {} bytes long, {too_long}", MAX_NAME_BYTES + 1),
    );
    assert_refused_at(&format!("[[builders]]\nname = \"{long}\"\n"), 2, "builder name is");
    assert_refused_at(&format!("[master]\nname = \"{long}\"\n"), 2, "master.name is");
}

#[test]
fn names_of_exactly_the_limit_are_accepted() {
    let longest = "n".repeat(MAX_NAME_BYTES);
    let config = parsed(&format!(
        "[master]\nname = \"{longest}\"\n[[workers]]\nname = \"{longest}\"\npassword = \"p\"\n\
         [[builders]]\nname = \"{longest}\"\nworkernames = [\"{longest}\"]\n"
    ));
    assert_eq!(config.roster().len(), 1);
}

#[test]
fn a_password_longer_than_1024_bytes_is_refused_on_its_line() {
    let text = format!("[[workers]]\nname = \"w1\"\npassword = \"{}\"\n", "x".repeat(1025));
    assert_refused_at(&text, 3, "the password of worker \"w1\" is longer than 1024 bytes");
}

#[test]
fn a_worker_name_with_a_colon_is_refused_on_its_line() {
    assert_refused_at(
        "[[workers]]\nname = \"team:w1\"\npassword = \"p\"\n",
        2,
        "worker name \"team:w1\" contains ':'",
    );
}

#[test]
fn zero_is_refused_for_every_timing_value_and_limit() {
    let keys = [
        ("timing", "heartbeat_interval_s"),
        ("timing", "expiry_window_s"),
        ("timing", "keepalive_timeout_s"),
        ("timing", "missing_timeout_s"),
        ("timing", "ping_timeout_s"),
        ("limits", "max_frame_bytes"),
        ("limits", "handshake_timeout_s"),
        ("limits", "max_handshaking_connections"),
        ("limits", "max_connections"),
        ("limits", "max_outbound_frames"),
        ("limits", "listen_backlog"),
        ("limits", "max_connections_per_address"),
        ("limits", "max_handshaking_per_address"),
        ("limits", "max_outbound_bytes"),
        ("limits", "http_max_connections"),
        ("limits", "http_max_connections_per_address"),
        ("limits", "http_max_in_flight"),
        ("limits", "http_head_timeout_s"),
        ("limits", "http_write_timeout_s"),
        ("limits", "http_max_buffered_bytes"),
        ("limits", "max_master_sessions"),
        ("limits", "master_idle_timeout_s"),
        ("limits", "max_masters"),
        ("limits", "max_rows_per_kind"),
    ];
    for (section, key) in keys {
        let text = format!("[{section}]\n\n{key} = 0\n");
        assert_refused_at(&text, 3, &format!("{section}.{key} must be greater than zero"));
    }
}

#[test]
fn durations_longer_than_a_year_are_refused_on_their_line() {
    let keys = [
        ("timing", "expiry_window_s"),
        ("timing", "keepalive_timeout_s"),
        ("timing", "missing_timeout_s"),
        ("timing", "ping_timeout_s"),
        ("limits", "handshake_timeout_s"),
    ];
    for (section, key) in keys {
        let text = format!("[{section}]\n{key} = 31536001\n");
        assert_refused_at(&text, 2, &format!("{section}.{key} = 31536001 is longer than one year"));
    }
}

#[test]
fn a_heartbeat_not_shorter_than_the_expiry_window_is_refused_saying_why() {
    assert_refused_at(
        "[timing]\nexpiry_window_s = 600\nheartbeat_interval_s = 600\n",
        3,
        "timing.heartbeat_interval_s (600) must be smaller than timing.expiry_window_s (600): \
         a master that heartbeats less often than the expiry window would be expired",
    );
    // Only the window is set, below the default heartbeat: its line is the one reported.
    assert_refused_at("[timing]\n\nexpiry_window_s = 30\n", 3, "must be smaller than");
}

#[test]
fn a_frame_limit_outside_1_kib_to_64_mib_is_refused_on_its_line() {
    assert_refused_at("[limits]\nmax_frame_bytes = 1023\n", 2, "below the minimum of 1024");
    assert_refused_at("[limits]\nmax_frame_bytes = 67108865\n", 2, "above the maximum");
    assert_refused_at("[limits]\nmax_frame_bytes = 4294967296\n", 2, "above the maximum");
}

#[test]
fn an_empty_data_dir_is_refused_on_its_line() {
    assert_refused_at("[master]\ndata_dir = \"\"\n", 2, "master.data_dir is empty");
}

#[test]
fn more_than_10000_workers_are_refused_at_the_first_one_over() {
    let mut text = String::new();
    for index in 0..=10_000 {
        text.push_str(&format!("[[workers]]\nname = \"w{index}\"\npassword = \"p\"\n"));
    }
    assert_refused_at(&text, 3 * 10_000 + 2, "more than 10000 workers are configured");
}

#[test]
fn more_than_10000_builders_are_refused_at_the_first_one_over() {
    let mut text = String::new();
    for index in 0..=10_000 {
        text.push_str(&format!("[[builders]]\nname = \"b{index}\"\n"));
    }
    assert_refused_at(&text, 2 * 10_000 + 2, "more than 10000 builders are configured");
}

#[test]
fn the_column_counts_from_one() {
    let message = refusal("[timing]\nping_timeout_s = 0\n");
    assert!(message.starts_with("rollcall.toml:2:18: "), "{message}");
}

#[test]
fn a_listen_backlog_above_what_linux_takes_is_refused_on_its_line() {
    assert_refused_at(
        "[limits]\nlisten_backlog = 65536\n",
        2,
        "limits.listen_backlog = 65536 is above the maximum of 65535",
    );
}

#[test]
fn remote_masters_need_a_valid_digest_and_may_not_take_the_daemons_own_name() {
    let digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let own = format!(
        "[master]\nname = \"me:/srv\"\n[[masters]]\nname = \"me:/srv\"\ntoken_sha256 = [\"{digest}\"]\n"
    );
    assert_refused_at(&own, 4, "this daemon's own [master] name");
    assert_refused_at(
        "[[masters]]\nname = \"m:/srv\"\ntoken_sha256 = [\"rcm_plaintext\"]\n",
        3,
        "a token_sha256 is 64 hex digits",
    );
    assert_refused_at(
        "[[masters]]\nname = \"m:/srv\"\ntoken_sha256 = []\n",
        3,
        "needs 1 to 4 token_sha256 values",
    );
    let twice = format!(
        "[[masters]]\nname = \"m:/srv\"\ntoken_sha256 = [\"{digest}\"]\n[[masters]]\nname = \"m:/srv\"\ntoken_sha256 = [\"{digest}\"]\n"
    );
    assert_refused_at(&twice, 5, "configured twice");
}

#[test]
fn a_worker_needs_exactly_one_form_of_its_password() {
    assert_refused_at(
        "[[workers]]\nname = \"w1\"\npassword = \"x\"\npassword_sha256 = \"00\"\n",
        3,
        "has both password and password_sha256",
    );
    assert_refused_at(
        "[[workers]]\nname = \"w1\"\npassword_sha256 = \"s3cret\"\n",
        3,
        "a password_sha256 is 64 hex digits",
    );
}
