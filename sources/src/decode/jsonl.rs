//! Evidence JSONL: one [`EvidenceEvent`] per line, our own schema.

use std::fmt;
use std::net::IpAddr;

use sentinel_schema::{EvidenceEvent, MAX_EVENT_TIME_MS};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::{ClientIdentity, DecodeError};

/// Decodes one line.
pub fn decode(bytes: &[u8]) -> Result<EvidenceEvent, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))
}

/// What a line says about itself before it is decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineProbe {
    /// The top-level `event_time_ms`, when it is an integer within the
    /// accepted range (1970..9999).
    pub time: Option<i64>,
    /// The client, when the top-level `client` object names its address or
    /// its session (the key is then known without the request's cookies).
    pub client: Option<ClientIdentity>,
}

/// Reads a line's top-level `event_time_ms` and `client` without decoding
/// the line: other fields are skipped without allocating, and reading stops
/// once both are known.
///
/// Whenever [`decode`] gives an event that passes validation, the probe
/// gives its time, and any client it gives is the event's
/// ([`ClientIdentity::of`]); both are property-tested below. A line it
/// answers may still fail to decode; `None` says nothing either way.
pub fn probe(bytes: &[u8]) -> LineProbe {
    probe_for(bytes, true)
}

/// The line's top-level `event_time_ms` when it is in range, as [`probe`]
/// gives it, reading nothing after it (the client is not looked for).
pub fn probe_event_time(bytes: &[u8]) -> Option<i64> {
    probe_for(bytes, false).time
}

/// [`probe`], looking for the client or not.
fn probe_for(bytes: &[u8], client: bool) -> LineProbe {
    let mut found = LineProbe::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Stopping early leaves the map unfinished, which the deserializer then
    // reports as an error; what was found is kept aside.
    let _ = de.deserialize_map(Prober {
        found: &mut found,
        client,
    });
    found.time = found.time.filter(|t| (0..=MAX_EVENT_TIME_MS).contains(t));
    found
}

/// A top-level key: the time, the client, or any other.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    EventTimeMs,
    Client,
    #[serde(other)]
    Other,
}

/// The parts of the `client` object that make its key.
#[derive(Deserialize)]
struct ClientFields {
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    session: Option<String>,
}

/// Visits the top-level object until its time (and, with `client`, its
/// client) are known.
struct Prober<'a> {
    found: &'a mut LineProbe,
    client: bool,
}

impl<'de> Visitor<'de> for Prober<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an evidence object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Whether the client is settled: read, found not to name itself,
        // or not asked for.
        let mut client_read = !self.client;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::EventTimeMs => self.found.time = Some(map.next_value::<i64>()?),
                Field::Client if self.client => {
                    let c = map.next_value::<ClientFields>()?;
                    client_read = true;
                    self.found.client = ClientIdentity::named(c.ip, c.session);
                }
                Field::Client | Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if self.found.time.is_some() && client_read {
                // Done. Returning (rather than failing with an error of
                // our own) spares the message and its copies: the
                // deserializer's complaint about the unfinished map is one
                // allocation where a custom error was four.
                return Ok(());
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

    #[test]
    fn probe_reads_the_client_that_names_itself() {
        let client = |s: &str| probe(s.as_bytes()).client;
        let ip = |s: &str| Some(ClientIdentity::Ip(s.parse().unwrap()));
        assert_eq!(
            client(r#"{"event_time_ms":1,"client":{"port":5,"ip":"2001:DB8::7"}}"#),
            ip("2001:db8::7")
        );
        assert_eq!(
            client(r#"{"client":{"ip":"192.0.2.1","session":"s"},"event_time_ms":1}"#),
            ip("192.0.2.1")
        );
        assert_eq!(
            client(r#"{"client":{"session":"s\u0041"},"event_time_ms":1}"#),
            Some(ClientIdentity::Session("sA".into()))
        );
        // Without an address or session, cookies decide: unknown here.
        assert_eq!(client(r#"{"client":{},"event_time_ms":1}"#), None);
        assert_eq!(client(r#"{"event_time_ms":1}"#), None);
        // A bad address before the time: nothing is known, unless only
        // the time is asked for (the client is then skipped unread).
        let bad_client_first = br#"{"client":{"ip":"x"},"event_time_ms":1}"#;
        assert_eq!(probe(bad_client_first), LineProbe::default());
        assert_eq!(probe_event_time(bad_client_first), Some(1));
        // The time is kept when what follows it is bad.
        assert_eq!(
            probe(br#"{"event_time_ms":1,"client":{"ip":"x"}}"#),
            LineProbe {
                time: Some(1),
                client: None
            }
        );
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
