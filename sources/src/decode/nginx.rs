//! nginx `combined` access-log lines → evidence.
//!
//! `$remote_addr - $remote_user [$time_local] "$request" $status
//! $body_bytes_sent "$http_referer" "$http_user_agent"`, optionally followed
//! by more quoted fields (ignored). nginx escapes `"`, `\` and non-printable
//! bytes as `\xHH`; they are unescaped back to the original bytes.

use sentinel_schema::{
    ByteString, ClientInfo, DeadLetterReason, EvidenceEvent, Header, HttpRequest, HttpResponse,
    SCHEMA_VERSION,
};

use crate::time::parse_nginx_time_ms;
use crate::{evidence_id_for, DecodeError};

/// The fields of one `combined` line, still escaped.
struct Fields<'a> {
    addr: &'a [u8],
    time: &'a [u8],
    request: &'a [u8],
    status: &'a [u8],
    bytes: &'a [u8],
    referer: &'a [u8],
    user_agent: &'a [u8],
}

/// True when the line has the shape of a `combined` log line (format detection).
pub fn looks_like_combined(line: &[u8]) -> bool {
    split_fields(line).is_ok()
}

fn split_fields(line: &[u8]) -> Result<Fields<'_>, &'static str> {
    let mut rest = line;
    let addr = take_until(&mut rest, b' ').ok_or("no remote address")?;
    if addr.is_empty() {
        return Err("empty remote address");
    }
    let _ident = take_until(&mut rest, b' ').ok_or("no ident field")?;
    let open = memchr::memchr(b'[', rest).ok_or("no [time]")?;
    rest = &rest[open + 1..];
    let time = take_until(&mut rest, b']').ok_or("unterminated [time]")?;
    rest = rest.strip_prefix(b" \"").ok_or("no quoted request")?;
    let request = take_quoted(&mut rest).ok_or("unterminated request")?;
    rest = rest.strip_prefix(b" ").ok_or("no status")?;
    let status = take_until(&mut rest, b' ').ok_or("no bytes field")?;
    let bytes = match take_until(&mut rest, b' ') {
        Some(b) => b,
        None => std::mem::take(&mut rest),
    };
    let mut referer: &[u8] = b"-";
    let mut user_agent: &[u8] = b"-";
    if let Some(r) = rest.strip_prefix(b"\"") {
        rest = r;
        referer = take_quoted(&mut rest).ok_or("unterminated referer")?;
        if let Some(r) = rest.strip_prefix(b" \"") {
            rest = r;
            user_agent = take_quoted(&mut rest).ok_or("unterminated user agent")?;
        }
    }
    if status.is_empty() || !status.iter().all(u8::is_ascii_digit) {
        return Err("status is not a number");
    }
    Ok(Fields {
        addr,
        time,
        request,
        status,
        bytes,
        referer,
        user_agent,
    })
}

fn take_until<'a>(rest: &mut &'a [u8], delim: u8) -> Option<&'a [u8]> {
    let i = memchr::memchr(delim, rest)?;
    let out = &rest[..i];
    *rest = &rest[i + 1..];
    Some(out)
}

/// Takes a quoted field whose opening quote was consumed; honours `\"`.
fn take_quoted<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => {
                let out = &rest[..i];
                *rest = &rest[i + 1..];
                return Some(out);
            }
            _ => i += 1,
        }
    }
    None
}

