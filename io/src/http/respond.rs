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
    body: Vec<u8>,
    content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(format: Format, status: u16, value: &Value) -> Reply {
        // `to_vec` writes through `io::Write`; `Value::to_string` goes through `fmt::Write`,
        // which is several times slower on large bodies.
        let rendered = match format {
            Format::Compact => serde_json::to_vec(value),
            Format::Indented => serde_json::to_vec_pretty(value),
        };
        let body = rendered.unwrap_or_else(|_| value.to_string().into_bytes());
        let content_type = match format {
            Format::Compact => "application/json; charset=utf-8",
            Format::Indented => "text/plain; charset=utf-8",
        };
        Reply { status, body, content_type }
    }

    pub(crate) fn error(format: Format, status: u16, message: String) -> Reply {
        Reply::json(format, status, &json!({ "error": message }))
    }

    pub(crate) fn collection(format: Format, plural: &str, rows: Vec<Row>, total: usize) -> Reply {
        Reply::envelope(format, plural, rows, json!({ "total": total }))
    }

    pub(crate) fn single(format: Format, plural: &str, rows: Vec<Row>) -> Reply {
        Reply::envelope(format, plural, rows, json!({}))
    }

    /// Moves the rows into the envelope: `json!` would deep-copy every one of them.
    fn envelope(format: Format, plural: &str, rows: Vec<Row>, meta: Value) -> Reply {
        let mut envelope = serde_json::Map::new();
        envelope.insert(
            plural.to_string(),
            Value::Array(rows.into_iter().map(Value::Object).collect()),
        );
        envelope.insert("meta".to_string(), meta);
        Reply::json(format, 200, &Value::Object(envelope))
    }

    pub(crate) fn text(status: u16, body: String, content_type: &'static str) -> Reply {
        Reply { status, body: body.into_bytes(), content_type }
    }

    pub(crate) fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        if let Ok(header) =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], self.content_type.as_bytes())
        {
            response.add_header(header);
        }
        response
    }
}
