//! HAR 1.2 entries → evidence.

use base64::Engine as _;
use serde::Deserialize;

use sentinel_schema::{
    ByteString, ClientInfo, EvidenceEvent, Header, HttpRequest, HttpResponse, SCHEMA_VERSION,
};

use crate::time::parse_rfc3339_ms;
use crate::{evidence_id_for, DecodeError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    started_date_time: String,
    request: Request,
    #[serde(default)]
    response: Option<Response>,
    #[serde(default, rename = "_clientIP", alias = "_clientIp")]
    client_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    http_version: Option<String>,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    params: Vec<PostParam>,
}

#[derive(Deserialize)]
struct PostParam {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    status: i64,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// Decodes one HAR entry.
pub fn decode(bytes: &[u8], offset: u64) -> Result<EvidenceEvent, DecodeError> {
    let entry: Entry = serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))?;
    let event_time_ms = parse_rfc3339_ms(&entry.started_date_time).ok_or_else(|| {
        DecodeError::new(
            sentinel_schema::DeadLetterReason::InvalidField,
            format!(
                "startedDateTime {:?} is not ISO 8601",
                entry.started_date_time
            ),
        )
    })?;
    let mut headers: Vec<Header> = Vec::with_capacity(entry.request.headers.len());
    let mut authority = None;
    for h in entry.request.headers {
        if h.name == ":authority" {
            authority = Some(h.value);
        } else if !h.name.starts_with(':') {
            headers.push(Header::new(h.name, h.value));
        }
    }
    if let Some(a) = authority {
        if !headers.iter().any(|h| h.name.eq_ignore_ascii_case("host")) {
            headers.insert(0, Header::new("Host", a));
        }
    }
    let body = match entry.request.post_data {
        Some(PostData { text: Some(t), .. }) => t.into_bytes(),
        Some(PostData { text: None, params }) => form_urlencode(&params).into_bytes(),
        None => Vec::new(),
    };
    let response = match entry.response {
        Some(r) if r.status > 0 => Some(HttpResponse {
            status: u16::try_from(r.status).unwrap_or(0),
            headers: r
                .headers
                .into_iter()
                .filter(|h| !h.name.starts_with(':'))
                .map(|h| Header::new(h.name, h.value))
                .collect(),
            body: match r.content {
                Some(Content {
                    text: Some(t),
                    encoding: Some(enc),
                }) if enc == "base64" => ByteString(
                    base64::engine::general_purpose::STANDARD
                        .decode(t.as_bytes())
                        .unwrap_or_default(),
                ),
                Some(Content { text: Some(t), .. }) => ByteString::from(t),
                _ => ByteString::default(),
            },
            bytes_sent: None,
        }),
        _ => None,
    };
    Ok(EvidenceEvent {
        schema_version: SCHEMA_VERSION,
        evidence_id: evidence_id_for("har", offset, bytes),
        event_time_ms,
        time_source: Default::default(),
        client: ClientInfo {
            ip: entry.client_ip.and_then(|s| s.parse().ok()),
            ..Default::default()
        },
        request: HttpRequest {
            method: entry.request.method,
            target: ByteString::from(entry.request.url),
            version: entry
                .request
                .http_version
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "HTTP/1.1".into()),
            headers,
            body: ByteString(body),
            body_truncated: false,
        },
        response,
        package: None,
        enrichment: None,
        tags: Vec::new(),
        waf_blocked: false,
    })
}

/// Rebuilds a form body from HAR `params` (values are already decoded there).
fn form_urlencode(params: &[PostParam]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for p in params {
        ser.append_pair(&p.name, p.value.as_deref().unwrap_or(""));
    }
    ser.finish()
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

    #[test]
    fn decodes_an_entry() {
        let entry = br#"{"startedDateTime":"2023-10-10T13:55:36.000Z","time":1,
          "request":{"method":"POST","url":"https://shop.example/login?next=%2F","httpVersion":"HTTP/2",
            "headers":[{"name":":authority","value":"shop.example"},{"name":"cookie","value":"sid=1"}],
            "postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"user","value":"a b"}]}},
          "response":{"status":200,"headers":[],"content":{"size":2,"text":"b2s=","encoding":"base64"}},
          "cache":{},"timings":{}}"#;
        let ev = decode(entry, 3).unwrap();
        assert_eq!(ev.event_time_ms, 1_696_946_136_000);
        assert_eq!(
            ev.request.header("host").unwrap().as_bytes(),
            b"shop.example"
        );
        assert_eq!(ev.request.body.as_bytes(), b"user=a+b");
        assert_eq!(ev.response.unwrap().body.as_bytes(), b"ok");
        assert!(ev.evidence_id.starts_with("har-"));
    }

    #[test]
    fn bad_time_is_invalid_field() {
        let entry = br#"{"startedDateTime":"yesterday","request":{"method":"GET","url":"/"}}"#;
        assert_eq!(
            decode(entry, 0).unwrap_err().reason,
            sentinel_schema::DeadLetterReason::InvalidField
        );
    }
}
