//! Accepted files: what they parse to, the defaults, loading from disk, unit conversions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rollcall_core::{DuplicatePolicy, GatewayConfig, RegistryConfig};

use super::super::defaults::{self, hostname_from};
use super::super::{
    BuilderSection, Config, ConfigProblem, GatewaySection, LimitsSection, ListenSection,
    MasterSection, Position, RemoteMasterSection, TimingSection, TlsSection, WorkerSection,
};
use super::parsed;

const FULL_EXAMPLE: &str = r#"
[master]
name = "build1:/srv/rollcall"
data_dir = "./rollcall-data"
[listen]
workers = "127.0.0.1:9989"
http = "127.0.0.1:8010"
buildbot_workers = "127.0.0.1:9990"
allow_plaintext = true
[timing]
heartbeat_interval_s = 61
expiry_window_s = 601
keepalive_timeout_s = 181
missing_timeout_s = 3601
ping_timeout_s = 11
[gateway]
duplicate_policy = "ping-old"
[limits]
max_frame_bytes = 2048
handshake_timeout_s = 12
max_handshaking_connections = 13
max_connections = 14
max_outbound_frames = 15
listen_backlog = 16
max_connections_per_address = 17
max_handshaking_per_address = 18
max_outbound_bytes = 19
http_max_connections = 20
http_max_connections_per_address = 21
http_max_in_flight = 22
http_head_timeout_s = 23
http_write_timeout_s = 24
http_max_buffered_bytes = 29
max_master_sessions = 25
master_idle_timeout_s = 26
max_masters = 27
max_rows_per_kind = 28
[[workers]]
name = "w1"
password = "s3cret"
[[builders]]
name = "linux"
workernames = ["w1"]
[[masters]]
name = "build2:/srv"
token_sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]
[tls]
certificate = "tls/server.pem"
private_key = "/etc/rollcall/server.key"
client_ca = "tls/masters-ca.pem"
"#;

fn address(text: &str) -> SocketAddr {
    text.parse().expect("a valid address in the test")
}

fn absolute(path: &str) -> PathBuf {
    std::env::current_dir().expect("a current directory").join(path)
}

fn default_timing() -> TimingSection {
    TimingSection {
        heartbeat_interval_s: 60,
        expiry_window_s: 600,
        keepalive_timeout_s: 180,
        missing_timeout_s: 3600,
        ping_timeout_s: 10,
    }
}

fn default_limits() -> LimitsSection {
    LimitsSection {
        max_frame_bytes: 1_048_576,
        handshake_timeout_s: 10,
        max_handshaking_connections: 16_384,
        max_connections: 100_000,
        max_outbound_frames: 1024,
        listen_backlog: 4096,
        max_connections_per_address: 1024,
        max_handshaking_per_address: 128,
        max_outbound_bytes: 8 * 1024 * 1024,
        http_max_connections: 512,
        http_max_connections_per_address: 64,
        http_max_in_flight: 4,
        http_head_timeout_s: 10,
        http_write_timeout_s: 10,
        http_max_buffered_bytes: 256 * 1024 * 1024,
        max_master_sessions: 1024,
        master_idle_timeout_s: 300,
        max_masters: 100_000,
        max_rows_per_kind: 1_000_000,
    }
}

#[test]
fn the_full_example_parses_to_the_values_it_sets() {
    let config = parsed(FULL_EXAMPLE);
    let expected = Config {
        source: Some(PathBuf::from("rollcall.toml")),
        master: MasterSection {
            name: "build1:/srv/rollcall".to_owned(),
            data_dir: absolute("rollcall-data"),
        },
        listen: ListenSection {
            workers: address("127.0.0.1:9989"),
            http: address("127.0.0.1:8010"),
            buildbot_workers: Some(address("127.0.0.1:9990")),
            allow_plaintext: true,
        },
        timing: TimingSection {
            heartbeat_interval_s: 61,
            expiry_window_s: 601,
            keepalive_timeout_s: 181,
            missing_timeout_s: 3601,
            ping_timeout_s: 11,
        },
        gateway: GatewaySection { duplicate_policy: DuplicatePolicy::PingOld },
        limits: LimitsSection {
            max_frame_bytes: 2048,
            handshake_timeout_s: 12,
            max_handshaking_connections: 13,
            max_connections: 14,
            max_outbound_frames: 15,
            listen_backlog: 16,
            max_connections_per_address: 17,
            max_handshaking_per_address: 18,
            max_outbound_bytes: 19,
            http_max_connections: 20,
            http_max_connections_per_address: 21,
            http_max_in_flight: 22,
            http_head_timeout_s: 23,
            http_write_timeout_s: 24,
            http_max_buffered_bytes: 29,
            max_master_sessions: 25,
            master_idle_timeout_s: 26,
            max_masters: 27,
            max_rows_per_kind: 28,
        },
        workers: vec![WorkerSection {
            name: "w1".to_owned(),
            password_sha256: crate::credentials::sha256(b"s3cret"),
        }],
        builders: vec![BuilderSection {
            name: "linux".to_owned(),
            workernames: vec!["w1".to_owned()],
        }],
        masters: vec![RemoteMasterSection {
            name: "build2:/srv".to_owned(),
            token_sha256: vec![crate::credentials::sha256(b"abc")],
        }],
        tls: Some(TlsSection {
            certificate: absolute("tls/server.pem"),
            private_key: PathBuf::from("/etc/rollcall/server.key"),
            client_ca: Some(absolute("tls/masters-ca.pem")),
        }),
        cluster: None,
        log_format: crate::logging::LogFormat::Text,
    };
    assert_eq!(config, expected);
}

