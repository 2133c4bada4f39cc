//! From the file as written to a [`Config`]: defaults filled in and every value checked, each
//! refusal pointing at the value at fault.

use std::net::SocketAddr;
use std::path::PathBuf;

use rollcall_core::MAX_NAME_BYTES;
use toml::Spanned;

use super::error::Origin;
use super::file::{ConfigFile, LimitsTable, ListenTable, MasterTable, TimingTable};
use super::problem::{ConfigProblem, Setting};
use super::{
    defaults, validate_cluster, validate_masters, validate_roster, validate_tls, Config,
    ConfigError, GatewaySection, LimitsSection, ListenSection, MasterSection, TimingSection,
};

/// Every duration is capped here, so that converting to milliseconds or adding to a clock
/// reading can never overflow.
pub(super) const MAX_DURATION_S: u64 = 365 * 24 * 60 * 60;

const MIN_FRAME_BYTES: u32 = 1024;
const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

pub(crate) fn validate(file: ConfigFile, origin: &Origin<'_>) -> Result<Config, ConfigError> {
    let master = master(file.master, origin)?;
    let listen_table = file.listen;
    let listen = listen(&listen_table, origin)?;
    let tls = validate_tls::tls(file.tls.as_ref(), origin)?;
    validate_tls::check_plaintext(&listen_table, &listen, tls.as_ref(), origin)?;
    let timing = timing(file.timing, origin)?;
    let gateway =
        GatewaySection { duplicate_policy: file.gateway.duplicate_policy.unwrap_or_default() };
    let limits = limits(file.limits, origin)?;
    let (workers, builders) =
        validate_roster::workers_and_builders(&file.workers, &file.builders, origin)?;
    let masters = validate_masters::masters(&file.masters, &master.name, origin)?;
    let cluster =
        file.cluster.as_ref().map(|table| validate_cluster::cluster(table, origin)).transpose()?;
    Ok(Config {
        source: None,
        master,
        listen,
        timing,
        gateway,
        limits,
        workers,
        builders,
        masters,
        tls,
        cluster,
        log_format: file.log.format.unwrap_or_default(),
    })
}

fn master(table: MasterTable, origin: &Origin<'_>) -> Result<MasterSection, ConfigError> {
    let data_dir = match table.data_dir {
        Some(data_dir) => absolute_data_dir(&data_dir, origin)?,
        None => std::path::absolute(defaults::DATA_DIR).map_err(|error| {
            origin.error(ConfigProblem::NotAbsolute {
                key: "master.data_dir",
                path: defaults::DATA_DIR.to_owned(),
                by_default: true,
                error,
            })
        })?,
    };
    let name = match table.name {
        Some(name) => {
            if name.get_ref().is_empty() {
                return Err(
                    origin.error_at(&name.span(), ConfigProblem::Empty { key: "master.name" })
                );
            }
            let bytes = name.get_ref().len();
            if bytes > MAX_NAME_BYTES {
                let problem = ConfigProblem::NameTooLong { key: "master.name", bytes };
                return Err(origin.error_at(&name.span(), problem));
            }
            name.into_inner()
        }
        None => {
            let name = defaults::master_name(&data_dir);
            if name.len() > MAX_NAME_BYTES {
                return Err(origin.error(ConfigProblem::DefaultMasterNameTooLong { name }));
            }
            name
        }
    };
    Ok(MasterSection { name, data_dir })
}

fn absolute_data_dir(
    data_dir: &Spanned<String>,
    origin: &Origin<'_>,
) -> Result<PathBuf, ConfigError> {
    if data_dir.get_ref().is_empty() {
        return Err(
            origin.error_at(&data_dir.span(), ConfigProblem::Empty { key: "master.data_dir" })
        );
    }
    std::path::absolute(data_dir.get_ref()).map_err(|error| {
        origin.error_at(
            &data_dir.span(),
            ConfigProblem::NotAbsolute {
                key: "master.data_dir",
                path: data_dir.get_ref().clone(),
                by_default: false,
                error,
            },
        )
    })
}

