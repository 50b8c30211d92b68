//! Payloads: the attacker-controllable values extracted from a request.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::http::is_false;
use crate::ByteString;

/// Where in the request a payload was found.
///
/// Written as a compact string: `path`, `query:id`, `body:form:user`,
/// `body:json:/a/b`, `body:multipart:file`, `body:xml:/order/item`, `body`,
/// `header:User-Agent`, `cookie:sid`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadLocation {
    /// The decoded URL path.
    Path,
    /// A query-string parameter.
    Query(String),
    /// An `application/x-www-form-urlencoded` body field.
    Form(String),
    /// A JSON body value, by JSON Pointer (RFC 6901).
    Json(String),
    /// A `multipart/form-data` part, by field name.
    Multipart(String),
    /// An XML body text or attribute value, by element path.
    Xml(String),
    /// The whole body, when no structured parser applies.
    Body,
    /// A request header.
    Header(String),
    /// A cookie.
    Cookie(String),
}

impl PayloadLocation {
    /// The location kind (`path`, `query`, `form`, `json`, `multipart`, `xml`, `body`, `header`, `cookie`).
    pub fn kind(&self) -> &'static str {
        match self {
            PayloadLocation::Path => "path",
            PayloadLocation::Query(_) => "query",
            PayloadLocation::Form(_) => "form",
            PayloadLocation::Json(_) => "json",
            PayloadLocation::Multipart(_) => "multipart",
            PayloadLocation::Xml(_) => "xml",
            PayloadLocation::Body => "body",
            PayloadLocation::Header(_) => "header",
            PayloadLocation::Cookie(_) => "cookie",
        }
    }

    /// The parameter, header, cookie name or pointer, when the kind has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            PayloadLocation::Path | PayloadLocation::Body => None,
            PayloadLocation::Query(n)
            | PayloadLocation::Form(n)
            | PayloadLocation::Json(n)
            | PayloadLocation::Multipart(n)
            | PayloadLocation::Xml(n)
            | PayloadLocation::Header(n)
            | PayloadLocation::Cookie(n) => Some(n),
        }
    }

    /// True for parameters a WAF sees as `ARGS` (query, form, JSON, multipart, XML values).
    pub fn is_argument(&self) -> bool {
        matches!(
            self,
            PayloadLocation::Query(_)
                | PayloadLocation::Form(_)
                | PayloadLocation::Json(_)
                | PayloadLocation::Multipart(_)
                | PayloadLocation::Xml(_)
        )
    }
}

impl fmt::Display for PayloadLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadLocation::Path => f.write_str("path"),
            PayloadLocation::Query(n) => write!(f, "query:{n}"),
            PayloadLocation::Form(n) => write!(f, "body:form:{n}"),
            PayloadLocation::Json(n) => write!(f, "body:json:{n}"),
            PayloadLocation::Multipart(n) => write!(f, "body:multipart:{n}"),
            PayloadLocation::Xml(n) => write!(f, "body:xml:{n}"),
            PayloadLocation::Body => f.write_str("body"),
            PayloadLocation::Header(n) => write!(f, "header:{n}"),
            PayloadLocation::Cookie(n) => write!(f, "cookie:{n}"),
        }
    }
}

/// A location string that does not follow the documented grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid payload location {0:?}")]
pub struct ParseLocationError(pub String);

impl FromStr for PayloadLocation {
    type Err = ParseLocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLocationError(s.to_string());
        if s == "path" {
            return Ok(PayloadLocation::Path);
        }
        if s == "body" {
            return Ok(PayloadLocation::Body);
        }
        if let Some(rest) = s.strip_prefix("body:") {
            let (kind, name) = rest.split_once(':').ok_or_else(err)?;
            let name = name.to_string();
            return match kind {
                "form" => Ok(PayloadLocation::Form(name)),
                "json" => Ok(PayloadLocation::Json(name)),
                "multipart" => Ok(PayloadLocation::Multipart(name)),
                "xml" => Ok(PayloadLocation::Xml(name)),
                _ => Err(err()),
            };
        }
        let (kind, name) = s.split_once(':').ok_or_else(err)?;
        let name = name.to_string();
        match kind {
            "query" => Ok(PayloadLocation::Query(name)),
            "header" => Ok(PayloadLocation::Header(name)),
            "cookie" => Ok(PayloadLocation::Cookie(name)),
            _ => Err(err()),
        }
    }
}

impl Serialize for PayloadLocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PayloadLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PayloadLocation {
    fn schema_name() -> Cow<'static, str> {
        "PayloadLocation".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Where the payload was found: path | query:NAME | body:form:NAME | body:json:POINTER | body:multipart:NAME | body:xml:PATH | body | header:NAME | cookie:NAME",
            "pattern": "^(path|body|query:.*|header:.*|cookie:.*|body:(form|json|multipart|xml):.*)$"
        })
    }
}

/// One attacker-controllable value, raw and normalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Where it was found.
    pub location: PayloadLocation,
    /// The value as it appeared in the request (before any decoding).
    pub raw: ByteString,
    /// The value after the normalization pipeline (decodings, case folding,
    /// comment stripping, whitespace compression).
    pub normalized: String,
    /// True when a size or depth limit cut the work short.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_forms_round_trip() {
        for s in [
            "path",
            "body",
            "query:id",
            "body:form:user",
            "body:json:/a/b",
            "body:multipart:file",
            "body:xml:/order/item",
            "header:User-Agent",
            "cookie:sid",
            "query:a:b",
        ] {
            let loc: PayloadLocation = s.parse().unwrap();
            assert_eq!(loc.to_string(), s);
        }
        assert!("bogus:x".parse::<PayloadLocation>().is_err());
        assert!("body:weird:x".parse::<PayloadLocation>().is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = s.parse::<PayloadLocation>();
        }

        #[test]
        fn query_names_round_trip(name in ".*") {
            let loc = PayloadLocation::Query(name);
            let back: PayloadLocation = loc.to_string().parse().unwrap();
            prop_assert_eq!(back, loc);
        }
    }
}