#[test]
fn an_empty_file_gives_every_default() {
    let config = parsed("");
    let data_dir = absolute("rollcall-data");
    let expected = Config {
        source: Some(PathBuf::from("rollcall.toml")),
        master: MasterSection { name: defaults::master_name(&data_dir), data_dir },
        listen: ListenSection {
            workers: address("127.0.0.1:9989"),
            http: address("127.0.0.1:8010"),
            buildbot_workers: None,
            allow_plaintext: false,
        },
        timing: default_timing(),
        gateway: GatewaySection { duplicate_policy: DuplicatePolicy::DropOlder },
        limits: default_limits(),
        workers: Vec::new(),
        builders: Vec::new(),
        masters: Vec::new(),
        tls: None,
        cluster: None,
        log_format: crate::logging::LogFormat::Text,
    };
    assert_eq!(config, expected);
}

#[test]
fn the_default_master_name_is_hostname_colon_absolute_data_dir() {
    let config = parsed("[master]\ndata_dir = \"some/dir\"\n");
    let data_dir = absolute("some/dir");
    assert_eq!(config.master.data_dir, data_dir);
    let suffix = format!(":{}", data_dir.display());
    let hostname = config.master.name.strip_suffix(&suffix).expect("ends with :<data_dir>");
    assert!(!hostname.is_empty() && hostname == hostname.trim(), "{hostname:?}");
}

#[test]
fn an_absolute_data_dir_is_kept_as_it_is() {
    let config = parsed("[master]\ndata_dir = \"/srv/rollcall\"\n");
    assert_eq!(config.master.data_dir, Path::new("/srv/rollcall"));
}

#[test]
fn the_hostname_falls_back_from_the_kernel_to_the_environment_to_localhost() {
    let some = |text: &str| Some(text.to_owned());
    assert_eq!(hostname_from(some("build1\n"), some("other")), "build1");
    assert_eq!(hostname_from(some(" \n"), some(" env-host ")), "env-host");
    assert_eq!(hostname_from(None, some("env-host")), "env-host");
    assert_eq!(hostname_from(None, some("")), "localhost");
    assert_eq!(hostname_from(None, None), "localhost");
}

#[test]
fn the_embedded_default_is_an_empty_file_without_a_source() {
    let embedded = Config::embedded_default().expect("the embedded default is valid");
    assert_eq!(embedded.source, None);
    assert_eq!(embedded, Config { source: None, ..parsed("") });
}

#[test]
fn defaults_agree_with_the_cores_own_defaults() {
    let config = Config::embedded_default().expect("the embedded default is valid");
    assert_eq!(config.gateway_config(), GatewayConfig::default());
    assert_eq!(config.registry_config(), RegistryConfig::default());
}

#[test]
fn core_settings_are_the_configured_seconds_in_milliseconds() {
    let config = parsed(FULL_EXAMPLE);
    assert_eq!(
        config.gateway_config(),
        GatewayConfig {
            duplicate_policy: DuplicatePolicy::PingOld,
            keepalive_timeout_ms: 181_000,
            ping_timeout_ms: 11_000,
            missing_timeout_ms: 3_601_000,
        }
    );
    assert_eq!(config.registry_config(), RegistryConfig { expiry_window_ms: 601_000 });
}

#[test]
fn durations_of_exactly_one_year_are_accepted() {
    let year = 365 * 24 * 3600;
    let config = parsed(&format!(
        "[timing]\nexpiry_window_s = {year}\nkeepalive_timeout_s = {year}\n\
         missing_timeout_s = {year}\nping_timeout_s = {year}\n\
         [limits]\nhandshake_timeout_s = {year}\n"
    ));
    assert_eq!(config.gateway_config().missing_timeout_ms, year * 1000);
    assert_eq!(config.limits.handshake_timeout_s, year);
}

