//! The HTTP request head, parsed and validated before anything else sees it.
//!
//! This API answers `GET` and `HEAD` of small targets and takes no request body, so
//! everything else is refused here with the status a client can act on: the request engine
//! behind (tiny_http) is handed only a request this module rebuilt from validated parts
//! ([`RequestHead::forwarded`]), never a client's bytes. Line endings must be CRLF, header
//! lines may not be folded and no byte of the head may be a control character, which leaves
//! no room for request smuggling through an ambiguity between two parsers.

/// The most bytes a head may take, request line and headers together.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The longest request target accepted (414 beyond).
pub(crate) const MAX_TARGET_BYTES: usize = 8 * 1024;

/// The most header lines in one head (431 beyond).
pub(crate) const MAX_HEADERS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// A request this API can answer: the only parts of it that go further.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub(crate) method: Method,
    /// Origin form: starts with `/`, visible ASCII only.
    pub(crate) target: String,
    /// The `Accept` values, joined by `, ` when repeated; visible ASCII and spaces only.
    pub(crate) accept: Option<String>,
}

/// Why a head was refused; each maps to the status the client is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x syntax (400). The text says what, never quoting the client's bytes.
    Malformed(&'static str),
    /// A method other than GET and HEAD (405).
    MethodNotAllowed,
    /// A request body was announced: this API takes none (413).
    BodyNotAccepted,
    /// `Expect` (417): nothing here would ever answer `100 Continue`.
    ExpectationFailed,
    /// An HTTP version other than 1.0 and 1.1 (505).
    VersionNotSupported,
    /// The target is longer than [`MAX_TARGET_BYTES`] (414).
    TargetTooLong,
    /// The head is longer than [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] lines (431).
    HeadTooLarge,
}

impl HeadError {
    pub(crate) fn status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::MethodNotAllowed => 405,
            HeadError::BodyNotAccepted => 413,
            HeadError::ExpectationFailed => 417,
            HeadError::VersionNotSupported => 505,
            HeadError::TargetTooLong => 414,
            HeadError::HeadTooLarge => 431,
        }
    }

    /// The label this refusal is counted under in `/metrics`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            HeadError::Malformed(_) => "malformed_head",
            HeadError::MethodNotAllowed => "method_not_allowed",
            HeadError::BodyNotAccepted => "request_body",
            HeadError::ExpectationFailed => "expect",
            HeadError::VersionNotSupported => "http_version",
            HeadError::TargetTooLong => "target_too_long",
            HeadError::HeadTooLarge => "head_too_large",
        }
    }
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Malformed(why) => write!(formatter, "malformed request: {why}"),
            HeadError::MethodNotAllowed => {
                formatter.write_str("method not allowed: only GET and HEAD")
            }
            HeadError::BodyNotAccepted => formatter
                .write_str("this API takes no request body (Content-Length or Transfer-Encoding)"),
            HeadError::ExpectationFailed => formatter.write_str("Expect is not supported"),
            HeadError::VersionNotSupported => {
                formatter.write_str("HTTP version not supported: only HTTP/1.0 and HTTP/1.1")
            }
            HeadError::TargetTooLong => {
                write!(formatter, "request target longer than {MAX_TARGET_BYTES} bytes")
            }
            HeadError::HeadTooLarge => write!(
                formatter,
                "request head larger than {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} header lines"
            ),
        }
    }
}

impl std::error::Error for HeadError {}

/// Where the head in `buffer` ends (just past its blank line), if it has arrived whole.
pub(crate) fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|window| window == b"\r\n\r\n").map(|start| start + 4)
}

/// Parses and validates a whole head, blank line included (as [`head_end`] delimits it).
///
/// # Errors
///
/// The first reason the request cannot be served, as a [`HeadError`].
pub(crate) fn parse_head(head: &[u8]) -> Result<RequestHead, HeadError> {
    parse_head_with(head, |_, _| Ok(()))
}

