//! Who a request comes from, as the behavioural windows key it: its
//! address, else its session, else nobody in particular.
//!
//! The key is defined here, beside the readers, so that a reader can tell
//! a record's client before the record is decoded (see
//! [`crate::DeferredFrame::client`]) with exactly the rule the analysis
//! applies to the decoded event.

use std::fmt;
use std::net::IpAddr;

use sentinel_schema::EvidenceEvent;

/// The client a request is aggregated under.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClientIdentity {
    /// The client's address.
    Ip(IpAddr),
    /// No address: the recorder's session, else the first session-like
    /// cookie ([`session_cookie`]).
    Session(String),
    /// Neither.
    Anonymous,
}

impl ClientIdentity {
    /// The identity of a decoded event's client.
    pub fn of(event: &EvidenceEvent) -> Self {
        if let Some(ip) = event.client.ip {
            return ClientIdentity::Ip(ip);
        }
        match session_id(event) {
            Some(s) => ClientIdentity::Session(s),
            None => ClientIdentity::Anonymous,
        }
    }

    /// The identity a client object gives by itself — its address, else
    /// the recorder's session — or `None` when it names neither (the
    /// request's cookies then decide, see [`ClientIdentity::of`]). The
    /// session is made a `String` only when it names the client (a
    /// borrowed one is not copied when the address decides).
    pub fn named<S: Into<String>>(ip: Option<IpAddr>, session: Option<S>) -> Option<Self> {
        match (ip, session) {
            (Some(ip), _) => Some(ClientIdentity::Ip(ip)),
            (None, Some(s)) => Some(ClientIdentity::Session(s.into())),
            (None, None) => None,
        }
    }

    /// The key the windows use: `ip:ADDRESS`, `session:ID` or `anonymous`.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// [`ClientIdentity::key`] written into `out` (cleared first), so that
    /// a caller hashing many keys reuses one buffer instead of allocating
    /// a string per key.
    pub fn write_key(&self, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        // Writing into a `String` cannot fail.
        let _ = write!(out, "{self}");
    }
}

impl fmt::Display for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIdentity::Ip(ip) => write!(f, "ip:{ip}"),
            ClientIdentity::Session(s) => write!(f, "session:{s}"),
            ClientIdentity::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// The request's session: the recorder's, else the value of the first
/// session-like cookie (`JSESSIONID`, `PHPSESSID`, `sid`, ...).
pub fn session_id(event: &EvidenceEvent) -> Option<String> {
    if let Some(s) = &event.client.session {
        return Some(s.clone());
    }
    event
        .request
        .headers_named("cookie")
        .find_map(|cookie| session_cookie(cookie.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The value of the first session-like cookie in one `Cookie` header's
/// value, if any.
pub fn session_cookie(header: &[u8]) -> Option<&[u8]> {
    header.split(|b| *b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = memchr::memchr(b'=', pair)?;
        let name = &pair[..eq];
        SESSION_COOKIES
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            .then(|| &pair[eq + 1..])
    })
}

/// Cookie names taken for a session, compared without case.
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
    fn prefers_ip_then_session_then_cookie() {
        let mut e = ev();
        assert_eq!(ClientIdentity::of(&e).key(), "session:ABC");
        e.client.session = Some("rec-7".into());
        assert_eq!(ClientIdentity::of(&e).key(), "session:rec-7");
        e.client.ip = Some("2001:DB8::1".parse().unwrap());
        assert_eq!(ClientIdentity::of(&e).key(), "ip:2001:db8::1");
        e.client = Default::default();
        e.request.headers.clear();
        assert_eq!(ClientIdentity::of(&e).key(), "anonymous");
    }

    #[test]
    fn write_key_overwrites_the_buffer_with_the_key() {
        let mut buf = String::from("left over from a longer key");
        for id in [
            ClientIdentity::Ip("10.0.0.1".parse().unwrap()),
            ClientIdentity::Session("s1".into()),
            ClientIdentity::Anonymous,
        ] {
            id.write_key(&mut buf);
            assert_eq!(buf, id.key());
        }
    }

    #[test]
    fn takes_the_first_session_like_cookie() {
        assert_eq!(session_cookie(b"a=1; PHPSESSID=x; sid=y"), Some(&b"x"[..]));
        assert_eq!(
            session_cookie(b" Sid = y"),
            None,
            "the name is not trimmed inside"
        );
        assert_eq!(session_cookie(b"sid="), Some(&b""[..]));
        assert_eq!(session_cookie(b"theme=dark; lang"), None);
    }
}
