//! From the file as written to a [`Config`]: defaults filled in and every value checked, each
//! refusal pointing at the value at fault.

use std::net::SocketAddr;
use std::path::PathBuf;

use rollcall_core::MAX_NAME_BYTES;
use toml::Spanned;

use super::error::Origin;
use super::file::{ConfigFile, LimitsTable, ListenTable, MasterTable, TimingTable};
use super::{
    defaults, validate_masters, validate_roster, validate_tls, Config, ConfigError, GatewaySection,
    LimitsSection, ListenSection, MasterSection, TimingSection,
};

/// Every duration is capped here, so that converting to milliseconds or adding to a clock
/// reading can never overflow.
const MAX_DURATION_S: u64 = 365 * 24 * 60 * 60;

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
    })
}

fn master(table: MasterTable, origin: &Origin<'_>) -> Result<MasterSection, ConfigError> {
    let data_dir = match table.data_dir {
        Some(data_dir) => absolute_data_dir(&data_dir, origin)?,
        None => std::path::absolute(defaults::DATA_DIR).map_err(|error| {
            origin.error(format!(
                "the default master.data_dir {:?} cannot be made absolute: {error}",
                defaults::DATA_DIR
            ))
        })?,
    };
    let name = match table.name {
        Some(name) => {
            if name.get_ref().is_empty() {
                return Err(origin.error_at(&name.span(), "master.name is empty"));
            }
            check_name_length("master.name", &name, origin)?;
            name.into_inner()
        }
        None => {
            let name = defaults::master_name(&data_dir);
            if name.len() > MAX_NAME_BYTES {
                return Err(origin.error(format!(
                    "the default master name {name:?} is longer than {MAX_NAME_BYTES} bytes; \
                     set master.name"
                )));
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
        return Err(origin.error_at(&data_dir.span(), "master.data_dir is empty"));
    }
    std::path::absolute(data_dir.get_ref()).map_err(|error| {
        origin.error_at(
            &data_dir.span(),
            format!("master.data_dir {:?} cannot be made absolute: {error}", data_dir.get_ref()),
        )
    })
}

/// Names that reach the Registry or the Gateway are bounded there; refusing them here says
/// where.
pub(crate) fn check_name_length(
    what: &str,
    name: &Spanned<String>,
    origin: &Origin<'_>,
) -> Result<(), ConfigError> {
    let bytes = name.get_ref().len();
    if bytes > MAX_NAME_BYTES {
        return Err(origin.error_at(
            &name.span(),
            format!("{what} is {bytes} bytes long, more than the limit of {MAX_NAME_BYTES}"),
        ));
    }
    Ok(())
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
    fn shown(&self) -> String {
        match self.text {
            Some(_) => self.key.to_owned(),
            None => format!("{} (by default)", self.key),
        }
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
        let problem = format!(
            "{} and {} are both {address}: each listener needs its own address",
            earlier.shown(),
            listener.shown()
        );
        return Err(match listener.text.or(earlier.text) {
            Some(text) => origin.error_at(&text.span(), problem),
            None => origin.error(problem),
        });
    }
    Ok(())
}

fn socket_address(
    key: &str,
    text: &Spanned<String>,
    origin: &Origin<'_>,
) -> Result<SocketAddr, ConfigError> {
    text.get_ref().parse().map_err(|_| {
        origin.error_at(
            &text.span(),
            format!(
                "{key} = {:?} is not an IP address and port, such as \"127.0.0.1:9989\" or \
                 \"[::1]:9989\"",
                text.get_ref()
            ),
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
        let problem = format!(
            "timing.heartbeat_interval_s ({heartbeat_interval_s}) must be smaller than \
             timing.expiry_window_s ({expiry_window_s}): a master that heartbeats less often \
             than the expiry window would be expired between its own heartbeats"
        );
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
fn positive_seconds(
    key: &str,
    value: Option<&Spanned<u64>>,
    default: u64,
    origin: &Origin<'_>,
) -> Result<u64, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let seconds = *value.get_ref();
    if seconds == 0 {
        return Err(origin.error_at(&value.span(), format!("{key} must be greater than zero")));
    }
    if seconds > MAX_DURATION_S {
        return Err(origin.error_at(
            &value.span(),
            format!("{key} = {seconds} is longer than one year ({MAX_DURATION_S} seconds)"),
        ));
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
    let count = |key: &str, value: &Option<Spanned<usize>>, default: usize| {
        positive_count(&format!("limits.{key}"), value.as_ref(), default, origin)
    };
    let seconds = |key: &str, value: &Option<Spanned<u64>>, default: u64| {
        positive_seconds(&format!("limits.{key}"), value.as_ref(), default, origin)
    };
    Ok(LimitsSection {
        max_frame_bytes,
        handshake_timeout_s,
        max_handshaking_connections,
        max_connections,
        max_connections_per_address: count(
            "max_connections_per_address",
            &table.max_connections_per_address,
            defaults::MAX_CONNECTIONS_PER_ADDRESS,
        )?,
        max_handshaking_per_address: count(
            "max_handshaking_per_address",
            &table.max_handshaking_per_address,
            defaults::MAX_HANDSHAKING_PER_ADDRESS,
        )?,
        max_outbound_frames,
        max_outbound_bytes: count(
            "max_outbound_bytes",
            &table.max_outbound_bytes,
            defaults::MAX_OUTBOUND_BYTES,
        )?,
        http_max_connections: count(
            "http_max_connections",
            &table.http_max_connections,
            defaults::HTTP_MAX_CONNECTIONS,
        )?,
        http_max_connections_per_address: count(
            "http_max_connections_per_address",
            &table.http_max_connections_per_address,
            defaults::HTTP_MAX_CONNECTIONS_PER_ADDRESS,
        )?,
        http_max_in_flight: count(
            "http_max_in_flight",
            &table.http_max_in_flight,
            defaults::HTTP_MAX_IN_FLIGHT,
        )?,
        http_head_timeout_s: seconds(
            "http_head_timeout_s",
            &table.http_head_timeout_s,
            defaults::HTTP_HEAD_TIMEOUT_S,
        )?,
        http_write_timeout_s: seconds(
            "http_write_timeout_s",
            &table.http_write_timeout_s,
            defaults::HTTP_WRITE_TIMEOUT_S,
        )?,
        http_max_buffered_bytes: count(
            "http_max_buffered_bytes",
            &table.http_max_buffered_bytes,
            defaults::HTTP_MAX_BUFFERED_BYTES,
        )?,
        max_master_sessions: count(
            "max_master_sessions",
            &table.max_master_sessions,
            defaults::MAX_MASTER_SESSIONS,
        )?,
        master_idle_timeout_s: seconds(
            "master_idle_timeout_s",
            &table.master_idle_timeout_s,
            defaults::MASTER_IDLE_TIMEOUT_S,
        )?,
        max_masters: count("max_masters", &table.max_masters, defaults::MAX_MASTERS)?,
        max_rows_per_kind: count(
            "max_rows_per_kind",
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
    match *value.get_ref() {
        0 => Err(origin.error_at(&value.span(), "limits.listen_backlog must be greater than zero")),
        fits @ 1..=MAX_LISTEN_BACKLOG => Ok(u32::try_from(fits).unwrap_or(u32::MAX)),
        too_big => Err(origin.error_at(
            &value.span(),
            format!(
                "limits.listen_backlog = {too_big} is above the maximum of {MAX_LISTEN_BACKLOG}"
            ),
        )),
    }
}

fn frame_bytes(value: Option<&Spanned<u64>>, origin: &Origin<'_>) -> Result<u32, ConfigError> {
    let Some(value) = value else { return Ok(defaults::MAX_FRAME_BYTES) };
    let bytes = *value.get_ref();
    let problem = match u32::try_from(bytes) {
        Ok(0) => "limits.max_frame_bytes must be greater than zero".to_owned(),
        Ok(fits) if fits < MIN_FRAME_BYTES => {
            format!("limits.max_frame_bytes = {bytes} is below the minimum of {MIN_FRAME_BYTES}")
        }
        Ok(fits) if fits <= MAX_FRAME_BYTES => return Ok(fits),
        _ => format!(
            "limits.max_frame_bytes = {bytes} is above the maximum of {MAX_FRAME_BYTES} (64 MiB)"
        ),
    };
    Err(origin.error_at(&value.span(), problem))
}

fn positive_count(
    key: &str,
    value: Option<&Spanned<usize>>,
    default: usize,
    origin: &Origin<'_>,
) -> Result<usize, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    if *value.get_ref() == 0 {
        return Err(origin.error_at(&value.span(), format!("{key} must be greater than zero")));
    }
    Ok(*value.get_ref())
}