/// [`parse_head`], and every header line is also shown to `visit` (name, trimmed value), in
/// order, for a caller that needs more than `Accept` (the WebSocket upgrade).
///
/// # Errors
///
/// As [`parse_head`], or the first error `visit` returns.
pub(crate) fn parse_head_with(
    head: &[u8],
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), HeadError>,
) -> Result<RequestHead, HeadError> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(HeadError::HeadTooLarge);
    }
    if !head.ends_with(b"\r\n\r\n") {
        return Err(HeadError::Malformed("no blank line"));
    }
    // Every line, the request line and each header, with its CRLF; the blank line left out.
    let lines_bytes = &head[..head.len() - 2];
    let mut lines = lines_bytes.split_inclusive(|&byte| byte == b'\n').map(|line| {
        line.strip_suffix(b"\r\n")
            .filter(|line| !line.contains(&b'\r'))
            .ok_or(HeadError::Malformed("a line not ended by CRLF"))
    });
    let request_line = lines.next().ok_or(HeadError::Malformed("empty request"))??;
    let (method, target, version) = request_line_parts(request_line)?;
    let mut host_count = 0_usize;
    let mut accept: Option<String> = None;
    let mut header_count = 0_usize;
    for line in lines {
        let line = line?;
        header_count += 1;
        if header_count > MAX_HEADERS {
            return Err(HeadError::HeadTooLarge);
        }
        let (name, value) = header_parts(line)?;
        visit(name, value)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Err(HeadError::Malformed("a Content-Length that is not a number"));
            }
            if value.iter().any(|&digit| digit != b'0') {
                return Err(HeadError::BodyNotAccepted);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HeadError::BodyNotAccepted);
        } else if name.eq_ignore_ascii_case(b"expect") {
            return Err(HeadError::ExpectationFailed);
        } else if name.eq_ignore_ascii_case(b"host") {
            host_count += 1;
        } else if name.eq_ignore_ascii_case(b"accept") {
            if !value.iter().all(|&byte| byte == b' ' || byte.is_ascii_graphic()) {
                return Err(HeadError::Malformed("an Accept value that is not ASCII"));
            }
            let value = String::from_utf8_lossy(value);
            // An empty value adds nothing: joined, it would leave a trailing ", " that the
            // rebuilt request's own parse trims away.
            accept = Some(match accept {
                Some(earlier) if value.is_empty() => earlier,
                Some(earlier) if earlier.is_empty() => value.into_owned(),
                Some(earlier) => format!("{earlier}, {value}"),
                None => value.into_owned(),
            });
        }
    }
    // RFC 9112 3.2: an HTTP/1.1 request without exactly one Host is refused with 400.
    if version == Version::Http11 && host_count != 1 {
        return Err(HeadError::Malformed("an HTTP/1.1 request needs exactly one Host header"));
    }
    if host_count > 1 {
        return Err(HeadError::Malformed("more than one Host header"));
    }
    Ok(RequestHead { method, target, accept })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    Http10,
    Http11,
}

fn request_line_parts(line: &[u8]) -> Result<(Method, String, Version), HeadError> {
    let mut parts = line.split(|&byte| byte == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("the request line is not METHOD TARGET VERSION"));
    };
    if method.is_empty() || !method.iter().copied().all(is_token_byte) {
        return Err(HeadError::Malformed("the method is not a token"));
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(HeadError::VersionNotSupported)
        }
        _ => return Err(HeadError::Malformed("the version is not HTTP/x.y")),
    };
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => return Err(HeadError::MethodNotAllowed),
    };
    if target.len() > MAX_TARGET_BYTES {
        return Err(HeadError::TargetTooLong);
    }
    if target.first() != Some(&b'/') || !target.iter().all(u8::is_ascii_graphic) {
        return Err(HeadError::Malformed("the target is not a path of visible ASCII"));
    }
    // Visible ASCII only, so this is valid UTF-8.
    let target = String::from_utf8_lossy(target).into_owned();
    Ok((method, target, version))
}

