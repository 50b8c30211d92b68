//! `sentinel replay`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};

use sentinel_dataflow::pacing::Speed;
use sentinel_dataflow::{
    run_replay, Counters, FileInput, GraphConfig, GraphServices, ReplayConfig, SourceSettings,
};
use sentinel_models::bundle::PayloadSource;
use sentinel_operators::aggregate_window::{AggregateMode, AggregateWindowConfig, FloodThreshold};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::InferConfig;
use sentinel_operators::window::WindowConfig;
use sentinel_sources::framing::FrameLimits;
use sentinel_sources::{FileSource, InputFormat, SourceOptions, SyntheticClock};

use crate::progress::Progress;
use crate::summary::print_replay_summary;

/// `--format` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// Detect from the content.
    Auto,
    /// Evidence JSONL (Sentinel's schema).
    Jsonl,
    /// HAR 1.2.
    Har,
    /// ModSecurity v3 JSON audit log.
    Modsec,
    /// Raw HTTP/1.1 requests back to back.
    RawHttp,
    /// nginx `combined` access log.
    Nginx,
    /// A Kafka recording made by `sentinel record`.
    Record,
}

impl FormatArg {
    /// The format, or `None` for auto-detection.
    pub fn format(self) -> Option<InputFormat> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Jsonl => Some(InputFormat::Jsonl),
            FormatArg::Har => Some(InputFormat::Har),
            FormatArg::Modsec => Some(InputFormat::Modsec),
            FormatArg::RawHttp => Some(InputFormat::RawHttp),
            FormatArg::Nginx => Some(InputFormat::Nginx),
            FormatArg::Record => Some(InputFormat::Record),
        }
    }
}

