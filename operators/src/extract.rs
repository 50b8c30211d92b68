//! Payload extraction: every attacker-controllable value of a request, with
//! its location, plus the request-level facts features and CSRF need.
//!
//! Bodies are parsed by declared (or sniffed) content type: form, JSON
//! (walked with JSON Pointers), multipart, XML (text and attribute values by
//! element path, plus the document's markup declarations for XXE). All work
//! is bounded; every limit hit is reported, never a panic.

use percent_encoding::percent_decode;
use sentinel_models::csrf::CsrfContext;
use sentinel_schema::{HttpRequest, PayloadLocation};

/// Bounds on extraction work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Most payloads kept per request.
    pub max_payloads: usize,
    /// Largest body parsed structurally (bigger bodies are scanned as one truncated value).
    pub max_structured_body: usize,
    /// Deepest JSON/XML nesting walked.
    pub max_depth: usize,
    /// Largest single value kept, in bytes.
    pub max_value_bytes: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_payloads: 256,
            max_structured_body: 1024 * 1024,
            max_depth: 32,
            max_value_bytes: 64 * 1024,
        }
    }
}

/// One extracted value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedPayload {
    /// Where it was found.
    pub location: PayloadLocation,
    /// The raw bytes (still percent-encoded for query and form values).
    pub raw: Vec<u8>,
    /// True for query and form values, where `+` means space.
    pub form_encoded: bool,
}

/// Request-level facts gathered during extraction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestSummary {
    /// Method, upper case.
    pub method: String,
    /// Decoded path (lossy UTF-8), for display and behaviour windows.
    pub path: String,
    /// Path segments.
    pub path_depth: u32,
    /// Parameters seen (query, form, JSON leaves, multipart parts, XML values).
    pub param_count: u32,
    /// Hashes of parameter names (for distinct-parameter counts).
    pub param_name_hashes: Vec<u64>,
    /// Header lines.
    pub header_count: u32,
    /// Cookies.
    pub cookie_count: u32,
    /// Body length in bytes.
    pub body_len: u32,
    /// Header anomalies found (see the `header_anomalies` feature).
    pub header_anomalies: u32,
    /// True when the body does not parse as its declared type.
    pub content_type_mismatch: bool,
    /// True when the raw target has non-ASCII bytes.
    pub non_ascii_target: bool,
    /// Hash of the User-Agent (0 when absent).
    pub user_agent_hash: u64,
    /// What CSRF judgement needs.
    pub csrf: CsrfContext,
}

/// The result of extraction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extraction {
    /// The values to score.
    pub payloads: Vec<ExtractedPayload>,
    /// Request-level facts.
    pub summary: RequestSummary,
    /// Limits that were hit (`max_payloads`, `body_size`, `json_depth`, ...).
    pub limits_hit: Vec<&'static str>,
}

/// Headers not scanned as payloads: their syntax is fixed or they are
/// handled elsewhere (cookies), and scanning them only costs time.
const SKIPPED_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "accept",
    "accept-encoding",
    "accept-charset",
    "accept-language",
    "cache-control",
    "pragma",
    "cookie",
    "authorization",
    "upgrade-insecure-requests",
    "if-modified-since",
    "if-none-match",
    "dnt",
    "te",
    "priority",
    "keep-alive",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
    "transfer-encoding",
];

/// Parameter names that carry anti-CSRF tokens.
const CSRF_PARAMS: &[&str] = &[
    "csrf",
    "_csrf",
    "csrf_token",
    "csrftoken",
    "csrfmiddlewaretoken",
    "_token",
    "authenticity_token",
    "xsrf",
    "_xsrf",
    "xsrf_token",
    "__requestverificationtoken",
    "anti_csrf",
    "nonce",
];

/// Hash used for names and user agents (stable across processes).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

struct Ctx<'a> {
    out: &'a mut Extraction,
    limits: &'a ExtractLimits,
}

