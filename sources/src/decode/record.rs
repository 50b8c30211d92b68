//! Kafka recordings (`sentinel record`): one consumed message per line,
//! with its topic, partition, offset and timestamp, so a replay can give
//! every event the provenance and per-partition order it had live.
//!
//! ```json
//! {"topic":"events.evidence_created","partition":3,"offset":17,"timestamp_ms":1767225600000,"key":"ip:192.0.2.1","value":{...}}
//! ```
//!
//! A value that is not JSON is kept as `"value_base64"`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use sentinel_schema::EvidenceEvent;

use crate::DecodeError;

/// Where a recorded message came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
}

/// One line of a recording.
#[derive(Serialize, Deserialize)]
pub struct RecordLine<'a> {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Broker timestamp, when the message had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// Message key (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value, when it is JSON.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a RawValue>,
    /// The value, when it is not JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

impl<'a> RecordLine<'a> {
    /// Builds a line from a message; `value` is embedded when it is valid JSON.
    pub fn from_message(
        topic: &str,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&'a [u8]>,
    ) -> Self {
        let raw = value
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| serde_json::from_str::<&RawValue>(s).ok());
        RecordLine {
            topic: topic.to_string(),
            partition,
            offset,
            timestamp_ms,
            key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
            value: raw,
            value_base64: match (raw, value) {
                (None, Some(v)) => Some(base64::engine::general_purpose::STANDARD.encode(v)),
                _ => None,
            },
        }
    }
}

/// Decodes one recording line: the origin (when the line is readable) and the event.
pub fn decode(bytes: &[u8]) -> (Option<Origin>, Result<EvidenceEvent, DecodeError>) {
    let line: RecordLine<'_> = match serde_json::from_slice(bytes) {
        Ok(l) => l,
        Err(e) => return (None, Err(DecodeError::from_json(&e))),
    };
    let origin = Origin {
        topic: line.topic.clone(),
        partition: line.partition,
        offset: line.offset,
    };
    let event = match (line.value, line.value_base64) {
        (Some(raw), _) => serde_json::from_str(raw.get()).map_err(|e| DecodeError::from_json(&e)),
        (None, Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64.as_bytes())
        {
            Ok(v) => serde_json::from_slice(&v).map_err(|e| DecodeError::from_json(&e)),
            Err(e) => Err(DecodeError::malformed(format!(
                "value_base64 is not base64: {e}"
            ))),
        },
        (None, None) => Err(DecodeError::malformed(
            "recorded message has no value (tombstone)",
        )),
    };
    (Some(origin), event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let ev =
            br#"{"evidence_id":"a","event_time_ms":5,"request":{"method":"GET","target":"/"}}"#;
        let line = RecordLine::from_message("t", 2, 9, Some(5), Some(b"k"), Some(ev));
        let text = serde_json::to_vec(&line).unwrap();
        let (origin, event) = decode(&text);
        assert_eq!(
            origin,
            Some(Origin {
                topic: "t".into(),
                partition: 2,
                offset: 9
            })
        );
        assert_eq!(event.unwrap().evidence_id, "a");
        let bad = RecordLine::from_message("t", 0, 1, None, None, Some(b"\xff not json"));
        let text = serde_json::to_vec(&bad).unwrap();
        let (origin, event) = decode(&text);
        assert!(origin.is_some());
        assert!(event.is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