/// Arguments of `sentinel replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Recorded evidence files (gzip accepted).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Input format of every file.
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// Output directory for verdicts, rules, evidence_ready and dead letters.
    #[arg(long, default_value = "sentinel-out")]
    out: PathBuf,
    /// Worker threads (results are identical for any count).
    #[arg(long, short = 'w', default_value_t = default_workers())]
    workers: usize,
    /// Replay speed: max, realtime, or a factor like 10x (event time is paced against wall time).
    #[arg(long, default_value = "max")]
    speed: String,
    /// Behaviour window length, ms of event time.
    #[arg(long, default_value_t = 60_000)]
    window_ms: i64,
    /// Out-of-orderness tolerated before an event counts as late, ms.
    #[arg(long, default_value_t = 5_000)]
    allowed_lateness_ms: i64,
    /// Timestamp granularity of the graph, ms of event time.
    #[arg(long, default_value_t = 1_000)]
    bucket_ms: u64,
    /// Most records read ahead of the graph's outputs (those the graph
    /// could finish but has not) before the reader waits for it: bounds
    /// memory on large files. 0 reads without a bound.
    #[arg(long, default_value_t = sentinel_dataflow::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Distributed flood: a /24 (IPv4) or /64 (IPv6) that sends at least this
    /// many requests in the window … (0 disables)
    #[arg(long, default_value_t = InferConfig::default().flood_requests)]
    flood_requests: u32,
    /// … from at least this many addresses is a distributed flood (anomaly 1).
    #[arg(long, default_value_t = InferConfig::default().flood_clients)]
    flood_clients: u32,
    /// Flood threshold of an autonomous system, REQUESTS:CLIENTS in the
    /// aggregate window (needs --asn; 0:0 disables, the default).
    #[arg(long, value_name = "REQUESTS:CLIENTS", value_parser = parse_flood, default_value = "0:0")]
    asn_flood: FloodThreshold,
    /// Flood threshold of a User-Agent fingerprint, REQUESTS:CLIENTS (0:0 disables, the default).
    #[arg(long, value_name = "REQUESTS:CLIENTS", value_parser = parse_flood, default_value = "0:0")]
    user_agent_flood: FloodThreshold,
    /// Flood threshold of a session used from many clients, REQUESTS:CLIENTS (0:0 disables, the default).
    #[arg(long, value_name = "REQUESTS:CLIENTS", value_parser = parse_flood, default_value = "0:0")]
    session_flood: FloodThreshold,
    /// Shape of the aggregate (prefix, AS, User-Agent, session) windows.
    #[arg(long, value_enum, default_value = "sliding")]
    aggregate_mode: AggregateModeArg,
    /// Length of the aggregate windows, ms of event time.
    #[arg(long, default_value_t = AggregateWindowConfig::default().window_ms)]
    aggregate_window_ms: i64,
    /// Granularity of a sliding aggregate window's end, ms (the bucket for an exact sliding window).
    #[arg(long, default_value_t = AggregateWindowConfig::default().slide_ms)]
    aggregate_slide_ms: i64,
    /// Weight of the payload score in the combined score.
    #[arg(long, default_value_t = 0.6)]
    payload_weight: f32,
    /// Weight of the behaviour score in the combined score.
    #[arg(long, default_value_t = 0.4)]
    behaviour_weight: f32,
    /// Combined score from which a verdict asks for simulation.
    #[arg(long, default_value_t = 0.75)]
    simulate_threshold: f32,
    /// Combined score from which a verdict is tagged.
    #[arg(long, default_value_t = 0.5)]
    tag_threshold: f32,
    /// Behaviour or profile anomaly from which a verdict is tagged on its own.
    #[arg(long, default_value_t = 0.9)]
    anomaly_tag_threshold: f32,
    /// Attach explanations (exact Shapley values, narrative) to verdicts:
    /// `alerts` (those not benign; the value when the flag is bare) or
    /// `all`. `sentinel explain` renders them as HTML.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "alerts", default_value = "off")]
    explain: ExplainArg,
    /// Data directory holding the models (default: the config's data_dir, else ./sentinel-data).
    #[arg(long, env = "SENTINEL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Payload classifier: the registry's models (default) or the rules alone.
    #[arg(long, value_enum)]
    payload_model: Option<PayloadModelArg>,
    /// Spacing of synthetic event times for formats without timestamps (raw HTTP), ms.
    #[arg(long, default_value_t = 10)]
    synthetic_interval_ms: i64,
    /// Largest record accepted; bigger ones become dead letters.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_record_bytes: usize,
    /// Geo list: `CIDR,CC` lines.
    #[arg(long)]
    geo: Option<PathBuf>,
    /// ASN list: `CIDR,ASN[,name]` lines.
    #[arg(long)]
    asn: Option<PathBuf>,
    /// Reputation list as NAME=FILE with `CIDR[,label]` lines (repeatable).
    #[arg(long, value_name = "NAME=FILE")]
    reputation: Vec<String>,
    /// Extra benign values (a line file; repeatable) every rule candidate is
    /// checked against, besides Sentinel's generated benign corpus.
    #[arg(long, value_name = "FILE")]
    benign_corpus: Vec<PathBuf>,
    /// Do not check rule candidates against benign values.
    #[arg(long)]
    no_rule_guard: bool,
    /// Also write every rule record as a file in this directory (what
    /// `sentinel gatekeeper --from DIR` and `sentinel rules` read).
    #[arg(long, value_name = "DIR")]
    rules_dir: Option<PathBuf>,
    /// Do not replay `simulate` verdicts' payloads in the threat twins.
    #[arg(long)]
    no_simulate: bool,
    /// A user twin module (`.wasm` or `.wat`, sandbox ABI v1) instead of the built-in twins.
    #[arg(long, value_name = "FILE")]
    twin_module: Option<PathBuf>,
    /// Record each simulation's wall time in `sim_results.jsonl` (the file
    /// is then no longer byte-identical from run to run).
    #[arg(long)]
    sim_timing: bool,
    /// Replay the model switches of a live run: `audit` (the `model.update`
    /// records of the data directory's audit log) or a JSON Lines file of
    /// `{"timestamp": T, "active": VERSION, "canary": null}`. Each record is
    /// then scored by the models the live run used for its timestamp.
    #[arg(long, value_name = "audit|FILE")]
    model_schedule: Option<String>,
    #[command(flatten)]
    cluster: super::ClusterArgs,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Configuration file to take [evidence_store] (object stores, trusted
    /// signing keys), [enrichment], [sandbox] and [simulate] from;
    /// --geo/--asn/--reputation add to it.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
}

