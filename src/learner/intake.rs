//! Feedback from Kafka (`events.feedback`) into the feedback store. Offsets
//! are stored only after the records are in the store (at-least-once; the
//! store deduplicates); records that do not decode go to the dead-letter
//! topic with the reason.

use std::time::Duration;

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use sentinel_dataflow::Counters;
use sentinel_models::learning::FeedbackStore;
use sentinel_operators::dead_letter::dead_letter;
use sentinel_schema::{Feedback, Provenance};
use sentinel_sources::decode::decode_feedback;
use sentinel_sources::kafka::{consumer_config, ClientSettings};

/// Records read per round at most.
const BATCH: usize = 10_000;

/// The feedback consumer and the dead-letter producer.
pub struct FeedbackIntake {
    consumer: BaseConsumer,
    producer: BaseProducer,
    topic: String,
    dead_letter_topic: String,
}

impl FeedbackIntake {
    /// Subscribes to `topic` as `group` (its own consumer group: every
    /// feedback record reaches the learner once, whatever the pipeline's group).
    pub fn new(
        client: &ClientSettings,
        group: &str,
        topic: &str,
        dead_letter_topic: &str,
    ) -> anyhow::Result<FeedbackIntake> {
        let consumer: BaseConsumer = consumer_config(client, group)
            .create()
            .context("cannot create the feedback consumer")?;
        consumer
            .subscribe(&[topic])
            .with_context(|| format!("cannot subscribe to {topic}"))?;
        let mut pc = rdkafka::ClientConfig::new();
        pc.set("bootstrap.servers", &client.brokers);
        for (k, v) in &client.properties {
            pc.set(k, v);
        }
        let producer: BaseProducer = pc
            .create()
            .context("cannot create the dead-letter producer")?;
        Ok(FeedbackIntake {
            consumer,
            producer,
            topic: topic.to_string(),
            dead_letter_topic: dead_letter_topic.to_string(),
        })
    }

    /// Reads what is available, appends the valid records to `store`,
    /// sends the others to the dead-letter topic, then stores the offsets.
    /// Returns how many new feedback records the store took.
    pub fn drain(&mut self, store: &FeedbackStore, counters: &Counters) -> anyhow::Result<usize> {
        let mut good: Vec<Feedback> = Vec::new();
        let mut next: std::collections::BTreeMap<i32, i64> = Default::default();
        let mut dead = 0usize;
        // The first poll waits a little so that group joins and fetches progress.
        let mut wait = Duration::from_millis(100);
        while good.len() + dead < BATCH {
            let Some(result) = self.consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let Ok(msg) = result else {
                break;
            };
            let bytes = msg.payload().unwrap_or_default();
            match decode_feedback(bytes) {
                Ok(f) => good.push(f),
                Err(e) => {
                    let provenance = Provenance {
                        source: format!("kafka:{}", self.topic),
                        partition: Some(msg.partition()),
                        offset: u64::try_from(msg.offset()).unwrap_or(0),
                    };
                    let d = dead_letter(&e, bytes, bytes.len() as u64, provenance);
                    counters.dead_letter(e.reason.as_str());
                    let value = serde_json::to_vec(&d)?;
                    let key = format!("feedback:{}:{}", msg.partition(), msg.offset());
                    self.producer
                        .send(
                            BaseRecord::to(&self.dead_letter_topic)
                                .key(&key)
                                .payload(&value),
                        )
                        .map_err(|(e, _)| e)
                        .context("cannot queue a feedback dead letter")?;
                    dead += 1;
                }
            }
            next.insert(msg.partition(), msg.offset() + 1);
        }
        if dead > 0 {
            self.producer
                .flush(Duration::from_secs(30))
                .context("cannot deliver feedback dead letters")?;
        }
        let added = if good.is_empty() {
            0
        } else {
            store.append(&good)?
        };
        if !next.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (p, o) in next {
                tpl.add_partition_offset(&self.topic, p, Offset::Offset(o))?;
            }
            self.consumer
                .store_offsets(&tpl)
                .context("cannot store feedback offsets")?;
        }
        Ok(added)
    }
}
