//! `sentinel run`: the long-running Kafka service.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use sentinel_dataflow::{
    run_service, Counters, GraphConfig, GraphServices, KafkaSourceSettings, ServiceConfig,
};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::validate::ValidationLimits;
use sentinel_sinks::kafka::ProducerSettings;
use sentinel_sources::kafka::ClientSettings;

use crate::config::SentinelConfig;

/// Arguments of `sentinel run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Configuration file (TOML; environment variables SENTINEL_<SECTION>__<KEY> override it).
    #[arg(long, short = 'c', default_value = "sentinel.toml")]
    config: PathBuf,
    /// Worker threads (overrides [pipeline] workers).
    #[arg(long, short = 'w')]
    workers: Option<usize>,
    #[command(flatten)]
    cluster: super::ClusterArgs,
}

/// Runs the command: consumes until SIGTERM/SIGINT, then drains, flushes and commits.
pub fn run(a: RunArgs) -> anyhow::Result<i32> {
    let cfg = SentinelConfig::load(&a.config)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, shutdown.clone())
            .context("cannot install signal handlers")?;
    }
    let enrichment =
        EnrichmentTables::load(&cfg.enrichment).context("cannot load enrichment lists")?;
    let client = ClientSettings {
        brokers: cfg.kafka.brokers.clone(),
        properties: cfg.kafka.properties.clone(),
    };
    let workers = a.workers.unwrap_or(cfg.pipeline.workers);
    let models = crate::models_open::open_models(&cfg.data_dir, &cfg.models, false)?;
    eprintln!("sentinel: models: {}", models.describe());
    let audit = crate::sandbox_open::open_audit(&cfg.data_dir)?;
    let simulator = if cfg.simulate.enabled {
        Some(crate::sandbox_open::open_simulator(
            &cfg.data_dir,
            &cfg.sandbox,
            None,
            audit.clone(),
            true,
        )?)
    } else {
        None
    };
    let rule_guard = Some(crate::sandbox_open::open_rule_guard(&cfg.rule_guard)?);
    let model_watch = Arc::new(sentinel_models::bundle::ModelWatch::new(models.clone()));
    if cfg.pipeline.model_reload_ms > 0 {
        crate::models_open::spawn_model_reloader(
            cfg.data_dir.clone(),
            cfg.models.clone(),
            model_watch.clone(),
            Duration::from_millis(cfg.pipeline.model_reload_ms),
            shutdown.clone(),
            audit.clone(),
        )?;
    }
    let service = ServiceConfig {
        workers,
        source: KafkaSourceSettings {
            client,
            group_id: cfg.kafka.group_id.clone(),
            instance_id_prefix: (cfg.kafka.static_membership && a.cluster.processes > 1)
                .then(|| cfg.kafka.group_id.clone()),
            topic: cfg.topics.evidence_created.clone(),
            bucket_ms: cfg.pipeline.bucket_ms.max(1),
            allowed_lateness_ms: cfg.pipeline.allowed_lateness_ms,
            idle_timeout: Duration::from_millis(cfg.pipeline.idle_timeout_ms),
            max_in_flight: cfg.pipeline.max_in_flight,
            batch: cfg.pipeline.poll_batch.max(1),
            validation: ValidationLimits {
                max_body_bytes: cfg.pipeline.max_body_bytes,
                ..ValidationLimits::default()
            },
        },
        producer: ProducerSettings {
            brokers: cfg.kafka.brokers.clone(),
            properties: cfg.kafka.properties.clone(),
        },
        topics: cfg.topics.outputs.clone(),
        graph: GraphConfig {
            window: cfg.window,
            infer: cfg.inference,
            policy: cfg.policy,
            simulate: cfg.simulate,
            bucket_ms: cfg.pipeline.bucket_ms.max(1),
            ..GraphConfig::default()
        },
        models,
        enrichment: Arc::new(enrichment),
        shutdown: shutdown.clone(),
        connect_timeout: Duration::from_millis(cfg.kafka.connect_timeout_ms),
        evidence_store: cfg.evidence_store.clone(),
        services: GraphServices {
            simulator,
            rule_guard,
            audit,
            model_watch: Some(model_watch),
            model_schedule: None,
        },
        cluster: a.cluster.config()?,
    };
    anyhow::ensure!(
        !cfg.learning.enabled || cfg.pipeline.model_reload_ms > 0,
        "[learning] enabled needs [pipeline] model_reload_ms > 0: the service picks up the models the learner promotes through the registry watch"
    );
    let counters = Arc::new(Counters::default());
    // The learner runs once per cluster, on process 0.
    let learner = if cfg.learning.enabled && a.cluster.process == 0 {
        let intake = crate::learner::FeedbackIntake::new(
            &ClientSettings {
                brokers: cfg.kafka.brokers.clone(),
                properties: cfg.kafka.properties.clone(),
            },
            &format!("{}-learner", cfg.kafka.group_id),
            &cfg.topics.feedback,
            &cfg.topics.outputs.dead_letter,
        )?;
        eprintln!(
            "sentinel: learning from {} (retrain after {} labels or PSI > {}; canary {}% for {} records)",
            cfg.topics.feedback,
            cfg.learning.retrain.after_labels,
            cfg.learning.retrain.drift_psi,
            cfg.learning.canary.percent,
            cfg.learning.canary.min_records
        );
        Some(
            crate::learner::Learner {
                data_dir: cfg.data_dir.clone(),
                config: cfg.learning.clone(),
                counters: counters.clone(),
                audit: service.services.audit.clone(),
                intake: Some(intake),
                stop: shutdown.clone(),
            }
            .spawn()?,
        )
    } else {
        None
    };
    eprintln!(
        "sentinel: consuming {} from {} as group {} with {workers} worker{}",
        cfg.topics.evidence_created,
        cfg.kafka.brokers,
        cfg.kafka.group_id,
        if workers == 1 { "" } else { "s" }
    );
    if let Some(listen) = &cfg.api.metrics_listen {
        crate::serve::pipeline_metrics::spawn(listen, counters.clone())?;
    }
    let report = run_service(service, counters.clone())?;
    if let Some(l) = learner {
        let _ = l.join();
    }
    eprintln!(
        "sentinel: stopped after {:.1} s: {} records in, {} verdicts, {} dead letters; committed offsets {:?}",
        report.elapsed.as_secs_f64(),
        counters.records_in.load(Ordering::Relaxed),
        counters.verdicts.load(Ordering::Relaxed),
        counters.dead_total(),
        report.committed
    );
    Ok(0)
}