/// `--explain` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainArg {
    /// No explanations.
    Off,
    /// Verdicts that are not benign.
    Alerts,
    /// Every verdict.
    All,
}

impl ExplainArg {
    /// The graph setting.
    pub fn mode(self) -> sentinel_operators::infer::ExplainMode {
        use sentinel_operators::infer::ExplainMode;
        match self {
            ExplainArg::Off => ExplainMode::Off,
            ExplainArg::Alerts => ExplainMode::Alerts,
            ExplainArg::All => ExplainMode::All,
        }
    }
}

/// `--payload-model` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadModelArg {
    /// The registry's active model and canary.
    Registry,
    /// The signature classifier only.
    Rules,
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Runs the command.
pub fn run(a: ReplayArgs) -> anyhow::Result<i32> {
    let speed: Speed = a.speed.parse()?;
    let limits = FrameLimits {
        max_record_bytes: a.max_record_bytes,
        ..FrameLimits::default()
    };
    let options = SourceOptions {
        format: a.format.format(),
        limits,
        clock: SyntheticClock {
            interval_ms: a.synthetic_interval_ms,
            ..SyntheticClock::default()
        },
    };
    // Open every file once up front: unreadable files and unknown formats fail fast.
    let mut inputs = Vec::new();
    let mut total_bytes = 0;
    for path in &a.files {
        let src = FileSource::open(path, options)?;
        total_bytes += src.file_len();
        inputs.push(FileInput {
            path: path.clone(),
            name: path.display().to_string(),
            options: SourceOptions {
                format: Some(src.format()),
                ..options
            },
        });
    }
    let file_config = match &a.config {
        Some(p) => Some(crate::config::SentinelConfig::load(p)?),
        None => None,
    };
    let mut enrichment = file_config
        .as_ref()
        .map(|c| c.enrichment.clone())
        .unwrap_or_default();
    if a.geo.is_some() {
        enrichment.geo = a.geo.clone();
    }
    if a.asn.is_some() {
        enrichment.asn = a.asn.clone();
    }
    for r in &a.reputation {
        let Some((name, file)) = r.split_once('=') else {
            bail!("--reputation takes NAME=FILE, got {r:?}");
        };
        enrichment
            .reputation
            .insert(name.to_string(), PathBuf::from(file));
    }
    let tables = EnrichmentTables::load(&enrichment).context("cannot load enrichment lists")?;
    let infer = InferConfig {
        payload_weight: a.payload_weight,
        behaviour_weight: a.behaviour_weight,
        simulate_threshold: a.simulate_threshold,
        tag_threshold: a.tag_threshold,
        anomaly_tag_threshold: a.anomaly_tag_threshold,
        explain: a.explain.mode(),
        flood_requests: a.flood_requests,
        flood_clients: a.flood_clients,
        asn_flood: a.asn_flood,
        user_agent_flood: a.user_agent_flood,
        session_flood: a.session_flood,
    };
    infer.validate().map_err(anyhow::Error::msg)?;
    let data_dir = a
        .data_dir
        .clone()
        .or_else(|| file_config.as_ref().map(|c| c.data_dir.clone()))
        .unwrap_or_else(|| PathBuf::from("sentinel-data"));
    let mut models_config = file_config
        .as_ref()
        .map(|c| c.models.clone())
        .unwrap_or_default();
    match a.payload_model {
        Some(PayloadModelArg::Rules) => models_config.payload = PayloadSource::Rules,
        Some(PayloadModelArg::Registry) => models_config.payload = PayloadSource::Registry,
        None => {}
    }
    let models = crate::models_open::open_models(&data_dir, &models_config, a.quiet)?;
    if !a.quiet {
        eprintln!("sentinel: models: {}", models.describe());
    }
    let (model_watch, model_schedule) = match &a.model_schedule {
        Some(spec) => {
            let switches = super::model_schedule::load_switches(spec, &data_dir)?;
            if !a.quiet {
                eprintln!(
                    "sentinel: replaying {} model switch(es) from {spec}",
                    switches.len()
                );
            }
            let (w, s) =
                super::model_schedule::prepare(&switches, &data_dir, &models, a.bucket_ms.max(1))?;
            (Some(w), Some(s))
        }
        None => (None, None),
    };
    let mut simulate = file_config.as_ref().map(|c| c.simulate).unwrap_or_default();
    simulate.enabled &= !a.no_simulate;
    simulate.record_timing |= a.sim_timing;
    let audit = crate::sandbox_open::open_audit(&data_dir)?;
    let simulator = if simulate.enabled {
        let sandbox_config = file_config
            .as_ref()
            .map(|c| c.sandbox.clone())
            .unwrap_or_default();
        Some(crate::sandbox_open::open_simulator(
            &data_dir,
            &sandbox_config,
            a.twin_module.as_deref(),
            audit.clone(),
            a.quiet,
        )?)
    } else {
        None
    };
    let mut guard_config = file_config
        .as_ref()
        .map(|c| c.rule_guard.clone())
        .unwrap_or_default();
    guard_config.files.extend(a.benign_corpus.iter().cloned());
    let rule_guard = if a.no_rule_guard {
        None
    } else {
        Some(crate::sandbox_open::open_rule_guard(&guard_config)?)
    };
    let config = ReplayConfig {
        inputs,
        out: a.out.clone(),
        workers: a.workers,
        source: SourceSettings {
            bucket_ms: a.bucket_ms.max(1),
            allowed_lateness_ms: a.allowed_lateness_ms,
            speed,
            max_in_flight: a.max_in_flight,
            ..SourceSettings::default()
        },
        graph: GraphConfig {
            window: WindowConfig {
                window_ms: a.window_ms,
                aggregates: AggregateWindowConfig {
                    mode: match a.aggregate_mode {
                        AggregateModeArg::Sliding => AggregateMode::Sliding,
                        AggregateModeArg::Tumbling => AggregateMode::Tumbling,
                    },
                    window_ms: a.aggregate_window_ms,
                    slide_ms: a.aggregate_slide_ms,
                },
                ..WindowConfig::default()
            },
            infer,
            simulate,
            bucket_ms: a.bucket_ms.max(1),
            ..GraphConfig::default()
        },
        models,
        enrichment: Arc::new(tables),
        evidence_store: file_config.map(|c| c.evidence_store).unwrap_or_default(),
        services: GraphServices {
            simulator,
            rule_guard,
            audit,
            // One set of models from start to end, unless a live run's
            // switches are replayed.
            model_watch,
            model_schedule,
        },
        rules_dir: a.rules_dir.clone(),
        cluster: a.cluster.config()?,
        schedule_log: None,
    };
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(counters.clone(), total_bytes, a.quiet);
    let result = run_replay(config, counters.clone());
    progress.finish();
    let summary = result?;
    print_replay_summary(&summary, &counters, &a.out, a.workers)
        .context("cannot write the summary")?;
    if !summary.errors.is_empty() {
        for e in &summary.errors {
            eprintln!("error: {e}");
        }
        return Ok(1);
    }
    Ok(0)
}

/// The shape of the aggregate windows (`--aggregate-mode`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AggregateModeArg {
    /// A window ending at every bucket.
    Sliding,
    /// Aligned, non-overlapping windows.
    Tumbling,
}

/// Parses a flood threshold `REQUESTS:CLIENTS`.
fn parse_flood(s: &str) -> Result<FloodThreshold, String> {
    let (r, c) = s
        .split_once(':')
        .ok_or_else(|| format!("expected REQUESTS:CLIENTS, got {s:?}"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|e| format!("{v:?} is not a count: {e}"))
    };
    Ok(FloodThreshold {
        requests: n(r)?,
        clients: n(c)?,
    })
}

#[cfg(test)]
mod flood_arg_tests {
    use super::*;

    #[test]
    fn flood_thresholds_parse() {
        assert_eq!(
            parse_flood("30:5"),
            Ok(FloodThreshold {
                requests: 30,
                clients: 5
            })
        );
        assert!(parse_flood("30").is_err());
        assert!(parse_flood("x:5").is_err());
        assert!(parse_flood("-1:5").is_err());
    }
}
