//! `sentinel gatekeeper`: keep a WAF's ModSecurity rules file in step with
//! Sentinel's rules — from a rules directory or the Kafka rule topic —
//! validating with the WAF before reloading it and keeping the previous
//! file when anything fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use sentinel_operators::gatekeeper::{active_set, apply, ApplyConfig, ApplyOutcome};
use sentinel_operators::policy::PolicyConfig;
use sentinel_schema::{AuditHook, WafRule};
use sentinel_sinks::RulesDir;

use super::DataDir;

/// Arguments of `sentinel gatekeeper`.
#[derive(clap::Args, Debug)]
pub struct GatekeeperArgs {
    /// Where rules come from: a rules directory, or `kafka` (the rule topic,
    /// read from its beginning at start: use a compacted topic).
    #[arg(long, value_name = "DIR|kafka")]
    from: String,
    /// The ModSecurity rules file to maintain (include it from the WAF's configuration).
    #[arg(long, value_name = "PATH")]
    rules_file: PathBuf,
    /// Command that validates the WAF configuration with the new file
    /// (`sh -c`; `SENTINEL_RULES_FILE` names the file).
    #[arg(long, value_name = "CMD", default_value = "nginx -t")]
    validate: String,
    /// Skip validation.
    #[arg(long)]
    no_validate: bool,
    /// Command that reloads the WAF after a successful validation (`sh -c`), e.g. `nginx -s reload`.
    #[arg(long, value_name = "CMD")]
    reload: Option<String>,
    /// Apply once and exit (exit code 1 when the new rules were refused).
    #[arg(long)]
    once: bool,
    /// How often to look for new rules, ms.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Kafka bootstrap servers (with `--from kafka`).
    #[arg(long)]
    brokers: Option<String>,
    /// The rule topic (with `--from kafka`).
    #[arg(long, default_value = "events.rule_generated")]
    topic: String,
    #[command(flatten)]
    data: DataDir,
}

/// Rule records from a directory or the rule topic.
enum Feed {
    Dir(RulesDir),
    Kafka {
        consumer: Box<BaseConsumer>,
        rules: Vec<WafRule>,
    },
}

impl Feed {
    fn open(a: &GatekeeperArgs) -> anyhow::Result<Feed> {
        if a.from != "kafka" {
            return Ok(Feed::Dir(
                RulesDir::open(&PathBuf::from(&a.from)).map_err(anyhow::Error::msg)?,
            ));
        }
        let Some(brokers) = &a.brokers else {
            bail!("--from kafka needs --brokers");
        };
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", brokers)
            .set("group.id", "sentinel-gatekeeper")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true");
        let consumer: BaseConsumer = cc.create().context("cannot create the Kafka consumer")?;
        let md = consumer
            .fetch_metadata(Some(&a.topic), Duration::from_secs(10))
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
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(&a.topic, *p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        let mut feed = Feed::Kafka {
            consumer: Box::new(consumer),
            rules: Vec::new(),
        };
        // Catch up with the whole topic before the first apply.
        if let Feed::Kafka { consumer, rules } = &mut feed {
            let mut open: std::collections::BTreeSet<i32> = partitions.into_iter().collect();
            let start = Instant::now();
            while !open.is_empty() {
                if start.elapsed() > Duration::from_secs(60) {
                    bail!("the rule topic was not read to its end within 60 s");
                }
                match consumer.poll(Duration::from_millis(200)) {
                    None => {}
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                        open.remove(&p);
                    }
                    Some(Err(e)) => return Err(e).context("consuming the rule topic"),
                    Some(Ok(m)) => push_rule(rules, m.payload()),
                }
            }
        }
        Ok(feed)
    }

    /// Every rule version known so far.
    fn rules(&mut self, wait: Duration) -> anyhow::Result<Vec<WafRule>> {
        match self {
            Feed::Dir(d) => {
                std::thread::sleep(wait);
                d.load_all().map_err(anyhow::Error::msg)
            }
            Feed::Kafka { consumer, rules } => {
                let until = Instant::now() + wait;
                while Instant::now() < until {
                    match consumer.poll(Duration::from_millis(100)) {
                        None | Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {}
                        Some(Err(e)) => return Err(e).context("consuming the rule topic"),
                        Some(Ok(m)) => push_rule(rules, m.payload()),
                    }
                }
                Ok(rules.clone())
            }
        }
    }
}

fn push_rule(rules: &mut Vec<WafRule>, payload: Option<&[u8]>) {
    match payload.map(serde_json::from_slice::<WafRule>) {
        Some(Ok(r)) => rules.push(r),
        Some(Err(e)) => eprintln!("gatekeeper: skipping a record that is not a rule: {e}"),
        None => {}
    }
}

/// Runs the command.
pub fn run(a: GatekeeperArgs) -> anyhow::Result<i32> {
    let audit = crate::sandbox_open::open_audit(&a.data.data_dir)?;
    let cfg = ApplyConfig {
        rules_file: a.rules_file.clone(),
        validate: (!a.no_validate).then(|| a.validate.clone()),
        reload: a.reload.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    let mut feed = Feed::open(&a)?;
    let policy = PolicyConfig::default();
    let mut wait = Duration::ZERO;
    let mut last: Option<BTreeMap<String, u32>> = None;
    loop {
        let rules = feed.rules(wait)?;
        wait = Duration::from_millis(a.interval_ms);
        let active = active_set(rules, &policy);
        let fingerprint: BTreeMap<String, u32> = active
            .iter()
            .map(|r| (r.rule_id.clone(), r.version))
            .collect();
        if last.as_ref() != Some(&fingerprint) || a.once {
            let outcome = apply(&cfg, &active)
                .with_context(|| format!("cannot write {}", a.rules_file.display()))?;
            println!("{}", serde_json::to_string(&outcome)?);
            match &outcome {
                ApplyOutcome::Applied(rep) => {
                    audit.audit(
                        "gatekeeper",
                        "rules.applied",
                        &a.rules_file.display().to_string(),
                        serde_json::to_value(rep).unwrap_or_default(),
                    );
                    last = Some(fingerprint);
                }
                ApplyOutcome::Refused { error } => {
                    audit.audit(
                        "gatekeeper",
                        "rules.refused",
                        &a.rules_file.display().to_string(),
                        serde_json::json!({"error": error, "rules": fingerprint.len()}),
                    );
                    if a.once {
                        return Ok(1);
                    }
                    // Try again only when the rule set changes.
                    last = Some(fingerprint);
                }
                ApplyOutcome::Unchanged { .. } => last = Some(fingerprint),
            }
        }
        if a.once || stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
    }
}