#[test]
fn frame_limits_at_both_bounds_are_accepted() {
    assert_eq!(parsed("[limits]\nmax_frame_bytes = 1024\n").limits.max_frame_bytes, 1024);
    let largest = parsed("[limits]\nmax_frame_bytes = 67108864\n");
    assert_eq!(largest.limits.max_frame_bytes, 64 * 1024 * 1024);
}

#[test]
fn listeners_on_port_zero_never_clash() {
    let config = parsed(
        "[listen]\nworkers = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n\
         buildbot_workers = \"[::1]:0\"\n",
    );
    assert_eq!(config.listen.buildbot_workers, Some(address("[::1]:0")));
}

#[test]
fn names_list_workers_and_builders_in_file_order() {
    let config = parsed(
        "[[workers]]\nname = \"zeta\"\npassword = \"p\"\n\
         [[workers]]\nname = \"alpha\"\npassword = \"p\"\n\
         [[builders]]\nname = \"windows\"\n\
         [[builders]]\nname = \"linux\"\nworkernames = [\"alpha\"]\n",
    );
    assert_eq!(config.worker_names(), ["zeta", "alpha"]);
    assert_eq!(config.builder_names(), ["windows", "linux"]);
}

#[test]
fn the_shipped_example_file_parses_to_three_workers_and_three_builders() {
    let text = include_str!("../../../../examples/rollcall.toml");
    let config = parsed(text);
    assert_eq!(config.worker_names(), ["w1", "w2", "w3"]);
    assert_eq!(config.builder_names(), ["linux", "mac", "windows"]);
    let passwords: Vec<_> = config.workers.iter().map(|worker| worker.password_sha256).collect();
    assert!(passwords[0] != passwords[1] && passwords[1] != passwords[2]);
    assert!(passwords[0] != passwords[2]);
    assert_eq!(config.builders[0].workernames, ["w1", "w2"]);
    assert_eq!(config.builders[1].workernames, ["w3"]);
    assert_eq!(config.builders[2].workernames, ["w2", "w3"]);
    assert_eq!(config.timing, default_timing());
    assert_eq!(config.limits, default_limits());
    assert_eq!(config.listen.workers, defaults::LISTEN_WORKERS);
    assert_eq!(config.listen.http, defaults::LISTEN_HTTP);
    assert_eq!(config.listen.buildbot_workers, None);
    assert_eq!(config.gateway.duplicate_policy, DuplicatePolicy::DropOlder);
}

#[test]
fn load_reads_a_file_and_records_it_as_the_source() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("rollcall.toml");
    std::fs::write(&path, "[master]\ndata_dir = \"relative-data\"\n").expect("written");
    let config = Config::load(&path).expect("a valid file");
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    // Relative to the current directory, like every command-line tool, not to the file.
    assert_eq!(config.master.data_dir, absolute("relative-data"));
    assert!(!config.master.data_dir.exists(), "loading must not create the data directory");
}

#[test]
fn load_of_a_missing_file_names_the_file_and_the_os_error() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("absent.toml");
    let os_error = std::fs::read_to_string(&path).expect_err("the file is absent");
    let error = Config::load(&path).expect_err("a missing file is refused");
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}: ", path.display())), "{message}");
    assert!(message.contains(&os_error.to_string()), "{message}");
    assert_eq!(error.file(), path);
    assert_eq!(error.position(), None);
    assert!(matches!(error.problem(), ConfigProblem::Unreadable(_)), "{error:?}");
    let source = std::error::Error::source(&error).expect("the OS error is the source");
    assert_eq!(source.to_string(), os_error.to_string());
}

#[test]
fn load_names_the_file_it_read_in_a_refusal() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("bad.toml");
    std::fs::write(&path, "[timing]\nping_timeout_s = 0\n").expect("written");
    let error = Config::load(&path).expect_err("a zero timeout is refused");
    assert!(error.to_string().starts_with(&format!("{}:2:18: ", path.display())), "{error}");
    let as_error: &dyn std::error::Error = &error;
    assert!(as_error.to_string().contains("ping_timeout_s must be greater than zero"));
    assert!(
        matches!(error.problem(), ConfigProblem::NotPositive { key: "timing.ping_timeout_s" }),
        "{error:?}"
    );
    assert_eq!(error.position(), Some(Position { line: 2, column: 18 }));
}

/// `[log] format` is text unless it says json; anything else is refused on its line.
#[test]
fn the_log_format_is_text_json_or_refused() {
    assert_eq!(parsed("").log_format, crate::logging::LogFormat::Text);
    assert_eq!(parsed("[log]\nformat = \"json\"\n").log_format, crate::logging::LogFormat::Json);
    assert_eq!(parsed("[log]\nformat = \"text\"\n").log_format, crate::logging::LogFormat::Text);
    super::assert_refused_at("[log]\nformat = \"xml\"\n", 2, "xml");
    super::assert_refused_at("[log]\nlevel = \"debug\"\n", 2, "level");
}
