//! Lossless byte strings with a readable JSON form.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes as they arrived (request targets, header values, bodies).
///
/// HTTP does not promise UTF-8: CSIC-style traffic carries Latin-1 bytes and
/// attackers send anything. A `ByteString` keeps the exact bytes and
/// serializes to JSON as a plain string when they are valid UTF-8, or as
/// `{"base64": "..."}` otherwise, so nothing is lost and common data stays
/// readable.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteString(pub Vec<u8>);

impl ByteString {
    /// Wraps bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        ByteString(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text, replacing invalid UTF-8 sequences with U+FFFD.
    pub fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_str_lossy())
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        ByteString(s.as_bytes().to_vec())
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> Self {
        ByteString(s.into_bytes())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(v: Vec<u8>) -> Self {
        ByteString(v)
    }
}

impl From<&[u8]> for ByteString {
    fn from(v: &[u8]) -> Self {
        ByteString(v.to_vec())
    }
}

/// The JSON shapes of a [`ByteString`].
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum ByteStringRepr<'a> {
    /// Valid UTF-8, as a JSON string.
    Text(Cow<'a, str>),
    /// Anything else, base64-encoded (standard alphabet, padded).
    Binary {
        /// The bytes, base64-encoded.
        base64: String,
    },
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => ByteStringRepr::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(&self.0),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match ByteStringRepr::deserialize(deserializer)? {
            ByteStringRepr::Text(text) => Ok(ByteString(text.into_owned().into_bytes())),
            ByteStringRepr::Binary { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64.as_bytes())
                .map(ByteString)
                .map_err(|e| serde::de::Error::custom(format!("invalid base64 byte string: {e}"))),
        }
    }
}

impl JsonSchema for ByteString {
    fn schema_name() -> Cow<'static, str> {
        "ByteString".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = ByteStringRepr::json_schema(generator);
        schema.insert(
            "description".into(),
            "Bytes: a string when valid UTF-8, else {\"base64\": \"...\"}.".into(),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn utf8_is_a_plain_string() {
        let b = ByteString::from("id=1' OR '1'='1");
        assert_eq!(serde_json::to_string(&b).unwrap(), r#""id=1' OR '1'='1""#);
    }

    #[test]
    fn latin1_is_base64() {
        let b = ByteString(vec![b'A', 0xF1, b'a']);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"base64":"QfFh"}"#);
        let back: ByteString = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn bad_base64_is_an_error() {
        assert!(serde_json::from_str::<ByteString>(r#"{"base64":"!!"}"#).is_err());
    }

    proptest! {
        #[test]
        fn round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let b = ByteString(bytes);
            let json = serde_json::to_string(&b).unwrap();
            let back: ByteString = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, b);
        }
    }
}
