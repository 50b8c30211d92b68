//! Raw HTTP/1.1 requests (CSIC 2010 style): absolute-form targets,
//! non-UTF-8 bytes, `Content-Length` or chunked bodies.
//!
//! `httparse` does the parsing; requests it refuses (spaces in the target,
//! odd header names — common in attacks) are parsed leniently instead and
//! tagged `lenient_parse`, because the point is to judge them, not to serve them.

use sentinel_schema::{ByteString, EvidenceEvent, Header, HttpRequest, TimeSource, SCHEMA_VERSION};

use crate::{evidence_id_for, session_cookie, ClientIdentity, DecodeError};

/// Most headers accepted in one request.
pub const MAX_HEADERS: usize = 128;

/// The tag of an event whose request only the lenient parser could read.
pub const LENIENT_PARSE_TAG: &str = "lenient_parse";

/// Whether `event`'s request was read by the lenient parser (its client may
/// then differ from what [`probe_client`] told).
pub fn parsed_leniently(event: &EvidenceEvent) -> bool {
    event.tags.iter().any(|t| t == LENIENT_PARSE_TAG)
}

/// Decodes one raw request; `event_time_ms` comes from the synthetic clock.
pub fn decode(bytes: &[u8], offset: u64, event_time_ms: i64) -> Result<EvidenceEvent, DecodeError> {
    let (request, lenient) = parse_request(bytes)?;
    let mut tags = Vec::new();
    if lenient {
        tags.push(LENIENT_PARSE_TAG.to_string());
    }
    Ok(EvidenceEvent {
        schema_version: SCHEMA_VERSION,
        evidence_id: evidence_id_for("raw", offset, bytes),
        event_time_ms,
        time_source: TimeSource::Synthetic,
        client: Default::default(),
        request,
        response: None,
        package: None,
        enrichment: None,
        tags,
        waf_blocked: false,
    })
}

/// The client of a request, read from its head without decoding it: a raw
/// request has no address, so its session cookie or nobody
/// ([`ClientIdentity::of`] on the decoded event). For a request the strict
/// parser accepts, it is exactly the decoded event's client; for one only
/// the lenient parser reads it may differ (the head's end or a header line
/// read otherwise), which only places the record on another worker.
/// `None` when the head has no end.
///
/// A scan of the header lines for `Cookie:` with `memchr`, not a parse: the
/// reader probes every record, and the analyzing worker parses it anyway.
pub fn probe_client(bytes: &[u8]) -> Option<ClientIdentity> {
    const COOKIE: &[u8] = b"cookie:";
    let mut session = None;
    for line in crate::framing::header_lines(bytes) {
        if line.is_empty() {
            return Some(session.map_or(ClientIdentity::Anonymous, |s: &[u8]| {
                ClientIdentity::Session(String::from_utf8_lossy(s).into_owned())
            }));
        }
        if session.is_none()
            && line.len() >= COOKIE.len()
            && line[..COOKIE.len()].eq_ignore_ascii_case(COOKIE)
        {
            session = session_cookie(&line[COOKIE.len()..]);
        }
    }
    None
}

/// Parses a request; the flag is true when the lenient parser was needed.
pub fn parse_request(bytes: &[u8]) -> Result<(HttpRequest, bool), DecodeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(head_len)) => {
            let request = HttpRequest {
                method: req.method.unwrap_or_default().to_string(),
                target: ByteString::from(req.path.unwrap_or_default()),
                version: format!("HTTP/1.{}", req.version.unwrap_or(1)),
                headers: req
                    .headers
                    .iter()
                    .map(|h| Header::new(h.name, h.value))
                    .collect(),
                body: ByteString::default(),
                body_truncated: false,
            };
            finish_body(request, &bytes[head_len..]).map(|r| (r, false))
        }
        Ok(httparse::Status::Partial) => Err(DecodeError::malformed(
            "incomplete HTTP request: the header block has no end",
        )),
        Err(httparse::Error::TooManyHeaders) => Err(DecodeError::malformed(format!(
            "more than {MAX_HEADERS} headers"
        ))),
        Err(_) => lenient(bytes).map(|r| (r, true)),
    }
}

/// Attaches the body, de-chunking when needed and checking its length.
fn finish_body(mut request: HttpRequest, rest: &[u8]) -> Result<HttpRequest, DecodeError> {
    let chunked = request.headers_named("transfer-encoding").any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
    });
    if chunked {
        request.body = ByteString(dechunk(rest)?);
        return Ok(request);
    }
    let declared = match request.header("content-length") {
        Some(v) => std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .ok_or_else(|| DecodeError::malformed("invalid Content-Length"))?,
        None => 0,
    };
    if rest.len() < declared {
        return Err(DecodeError::malformed(format!(
            "truncated body: Content-Length {declared}, {} bytes present",
            rest.len()
        )));
    }
    request.body = ByteString::from(&rest[..declared]);
    Ok(request)
}

