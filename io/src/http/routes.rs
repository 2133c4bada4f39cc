//! Which resource a request path names. Paths are matched segment by segment after
//! percent-decoding, so `..` or encoded slashes can never reach anything but a 404.

/// A builder or worker named by its id (all digits) or by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IdOrName {
    Id(u64),
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Masters,
    Master(u64),
    BuilderMasters(IdOrName),
    BuilderMaster(IdOrName, u64),
    Builders,
    Builder(IdOrName),
    Workers,
    Worker(IdOrName),
    BuildRequests,
    BuildRequest(u64),
    Builds,
    Build(u64),
    Schedulers,
    Scheduler(u64),
    ChangeSources,
    ChangeSource(u64),
    Health,
    Metrics,
    /// This node's role in its cluster, and who leads.
    Cluster,
    /// The status page and its files (`status.rs`).
    StatusPage(crate::http::status::Asset),
    /// `/api/v2`: the collections.
    ApiIndex,
}

impl Route {
    /// Whether the route names one entity (filters are refused there).
    pub(crate) fn is_single(&self) -> bool {
        matches!(
            self,
            Route::Master(_)
                | Route::BuilderMaster(..)
                | Route::Builder(_)
                | Route::Worker(_)
                | Route::BuildRequest(_)
                | Route::Build(_)
                | Route::Scheduler(_)
                | Route::ChangeSource(_)
        )
    }
}

/// The route for a path (without its query string), or `None` for an invalid path.
pub(crate) fn route(path: &str) -> Option<Route> {
    if path == "/healthz" {
        return Some(Route::Health);
    }
    if path == "/metrics" {
        return Some(Route::Metrics);
    }
    if let Some(asset) = crate::http::status::Asset::at(path) {
        return Some(Route::StatusPage(asset));
    }
    if path == "/api/v2" || path == "/api/v2/" {
        return Some(Route::ApiIndex);
    }
    let rest = path.strip_prefix("/api/v2/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect::<Option<_>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match segments[..] {
        ["masters"] => Route::Masters,
        ["masters", id] => Route::Master(number(id)?),
        ["builders"] => Route::Builders,
        ["builders", builder] => Route::Builder(id_or_name(builder)?),
        ["builders", builder, "masters"] => Route::BuilderMasters(id_or_name(builder)?),
        ["builders", builder, "masters", master] => {
            Route::BuilderMaster(id_or_name(builder)?, number(master)?)
        }
        // The seed's spelling of the same path.
        ["builders", builder, master] => {
            Route::BuilderMaster(id_or_name(builder)?, number(master)?)
        }
        ["workers"] => Route::Workers,
        ["workers", worker] => Route::Worker(id_or_name(worker)?),
        ["buildrequests"] => Route::BuildRequests,
        ["buildrequests", id] => Route::BuildRequest(number(id)?),
        ["builds"] => Route::Builds,
        ["builds", id] => Route::Build(number(id)?),
        ["schedulers"] => Route::Schedulers,
        ["schedulers", id] => Route::Scheduler(number(id)?),
        ["changesources"] => Route::ChangeSources,
        ["changesources", id] => Route::ChangeSource(number(id)?),
        ["cluster"] => Route::Cluster,
        _ => return None,
    };
    Some(route)
}

fn number(segment: &str) -> Option<u64> {
    if segment.is_empty() || !segment.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

fn id_or_name(segment: &str) -> Option<IdOrName> {
    if segment.is_empty() {
        return None;
    }
    Some(match number(segment) {
        Some(id) => IdOrName::Id(id),
        None => IdOrName::Name(segment.to_string()),
    })
}

/// Decodes `%xx` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_has_a_route() {
        assert_eq!(route("/api/v2/masters"), Some(Route::Masters));
        assert_eq!(route("/api/v2/masters/7"), Some(Route::Master(7)));
        assert_eq!(
            route("/api/v2/builders/linux/masters"),
            Some(Route::BuilderMasters(IdOrName::Name("linux".into())))
        );
        assert_eq!(
            route("/api/v2/builders/3/masters/1"),
            Some(Route::BuilderMaster(IdOrName::Id(3), 1))
        );
        assert_eq!(route("/api/v2/builders/3/1"), route("/api/v2/builders/3/masters/1"));
        assert_eq!(
            route("/api/v2/workers/w%201"),
            Some(Route::Worker(IdOrName::Name("w 1".into())))
        );
        assert_eq!(route("/healthz"), Some(Route::Health));
        assert_eq!(route("/api/v2/cluster"), Some(Route::Cluster));
    }

    #[test]
    fn malformed_paths_have_no_route() {
        for path in [
            "/api/v2/masters/x",
            "/api/v2/masters/-1",
            "/api/v2/masters/99999999999999999999999",
            "/api/v2/nothing",
            "/api/v2/masters/1/2/3",
            "/api/v2/builders/%zz",
            "/api/v2/builders/%ff",
            "/api/v2/../etc/passwd",
            "/api/v1/masters",
            "/index.htm",
            "/status/",
            "/status/../Cargo.toml",
            "/api/v2//",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }

    #[test]
    fn the_status_page_and_the_api_index_have_routes() {
        use crate::http::status::Asset;
        assert_eq!(route("/"), Some(Route::StatusPage(Asset::Page)));
        assert_eq!(route("/status/app.js"), Some(Route::StatusPage(Asset::Script)));
        assert_eq!(route("/api/v2"), Some(Route::ApiIndex));
        assert_eq!(route("/api/v2/"), Some(Route::ApiIndex));
    }
}
