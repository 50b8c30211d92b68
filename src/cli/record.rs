//! `sentinel record`: capture a topic to a file `sentinel replay` reads back.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use sentinel_sources::decode::record::RecordLine;

use crate::config::SentinelConfig;

/// Arguments of `sentinel record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// Topic to capture.
    #[arg(long)]
    topic: String,
    /// Output file (JSON Lines with topic, partition, offset, timestamp, key and value).
    #[arg(long)]
    out: PathBuf,
    /// Bootstrap servers (or take them from --config).
    #[arg(long)]
    brokers: Option<String>,
    /// Configuration file to take the brokers and client properties from.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Keep following the topic instead of stopping at its end.
    #[arg(long)]
    follow: bool,
    /// Stop after this many messages.
    #[arg(long)]
    max: Option<u64>,
    /// How long to wait for the brokers, ms.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

/// Runs the command.
pub fn run(a: RecordArgs) -> anyhow::Result<i32> {
    let (brokers, props) = match (&a.brokers, &a.config) {
        (Some(b), _) => (b.clone(), Default::default()),
        (None, Some(c)) => {
            let cfg = SentinelConfig::load(c)?;
            (cfg.kafka.brokers, cfg.kafka.properties)
        }
        (None, None) => bail!("pass --brokers or --config"),
    };
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &brokers)
        .set("group.id", "sentinel-record")
        .set("enable.auto.commit", "false")
        // The end of a partition is learned from fetch responses (partition
        // EOF events), not from ListOffsets, which some Kafka-compatible
        // brokers (tansu) answer inaccurately.
        .set("enable.partition.eof", "true");
    for (k, v) in &props {
        cc.set(k, v);
    }
    let consumer: BaseConsumer = cc.create().context("cannot create the Kafka consumer")?;
    let timeout = Duration::from_millis(a.timeout_ms);
    let md = consumer
        .fetch_metadata(Some(&a.topic), timeout)
        .with_context(|| format!("Kafka brokers {brokers} are unreachable"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .find(|t| t.name() == a.topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        bail!("topic {:?} does not exist on {brokers}", a.topic);
    }
    // Partitions not yet read to their end (the recording stops when none is left, unless --follow).
    let mut open: std::collections::BTreeSet<i32> = partitions.iter().copied().collect();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition_offset(&a.topic, *p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    let file = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut n = 0u64;
    let mut last_progress = Instant::now();
    loop {
        if a.max.is_some_and(|m| n >= m)
            || (!a.follow && open.is_empty())
            || stop.load(std::sync::atomic::Ordering::Relaxed)
        {
            break;
        }
        let Some(r) = consumer.poll(Duration::from_millis(200)) else {
            if !a.follow && last_progress.elapsed() > timeout {
                bail!(
                    "no progress for {} ms before the end of the topic",
                    a.timeout_ms
                );
            }
            continue;
        };
        let m = match r {
            Ok(m) => m,
            Err(rdkafka::error::KafkaError::PartitionEOF(p)) => {
                open.remove(&p);
                out.flush()?;
                continue;
            }
            Err(e) => return Err(e).context("consuming"),
        };
        last_progress = Instant::now();
        let line = RecordLine::from_message(
            m.topic(),
            m.partition(),
            m.offset(),
            m.timestamp().to_millis(),
            m.key(),
            m.payload(),
        );
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    eprintln!(
        "recorded {n} messages of {} to {}",
        a.topic,
        a.out.display()
    );
    Ok(0)
}
