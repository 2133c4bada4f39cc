//! Buildbot's response shapes: `{"<type>": [...], "meta": {...}}` with sorted keys, errors
//! as `{"error": "..."}`; compact JSON for `Accept: application/json`, indented otherwise.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};

use crate::http::rows::{JsonRow, Keep, WriteFields};

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
        match render(format, value) {
            Ok(body) => Reply::rendered(format, status, body),
            Err(_) => Reply::rendered(format, status, value.to_string().into_bytes()),
        }
    }

    pub(crate) fn error(format: Format, status: u16, message: String) -> Reply {
        Reply::json(format, status, &json!({ "error": message }))
    }

    /// `{"<plural>": [rows], "meta": {"total": total}}`, each row with the fields `keep`
    /// accepts.
    pub(crate) fn collection<R: WriteFields>(
        format: Format,
        plural: &str,
        rows: &[R],
        keep: Keep<'_>,
        total: usize,
    ) -> Reply {
        Reply::envelope(format, &Envelope { plural, rows, keep, total: Some(total) })
    }

    /// `{"<plural>": [row], "meta": {}}`: one entity, with the fields `keep` accepts.
    pub(crate) fn single<R: WriteFields>(
        format: Format,
        plural: &str,
        row: &R,
        keep: Keep<'_>,
    ) -> Reply {
        let rows = std::slice::from_ref(row);
        Reply::envelope(format, &Envelope { plural, rows, keep, total: None })
    }

    /// Writes the typed rows straight to bytes: no `serde_json::Value` in between.
    fn envelope<R: WriteFields>(format: Format, envelope: &Envelope<'_, R>) -> Reply {
        // Enough for a master row in either format, so a large listing is written without
        // growing and copying its body a dozen times; pages never touched cost nothing.
        const BYTES_PER_ROW: usize = 160;
        let mut body = Vec::with_capacity(256 + envelope.rows.len() * BYTES_PER_ROW);
        let rendered = match format {
            Format::Compact => serde_json::to_writer(&mut body, envelope),
            Format::Indented => serde_json::to_writer_pretty(&mut body, envelope),
        };
        match rendered.map(|()| body) {
            Ok(body) => Reply::rendered(format, 200, body),
            // Rows hold only strings, numbers and JSON values, so this cannot happen; say so
            // rather than send half a body.
            Err(error) => Reply::error(format, 500, format!("cannot render the answer: {error}")),
        }
    }

    fn rendered(format: Format, status: u16, body: Vec<u8>) -> Reply {
        let content_type = match format {
            Format::Compact => "application/json; charset=utf-8",
            Format::Indented => "text/plain; charset=utf-8",
        };
        Reply { status, body, content_type }
    }

    pub(crate) fn text(status: u16, body: String, content_type: &'static str) -> Reply {
        Reply { status, body: body.into_bytes(), content_type }
    }

    /// A file built into the binary (the status page's).
    pub(crate) fn asset(body: &'static str, content_type: &'static str) -> Reply {
        Reply { status: 200, body: body.as_bytes().to_vec(), content_type }
    }

    pub(crate) fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        // The whole body is in memory, so send its Content-Length: tiny_http would otherwise
        // switch to chunked encoding above 32 KiB, twice the writes for the same bytes and
        // a body every client must reassemble.
        let mut response = tiny_http::Response::from_data(self.body)
            .with_status_code(self.status)
            .with_chunked_threshold(usize::MAX);
        if let Ok(header) =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], self.content_type.as_bytes())
        {
            response.add_header(header);
        }
        // Nothing is guessed from a body, and the status page runs only its own files.
        let mut security: Vec<(&[u8], &[u8])> = vec![(b"X-Content-Type-Options", b"nosniff")];
        if self.content_type.starts_with("text/html") {
            security.push((
                b"Content-Security-Policy",
                b"default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ));
        }
        for (name, value) in security {
            if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                response.add_header(header);
            }
        }
        response
    }
}

/// Compact or indented by two spaces, as `serde_json::to_vec` and `to_vec_pretty` write.
/// Both write through `io::Write`; `Value::to_string` goes through `fmt::Write`, which is
/// several times slower on large bodies.
fn render(format: Format, value: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    match format {
        Format::Compact => serde_json::to_vec(value),
        Format::Indented => serde_json::to_vec_pretty(value),
    }
}