impl Ctx<'_> {
    fn push(&mut self, location: PayloadLocation, raw: &[u8], form_encoded: bool) {
        if self.out.payloads.len() >= self.limits.max_payloads {
            self.limit("max_payloads");
            return;
        }
        let raw = if raw.len() > self.limits.max_value_bytes {
            self.limit("value_size");
            &raw[..self.limits.max_value_bytes]
        } else {
            raw
        };
        if raw.is_empty() {
            return;
        }
        self.out.payloads.push(ExtractedPayload {
            location,
            raw: raw.to_vec(),
            form_encoded,
        });
    }

    fn param(&mut self, name: &str) {
        self.out.summary.param_count += 1;
        if self.out.summary.param_name_hashes.len() < 64 {
            self.out
                .summary
                .param_name_hashes
                .push(stable_hash(name.as_bytes()));
        }
        // Compared without case (the list is lower case), without a
        // lower-case copy of every name.
        const SUFFIX: &[u8] = b"csrf_token";
        let bytes = name.as_bytes();
        let csrf_suffix = bytes.len() >= SUFFIX.len()
            && bytes[bytes.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX);
        if csrf_suffix || CSRF_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p)) {
            self.out.summary.csrf.has_token = true;
        }
    }

    fn limit(&mut self, what: &'static str) {
        if !self.out.limits_hit.contains(&what) {
            self.out.limits_hit.push(what);
        }
    }
}

/// Decodes a parameter name for display: percent-decoding, `+` as space, lossy UTF-8.
fn decode_name(raw: &[u8], plus: bool) -> String {
    let replaced: Vec<u8>;
    let bytes = if plus && raw.contains(&b'+') {
        replaced = raw
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        &replaced[..]
    } else {
        raw
    };
    percent_decode(bytes).decode_utf8_lossy().into_owned()
}

/// Splits `a=1&b=2` pairs, pushing each value.
fn urlencoded(ctx: &mut Ctx<'_>, data: &[u8], make: fn(String) -> PayloadLocation) {
    for pair in data.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode_name(name, true);
        ctx.param(&name);
        ctx.push(make(name), value, true);
    }
}

/// The path and query of a request target (origin- or absolute-form).
pub fn split_target(target: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut t = target;
    if let Some(i) = memchr::memmem::find(t, b"://") {
        let scheme = &t[..i];
        if !scheme.is_empty() && scheme.iter().all(|b| b.is_ascii_alphabetic()) {
            let rest = &t[i + 3..];
            t = match memchr::memchr2(b'/', b'?', rest) {
                Some(j) => &rest[j..],
                None => b"/",
            };
        }
    }
    if let Some(h) = memchr::memchr(b'#', t) {
        t = &t[..h];
    }
    match memchr::memchr(b'?', t) {
        Some(q) => (&t[..q], Some(&t[q + 1..])),
        None => (t, None),
    }
}

