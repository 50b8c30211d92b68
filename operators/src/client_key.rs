//! The behavioural key a client is aggregated under.

use sentinel_schema::EvidenceEvent;

/// The key for windowed behaviour: `ip:ADDRESS` when the evidence has a
/// client address, else `session:ID` from the recorder or the first
/// session-like cookie (`JSESSIONID`, `PHPSESSID`, `sid`, ...), else `anonymous`.
pub fn client_key(event: &EvidenceEvent) -> String {
    if let Some(ip) = event.client.ip {
        return format!("ip:{ip}");
    }
    match session_id(event) {
        Some(s) => format!("session:{s}"),
        None => "anonymous".to_string(),
    }
}

/// The request's session: the recorder's, else the value of the first
/// session-like cookie (`JSESSIONID`, `PHPSESSID`, `sid`, ...).
pub fn session_id(event: &EvidenceEvent) -> Option<String> {
    if let Some(s) = &event.client.session {
        return Some(s.clone());
    }
    for cookie in event.request.headers_named("cookie") {
        for pair in cookie.as_bytes().split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            let name = &pair[..eq];
            if SESSION_COOKIES
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            {
                return Some(String::from_utf8_lossy(&pair[eq + 1..]).into_owned());
            }
        }
    }
    None
}

const SESSION_COOKIES: &[&str] = &[
    "jsessionid",
    "phpsessid",
    "asp.net_sessionid",
    "aspsessionid",
    "sid",
    "sessionid",
    "session",
    "connect.sid",
    "_session_id",
];

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{Header, HttpRequest};

    fn ev() -> EvidenceEvent {
        EvidenceEvent {
            schema_version: 1,
            evidence_id: "e".into(),
            event_time_ms: 0,
            time_source: Default::default(),
            client: Default::default(),
            request: HttpRequest {
                method: "GET".into(),
                target: "/".into(),
                version: "HTTP/1.1".into(),
                headers: vec![Header::new("Cookie", "a=1; JSESSIONID=ABC")],
                ..Default::default()
            },
            response: None,
            package: None,
            enrichment: None,
            tags: vec![],
            waf_blocked: false,
        }
    }

    #[test]
    fn prefers_ip_then_session_cookie() {
        let mut e = ev();
        assert_eq!(client_key(&e), "session:ABC");
        e.client.ip = Some("192.0.2.1".parse().unwrap());
        assert_eq!(client_key(&e), "ip:192.0.2.1");
        e.client.ip = None;
        e.request.headers.clear();
        assert_eq!(client_key(&e), "anonymous");
    }
}
