//! REST endpoints in Buildbot's data API shape, plus `/healthz` and `/metrics`, served by
//! tiny_http on `[listen] http`.
//!
//! Every answer is computed from the core's in-memory state through a read job (see
//! `core_link::inputs::ReadJob`): the core thread copies the committed rows after a batch, and
//! this module filters, sorts, pages, renders and writes them on its own threads. No client
//! reaches those threads: `front.rs` reads and validates every request and writes every
//! response under deadlines (see there).

mod budget;
pub(crate) mod front;
pub(crate) mod head;
mod observe;
pub(crate) mod query;
mod resources;
mod respond;
mod routes;
mod rows;
mod status;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::acceptor::{self, Port, PortLimits, PortName};

use crate::bind::ListenError;
use crate::core_link::inputs::{CoreInput, ReadView};
use crate::metrics::Metrics;

use query::{Query, QueryError, QueryRow, Shape};
use resources::{Selected, Selection};
use respond::{Format, Reply};
use routes::Route;
use rows::{JsonRow, Keep, WriteFields};

/// A running HTTP port: the front on TCP and the engine (tiny_http) behind it on a private
/// Unix socket. Dropping it stops accepting, then stops the engine's threads.
pub(crate) struct HttpServer {
    _stop_accepting: smol::channel::Sender<()>,
    accepting: Option<smol::Task<()>>,
    engine: Arc<tiny_http::Server>,
    handlers: Vec<std::thread::JoinHandle<()>>,
    /// Holds the engine's socket; removed with it.
    _socket_directory: tempfile::TempDir,
    pub(crate) local_address: std::net::SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("HttpServer").field("local_address", &self.local_address).finish()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        // Cancels the accept loop; connections in flight end by their own deadlines.
        drop(self.accepting.take());
        for _ in &self.handlers {
            self.engine.unblock();
        }
        for handler in self.handlers.drain(..) {
            let _ = handler.join();
        }
    }
}

struct Context {
    core: smol::channel::Sender<CoreInput>,
    metrics: Arc<Metrics>,
    started: Instant,
}

/// What the HTTP port is allowed, from `[limits]`.
#[derive(Clone, Debug)]
pub(crate) struct HttpLimits {
    pub(crate) port: PortLimits,
    /// Requests inside the engine at once; also its number of handler threads.
    pub(crate) max_in_flight: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) max_buffered_bytes: usize,
}