fn listen(table: &ListenTable, origin: &Origin<'_>) -> Result<ListenSection, ConfigError> {
    let workers = match &table.workers {
        Some(text) => socket_address("listen.workers", text, origin)?,
        None => defaults::LISTEN_WORKERS,
    };
    let http = match &table.http {
        Some(text) => socket_address("listen.http", text, origin)?,
        None => defaults::LISTEN_HTTP,
    };
    let buildbot_workers = match &table.buildbot_workers {
        Some(text) => Some(socket_address("listen.buildbot_workers", text, origin)?),
        None => None,
    };
    let listeners = [
        Listener { key: "listen.workers", address: Some(workers), text: table.workers.as_ref() },
        Listener { key: "listen.http", address: Some(http), text: table.http.as_ref() },
        Listener {
            key: "listen.buildbot_workers",
            address: buildbot_workers,
            text: table.buildbot_workers.as_ref(),
        },
    ];
    check_distinct_addresses(&listeners, origin)?;
    let allow_plaintext = table.allow_plaintext.as_ref().is_some_and(|allow| *allow.get_ref());
    Ok(ListenSection { workers, http, buildbot_workers, allow_plaintext })
}

/// One listener's address, and where the file sets it (`None` when it is the default).
struct Listener<'a> {
    key: &'static str,
    address: Option<SocketAddr>,
    text: Option<&'a Spanned<String>>,
}

impl Listener<'_> {
    fn setting(&self) -> Setting {
        Setting { key: self.key, by_default: self.text.is_none() }
    }
}

/// Two listeners on one address would fail at bind time with a less helpful message. Port 0
/// (any free port, as tests use) never clashes.
fn check_distinct_addresses(
    listeners: &[Listener<'_>],
    origin: &Origin<'_>,
) -> Result<(), ConfigError> {
    for (index, listener) in listeners.iter().enumerate() {
        let Some(address) = listener.address.filter(|address| address.port() != 0) else {
            continue;
        };
        let earlier = listeners[..index].iter().find(|other| other.address == Some(address));
        let Some(earlier) = earlier else { continue };
        let problem = ConfigProblem::SharedAddress {
            first: earlier.setting(),
            second: listener.setting(),
            address,
        };
        return Err(match listener.text.or(earlier.text) {
            Some(text) => origin.error_at(&text.span(), problem),
            None => origin.error(problem),
        });
    }
    Ok(())
}

fn socket_address(
    key: &'static str,
    text: &Spanned<String>,
    origin: &Origin<'_>,
) -> Result<SocketAddr, ConfigError> {
    text.get_ref().parse().map_err(|_| {
        origin.error_at(
            &text.span(),
            ConfigProblem::NotASocketAddress { key, text: text.get_ref().clone() },
        )
    })
}

fn timing(table: TimingTable, origin: &Origin<'_>) -> Result<TimingSection, ConfigError> {
    let heartbeat_interval_s = positive_seconds(
        "timing.heartbeat_interval_s",
        table.heartbeat_interval_s.as_ref(),
        defaults::HEARTBEAT_INTERVAL_S,
        origin,
    )?;
    let expiry_window_s = positive_seconds(
        "timing.expiry_window_s",
        table.expiry_window_s.as_ref(),
        defaults::EXPIRY_WINDOW_S,
        origin,
    )?;
    let keepalive_timeout_s = positive_seconds(
        "timing.keepalive_timeout_s",
        table.keepalive_timeout_s.as_ref(),
        defaults::KEEPALIVE_TIMEOUT_S,
        origin,
    )?;
    let missing_timeout_s = positive_seconds(
        "timing.missing_timeout_s",
        table.missing_timeout_s.as_ref(),
        defaults::MISSING_TIMEOUT_S,
        origin,
    )?;
    let ping_timeout_s = positive_seconds(
        "timing.ping_timeout_s",
        table.ping_timeout_s.as_ref(),
        defaults::PING_TIMEOUT_S,
        origin,
    )?;
    if heartbeat_interval_s >= expiry_window_s {
        let problem =
            ConfigProblem::HeartbeatNotBelowExpiry { heartbeat_interval_s, expiry_window_s };
        // Point at whichever of the two the file sets, the heartbeat first.
        let span = table.heartbeat_interval_s.or(table.expiry_window_s).map(|value| value.span());
        return Err(match span {
            Some(span) => origin.error_at(&span, problem),
            None => origin.error(problem),
        });
    }
    Ok(TimingSection {
        heartbeat_interval_s,
        expiry_window_s,
        keepalive_timeout_s,
        missing_timeout_s,
        ping_timeout_s,
    })
}

/// A positive number of seconds, at most [`MAX_DURATION_S`].
pub(super) fn positive_seconds(
    key: &'static str,
    value: Option<&Spanned<u64>>,
    default: u64,
    origin: &Origin<'_>,
) -> Result<u64, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let seconds = *value.get_ref();
    if seconds == 0 {
        return Err(origin.error_at(&value.span(), ConfigProblem::NotPositive { key }));
    }
    if seconds > MAX_DURATION_S {
        return Err(origin.error_at(&value.span(), ConfigProblem::LongerThanAYear { key, seconds }));
    }
    Ok(seconds)
}