/// Host part of a URL (`scheme://host[:port]/...`), lower case; `null` stays `null`.
pub fn url_host(url: &str) -> Option<String> {
    let url = url.trim();
    if url.eq_ignore_ascii_case("null") {
        return Some("null".into());
    }
    let rest = url.split_once("://").map(|(_, r)| r)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or("").to_string()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Extracts payloads and request facts from `req`.
pub fn extract(req: &HttpRequest, limits: &ExtractLimits) -> Extraction {
    let mut out = Extraction::default();
    let mut ctx = Ctx {
        out: &mut out,
        limits,
    };
    let summary_method = req.method.to_ascii_uppercase();
    ctx.out.summary.method = summary_method.clone();
    ctx.out.summary.csrf.method = summary_method;
    ctx.out.summary.non_ascii_target = !req.target.as_bytes().is_ascii();

    // Path and query.
    let (path, query) = split_target(req.target.as_bytes());
    ctx.out.summary.path = percent_decode(path).decode_utf8_lossy().into_owned();
    ctx.out.summary.path_depth =
        path.split(|b| *b == b'/').filter(|s| !s.is_empty()).count() as u32;
    if path
        .iter()
        .any(|b| !(b.is_ascii_alphanumeric() || b"/-_.~".contains(b)))
        || path.len() > 64
    {
        ctx.push(PayloadLocation::Path, path, false);
    }
    if let Some(q) = query {
        urlencoded(&mut ctx, q, PayloadLocation::Query);
    }

    // Headers and cookies.
    headers(&mut ctx, req);

    // Body.
    body(&mut ctx, req);
    out
}

fn headers(ctx: &mut Ctx<'_>, req: &HttpRequest) {
    let s = &mut ctx.out.summary;
    s.header_count = req.headers.len() as u32;
    let mut hosts = 0;
    let mut lengths = 0;
    let mut has_ua = false;
    let mut has_te = false;
    // Each name in lower case, in one buffer for all of them.
    let mut lname = String::new();
    for h in &req.headers {
        lname.clear();
        lname.push_str(&h.name);
        lname.make_ascii_lowercase();
        let value = h.value.as_bytes();
        if value.len() > 8 * 1024 {
            ctx.out.summary.header_anomalies += 1;
        }
        if h.name.is_empty()
            || !h
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            ctx.out.summary.header_anomalies += 1;
        }
        match lname.as_str() {
            "host" => {
                hosts += 1;
                let host = String::from_utf8_lossy(value);
                let host = host.trim();
                let bare = if host.starts_with('[') {
                    host.split(']')
                        .next()
                        .map(|h| format!("{h}]"))
                        .unwrap_or_default()
                } else {
                    host.split(':').next().unwrap_or("").to_string()
                };
                ctx.out.summary.csrf.host = Some(bare.to_ascii_lowercase());
            }
            "content-length" => lengths += 1,
            "transfer-encoding" => has_te = true,
            "user-agent" => {
                has_ua = true;
                ctx.out.summary.user_agent_hash = stable_hash(value);
            }
            "origin" => {
                ctx.out.summary.csrf.origin_host = url_host(&String::from_utf8_lossy(value))
            }
            "referer" => {
                ctx.out.summary.csrf.referer_host = url_host(&String::from_utf8_lossy(value))
            }
            "sec-fetch-site" => {
                ctx.out.summary.csrf.sec_fetch_site =
                    Some(String::from_utf8_lossy(value).trim().to_ascii_lowercase())
            }
            "x-csrf-token" | "x-xsrf-token" | "x-csrftoken" | "x-requested-with" => {
                ctx.out.summary.csrf.has_token = true
            }
            "cookie" => {
                for pair in value.split(|b| *b == b';') {
                    let pair = pair.trim_ascii();
                    if pair.is_empty() {
                        continue;
                    }
                    ctx.out.summary.cookie_count += 1;
                    ctx.out.summary.csrf.has_cookies = true;
                    let (name, v) = match memchr::memchr(b'=', pair) {
                        Some(i) => (&pair[..i], &pair[i + 1..]),
                        None => (pair, &b""[..]),
                    };
                    let name = String::from_utf8_lossy(name).into_owned();
                    ctx.push(PayloadLocation::Cookie(name), v, false);
                }
            }
            _ => {}
        }
        if !SKIPPED_HEADERS.contains(&lname.as_str()) && !lname.starts_with("sec-ch-") {
            ctx.push(PayloadLocation::Header(h.name.clone()), value, false);
        }
    }
    let s = &mut ctx.out.summary;
    if hosts == 0 && req.version.ends_with("1.1") {
        s.header_anomalies += 1;
    }
    if hosts > 1 {
        s.header_anomalies += 1;
    }
    if lengths > 1 || (lengths > 0 && has_te) {
        s.header_anomalies += 1;
    }
    if !has_ua {
        s.header_anomalies += 1;
    }
    if let Some(cl) = req.header("content-length") {
        let declared = std::str::from_utf8(cl.as_bytes())
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|d| d != req.body.len()) && !req.body_truncated {
            s.header_anomalies += 1;
        }
    }
}

/// Body kinds, from the Content-Type or sniffed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    Form,
    Json,
    Multipart,
    Xml,
    Other,
}

