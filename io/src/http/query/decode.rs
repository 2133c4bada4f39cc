//! URL decoding of a raw query string into `(key, value)` pairs, under the limits.
//!
//! Done here rather than by a library so that every failure is a precise 400: an invalid `%`
//! escape or invalid UTF-8 is refused (Python's `parse_qs`, under Twisted, keeps a bad escape
//! as literal text), and a key or value is never decoded past its size limit.

use super::{excerpt, Limits, QueryError};

/// One decoded `key=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    pub(super) key: String,
    pub(super) value: String,
}

/// Splits `raw` on `&` and decodes each `key=value`.
///
/// As in Python's `parse_qsl(keep_blank_values=True)`, which Twisted uses: empty segments
/// (`a=1&&b=2`, a trailing `&`) are skipped, a segment without `=` has the value `""`, and
/// only the first `=` separates (`a=b=c` is `a` = `b=c`).
pub(super) fn decode_params(raw: &str, limits: &Limits) -> Result<Vec<Param>, QueryError> {
    let mut params = Vec::new();
    for segment in raw.split('&').filter(|segment| !segment.is_empty()) {
        // Counted before decoding, so a huge query string costs at most the limit's worth of
        // decoding before it is refused.
        if params.len() == limits.max_params {
            return Err(QueryError::new(format!(
                "too many query parameters: at most {} are allowed",
                limits.max_params
            )));
        }
        let (raw_key, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
        let key = decode_component(raw_key, limits.max_param_bytes).map_err(|problem| {
            QueryError::new(format!("query parameter key {} {}", excerpt(raw_key), problem.say()))
        })?;
        let value = decode_component(raw_value, limits.max_param_bytes).map_err(|problem| {
            QueryError::new(format!(
                "the value of query parameter {} {}",
                excerpt(&key),
                problem.say()
            ))
        })?;
        params.push(Param { key, value });
    }
    Ok(params)
}

/// What can be wrong with one key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    /// The escape as written: `%zz`, `%4`, `%`.
    BadEscape(String),
    TooLong(usize),
    NotUtf8,
}

impl Problem {
    /// The end of an error message, after "query parameter key 'x'".
    fn say(&self) -> String {
        match self {
            Problem::BadEscape(escape) => format!(
                "has an invalid percent-escape '{escape}' (a '%' must be followed by two hex \
                 digits)"
            ),
            Problem::TooLong(max) => format!("is longer than {max} bytes once decoded"),
            Problem::NotUtf8 => "is not valid UTF-8 once decoded".to_owned(),
        }
    }
}

/// Decodes `%XX` and `+` (a space, as in HTML forms and Python's `unquote_plus`), stopping as
/// soon as the output passes `max_bytes`.
fn decode_component(raw: &str, max_bytes: usize) -> Result<String, Problem> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len().min(max_bytes));
    let mut i = 0;
    while i < bytes.len() {
        if decoded.len() == max_bytes {
            return Err(Problem::TooLong(max_bytes));
        }
        match bytes[i] {
            b'+' => {
                decoded.push(b' ');
                i += 1;
            }
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(crate::credentials::hex_digit);
                let low = bytes.get(i + 2).copied().and_then(crate::credentials::hex_digit);
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(Problem::BadEscape(escape_as_written(raw, i)));
                };
                decoded.push(high << 4 | low);
                i += 3;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| Problem::NotUtf8)
}

/// The `%` at byte `at` and up to two characters after it, for the error message. Works on
/// characters, not bytes, because `%é` must not be cut inside the `é`.
fn escape_as_written(raw: &str, at: usize) -> String {
    raw[at..].chars().take(3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> Result<String, Problem> {
        decode_component(raw, 1024)
    }

    #[test]
    fn plus_is_a_space_and_escapes_are_bytes() {
        assert_eq!(decode("a+b"), Ok("a b".to_owned()));
        assert_eq!(decode("a%2Bb"), Ok("a+b".to_owned()));
        assert_eq!(decode("%2b%2F%3a"), Ok("+/:".to_owned()));
        assert_eq!(decode("%C3%A9t%C3%A9"), Ok("été".to_owned()));
        assert_eq!(decode("été"), Ok("été".to_owned()));
        assert_eq!(decode(""), Ok(String::new()));
    }

    #[test]
    fn invalid_escapes_are_reported_as_written() {
        assert_eq!(decode("a%zzb"), Err(Problem::BadEscape("%zz".to_owned())));
        assert_eq!(decode("a%4"), Err(Problem::BadEscape("%4".to_owned())));
        assert_eq!(decode("a%"), Err(Problem::BadEscape("%".to_owned())));
        assert_eq!(decode("%4g"), Err(Problem::BadEscape("%4g".to_owned())));
        assert_eq!(decode("%éé"), Err(Problem::BadEscape("%éé".to_owned())));
        assert_eq!(decode("%+1"), Err(Problem::BadEscape("%+1".to_owned())));
    }

    #[test]
    fn decoded_bytes_must_be_utf8() {
        assert_eq!(decode("%ff"), Err(Problem::NotUtf8));
        assert_eq!(decode("%C3"), Err(Problem::NotUtf8));
        assert_eq!(decode("%C3%28"), Err(Problem::NotUtf8));
    }

    #[test]
    fn length_limit_counts_decoded_bytes() {
        assert_eq!(decode_component("abcd", 4), Ok("abcd".to_owned()));
        assert_eq!(decode_component("abcde", 4), Err(Problem::TooLong(4)));
        assert_eq!(decode_component("%41%42%43%44", 4), Ok("ABCD".to_owned()));
        assert_eq!(decode_component("%41%42%43%44%45", 4), Err(Problem::TooLong(4)));
        // "é" is two bytes.
        assert_eq!(decode_component("éé", 4), Ok("éé".to_owned()));
        assert_eq!(decode_component("ééé", 4), Err(Problem::TooLong(4)));
    }

    #[test]
    fn segments_split_on_ampersand_and_the_first_equals() {
        let limits = Limits { max_params: 10, max_param_bytes: 64, max_values: 10 };
        let params = decode_params("&a=1&&b&c=d=e&=f&", &limits).expect("valid query");
        let pairs: Vec<(&str, &str)> =
            params.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", "d=e"), ("", "f")]);
        assert_eq!(decode_params("", &limits), Ok(vec![]));
    }
}