fn limits(table: LimitsTable, origin: &Origin<'_>) -> Result<LimitsSection, ConfigError> {
    let max_frame_bytes = frame_bytes(table.max_frame_bytes.as_ref(), origin)?;
    let handshake_timeout_s = positive_seconds(
        "limits.handshake_timeout_s",
        table.handshake_timeout_s.as_ref(),
        defaults::HANDSHAKE_TIMEOUT_S,
        origin,
    )?;
    let max_handshaking_connections = positive_count(
        "limits.max_handshaking_connections",
        table.max_handshaking_connections.as_ref(),
        defaults::MAX_HANDSHAKING_CONNECTIONS,
        origin,
    )?;
    let max_connections = positive_count(
        "limits.max_connections",
        table.max_connections.as_ref(),
        defaults::MAX_CONNECTIONS,
        origin,
    )?;
    let max_outbound_frames = positive_count(
        "limits.max_outbound_frames",
        table.max_outbound_frames.as_ref(),
        defaults::MAX_OUTBOUND_FRAMES,
        origin,
    )?;
    let listen_backlog = backlog(table.listen_backlog.as_ref(), origin)?;
    let count = |key: &'static str, value: &Option<Spanned<usize>>, default: usize| {
        positive_count(key, value.as_ref(), default, origin)
    };
    let seconds = |key: &'static str, value: &Option<Spanned<u64>>, default: u64| {
        positive_seconds(key, value.as_ref(), default, origin)
    };
    Ok(LimitsSection {
        max_frame_bytes,
        handshake_timeout_s,
        max_handshaking_connections,
        max_connections,
        max_connections_per_address: count(
            "limits.max_connections_per_address",
            &table.max_connections_per_address,
            defaults::MAX_CONNECTIONS_PER_ADDRESS,
        )?,
        max_handshaking_per_address: count(
            "limits.max_handshaking_per_address",
            &table.max_handshaking_per_address,
            defaults::MAX_HANDSHAKING_PER_ADDRESS,
        )?,
        max_outbound_frames,
        max_outbound_bytes: count(
            "limits.max_outbound_bytes",
            &table.max_outbound_bytes,
            defaults::MAX_OUTBOUND_BYTES,
        )?,
        http_max_connections: count(
            "limits.http_max_connections",
            &table.http_max_connections,
            defaults::HTTP_MAX_CONNECTIONS,
        )?,
        http_max_connections_per_address: count(
            "limits.http_max_connections_per_address",
            &table.http_max_connections_per_address,
            defaults::HTTP_MAX_CONNECTIONS_PER_ADDRESS,
        )?,
        http_max_in_flight: count(
            "limits.http_max_in_flight",
            &table.http_max_in_flight,
            defaults::HTTP_MAX_IN_FLIGHT,
        )?,
        http_head_timeout_s: seconds(
            "limits.http_head_timeout_s",
            &table.http_head_timeout_s,
            defaults::HTTP_HEAD_TIMEOUT_S,
        )?,
        http_write_timeout_s: seconds(
            "limits.http_write_timeout_s",
            &table.http_write_timeout_s,
            defaults::HTTP_WRITE_TIMEOUT_S,
        )?,
        http_max_buffered_bytes: count(
            "limits.http_max_buffered_bytes",
            &table.http_max_buffered_bytes,
            defaults::HTTP_MAX_BUFFERED_BYTES,
        )?,
        max_master_sessions: count(
            "limits.max_master_sessions",
            &table.max_master_sessions,
            defaults::MAX_MASTER_SESSIONS,
        )?,
        master_idle_timeout_s: seconds(
            "limits.master_idle_timeout_s",
            &table.master_idle_timeout_s,
            defaults::MASTER_IDLE_TIMEOUT_S,
        )?,
        max_masters: count("limits.max_masters", &table.max_masters, defaults::MAX_MASTERS)?,
        max_rows_per_kind: count(
            "limits.max_rows_per_kind",
            &table.max_rows_per_kind,
            defaults::MAX_ROWS_PER_KIND,
        )?,
        listen_backlog,
    })
}

