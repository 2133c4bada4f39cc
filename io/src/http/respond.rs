//! Buildbot's response shapes: `{"<type>": [...], "meta": {...}}` with sorted keys, errors
//! as `{"error": "..."}`; compact JSON for `Accept: application/json`, indented otherwise.

use serde_json::{json, Value};

use crate::http::resources::Row;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Compact,
    Indented,
}

impl Format {
    pub(crate) fn from_headers(headers: &[tiny_http::Header]) -> Format {
        let wants_json = headers.iter().any(|header| {
            header.field.equiv("Accept") && header.value.as_str().contains("application/json")
        });
        if wants_json {
            Format::Compact
        } else {
            Format::Indented
        }
    }
}

#[derive(Debug)]
pub(crate) struct Reply {
    status: u16,
    body: String,
    content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(format: Format, status: u16, value: &Value) -> Reply {
        let (body, content_type) = match format {
            Format::Compact => (value.to_string(), "application/json; charset=utf-8"),
            Format::Indented => (
                serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
                "text/plain; charset=utf-8",
            ),
        };
        Reply { status, body, content_type }
    }

    pub(crate) fn error(format: Format, status: u16, message: String) -> Reply {
        Reply::json(format, status, &json!({ "error": message }))
    }

    pub(crate) fn collection(format: Format, plural: &str, rows: Vec<Row>, total: usize) -> Reply {
        let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
        Reply::json(format, 200, &json!({ plural: rows, "meta": { "total": total } }))
    }

    pub(crate) fn single(format: Format, plural: &str, rows: Vec<Row>) -> Reply {
        let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
        Reply::json(format, 200, &json!({ plural: rows, "meta": {} }))
    }

    pub(crate) fn text(status: u16, body: String, content_type: &'static str) -> Reply {
        Reply { status, body, content_type }
    }

    pub(crate) fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response =
            tiny_http::Response::from_data(self.body.into_bytes()).with_status_code(self.status);
        if let Ok(header) =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], self.content_type.as_bytes())
        {
            response.add_header(header);
        }
        response
    }
}
