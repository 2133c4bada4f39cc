//! REST endpoints in Buildbot's data API shape, plus `/healthz` and `/metrics`, served by
//! tiny_http on `[listen] http`.
//!
//! Every answer is computed from the core's in-memory state through a read job (see
//! `daemon::inputs::ReadJob`): the core thread copies the rows between two inputs, and this
//! module filters, sorts, pages, renders and writes them on its own threads. A slow or
//! hostile client can hold one of these threads, never the core or the workers' port.

mod observe;
pub(crate) mod query;
mod resources;
mod respond;
mod routes;
mod rows;

use std::sync::Arc;
use std::time::Instant;

use crate::daemon::inputs::{CoreInput, ReadView};
use crate::daemon::metrics::Metrics;
use crate::daemon::DaemonError;

use query::{Query, QueryError, QueryRow, Shape};
use resources::{Selected, Selection};
use respond::{Format, Reply};
use routes::Route;
use rows::{JsonRow, Keep, WriteFields};

/// Threads answering requests: each request holds one until its response is written.
const HANDLER_THREADS: usize = 4;

/// Requests whose target is longer than this are refused before any parsing.
const MAX_TARGET_BYTES: usize = 16 * 1024;

/// A running HTTP server; dropping it stops its handler threads.
pub(crate) struct HttpServer {
    server: Arc<tiny_http::Server>,
    handlers: Vec<std::thread::JoinHandle<()>>,
    pub(crate) local_address: std::net::SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("HttpServer").field("local_address", &self.local_address).finish()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        for _ in &self.handlers {
            self.server.unblock();
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

/// Binds the HTTP port and starts answering.
///
/// # Errors
///
/// When the address cannot be bound.
pub(crate) fn start(
    address: std::net::SocketAddr,
    core: smol::channel::Sender<CoreInput>,
    metrics: Arc<Metrics>,
) -> Result<HttpServer, DaemonError> {
    let server = tiny_http::Server::http(address).map_err(|error| DaemonError::Listen {
        address,
        error: std::io::Error::other(error.to_string()),
    })?;
    let local_address = server.server_addr().to_ip().unwrap_or(address);
    let server = Arc::new(server);
    let context = Arc::new(Context { core, metrics, started: Instant::now() });
    let handlers = (0..HANDLER_THREADS)
        .map(|index| {
            let (server, context) = (Arc::clone(&server), Arc::clone(&context));
            std::thread::Builder::new()
                .name(format!("rollcall-http-{index}"))
                .spawn(move || serve(&server, &context))
                .map_err(|error| DaemonError::Listen { address, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    tracing::info!(bound = %local_address, "serving HTTP");
    Ok(HttpServer { server, handlers, local_address })
}

fn serve(server: &tiny_http::Server, context: &Context) {
    // `recv` fails once the server is unblocked for shutdown.
    while let Ok(request) = server.recv() {
        let reply = answer(context, request.method(), request.url(), request.headers());
        if let Err(error) = request.respond(reply.into_response()) {
            tracing::debug!(error = %error, "HTTP client went away");
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
    if target.len() > MAX_TARGET_BYTES {
        return Reply::error(
            format,
            414,
            format!("request target longer than {MAX_TARGET_BYTES} bytes"),
        );
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let Some(route) = routes::route(path) else {
        let shown = path.strip_prefix("/api/v2/").unwrap_or(path);
        return Reply::error(format, 404, format!("Invalid path: {shown}"));
    };
    if *method != tiny_http::Method::Get {
        return Reply::error(format, 405, format!("method {method} not allowed: only GET"));
    }
    match route {
        Route::Health => observe::health(context, format),
        Route::Metrics => observe::metrics(context),
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