fn body(ctx: &mut Ctx<'_>, req: &HttpRequest) {
    let body = req.body.as_bytes();
    ctx.out.summary.body_len = body.len() as u32;
    if body.is_empty() {
        return;
    }
    let ct_original = req
        .header("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let ct = ct_original.to_ascii_lowercase();
    let declared = if ct.starts_with("application/x-www-form-urlencoded") {
        Some(BodyKind::Form)
    } else if ct.contains("json") {
        Some(BodyKind::Json)
    } else if ct.starts_with("multipart/") {
        Some(BodyKind::Multipart)
    } else if ct.contains("xml") {
        Some(BodyKind::Xml)
    } else if ct.is_empty() || ct.starts_with("text/plain") {
        None
    } else {
        Some(BodyKind::Other)
    };
    ctx.out.summary.csrf.json_body = declared == Some(BodyKind::Json);
    if body.len() > ctx.limits.max_structured_body {
        ctx.limit("body_size");
        ctx.push(PayloadLocation::Body, body, false);
        return;
    }
    let trimmed = body.trim_ascii_start();
    let sniffed = if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        BodyKind::Json
    } else if trimmed.starts_with(b"<") {
        BodyKind::Xml
    } else if memchr::memchr(b'=', body).is_some() && !body.contains(&b'\n') {
        BodyKind::Form
    } else {
        BodyKind::Other
    };
    let kind = declared.unwrap_or(sniffed);
    let parsed = match kind {
        BodyKind::Form => {
            if matches!(sniffed, BodyKind::Json | BodyKind::Xml) {
                ctx.out.summary.content_type_mismatch = true;
            }
            urlencoded(ctx, body, PayloadLocation::Form);
            true
        }
        BodyKind::Json => json_body(ctx, body),
        BodyKind::Multipart => multipart_body(ctx, body, &ct_original),
        BodyKind::Xml => xml_body(ctx, body),
        BodyKind::Other => {
            ctx.push(PayloadLocation::Body, body, false);
            true
        }
    };
    if !parsed {
        ctx.out.summary.content_type_mismatch = true;
        ctx.push(PayloadLocation::Body, body, false);
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn json_body(ctx: &mut Ctx<'_>, body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    walk_json(ctx, &value, &mut String::new(), 0);
    true
}

fn walk_json(ctx: &mut Ctx<'_>, v: &serde_json::Value, pointer: &mut String, depth: usize) {
    use serde_json::Value;
    if depth > ctx.limits.max_depth {
        ctx.limit("json_depth");
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_pointer(k));
                if !child.is_object() && !child.is_array() {
                    ctx.param(k);
                }
                walk_json(ctx, child, pointer, depth + 1);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk_json(ctx, child, pointer, depth + 1);
                pointer.truncate(len);
            }
        }
        Value::String(s) => ctx.push(PayloadLocation::Json(pointer.clone()), s.as_bytes(), false),
        Value::Number(n) => {
            let text = n.to_string();
            if text.len() > 16 {
                ctx.push(
                    PayloadLocation::Json(pointer.clone()),
                    text.as_bytes(),
                    false,
                );
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn multipart_body(ctx: &mut Ctx<'_>, body: &[u8], content_type: &str) -> bool {
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| {
            let p = p.trim();
            p.get(..9)
                .filter(|k| k.eq_ignore_ascii_case("boundary="))
                .map(|_| &p[9..])
        })
        .next()
        .map(|b| b.trim_matches('"').to_string())
    else {
        return false;
    };
    if boundary.is_empty() {
        return false;
    }
    let delim = format!("--{boundary}");
    let mut parts = 0;
    let mut rest = body;
    while let Some(start) = memchr::memmem::find(rest, delim.as_bytes()) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let end = memchr::memmem::find(rest, delim.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..end];
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        let (head, content) = match memchr::memmem::find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match memchr::memmem::find(part, b"\n\n") {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => continue,
            },
        };
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let head_text = String::from_utf8_lossy(head);
        let disposition_param = |key: &str| -> Option<String> {
            head_text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
                .and_then(|l| {
                    l.split(';').find_map(|p| {
                        let (k, v) = p.trim().split_once('=')?;
                        k.trim()
                            .eq_ignore_ascii_case(key)
                            .then(|| v.trim().trim_matches('"').to_string())
                    })
                })
        };
        let name = disposition_param("name").unwrap_or_else(|| format!("part{parts}"));
        ctx.param(&name);
        if let Some(filename) = disposition_param("filename") {
            ctx.push(
                PayloadLocation::Multipart(format!("{name}.filename")),
                filename.as_bytes(),
                false,
            );
            // Uploaded files are scanned when they look textual (web shells are text).
            let textual = !content[..content.len().min(512)].contains(&0);
            if textual {
                ctx.push(PayloadLocation::Multipart(name), content, false);
            }
        } else {
            ctx.push(PayloadLocation::Multipart(name), content, false);
        }
        parts += 1;
    }
    parts > 0
}

