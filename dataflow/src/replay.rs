//! `sentinel replay`: recorded files through the whole graph.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use sentinel_models::ModelBundle;
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_schema::WafRule;
use sentinel_sinks::{
    render_rules_conf, write_atomically, JsonlFile, OutputDir, OutputKind, RulesDir,
};

use crate::file_source::file_source;
use crate::graph::SinkWriter;
use crate::package_stage::verify_packages;
use crate::{
    build_analysis, Counters, FileInput, GraphConfig, GraphServices, SinkFactory, SourceSettings,
};
use sentinel_sources::evidence_store::{EvidenceStore, EvidenceStoreConfig};

/// A replay run.
#[derive(Clone)]
pub struct ReplayConfig {
    /// Input files.
    pub inputs: Vec<FileInput>,
    /// Output directory.
    pub out: PathBuf,
    /// Timely worker threads.
    pub workers: usize,
    /// Source behaviour.
    pub source: SourceSettings,
    /// Graph configuration.
    pub graph: GraphConfig,
    /// The models: payload classifiers, behaviour model, application profile.
    pub models: Arc<ModelBundle>,
    /// Enrichment lists.
    pub enrichment: Arc<EnrichmentTables>,
    /// Where evidence packages are fetched from and how they are verified.
    pub evidence_store: EvidenceStoreConfig,
    /// Simulator, rule guard and audit log.
    pub services: GraphServices,
    /// Also write each rule record to this rules directory.
    pub rules_dir: Option<PathBuf>,
    /// Run as one process of a timely cluster (`None`: this process alone).
    pub cluster: Option<crate::ClusterConfig>,
    /// Record each worker's operator schedule and parks here (`None`: not
    /// recorded).
    pub schedule_log: Option<Arc<crate::ScheduleLog>>,
}

/// What a replay did.
#[derive(Clone, Debug)]
pub struct ReplaySummary {
    /// Wall time.
    pub elapsed: Duration,
    /// Records written per output kind.
    pub written: Vec<(OutputKind, u64)>,
    /// Files that could not be read.
    pub errors: Vec<String>,
}

/// Writes ordered batches to the output directory's JSONL files (each kind
/// on its writing worker) and, for rules, the ModSecurity `rules.conf` at
/// the end.
struct FileSinks {
    dir: OutputDir,
    rules_dir: Option<RulesDir>,
    written: Arc<Mutex<Vec<(OutputKind, u64)>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl SinkFactory for FileSinks {
    fn writer(&self, kind: OutputKind) -> SinkWriter {
        let failures = self.failures.clone();
        let written = self.written.clone();
        let fail = move |what: String| {
            if let Ok(mut f) = failures.lock() {
                f.push(what);
            }
        };
        let mut file = match self.dir.open(kind) {
            Ok(f) => Some(f),
            Err(e) => {
                fail(format!(
                    "cannot create {}: {e}",
                    self.dir.path(kind).display()
                ));
                None
            }
        };
        let rules_conf = self.dir.rules_conf();
        let rules_dir = self.rules_dir.clone().filter(|_| kind == OutputKind::Rules);
        let mut rules: Vec<WafRule> = Vec::new();
        Box::new(move |batch, done| {
            let Some(f) = file.as_mut() else {
                return;
            };
            for (_, line) in batch {
                if kind == OutputKind::Rules {
                    if let Ok(r) = serde_json::from_slice::<WafRule>(&line) {
                        if let Some(d) = &rules_dir {
                            if let Err(e) = d.write(&r) {
                                fail(e.to_string());
                            }
                        }
                        rules.push(r);
                    }
                }
                if let Err(e) = f.write_line(&line) {
                    fail(format!("cannot write {}: {e}", f.path().display()));
                    file = None;
                    return;
                }
            }
            if done {
                if let Err(e) = f.flush() {
                    fail(format!("cannot write {}: {e}", f.path().display()));
                }
                if kind == OutputKind::Rules {
                    if let Err(e) =
                        write_atomically(&rules_conf, render_rules_conf(&rules).as_bytes())
                    {
                        fail(format!("cannot write {}: {e}", rules_conf.display()));
                    }
                }
                if let Ok(mut w) = written.lock() {
                    w.push((kind, f.records()));
                }
            }
        })
    }
}

/// Runs a replay to completion. `counters` is updated live (for progress bars).
pub fn run_replay(config: ReplayConfig, counters: Arc<Counters>) -> anyhow::Result<ReplaySummary> {
    if config.workers == 0 {
        bail!("--workers must be at least 1");
    }
    config
        .graph
        .infer
        .validate()
        .map_err(anyhow::Error::msg)
        .context("invalid inference configuration")?;
    let dir = OutputDir::create(&config.out)
        .with_context(|| format!("cannot create {}", config.out.display()))?;
    // Create every output file now, so a run with no records still leaves them.
    for kind in OutputKind::ALL {
        JsonlFile::create(&dir.path(kind))
            .with_context(|| format!("cannot create {}", dir.path(kind).display()))?;
    }
    let written = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let rules_dir = match &config.rules_dir {
        Some(d) => Some(RulesDir::open(d).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let sinks = Arc::new(FileSinks {
        dir,
        rules_dir,
        written: written.clone(),
        failures: failures.clone(),
    });
    let store = EvidenceStore::new(config.evidence_store.clone())
        .map_err(anyhow::Error::msg)
        .context("invalid [evidence_store]")?;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the evidence-store runtime")?,
    );
    let start = Instant::now();
    let inputs = Arc::new(config.inputs.clone());
    let worker_counters = counters.clone();
    let worker_errors = errors.clone();
    // Outputs are written by the first process's workers (0..workers).
    let local_workers = config.workers;
    let guards = timely::execute(
        crate::timely_config(config.workers, config.cluster.as_ref()),
        move |worker| {
            let index = worker.index();
            let inputs = inputs.clone();
            let counters = worker_counters.clone();
            let errors = worker_errors.clone();
            let sinks = sinks.clone();
            let models = config.models.clone();
            let enrichment = config.enrichment.clone();
            let services = config.services.clone();
            let schedule_log = config.schedule_log.clone();
            let recording = schedule_log.as_ref().map(|log| log.start(worker));
            worker.dataflow::<u64, _, _>(|scope| {
                let done = timely::dataflow::operators::probe::Handle::new();
                let envelopes = file_source(
                    scope,
                    &inputs,
                    config.source,
                    counters.clone(),
                    errors,
                    done.clone(),
                );
                let envelopes =
                    verify_packages(envelopes, store.clone(), runtime.clone(), counters.clone());
                build_analysis(
                    envelopes,
                    config.graph,
                    models,
                    enrichment,
                    services,
                    counters,
                )
                .write_ordered(sinks.as_ref(), index, local_workers, &done);
            });
            while worker.has_dataflows() {
                worker.step_or_park(Some(Duration::from_millis(50)));
            }
            if let (Some(log), Some(recording)) = (schedule_log, recording) {
                log.finish(worker, recording);
            }
        },
    )
    .map_err(anyhow::Error::msg)
    .context("cannot start the timely workers")?;
    for r in guards.join() {
        r.map_err(anyhow::Error::msg).context("a worker failed")?;
    }
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    let mut written = written.lock().map(|w| w.clone()).unwrap_or_default();
    written.sort();
    Ok(ReplaySummary {
        elapsed: start.elapsed(),
        written,
        errors: errors.lock().map(|e| e.clone()).unwrap_or_default(),
    })
}
