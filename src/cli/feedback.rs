//! `sentinel feedback`: analyst labels and false-positive reports, from
//! files into the feedback store or onto `events.feedback`.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use sentinel_models::learning::{feedback_samples, FeedbackStore};
use sentinel_schema::Feedback;
use sentinel_sources::decode::decode_feedback;

use super::DataDir;

/// Arguments of `sentinel feedback`.
#[derive(clap::Args, Debug)]
pub struct FeedbackArgs {
    #[command(subcommand)]
    command: FeedbackCommand,
}

#[derive(clap::Subcommand, Debug)]
enum FeedbackCommand {
    /// Add feedback records (JSON Lines of the feedback schema) to the
    /// store of the data directory, or publish them to the feedback topic
    /// of a running service with --brokers. Every line is checked first:
    /// one bad line rejects the file, naming the line and the reason.
    ///
    /// Example: sentinel feedback add labels.jsonl --brokers localhost:9092
    Add {
        #[command(flatten)]
        data: DataDir,
        /// The file (`-` for standard input).
        file: PathBuf,
        /// Publish to Kafka instead of writing the store.
        #[arg(long)]
        brokers: Option<String>,
        /// Topic to publish to.
        #[arg(long, default_value = "events.feedback")]
        topic: String,
    },
    /// Summarize the feedback store: records by kind and label.
    ///
    /// Example: sentinel feedback list
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

/// Reads and checks every line of `file`.
fn read_records(file: &PathBuf) -> anyhow::Result<Vec<(Vec<u8>, Feedback)>> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut out = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let f =
            decode_feedback(&line).with_context(|| format!("{} line {}", file.display(), i + 1))?;
        out.push((line, f));
    }
    Ok(out)
}

/// Runs the command.
pub fn run(a: FeedbackArgs) -> anyhow::Result<i32> {
    match a.command {
        FeedbackCommand::Add {
            data,
            file,
            brokers,
            topic,
        } => {
            let records = read_records(&file)?;
            match brokers {
                None => {
                    let store = FeedbackStore::open(&data.data_dir);
                    let items: Vec<Feedback> = records.into_iter().map(|(_, f)| f).collect();
                    let added = store.append(&items)?;
                    println!(
                        "{added} new of {} records in {}",
                        items.len(),
                        store.path().display()
                    );
                }
                Some(brokers) => {
                    let producer: BaseProducer = rdkafka::ClientConfig::new()
                        .set("bootstrap.servers", &brokers)
                        .set("enable.idempotence", "true")
                        .create()
                        .context("cannot create the producer")?;
                    for (bytes, f) in &records {
                        producer
                            .send(BaseRecord::to(&topic).key(&f.evidence_id).payload(bytes))
                            .map_err(|(e, _)| e)
                            .context("cannot queue a feedback record")?;
                        producer.poll(Duration::ZERO);
                    }
                    producer
                        .flush(Duration::from_secs(30))
                        .with_context(|| format!("cannot deliver to {topic} on {brokers}"))?;
                    println!("published {} records to {topic}", records.len());
                }
            }
            Ok(0)
        }
        FeedbackCommand::List { data } => {
            let store = FeedbackStore::open(&data.data_dir);
            let items = store.load()?;
            let mut counts: std::collections::BTreeMap<(String, String), usize> =
                Default::default();
            for f in &items {
                let kind = serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                *counts.entry((kind, f.label.as_str().into())).or_default() += 1;
            }
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
            t.set_header(vec!["kind", "label", "records"]);
            for ((k, l), n) in counts {
                t.add_row(vec![k, l, n.to_string()]);
            }
            println!("{t}");
            println!(
                "{} records, {} with a payload (trainable), in {}",
                items.len(),
                feedback_samples(&items).len(),
                store.path().display()
            );
            Ok(0)
        }
    }
}
