//! Kafka producer with delivery tracking per timestamp.
//!
//! Every message is produced with the timely timestamp of the record it
//! came from as its delivery opaque; delivery reports decrement the count
//! outstanding at that timestamp. A timestamp is acknowledged once nothing
//! is outstanding at it — the signal that lets the source store the input
//! offsets behind it. A message that finally fails (after librdkafka's own
//! retries) is fatal: the process must stop without committing, so a
//! restart redelivers (at-least-once).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

/// Producer connection and tuning.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSettings {
    /// Bootstrap servers.
    pub brokers: String,
    /// Extra librdkafka properties, applied last.
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, String>,
}

/// The producer configuration: batched and compressed for throughput, all
/// in-sync replicas acknowledging, bounded delivery time.
pub fn producer_config(s: &ProducerSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "500000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.timeout.ms", "120000")
        .set("retry.backoff.ms", "100");
    for (k, v) in &s.properties {
        c.set(k, v);
    }
    c
}

/// Deliveries outstanding per timestamp, and the first fatal failure.
#[derive(Debug, Default)]
pub struct DeliveryTracker {
    outstanding: BTreeMap<u64, u64>,
    delivered: u64,
    failure: Option<String>,
}

impl DeliveryTracker {
    /// A message at `time` was handed to the producer.
    pub fn sent(&mut self, time: u64) {
        *self.outstanding.entry(time).or_default() += 1;
    }

    /// A delivery report for a message at `time`.
    pub fn report(&mut self, time: u64, result: Result<(), String>) {
        if let Some(n) = self.outstanding.get_mut(&time) {
            *n -= 1;
            if *n == 0 {
                self.outstanding.remove(&time);
            }
        }
        match result {
            Ok(()) => self.delivered += 1,
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = Some(e);
                }
            }
        }
    }

    /// True when nothing is outstanding at `time`.
    pub fn acknowledged(&self, time: u64) -> bool {
        !self.outstanding.contains_key(&time)
    }

    /// Messages outstanding in total.
    pub fn outstanding(&self) -> u64 {
        self.outstanding.values().sum()
    }

    /// Messages delivered.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The first delivery failure.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

/// The producer context: routes delivery reports to the tracker.
pub struct TrackingContext {
    tracker: Arc<Mutex<DeliveryTracker>>,
}

impl ClientContext for TrackingContext {}

impl ProducerContext for TrackingContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, time: usize) {
        let r = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.to_string()),
        };
        if let Ok(mut t) = self.tracker.lock() {
            t.report(time as u64, r);
        }
    }
}

/// A producer for Sentinel's output topics.
pub struct KafkaProducer {
    producer: BaseProducer<TrackingContext>,
    tracker: Arc<Mutex<DeliveryTracker>>,
    headers: HashMap<String, OwnedHeaders>,
    schema_version: String,
}

/// A producer that could not be created or could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    /// librdkafka refused the configuration or the message.
    #[error("Kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    /// A message could not be delivered (after retries).
    #[error("Kafka delivery failed: {0}")]
    Delivery(String),
}

impl KafkaProducer {
    /// Creates a producer.
    pub fn new(settings: &ProducerSettings, schema_version: u32) -> Result<Self, ProducerError> {
        let tracker = Arc::new(Mutex::new(DeliveryTracker::default()));
        let producer: BaseProducer<TrackingContext> = producer_config(settings)
            .create_with_context(TrackingContext {
                tracker: tracker.clone(),
            })?;
        Ok(KafkaProducer {
            producer,
            tracker,
            headers: HashMap::new(),
            schema_version: schema_version.to_string(),
        })
    }

    fn headers_for(&mut self, record_type: &str) -> OwnedHeaders {
        if let Some(h) = self.headers.get(record_type) {
            return h.clone();
        }
        let h = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some("application/json"),
            })
            .insert(Header {
                key: "schema-version",
                value: Some(self.schema_version.as_str()),
            })
            .insert(Header {
                key: "record-type",
                value: Some(record_type),
            });
        self.headers.insert(record_type.to_string(), h.clone());
        h
    }

    /// Produces one message for a record at `time`; waits (polling) while
    /// the local queue is full.
    pub fn send(
        &mut self,
        topic: &str,
        record_type: &str,
        time: u64,
        key: &str,
        value: &[u8],
    ) -> Result<(), ProducerError> {
        let headers = self.headers_for(record_type);
        if let Ok(mut t) = self.tracker.lock() {
            t.sent(time);
        }
        let mut record = BaseRecord::with_opaque_to(topic, time as usize)
            .key(key)
            .payload(value)
            .headers(headers);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    if let Ok(mut t) = self.tracker.lock() {
                        t.report(time, Err(e.to_string()));
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// Serves delivery reports (non-blocking).
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits up to `timeout` for every outstanding message.
    pub fn flush(&self, timeout: Duration) -> Result<(), ProducerError> {
        self.producer.flush(timeout)?;
        Ok(())
    }

    /// True when every message at `time` has been delivered.
    pub fn acknowledged(&self, time: u64) -> bool {
        self.tracker
            .lock()
            .map(|t| t.acknowledged(time))
            .unwrap_or(false)
    }

    /// The first delivery failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.tracker
            .lock()
            .ok()
            .and_then(|t| t.failure().map(str::to_string))
    }

    /// `(delivered, outstanding)`.
    pub fn counts(&self) -> (u64, u64) {
        self.tracker
            .lock()
            .map(|t| (t.delivered(), t.outstanding()))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_acknowledges_per_time() {
        let mut t = DeliveryTracker::default();
        t.sent(3);
        t.sent(3);
        t.sent(5);
        assert!(!t.acknowledged(3));
        t.report(3, Ok(()));
        assert!(!t.acknowledged(3));
        t.report(3, Ok(()));
        assert!(t.acknowledged(3));
        assert!(!t.acknowledged(5));
        t.report(5, Err("boom".into()));
        assert!(t.acknowledged(5));
        assert_eq!(t.failure(), Some("boom"));
        assert_eq!((t.delivered(), t.outstanding()), (2, 0));
    }
}
