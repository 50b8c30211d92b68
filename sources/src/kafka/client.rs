//! Consumer configuration, broker reachability, message decoding.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use sentinel_schema::EvidenceEvent;

use crate::DecodeError;

/// Connection settings shared by consumers and producers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, ...), applied last.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A Kafka problem Sentinel reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The brokers did not answer.
    #[error("Kafka brokers {brokers} are unreachable: {detail}")]
    Unreachable {
        /// The bootstrap list.
        brokers: String,
        /// What librdkafka said.
        detail: String,
    },
    /// A topic is missing.
    #[error("Kafka topic {topic:?} does not exist on {brokers} (create it first)")]
    MissingTopic {
        /// The topic.
        topic: String,
        /// The bootstrap list.
        brokers: String,
    },
    /// Any other client error.
    #[error("Kafka client error: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
}

/// The consumer configuration Sentinel uses: a consumer group, offsets
/// stored explicitly after downstream acknowledgement and committed
/// automatically (Vector's at-least-once pattern), the eager `range` and
/// `roundrobin` assignors (tansu does not support `cooperative-sticky`
/// alone), and no automatic offset reset surprises (`earliest`).
pub fn consumer_config(settings: &ClientSettings, group_id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &settings.brokers)
        .set("group.id", group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range,roundrobin")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("fetch.wait.max.ms", "10")
        .set("queued.min.messages", "20000")
        .set("enable.partition.eof", "false");
    for (k, v) in &settings.properties {
        c.set(k, v);
    }
    c
}

/// Checks that the brokers answer and that `topics` exist, within `timeout`.
pub fn check_reachable(
    settings: &ClientSettings,
    topics: &[&str],
    timeout: Duration,
) -> Result<(), KafkaError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &settings.brokers)
        .set("socket.connection.setup.timeout.ms", "3000");
    for (k, v) in &settings.properties {
        c.set(k, v);
    }
    let consumer: BaseConsumer = c.create()?;
    let md = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| KafkaError::Unreachable {
            brokers: settings.brokers.clone(),
            detail: e.to_string(),
        })?;
    for t in topics {
        let present = md
            .topics()
            .iter()
            .any(|m| m.name() == *t && m.error().is_none() && !m.partitions().is_empty());
        if !present {
            return Err(KafkaError::MissingTopic {
                topic: t.to_string(),
                brokers: settings.brokers.clone(),
            });
        }
    }
    Ok(())
}

/// Decodes a message value as an evidence event.
pub fn decode_message(value: Option<&[u8]>) -> Result<EvidenceEvent, DecodeError> {
    let value = value.ok_or_else(|| DecodeError::malformed("message has no value (tombstone)"))?;
    serde_json::from_slice(value).map_err(|e| DecodeError::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_brokers_are_reported_quickly() {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let s = ClientSettings {
            brokers: format!("127.0.0.1:{port}"),
            properties: BTreeMap::new(),
        };
        let start = std::time::Instant::now();
        let err = check_reachable(&s, &["x"], Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, KafkaError::Unreachable { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn tombstones_and_bad_json_are_decode_errors() {
        assert!(decode_message(None).is_err());
        assert!(decode_message(Some(b"{")).is_err());
        let ok =
            br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GET","target":"/"}}"#;
        assert_eq!(decode_message(Some(ok)).unwrap().evidence_id, "a");
    }
}
