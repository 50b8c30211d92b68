//! `sentinel publish`: send recorded evidence to a Kafka topic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use sentinel_operators::client_key::client_key;
use sentinel_schema::SCHEMA_VERSION;
use sentinel_sinks::kafka::{KafkaProducer, ProducerSettings};
use sentinel_sources::{FileSource, SourceItem, SourceOptions};

use crate::config::SentinelConfig;

use super::replay::FormatArg;

/// Arguments of `sentinel publish`.
#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// Recorded evidence files (any format `replay` reads; gzip accepted).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// Target topic.
    #[arg(long, default_value = "events.evidence_created")]
    topic: String,
    /// Bootstrap servers (or take them from --config).
    #[arg(long)]
    brokers: Option<String>,
    /// Configuration file to take the brokers and client properties from.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Messages per second at most (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

/// Runs the command: every decodable record becomes one `EvidenceEvent` JSON
/// message keyed by its client key; undecodable records are reported and skipped.
pub fn run(a: PublishArgs) -> anyhow::Result<i32> {
    let (brokers, properties) = match (&a.brokers, &a.config) {
        (Some(b), _) => (b.clone(), Default::default()),
        (None, Some(c)) => {
            let cfg = SentinelConfig::load(c)?;
            (cfg.kafka.brokers, cfg.kafka.properties)
        }
        (None, None) => bail!("pass --brokers or --config"),
    };
    let settings = ProducerSettings {
        brokers,
        properties,
    };
    sentinel_sources::kafka::check_reachable(
        &sentinel_sources::kafka::ClientSettings {
            brokers: settings.brokers.clone(),
            properties: settings.properties.clone(),
        },
        &[a.topic.as_str()],
        Duration::from_secs(10),
    )?;
    let mut producer = KafkaProducer::new(&settings, SCHEMA_VERSION)?;
    let (mut sent, mut skipped) = (0u64, 0u64);
    let start = Instant::now();
    for path in &a.files {
        let mut src = FileSource::open(
            path,
            SourceOptions {
                format: a.format_option(),
                ..SourceOptions::default()
            },
        )?;
        while let Some(item) = src.next_item() {
            match item {
                SourceItem::Event { event, .. } => {
                    let value = serde_json::to_vec(&*event)?;
                    producer
                        .send(&a.topic, "evidence_event", 0, &client_key(&event), &value)
                        .context("producing")?;
                    sent += 1;
                    if a.rate > 0 {
                        let due = Duration::from_secs_f64(sent as f64 / a.rate as f64);
                        let elapsed = start.elapsed();
                        if due > elapsed {
                            std::thread::sleep(due - elapsed);
                        }
                    }
                    producer.poll();
                }
                SourceItem::Bad { offset, error, .. } => {
                    skipped += 1;
                    eprintln!("{}:{offset}: skipped: {error}", path.display());
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing")?;
    if let Some(f) = producer.failure() {
        bail!("delivery failed: {f}");
    }
    eprintln!(
        "published {sent} events to {} ({skipped} undecodable records skipped)",
        a.topic
    );
    Ok(0)
}

impl PublishArgs {
    fn format_option(&self) -> Option<sentinel_sources::InputFormat> {
        self.format.format()
    }
}
