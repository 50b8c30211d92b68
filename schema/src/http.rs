//! HTTP request and response as evidence.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ByteString;

/// One header line. Names keep their original case; lookups are case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Header {
    /// Header name as sent.
    pub name: String,
    /// Header value as sent (may be non-UTF-8).
    pub value: ByteString,
}

impl Header {
    /// Builds a header from text.
    pub fn new(name: impl Into<String>, value: impl Into<ByteString>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An HTTP request as observed by the WAF or recorded in evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// Method token (`GET`, `POST`, ...), as sent.
    pub method: String,
    /// Request target exactly as sent: origin-form (`/a?b=c`) or absolute-form
    /// (`http://host/a?b=c`).
    pub target: ByteString,
    /// Protocol version (`HTTP/1.1`).
    #[serde(default = "default_version")]
    pub version: String,
    /// Header lines in order.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Body bytes (possibly truncated by the recorder; see `body_truncated`).
    #[serde(default, skip_serializing_if = "ByteString::is_empty")]
    pub body: ByteString,
    /// True when the recorder kept only a prefix of the body.
    #[serde(default, skip_serializing_if = "is_false")]
    pub body_truncated: bool,
}

fn default_version() -> String {
    "HTTP/1.1".to_string()
}

/// Skips zero scores when serializing.
pub(crate) fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&ByteString> {
        find_header(&self.headers, name)
    }

    /// All headers with this name (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ByteString> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &h.value)
    }
}

/// The response the protected application gave, when the evidence has it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines in order.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Body bytes, when recorded.
    #[serde(default, skip_serializing_if = "ByteString::is_empty")]
    pub body: ByteString,
    /// Bytes sent to the client, when known (nginx `$body_bytes_sent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&ByteString> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a ByteString> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| &h.value)
}
