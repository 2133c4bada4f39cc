//! The status page at `/`: a page, a script and a style sheet built into the binary (no
//! CDN: build farms often have no internet), which read the REST API and redraw every few
//! seconds; and `/api/v2`, the index of the collections.

use serde_json::json;

use super::respond::{Format, Reply};

/// One of the page's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asset {
    Page,
    Script,
    Style,
}

impl Asset {
    /// The file at `path`, if one is there.
    pub(crate) fn at(path: &str) -> Option<Asset> {
        match path {
            "/" | "/index.html" => Some(Asset::Page),
            "/status/app.js" => Some(Asset::Script),
            "/status/style.css" => Some(Asset::Style),
            _ => None,
        }
    }

    pub(crate) fn reply(self) -> Reply {
        match self {
            Asset::Page => {
                Reply::asset(include_str!("status/index.html"), "text/html; charset=utf-8")
            }
            Asset::Script => {
                Reply::asset(include_str!("status/app.js"), "text/javascript; charset=utf-8")
            }
            Asset::Style => {
                Reply::asset(include_str!("status/style.css"), "text/css; charset=utf-8")
            }
        }
    }
}

/// The collections the REST API serves, with their paths.
const COLLECTIONS: [&str; 7] =
    ["masters", "builders", "workers", "buildrequests", "builds", "schedulers", "changesources"];

pub(crate) fn api_index(format: Format) -> Reply {
    let collections: Vec<_> = COLLECTIONS
        .iter()
        .map(|name| json!({ "name": name, "path": format!("/api/v2/{name}") }))
        .chain([
            json!({ "name": "cluster", "path": "/api/v2/cluster" }),
            json!({ "name": "healthz", "path": "/healthz" }),
            json!({ "name": "metrics", "path": "/metrics" }),
        ])
        .collect();
    Reply::json(format, 200, &json!({ "collections": collections }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_found_and_nothing_else() {
        assert_eq!(Asset::at("/"), Some(Asset::Page));
        assert_eq!(Asset::at("/status/app.js"), Some(Asset::Script));
        assert_eq!(Asset::at("/status/style.css"), Some(Asset::Style));
        assert_eq!(Asset::at("/status/../Cargo.toml"), None);
        assert_eq!(Asset::at("/status/"), None);
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = include_str!("status/index.html");
        assert!(!page.contains("http://") && !page.contains("https://"), "no CDN");
        assert!(page.contains("/status/app.js") && page.contains("/status/style.css"));
    }
}
