//! `sentinel run`: the long-running service from Kafka to Kafka.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use timely::dataflow::operators::probe::Handle as ProbeHandle;

use sentinel_models::ModelBundle;
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_schema::SCHEMA_VERSION;
use sentinel_sinks::kafka::{KafkaProducer, ProducerSettings};
use sentinel_sources::kafka::check_reachable;

use crate::kafka_source::{kafka_source, ProcessClock};
use crate::package_stage::verify_packages;
use crate::{
    build_analysis, spread_events, Counters, GraphConfig, GraphServices, KafkaSourceSettings,
    OutputTopics,
};
use sentinel_sources::evidence_store::{EvidenceStore, EvidenceStoreConfig};

/// A service run.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Timely worker threads in this process.
    pub workers: usize,
    /// The Kafka source.
    pub source: KafkaSourceSettings,
    /// The producer.
    pub producer: ProducerSettings,
    /// Output topics.
    pub topics: OutputTopics,
    /// Graph configuration.
    pub graph: GraphConfig,
    /// The models: payload classifiers, behaviour model, application profile.
    pub models: Arc<ModelBundle>,
    /// Enrichment lists.
    pub enrichment: Arc<EnrichmentTables>,
    /// Set to drain and stop (SIGTERM).
    pub shutdown: Arc<AtomicBool>,
    /// How long to wait for the brokers at start.
    pub connect_timeout: Duration,
    /// Where evidence packages are fetched from and how they are verified.
    pub evidence_store: EvidenceStoreConfig,
    /// Simulator, rule guard and audit log.
    pub services: GraphServices,
    /// Run as one process of a timely cluster (`None`: this process alone).
    pub cluster: Option<crate::ClusterConfig>,
}

/// How a service run ended.
#[derive(Clone, Debug, Default)]
pub struct ServiceReport {
    /// Wall time.
    pub elapsed: Duration,
    /// Offsets committed at the end, per worker: (partition, next offset).
    pub committed: Vec<(i32, i64)>,
}

/// Runs the service until `shutdown` is set and the graph has drained.
/// Fails fast when the brokers are unreachable or a topic is missing, and
/// stops without committing when a delivery fails (at-least-once: a restart
/// redelivers).
pub fn run_service(
    config: ServiceConfig,
    counters: Arc<Counters>,
) -> anyhow::Result<ServiceReport> {
    if config.workers == 0 {
        bail!("workers must be at least 1");
    }
    let mut topics = vec![config.source.topic.as_str()];
    topics.extend(config.topics.all());
    check_reachable(&config.source.client, &topics, config.connect_timeout)?;
    let store = EvidenceStore::new(config.evidence_store.clone())
        .map_err(anyhow::Error::msg)
        .context("invalid [evidence_store]")?;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the evidence-store runtime")?,
    );
    let fatal: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let committed = Arc::new(Mutex::new(Vec::new()));
    let process_clock = Arc::new(ProcessClock::default());
    let start = Instant::now();
    let worker_fatal = fatal.clone();
    let worker_committed = committed.clone();
    let guards = timely::execute(
        crate::timely_config(config.workers, config.cluster.as_ref()),
        move |worker| {
            let producer = match KafkaProducer::new(&config.producer, SCHEMA_VERSION) {
                Ok(p) => Rc::new(RefCell::new(p)),
                Err(e) => return Err(format!("cannot create the Kafka producer: {e}")),
            };
            let acked = ProbeHandle::new();
            let built = worker.dataflow::<u64, _, _>(|scope| {
                let (envelopes, state) = kafka_source(
                    scope,
                    config.source.clone(),
                    counters.clone(),
                    acked.clone(),
                    config.shutdown.clone(),
                    process_clock.clone(),
                )?;
                if config.cluster.is_some() {
                    crate::kafka_source::share_process_clock(
                        scope,
                        process_clock.clone(),
                        config.shutdown.clone(),
                    );
                }
                let envelopes =
                    verify_packages(envelopes, store.clone(), runtime.clone(), counters.clone());
                build_analysis(
                    spread_events(envelopes),
                    config.graph,
                    config.models.clone(),
                    config.enrichment.clone(),
                    config.services.clone(),
                    counters.clone(),
                )
                .write_kafka(
                    &config.topics,
                    producer.clone(),
                    &acked,
                    worker_fatal.clone(),
                );
                Ok::<_, rdkafka::error::KafkaError>(state)
            });
            let state = built.map_err(|e| format!("cannot create the Kafka consumer: {e}"))?;
            while worker.has_dataflows() {
                if let Some(f) = worker_fatal.lock().ok().and_then(|f| f.clone()) {
                    return Err(f);
                }
                worker.step_or_park(Some(Duration::from_millis(10)));
            }
            // Drained: every output is delivered. Flush, then commit.
            producer
                .borrow()
                .flush(Duration::from_secs(30))
                .map_err(|e| format!("flushing the producer: {e}"))?;
            let mut st = state.borrow_mut();
            st.final_commit()
                .map_err(|e| format!("final offset commit failed: {e}"))?;
            if let Ok(mut c) = worker_committed.lock() {
                c.extend(st.stored.iter().map(|(p, o)| (*p, *o)));
            }
            Ok(())
        },
    )
    .map_err(anyhow::Error::msg)
    .context("cannot start the timely workers")?;
    for r in guards.join() {
        r.map_err(anyhow::Error::msg)?.map_err(anyhow::Error::msg)?;
    }
    let mut committed = committed.lock().map(|c| c.clone()).unwrap_or_default();
    committed.sort();
    Ok(ServiceReport {
        elapsed: start.elapsed(),
        committed,
    })
}