/// `name: value` with the value's surrounding spaces and tabs trimmed.
fn header_parts(line: &[u8]) -> Result<(&[u8], &[u8]), HeadError> {
    if line.first().is_some_and(|&byte| byte == b' ' || byte == b'\t') {
        return Err(HeadError::Malformed("a folded header line"));
    }
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(HeadError::Malformed("a header line without a colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().copied().all(is_token_byte) {
        return Err(HeadError::Malformed("a header name that is not a token"));
    }
    // Field values: visible characters, spaces, tabs and obs-text; never a control byte.
    if value.iter().any(|&byte| byte != b'\t' && (byte < 0x20 || byte == 0x7f)) {
        return Err(HeadError::Malformed("a control character in a header value"));
    }
    Ok((name, value.trim_ascii()))
}

/// RFC 9110's `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

impl RequestHead {
    /// The request as the engine behind is given it: rebuilt from the validated parts only,
    /// HTTP/1.1, one request per connection.
    pub(crate) fn forwarded(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.target.len() + 96);
        bytes.extend_from_slice(self.method.as_str().as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(self.target.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\nHost: rollcall\r\nConnection: close\r\n");
        if let Some(accept) = &self.accept {
            bytes.extend_from_slice(b"Accept: ");
            bytes.extend_from_slice(accept.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RequestHead, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn a_plain_get_is_accepted_with_its_accept_header() {
        let head = parse(
            "GET /api/v2/masters?limit=1 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
        );
        assert_eq!(
            head,
            Ok(RequestHead {
                method: Method::Get,
                target: "/api/v2/masters?limit=1".into(),
                accept: Some("application/json".into()),
            })
        );
        let head = parse("HEAD /healthz HTTP/1.0\r\n\r\n").expect("HTTP/1.0 needs no Host");
        assert_eq!(head.method, Method::Head);
        assert_eq!(
            head.forwarded(),
            b"HEAD /healthz HTTP/1.1\r\nHost: rollcall\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn every_refusal_has_its_status() {
        let cases: &[(&str, u16)] = &[
            ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 413),
            ("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", 417),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: a\x1b[31m\r\n\r\n", 400),
            ("GET http://evil/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ];
        for (text, status) in cases {
            let error = parse(text).expect_err(text);
            assert_eq!(error.status(), *status, "{text:?}: {error}");
        }
        let long_target =
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(MAX_TARGET_BYTES));
        assert_eq!(parse(&long_target), Err(HeadError::TargetTooLong));
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "A: b\r\n".repeat(MAX_HEADERS));
        assert_eq!(parse(&many), Err(HeadError::HeadTooLarge));
        let huge =
            format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n\r\n", "b".repeat(MAX_HEAD_BYTES));
        assert_eq!(parse(&huge), Err(HeadError::HeadTooLarge));
    }

    #[test]
    fn a_zero_content_length_is_no_body() {
        assert!(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n").is_ok());
    }

    #[test]
    fn the_end_of_a_head_is_found_only_once_it_arrived() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n\r\nrest"), Some(18));
    }

    #[test]
    fn repeated_accept_values_are_joined_and_forwarded_alone() {
        let head = parse(
            "GET / HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nAccept: application/json\r\nCookie: secret\r\n\r\n",
        )
        .expect("valid");
        let forwarded = String::from_utf8(head.forwarded()).expect("ASCII");
        assert!(forwarded.contains("Accept: text/plain, application/json\r\n"));
        assert!(!forwarded.contains("Cookie"));
        // Found by the fuzzer: an empty repeat must not leave a dangling ", ".
        let head =
            parse("GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: \r\n\r\n").expect("valid");
        assert_eq!(parse_head(&head.forwarded()), Ok(head));
    }
}

#[cfg(test)]
#[path = "head_fuzz_tests.rs"]
mod fuzz_tests;
