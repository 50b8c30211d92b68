//! ModSecurity v3 JSON audit log (`SecAuditLogFormat JSON`) → evidence.
//!
//! One transaction object per line:
//! `{"transaction": {"client_ip", "time_stamp", "unique_id", "request": {...},
//! "response": {...}, "messages": [...]}}`. Rule ids of the messages become
//! tags (`modsec:942100`); a 403 response marks the event `waf_blocked`.

use serde::Deserialize;
use serde_json::Value;

use sentinel_schema::{
    ByteString, ClientInfo, DeadLetterReason, EvidenceEvent, Header, HttpRequest, HttpResponse,
    SCHEMA_VERSION,
};

use crate::time::parse_ctime_ms;
use crate::{evidence_id_for, DecodeError};

#[derive(Deserialize)]
struct Line {
    transaction: Transaction,
}

#[derive(Deserialize)]
struct Transaction {
    #[serde(default)]
    client_ip: Option<String>,
    #[serde(default)]
    client_port: Option<u16>,
    time_stamp: String,
    #[serde(default)]
    unique_id: Option<String>,
    request: Request,
    #[serde(default)]
    response: Option<Response>,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    uri: String,
    #[serde(default)]
    http_version: Option<Value>,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    http_code: Option<u16>,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    details: Option<Details>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    #[serde(default)]
    rule_id: Option<String>,
}

/// Decodes one audit-log line.
pub fn decode(bytes: &[u8], offset: u64) -> Result<EvidenceEvent, DecodeError> {
    let line: Line = serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))?;
    let t = line.transaction;
    let event_time_ms = parse_ctime_ms(&t.time_stamp).ok_or_else(|| {
        DecodeError::new(
            DeadLetterReason::InvalidField,
            format!(
                "time_stamp {:?} is not `Www Mmm dd hh:mm:ss yyyy`",
                t.time_stamp
            ),
        )
    })?;
    let version = match t.request.http_version {
        Some(Value::Number(n)) => format!("HTTP/{n}"),
        Some(Value::String(s)) if s.starts_with("HTTP/") => s,
        Some(Value::String(s)) => format!("HTTP/{s}"),
        _ => "HTTP/1.1".to_string(),
    };
    let response = t.response.map(|r| HttpResponse {
        status: r.http_code.unwrap_or(0),
        headers: headers_of(r.headers),
        body: ByteString::from(r.body.unwrap_or_default()),
        bytes_sent: None,
    });
    let waf_blocked = response.as_ref().is_some_and(|r| r.status == 403);
    let mut tags: Vec<String> = t
        .messages
        .iter()
        .filter_map(|m| m.details.as_ref()?.rule_id.as_ref())
        .map(|id| format!("modsec:{id}"))
        .collect();
    tags.dedup();
    let evidence_id = match t.unique_id.filter(|u| !u.is_empty()) {
        Some(u) => format!("modsec-{u}"),
        None => evidence_id_for("modsec", offset, bytes),
    };
    Ok(EvidenceEvent {
        schema_version: SCHEMA_VERSION,
        evidence_id,
        event_time_ms,
        time_source: Default::default(),
        client: ClientInfo {
            ip: t.client_ip.and_then(|s| s.parse().ok()),
            port: t.client_port,
            session: None,
        },
        request: HttpRequest {
            method: t.request.method,
            target: ByteString::from(t.request.uri),
            version,
            headers: headers_of(t.request.headers),
            body: ByteString::from(t.request.body.unwrap_or_default()),
            body_truncated: false,
        },
        response,
        package: None,
        enrichment: None,
        tags,
        waf_blocked,
    })
}

/// Header objects map names to a string (or, from some connectors, a list).
fn headers_of(map: serde_json::Map<String, Value>) -> Vec<Header> {
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        match value {
            Value::String(s) => out.push(Header::new(name, s)),
            Value::Array(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        out.push(Header::new(name.clone(), s));
                    }
                }
            }
            other => out.push(Header::new(name, other.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes, 0);
        }

        #[test]
        fn never_panics_on_json_values(v in arb_json()) {
            let bytes = serde_json::to_vec(&v).unwrap();
            let _ = decode(&bytes, 0);
        }
    }

    /// Arbitrary JSON with the field names the decoder looks for, so the
    /// generator reaches past the first `match`.
    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-zA-Z0-9 :/.%-]{0,24}".prop_map(serde_json::Value::from),
        ];
        let keys = prop_oneof![
            Just("transaction"),
            Just("request"),
            Just("response"),
            Just("method"),
            Just("uri"),
            Just("url"),
            Just("headers"),
            Just("time_stamp"),
            Just("startedDateTime"),
            Just("http_code"),
            Just("status"),
            Just("postData"),
            Just("text"),
            Just("client_ip"),
            Just("name"),
            Just("value"),
            Just("content"),
            Just("encoding"),
            Just("messages"),
            Just("details"),
            Just("ruleId"),
        ];
        leaf.prop_recursive(4, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                    serde_json::Value::Object(
                        kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    )
                }),
            ]
        })
    }

    const LINE: &[u8] = br#"{"transaction":{"client_ip":"172.17.0.1","time_stamp":"Thu Mar 10 11:43:03 2022","server_id":"f5b","client_port":53840,"host_ip":"172.17.0.2","host_port":80,"unique_id":"164691258354.891127","request":{"method":"GET","http_version":1.1,"uri":"/?q=%3Cscript%3E","headers":{"Host":"localhost","User-Agent":"curl/7.81.0"}},"response":{"body":"","http_code":403,"headers":{"Server":"nginx"}},"producer":{"modsecurity":"ModSecurity v3.0.6 (Linux)"},"messages":[{"message":"XSS Attack Detected via libinjection","details":{"ruleId":"941100","severity":"2"}}]}}"#;

    #[test]
    fn decodes_a_transaction() {
        let ev = decode(LINE, 0).unwrap();
        assert_eq!(ev.evidence_id, "modsec-164691258354.891127");
        assert_eq!(ev.client.ip.unwrap().to_string(), "172.17.0.1");
        assert_eq!(ev.request.version, "HTTP/1.1");
        assert_eq!(ev.request.target.as_bytes(), b"/?q=%3Cscript%3E");
        assert_eq!(ev.tags, vec!["modsec:941100"]);
        assert!(ev.waf_blocked);
        assert_eq!(ev.event_time_ms, 1_646_912_583_000);
    }

    #[test]
    fn missing_request_is_a_schema_violation() {
        let err = decode(
            br#"{"transaction":{"time_stamp":"Thu Mar 10 11:43:03 2022"}}"#,
            0,
        )
        .unwrap_err();
        assert_eq!(err.reason, DeadLetterReason::SchemaViolation);
    }
}