/// Starts answering on `listener` (bound with [`crate::bind::listen`] before the store
/// was opened, so that a taken port stops the start before anything is written). Must run
/// inside the smol executor.
///
/// # Errors
///
/// When the engine's socket or its threads cannot be made.
pub(crate) fn start(
    listener: async_net::TcpListener,
    limits: HttpLimits,
    core: smol::channel::Sender<CoreInput>,
    metrics: Arc<Metrics>,
    tls: Arc<crate::tls::ServerTls>,
) -> Result<HttpServer, ListenError> {
    let local_address = listener
        .local_addr()
        .map_err(|error| ListenError { address: ([0, 0, 0, 0], 0).into(), error })?;
    let address = local_address;
    let listen_error = |error: std::io::Error| ListenError { address, error };
    let socket_directory = private_socket_directory().map_err(listen_error)?;
    let socket = socket_directory.path().join("engine.sock");
    let engine = tiny_http::Server::http_unix(&socket)
        .map_err(|error| listen_error(std::io::Error::other(error.to_string())))?;
    let engine = Arc::new(engine);
    let context =
        Arc::new(Context { core, metrics: Arc::clone(&metrics), started: Instant::now() });
    let handlers = (0..limits.max_in_flight)
        .map(|index| {
            let (engine, context) = (Arc::clone(&engine), Arc::clone(&context));
            std::thread::Builder::new()
                .name(format!("rollcall-http-{index}"))
                .spawn(move || serve(&engine, &context))
                .map_err(listen_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let front = Arc::new(front::Front {
        backend: socket,
        slots: Arc::new(smol::lock::Semaphore::new(limits.max_in_flight)),
        slot_wait: limits.port.handshake_timeout,
        write_timeout: limits.write_timeout,
        response_deadline: limits.write_timeout * 6,
        buffered: Arc::new(budget::ResponseBudget::new(limits.max_buffered_bytes)),
    });
    let port = Port::new(PortName::Http, limits.port, metrics);
    let tls_on = tls.is_enabled();
    // Dropping the sender (with this server) stops the loop; so does dropping the task.
    let (stop_accepting, stop) = smol::channel::bounded::<()>(1);
    let accepting =
        smol::spawn(acceptor::run(listener, port, tls, stop, move |stream, peer, admission| {
            front::serve(stream, peer, admission, Arc::clone(&front))
        }));
    tracing::info!(bound = %local_address, "serving HTTP{}", if tls_on { "S" } else { "" });
    Ok(HttpServer {
        _stop_accepting: stop_accepting,
        accepting: Some(accepting),
        engine,
        handlers,
        _socket_directory: socket_directory,
        local_address,
    })
}

/// The engine's socket lives in a directory only this user may enter (0700, set here:
/// tempfile's own mode follows the umask, which gave 0755), so no other local user can
/// reach tiny_http around the front, whatever mode the socket itself gets.
fn private_socket_directory() -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("rollcall-http-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

fn serve(engine: &tiny_http::Server, context: &Context) {
    // `recv` fails once the engine is unblocked for shutdown.
    while let Ok(request) = engine.recv() {
        let reply = answer(context, request.method(), request.url(), request.headers());
        if let Err(error) = request.respond(reply.into_response()) {
            tracing::debug!(error = %error, "HTTP front went away");
        }
    }
}

fn answer(
    context: &Context,
    method: &tiny_http::Method,
    target: &str,
    headers: &[tiny_http::Header],
) -> Reply {
    let format = Format::from_headers(headers);
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let Some(route) = routes::route(path) else {
        let shown = path.strip_prefix("/api/v2/").unwrap_or(path);
        return Reply::error(format, 404, format!("Invalid path: {shown}"));
    };
    // The front lets only GET and HEAD through; tiny_http leaves out a HEAD's body.
    if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
        return Reply::error(
            format,
            405,
            format!("method {method} not allowed: only GET and HEAD"),
        );
    }
    match route {
        Route::Health => observe::health(context, format),
        Route::Metrics => observe::metrics(context),
        Route::Cluster => observe::cluster(context, format),
        Route::StatusPage(asset) => asset.reply(),
        Route::ApiIndex => status::api_index(format),
        route => data(context, format, route, raw_query),
    }
}

fn data(context: &Context, format: Format, route: Route, raw_query: &str) -> Reply {
    let Some(resource) = resources::resource_of(&route) else {
        unreachable!("health and metrics are answered before")
    };
    let shape = if route.is_single() { Shape::Single } else { Shape::Collection };
    let query = match query::parse(raw_query, &resource.schema, shape) {
        Ok(query) => query,
        Err(QueryError { message }) => return Reply::error(format, 400, message),
    };
    let selected =
        read(context, move |view| resources::select(view.registry, view.worker_info, &route));
    let Some(selected) = selected else {
        return Reply::error(format, 503, "the daemon is shutting down".into());
    };
    let plural = resource.plural;
    match selected {
        Selected::Masters(rows) => answer_rows(format, plural, &query, rows),
        Selected::Builders(rows) => answer_rows(format, plural, &query, rows),
        Selected::Workers(rows) => answer_rows(format, plural, &query, rows),
        Selected::BuildRequests(rows) => answer_rows(format, plural, &query, rows),
        Selected::Builds(rows) => answer_rows(format, plural, &query, rows),
        Selected::Services(rows) => answer_rows(format, plural, &query, rows),
    }
}

/// Filters, sorts and pages typed rows, then writes the page, on this (HTTP) thread.
fn answer_rows<R: QueryRow + WriteFields>(
    format: Format,
    plural: &str,
    query: &Query,
    selection: Selection<R>,
) -> Reply {
    let keep = Keep::only(query.selected());
    match selection {
        Selection::Many(rows) => {
            let page = query.page(rows);
            Reply::collection(format, plural, &page.rows, keep, page.total)
        }
        Selection::One(None) => Reply::error(format, 404, "not found".into()),
        // A single entity's query can only select fields (`Shape::Single`).
        Selection::One(Some(row)) => Reply::single(format, plural, &row, keep),
    }
}

/// The whole registry in REST shape: what `rollcall replay` prints and what the REST
/// collections show, keyed by their plural names.
pub(crate) fn state_json(registry: &rollcall_core::Registry) -> serde_json::Value {
    fn rows<R: WriteFields>(selection: &Selection<R>) -> serde_json::Value {
        let rows = match selection {
            Selection::Many(rows) => rows.as_slice(),
            Selection::One(row) => row.as_slice(),
        };
        // Rows hold only strings, numbers and JSON values, which serialize without fail; a
        // row that did not would be shown as its error rather than silently left out.
        let rows = rows.iter().map(|row| {
            serde_json::to_value(JsonRow { row, keep: Keep::ALL })
                .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }))
        });
        serde_json::Value::Array(rows.collect())
    }
    let no_worker_info = std::collections::HashMap::new();
    let mut state = serde_json::Map::new();
    for route in
        [Route::Masters, Route::Builders, Route::Workers, Route::BuildRequests, Route::Builds]
    {
        let Some(resource) = resources::resource_of(&route) else {
            unreachable!("collection routes are data routes")
        };
        let rows = match resources::select(registry, &no_worker_info, &route) {
            Selected::Masters(selection) => rows(&selection),
            Selected::Builders(selection) => rows(&selection),
            Selected::Workers(selection) => rows(&selection),
            Selected::BuildRequests(selection) => rows(&selection),
            Selected::Builds(selection) => rows(&selection),
            Selected::Services(selection) => rows(&selection),
        };
        state.insert(resource.plural.into(), rows);
    }
    serde_json::Value::Object(state)
}

/// Runs `job` on the core thread and waits for what it copied out.
fn read<T: Send + 'static>(
    context: &Context,
    job: impl FnOnce(&ReadView<'_>) -> T + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = smol::channel::bounded(1);
    let job = Box::new(move |view: &ReadView<'_>| {
        let _ = sender.try_send(job(view));
    });
    context.core.send_blocking(CoreInput::Read(job)).ok()?;
    receiver.recv_blocking().ok()
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_engine_socket_directory_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let directory = super::private_socket_directory().expect("a directory");
        let mode = std::fs::metadata(directory.path()).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
