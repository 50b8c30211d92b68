//! Evidence JSONL: one [`EvidenceEvent`] per line, our own schema.

use std::fmt;

use sentinel_schema::{EvidenceEvent, MAX_EVENT_TIME_MS};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::DecodeError;

/// Decodes one line.
pub fn decode(bytes: &[u8]) -> Result<EvidenceEvent, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))
}

/// The line's top-level `event_time_ms` when it is an integer within the
/// accepted range (1970..9999), read without decoding the line: the fields
/// before it are skipped without allocating, those after it are not read.
///
/// Whenever [`decode`] gives an event that passes validation, this gives
/// its time (property-tested below). A line it answers may still fail to
/// decode (it stops reading at the time); `None` says nothing either way.
pub fn probe_event_time(bytes: &[u8]) -> Option<i64> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Stopping at the time aborts the map with an error; what was found
    // is kept aside.
    let _ = de.deserialize_map(TimeProbe { found: &mut found });
    found.filter(|t| (0..=MAX_EVENT_TIME_MS).contains(t))
}

/// A top-level key: the time, or any other.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    EventTimeMs,
    #[serde(other)]
    Other,
}

/// Visits the top-level object up to its `event_time_ms`.
struct TimeProbe<'a> {
    found: &'a mut Option<i64>,
}

impl<'de> Visitor<'de> for TimeProbe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an evidence object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::EventTimeMs => {
                    *self.found = Some(map.next_value::<i64>()?);
                    return Err(de::Error::custom("event time found"));
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::DeadLetterReason;

    #[test]
    fn classifies_errors() {
        let truncated = br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GE"#;
        assert_eq!(
            decode(truncated).unwrap_err().reason,
            DeadLetterReason::InvalidJson
        );
        let wrong_shape = br#"{"evidence_id":5,"event_time_ms":1,"request":{}}"#;
        assert_eq!(
            decode(wrong_shape).unwrap_err().reason,
            DeadLetterReason::SchemaViolation
        );
        let ok =
            br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GET","target":"/"}}"#;
        assert_eq!(decode(ok).unwrap().evidence_id, "a");
    }

    #[test]
    fn probe_reads_the_top_level_time_only() {
        let probe = |s: &str| probe_event_time(s.as_bytes());
        assert_eq!(
            probe(r#"{"evidence_id":"a","event_time_ms":17,"request":{}}"#),
            Some(17)
        );
        // Fields before it are skipped, nested times are not the event's.
        assert_eq!(
            probe(r#"{"client":{"event_time_ms":5},"tags":["x\"y"],"event_time_ms":9}"#),
            Some(9)
        );
        // An escaped key is the same key.
        assert_eq!(probe(r#"{"event_time\u005fms":3}"#), Some(3));
        // What the decoder would refuse for the time itself, or cannot reach.
        for refused in [
            r#"{"event_time_ms":"17"}"#,
            r#"{"event_time_ms":1.5}"#,
            r#"{"event_time_ms":-1}"#,
            r#"{"event_time_ms":253402300800000}"#,
            r#"{"evidence_id":"a"}"#,
            r#"[{"event_time_ms":1}]"#,
            r#"{"evidence_id":"a","#,
            "\u{ff}garbage",
            "",
        ] {
            assert_eq!(probe(refused), None, "{refused}");
        }
    }

    proptest::proptest! {
        /// The probe gives the time of every event that decodes, whatever
        /// the order of the fields and whatever comes before it.
        #[test]
        fn probe_agrees_with_decode(
            time in 0i64..=MAX_EVENT_TIME_MS,
            id in "[a-z0-9\\\\\"]{1,12}",
            target in "/[ -~]{0,30}",
            time_first in proptest::bool::ANY,
        ) {
            let id = serde_json::to_string(&id).unwrap();
            let target = serde_json::to_string(&target).unwrap();
            let request = format!(r#"{{"method":"GET","target":{target}}}"#);
            let line = if time_first {
                format!(r#"{{"event_time_ms":{time},"evidence_id":{id},"request":{request}}}"#)
            } else {
                format!(r#"{{"evidence_id":{id},"request":{request},"event_time_ms":{time}}}"#)
            };
            let event = decode(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(probe_event_time(line.as_bytes()), Some(event.event_time_ms));
        }

        /// On arbitrary bytes the probe never panics, and when the line
        /// decodes to an event in range the probe gives that event's time.
        #[test]
        fn probe_never_contradicts_decode(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let probed = probe_event_time(&bytes);
            if let Ok(event) = decode(&bytes) {
                if (0..=MAX_EVENT_TIME_MS).contains(&event.event_time_ms) {
                    proptest::prop_assert_eq!(probed, Some(event.event_time_ms));
                }
            }
        }
    }
}