fn xml_body(ctx: &mut Ctx<'_>, body: &[u8]) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().check_end_names = false;
    let mut path: Vec<String> = Vec::new();
    let mut declarations = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name.starts_with("xi:") || name.starts_with("xsl:") {
                    declarations = true;
                }
                let is_start = !e.is_empty();
                let here = format!("{}/{}", path.last().map(String::as_str).unwrap_or(""), name);
                for attr in e.attributes().flatten() {
                    let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    if key.starts_with("xmlns") {
                        continue;
                    }
                    ctx.param(&key);
                    ctx.push(
                        PayloadLocation::Xml(format!("{here}/@{key}")),
                        &attr.value,
                        false,
                    );
                }
                if is_start && path.len() < ctx.limits.max_depth {
                    path.push(here);
                } else if is_start {
                    ctx.limit("xml_depth");
                    path.push(here);
                }
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let raw = t.into_inner();
                if !raw.trim_ascii().is_empty() {
                    let loc = path.last().cloned().unwrap_or_else(|| "/".into());
                    ctx.param(&loc);
                    ctx.push(PayloadLocation::Xml(loc), raw.trim_ascii(), false);
                }
            }
            Ok(Event::CData(t)) => {
                let loc = path.last().cloned().unwrap_or_else(|| "/".into());
                ctx.push(PayloadLocation::Xml(loc), &t.into_inner(), false);
            }
            Ok(Event::DocType(_)) | Ok(Event::GeneralRef(_)) => declarations = true,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    if declarations {
        // Markup declarations (DOCTYPE, ENTITY) and inclusion live outside
        // element values: the whole document is scanned for them.
        ctx.push(PayloadLocation::Body, body, false);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sentinel_schema::Header;

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
            body: body.into(),
            body_truncated: false,
        }
    }

    fn locs(e: &Extraction) -> Vec<String> {
        e.payloads.iter().map(|p| p.location.to_string()).collect()
    }

    fn body_locs(e: &Extraction) -> Vec<String> {
        locs(e)
            .into_iter()
            .filter(|l| l.starts_with("body"))
            .collect()
    }

    #[test]
    fn query_cookies_headers_and_absolute_form() {
        let r = req(
            "GET",
            "http://localhost:8080/tienda1/publico/anadir.jsp?id=3&nombre=Vino+Rioja&B1=A%F1adir",
            &[
                ("Host", "localhost:8080"),
                ("User-Agent", "Mozilla/5.0"),
                ("Cookie", "JSESSIONID=81; x=1"),
            ],
            b"",
        );
        let e = extract(&r, &ExtractLimits::default());
        assert_eq!(
            locs(&e),
            vec![
                "query:id",
                "query:nombre",
                "query:B1",
                "header:User-Agent",
                "cookie:JSESSIONID",
                "cookie:x"
            ]
        );
        assert_eq!(e.payloads[1].raw, b"Vino+Rioja");
        assert!(e.payloads[1].form_encoded);
        assert_eq!(e.summary.path, "/tienda1/publico/anadir.jsp");
        assert_eq!(e.summary.path_depth, 3);
        assert_eq!(e.summary.param_count, 3);
        assert_eq!(e.summary.cookie_count, 2);
        assert_eq!(e.summary.csrf.host.as_deref(), Some("localhost"));
        assert_eq!(e.summary.header_anomalies, 0);
    }

    #[test]
    fn json_multipart_and_xml_bodies() {
        let j = req(
            "POST",
            "/api",
            &[("Content-Type", "application/json")],
            br#"{"a":{"b/c":["x","1' or '1'='1"]},"n":1}"#,
        );
        let e = extract(&j, &ExtractLimits::default());
        assert_eq!(
            body_locs(&e),
            vec!["body:json:/a/b~1c/0", "body:json:/a/b~1c/1"]
        );

        let body = b"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php system($_GET[c]); ?>\r\n--XX\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nhello\r\n--XX--\r\n";
        let m = req(
            "POST",
            "/up",
            &[("Content-Type", "multipart/form-data; boundary=XX")],
            body,
        );
        let e = extract(&m, &ExtractLimits::default());
        assert_eq!(
            body_locs(&e),
            vec![
                "body:multipart:f.filename",
                "body:multipart:f",
                "body:multipart:t"
            ]
        );
        assert!(e
            .payloads
            .iter()
            .any(|p| p.raw == b"<?php system($_GET[c]); ?>"));

        let x = req(
            "POST",
            "/soap",
            &[("Content-Type", "text/xml")],
            b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><order id=\"7\"><item>&x;</item></order>",
        );
        let e = extract(&x, &ExtractLimits::default());
        assert!(locs(&e).contains(&"body:xml:/order/@id".to_string()));
        assert!(locs(&e).contains(&"body".to_string()), "{:?}", locs(&e));
    }

    #[test]
    fn mismatches_and_anomalies() {
        let r = req(
            "POST",
            "/a",
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "99"),
            ],
            b"not json",
        );
        let e = extract(&r, &ExtractLimits::default());
        assert!(e.summary.content_type_mismatch);
        assert_eq!(body_locs(&e), vec!["body"]);
        assert!(locs(&e).contains(&"header:Content-Type".to_string()));
        // No Host on HTTP/1.1, no User-Agent, wrong Content-Length.
        assert_eq!(e.summary.header_anomalies, 3);
    }

    #[test]
    fn csrf_context() {
        let r = req(
            "POST",
            "/transfer",
            &[
                ("Host", "bank.example"),
                ("Origin", "https://evil.example.net"),
                ("Cookie", "sid=1"),
                ("User-Agent", "x"),
            ],
            b"to=me&amount=1000",
        );
        let e = extract(&r, &ExtractLimits::default());
        assert_eq!(
            e.summary.csrf.origin_host.as_deref(),
            Some("evil.example.net")
        );
        assert!(e.summary.csrf.has_cookies);
        assert!(!e.summary.csrf.has_token);
        assert!(sentinel_models::csrf::csrf_score(&e.summary.csrf).0 > 0.9);
    }

    #[test]
    fn anti_csrf_tokens_are_recognised_in_any_case() {
        let token = |body: &[u8]| {
            let r = req(
                "POST",
                "/transfer",
                &[("Host", "bank.example"), ("Cookie", "sid=1")],
                body,
            );
            extract(&r, &ExtractLimits::default())
                .summary
                .csrf
                .has_token
        };
        assert!(token(b"to=me&CSRF=1"));
        assert!(token(b"to=me&AuthenticITY_Token=1"));
        assert!(token(b"to=me&my_CSRF_Token=1"));
        assert!(token(b"csrf_token=1"));
        assert!(!token(b"to=me&amount=1000"));
        assert!(!token(b"csrf_tokens=1&sf_token=2"));
        // And by header, whatever its case.
        let r = req(
            "POST",
            "/transfer",
            &[("Host", "bank.example"), ("X-CSRF-Token", "1")],
            b"to=me",
        );
        assert!(
            extract(&r, &ExtractLimits::default())
                .summary
                .csrf
                .has_token
        );
    }

    #[test]
    fn limits_are_reported() {
        let q: String = (0..300).map(|i| format!("p{i}=v&")).collect();
        let r = req("GET", &format!("/?{q}"), &[], b"");
        let e = extract(&r, &ExtractLimits::default());
        assert_eq!(e.payloads.len(), 256);
        assert!(e.limits_hit.contains(&"max_payloads"));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let r = req(
            "POST",
            "/",
            &[("Content-Type", "application/json")],
            deep.as_bytes(),
        );
        let e = extract(&r, &ExtractLimits::default());
        assert!(e.limits_hit.contains(&"json_depth"));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://User@Example.COM:8443/x"),
            Some("example.com".into())
        );
        assert_eq!(url_host("null"), Some("null".into()));
        assert_eq!(url_host("http://[::1]:80/"), Some("[::1]".into()));
        assert_eq!(url_host("not a url"), None);
    }

    proptest! {
        #[test]
        fn never_panics(target in proptest::collection::vec(any::<u8>(), 1..200),
                        body in proptest::collection::vec(any::<u8>(), 0..400),
                        ct in prop_oneof![Just("application/json"), Just("text/xml"), Just("multipart/form-data; boundary=b"), Just("application/x-www-form-urlencoded"), Just("")]) {
            let mut r = req("POST", "/", &[("Content-Type", ct), ("Cookie", "a=b;;c")], &body);
            r.target = target.into();
            let _ = extract(&r, &ExtractLimits::default());
        }
    }
}