/// Decodes a chunked body.
pub fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let nl = memchr::memchr(b'\n', rest)
            .ok_or_else(|| DecodeError::malformed("truncated chunked body"))?;
        let size_text = rest[..nl]
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| DecodeError::malformed("invalid chunk size"))?;
        rest = &rest[nl + 1..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err(DecodeError::malformed("truncated chunk"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .unwrap_or(rest);
    }
}

/// Lenient parse: request line split at the first and last space, header
/// lines split at the first colon.
fn lenient(bytes: &[u8]) -> Result<HttpRequest, DecodeError> {
    let head_end = find_head_end(bytes).ok_or_else(|| {
        DecodeError::malformed("incomplete HTTP request: the header block has no end")
    })?;
    let head = &bytes[..head_end.0];
    let line = &head[..memchr::memchr(b'\n', head).unwrap_or(head.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let sp1 = memchr::memchr(b' ', line)
        .ok_or_else(|| DecodeError::malformed("request line has no target"))?;
    let sp2 = memchr::memrchr(b' ', line).unwrap_or(sp1);
    if sp2 <= sp1 {
        return Err(DecodeError::malformed("request line has no version"));
    }
    let method = std::str::from_utf8(&line[..sp1])
        .map_err(|_| DecodeError::malformed("method is not ASCII"))?
        .to_string();
    let version = String::from_utf8_lossy(&line[sp2 + 1..]).into_owned();
    let target = ByteString::from(&line[sp1 + 1..sp2]);
    let mut headers = Vec::new();
    for l in crate::framing::header_lines(head) {
        if l.is_empty() {
            continue;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(DecodeError::malformed(format!(
                "more than {MAX_HEADERS} headers"
            )));
        }
        let colon = memchr::memchr(b':', l)
            .ok_or_else(|| DecodeError::malformed("header line without a colon"))?;
        headers.push(Header {
            name: String::from_utf8_lossy(l[..colon].trim_ascii()).into_owned(),
            value: ByteString::from(l[colon + 1..].trim_ascii()),
        });
    }
    let request = HttpRequest {
        method,
        target,
        version,
        headers,
        body: ByteString::default(),
        body_truncated: false,
    };
    finish_body(request, &bytes[head_end.1..])
}

/// `(end of header lines, start of body)`.
fn find_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = memchr::memmem::find(bytes, b"\r\n\r\n") {
        return Some((i, i + 4));
    }
    memchr::memmem::find(bytes, b"\n\n").map(|i| (i, i + 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn csic_post_with_latin1() {
        let raw = b"POST http://localhost:8080/tienda1/publico/anadir.jsp HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nB1=A%F1adir\xf1x";
        let ev = decode(raw, 7, 1000).unwrap();
        assert_eq!(ev.request.method, "POST");
        assert_eq!(
            ev.request.target.as_bytes(),
            b"http://localhost:8080/tienda1/publico/anadir.jsp"
        );
        assert_eq!(ev.request.body.as_bytes(), b"B1=A%F1adir\xf1x");
        assert_eq!(ev.event_time_ms, 1000);
        assert_eq!(ev.time_source, TimeSource::Synthetic);
        assert!(ev.tags.is_empty());
    }

    #[test]
    fn spaces_in_target_parse_leniently() {
        let raw = b"GET /a?q=1 OR 1=1 HTTP/1.1\r\nHost: h\r\n\r\n";
        let ev = decode(raw, 0, 0).unwrap();
        assert_eq!(ev.request.target.as_bytes(), b"/a?q=1 OR 1=1");
        assert_eq!(ev.tags, vec!["lenient_parse"]);
    }

    #[test]
    fn truncated_body_is_an_error() {
        let raw = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert!(decode(raw, 0, 0).is_err());
    }

    #[test]
    fn chunked_body_is_decoded() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(decode(raw, 0, 0).unwrap().request.body.as_bytes(), b"abcde");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = decode(&bytes, 0, 0);
        }

        #[test]
        fn never_panics_on_near_requests(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = b"GET /x HTTP/1.1\r\n".to_vec();
            bytes.extend(tail);
            let _ = decode(&bytes, 0, 0);
        }

        /// The probe names the decoded event's client whenever the strict
        /// parser reads the request, whatever its headers and line ends.
        #[test]
        fn probe_names_the_strictly_parsed_client(
            headers in proptest::collection::vec((
                proptest::sample::select(vec!["Cookie", "cookie", "COOKIE", "Cookies", "X-Cookie", "Host", "Cookie ", " Cookie"]),
                proptest::sample::select(vec![":", ": ", ":\t", " : "]),
                proptest::sample::select(vec![
                    "JSESSIONID=AB12", "theme=dark; sid=x9", "a=b", "", "sid=", "PHPSESSID=p; sid=q",
                    " session=s1 ;x=y", "jsessionid=\u{e9}t\u{e9}", "x", "=v; _session_id=z",
                ]),
                proptest::sample::select(vec!["\r\n", "\n"]),
            ), 0..6),
            head_end in proptest::sample::select(vec!["\r\n", "\n"]),
            body in proptest::sample::select(vec!["", "Cookie: sid=in-body\r\n\r\n"]),
        ) {
            let mut raw = b"GET http://localhost:8080/a?b=c HTTP/1.1\r\n".to_vec();
            for (name, sep, value, end) in &headers {
                raw.extend_from_slice(format!("{name}{sep}{value}{end}").as_bytes());
            }
            raw.extend_from_slice(head_end.as_bytes());
            raw.extend_from_slice(body.as_bytes());
            let probed = probe_client(&raw);
            if let Ok(event) = decode(&raw, 0, 0) {
                if !parsed_leniently(&event) {
                    prop_assert_eq!(probed, Some(ClientIdentity::of(&event)));
                }
            }
        }
    }
}