/// Buildbot's envelope around typed rows; `total` is `None` for a single entity, whose
/// `meta` is empty.
struct Envelope<'a, R> {
    plural: &'a str,
    rows: &'a [R],
    keep: Keep<'a>,
    total: Option<usize>,
}

impl<R: WriteFields> Serialize for Envelope<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = Rows { rows: self.rows, keep: self.keep };
        let meta = Meta { total: self.total };
        let mut map = serializer.serialize_map(Some(2))?;
        // Sorted keys, as a `serde_json::Map` writes them: "masters" comes before "meta",
        // "workers" after it.
        if self.plural < "meta" {
            map.serialize_entry(self.plural, &rows)?;
            map.serialize_entry("meta", &meta)?;
        } else {
            map.serialize_entry("meta", &meta)?;
            map.serialize_entry(self.plural, &rows)?;
        }
        map.end()
    }
}

struct Rows<'a, R> {
    rows: &'a [R],
    keep: Keep<'a>,
}

impl<R: WriteFields> Serialize for Rows<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.rows.iter().map(|row| JsonRow { row, keep: self.keep }))
    }
}

struct Meta {
    total: Option<usize>,
}

impl Serialize for Meta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(usize::from(self.total.is_some())))?;
        if let Some(total) = self.total {
            map.serialize_entry("total", &total)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    //! The envelope written from typed rows must be byte for byte the one a
    //! `serde_json::Value` of it gives, in both formats, whichever side of "meta" the
    //! resource's plural sorts on.

    use rollcall_core::registry::MasterRecord;
    use rollcall_core::{MasterId, Timestamp};

    use super::*;

    fn masters() -> Vec<MasterRecord> {
        (1..=3)
            .map(|id| MasterRecord {
                id: MasterId(id),
                name: format!("host{id}:/srv"),
                active: id % 2 == 1,
                last_active: Timestamp::from_secs(1_700_000_000 + id),
            })
            .collect()
    }

    fn as_values(rows: &[MasterRecord], keep: Keep<'_>) -> Value {
        Value::Array(
            rows.iter()
                .map(|row| serde_json::to_value(JsonRow { row, keep }).expect("serializes"))
                .collect(),
        )
    }

    #[test]
    fn collections_are_written_as_a_value_would_be() {
        let rows = masters();
        let selected = ["name", "masterid"];
        for plural in ["masters", "workers", "schedulers", "builds"] {
            for keep in [Keep::ALL, Keep::only(Some(&selected))] {
                for (format, render) in [
                    (Format::Compact, serde_json::to_vec::<Value> as fn(&Value) -> _),
                    (Format::Indented, serde_json::to_vec_pretty::<Value>),
                ] {
                    let reply = Reply::collection(format, plural, &rows, keep, 7);
                    let value = json!({ plural: as_values(&rows, keep), "meta": {"total": 7} });
                    assert_eq!(reply.status, 200);
                    assert_eq!(
                        String::from_utf8_lossy(&reply.body),
                        String::from_utf8_lossy(&render(&value).expect("renders")),
                        "{plural} {format:?}"
                    );
                    let empty = Reply::collection::<MasterRecord>(format, plural, &[], keep, 0);
                    let value = json!({ plural: [], "meta": {"total": 0} });
                    assert_eq!(empty.body, render(&value).expect("renders"));
                }
            }
        }
    }

    #[test]
    fn a_single_entity_has_empty_meta() {
        let rows = masters();
        for plural in ["masters", "workers"] {
            for format in [Format::Compact, Format::Indented] {
                let reply = Reply::single(format, plural, &rows[0], Keep::ALL);
                let value = json!({ plural: as_values(&rows[..1], Keep::ALL), "meta": {} });
                let expected = match format {
                    Format::Compact => serde_json::to_vec(&value),
                    Format::Indented => serde_json::to_vec_pretty(&value),
                };
                assert_eq!(reply.body, expected.expect("renders"), "{plural} {format:?}");
                assert_eq!(reply.content_type, Reply::rendered(format, 200, vec![]).content_type);
            }
        }
    }
}