/// Undoes nginx escaping (`\xHH`, `\"`, `\\`).
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            if s[i + 1] == b'x' && i + 3 < s.len() {
                if let (Some(h), Some(l)) = (hex(s[i + 2]), hex(s[i + 3])) {
                    out.push(h << 4 | l);
                    i += 4;
                    continue;
                }
            }
            if s[i + 1] == b'"' || s[i + 1] == b'\\' {
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes one line.
pub fn decode(line: &[u8], offset: u64) -> Result<EvidenceEvent, DecodeError> {
    let f = split_fields(line)
        .map_err(|why| DecodeError::malformed(format!("not an nginx combined log line: {why}")))?;
    let time_text = String::from_utf8_lossy(f.time);
    let event_time_ms = parse_nginx_time_ms(&time_text).ok_or_else(|| {
        DecodeError::new(
            DeadLetterReason::InvalidField,
            format!("time {time_text:?} is not `dd/Mon/yyyy:hh:mm:ss +zzzz`"),
        )
    })?;
    let ip = std::str::from_utf8(f.addr)
        .ok()
        .and_then(|s| s.parse().ok());
    let request = unescape(f.request);
    let (Some(sp1), Some(sp2)) = (
        memchr::memchr(b' ', &request),
        memchr::memrchr(b' ', &request),
    ) else {
        return Err(DecodeError::malformed(format!(
            "request field {:?} is not `METHOD target HTTP/x.y`",
            String::from_utf8_lossy(&request)
        )));
    };
    if sp2 <= sp1 || !request[..sp1].iter().all(|b| b.is_ascii_alphabetic()) {
        return Err(DecodeError::malformed(format!(
            "request field {:?} is not `METHOD target HTTP/x.y`",
            String::from_utf8_lossy(&request)
        )));
    }
    let mut headers = Vec::new();
    if f.referer != b"-" {
        headers.push(Header::new("Referer", unescape(f.referer)));
    }
    if f.user_agent != b"-" {
        headers.push(Header::new("User-Agent", unescape(f.user_agent)));
    }
    let status: u16 = std::str::from_utf8(f.status)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| DecodeError::new(DeadLetterReason::InvalidField, "status out of range"))?;
    let bytes_sent = std::str::from_utf8(f.bytes)
        .ok()
        .and_then(|s| s.parse().ok());
    Ok(EvidenceEvent {
        schema_version: SCHEMA_VERSION,
        evidence_id: evidence_id_for("nginx", offset, line),
        event_time_ms,
        time_source: Default::default(),
        client: ClientInfo {
            ip,
            ..Default::default()
        },
        request: HttpRequest {
            method: String::from_utf8_lossy(&request[..sp1]).into_owned(),
            target: ByteString::from(&request[sp1 + 1..sp2]),
            version: String::from_utf8_lossy(&request[sp2 + 1..]).into_owned(),
            headers,
            body: ByteString::default(),
            body_truncated: false,
        },
        response: Some(HttpResponse {
            status,
            headers: Vec::new(),
            body: ByteString::default(),
            bytes_sent,
        }),
        package: None,
        enrichment: None,
        tags: Vec::new(),
        waf_blocked: status == 403,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_a_line_with_escapes() {
        let line = br#"203.0.113.9 - bob [10/Oct/2023:13:55:36 +0000] "GET /q?x=\x22%27 HTTP/1.1" 404 153 "http://r.example/" "sqlmap/1.7" "-""#;
        let ev = decode(line, 2).unwrap();
        assert_eq!(ev.client.ip.unwrap().to_string(), "203.0.113.9");
        assert_eq!(ev.request.target.as_bytes(), b"/q?x=\"%27");
        assert_eq!(
            ev.request.header("user-agent").unwrap().as_bytes(),
            b"sqlmap/1.7"
        );
        assert_eq!(ev.response.as_ref().unwrap().status, 404);
        assert_eq!(ev.response.unwrap().bytes_sent, Some(153));
        assert_eq!(ev.event_time_ms, 1_696_946_136_000);
    }

    #[test]
    fn tls_garbage_request_is_malformed() {
        let line = br#"198.51.100.1 - - [10/Oct/2023:13:55:36 +0000] "\x16\x03\x01\x00\xCA\x01" 400 157 "-" "-""#;
        assert_eq!(
            decode(line, 0).unwrap_err().reason,
            DeadLetterReason::MalformedRecord
        );
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, 0);
            let _ = unescape(&bytes);
        }
    }
}