/// The kernel caps the backlog at `somaxconn` anyway; 65,535 is this project's ceiling, far
/// above any herd the worker limits allow.
fn backlog(value: Option<&Spanned<u64>>, origin: &Origin<'_>) -> Result<u32, ConfigError> {
    const MAX_LISTEN_BACKLOG: u64 = 65_535;
    let Some(value) = value else { return Ok(defaults::LISTEN_BACKLOG) };
    const KEY: &str = "limits.listen_backlog";
    let problem = match *value.get_ref() {
        0 => ConfigProblem::NotPositive { key: KEY },
        fits @ 1..=MAX_LISTEN_BACKLOG => return Ok(u32::try_from(fits).unwrap_or(u32::MAX)),
        too_big => {
            ConfigProblem::AboveMaximum { key: KEY, value: too_big, maximum: MAX_LISTEN_BACKLOG }
        }
    };
    Err(origin.error_at(&value.span(), problem))
}

fn frame_bytes(value: Option<&Spanned<u64>>, origin: &Origin<'_>) -> Result<u32, ConfigError> {
    let Some(value) = value else { return Ok(defaults::MAX_FRAME_BYTES) };
    const KEY: &str = "limits.max_frame_bytes";
    let bytes = *value.get_ref();
    let problem = match u32::try_from(bytes) {
        Ok(0) => ConfigProblem::NotPositive { key: KEY },
        Ok(fits) if fits < MIN_FRAME_BYTES => {
            ConfigProblem::BelowMinimum { key: KEY, value: bytes, minimum: MIN_FRAME_BYTES.into() }
        }
        Ok(fits) if fits <= MAX_FRAME_BYTES => return Ok(fits),
        _ => {
            ConfigProblem::AboveMaximum { key: KEY, value: bytes, maximum: MAX_FRAME_BYTES.into() }
        }
    };
    Err(origin.error_at(&value.span(), problem))
}

fn positive_count(
    key: &'static str,
    value: Option<&Spanned<usize>>,
    default: usize,
    origin: &Origin<'_>,
) -> Result<usize, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    if *value.get_ref() == 0 {
        return Err(origin.error_at(&value.span(), ConfigProblem::NotPositive { key }));
    }
    Ok(*value.get_ref())
}
