//! Command-line interface.

mod audit;
mod classify;
pub mod dataset;
mod eval;
mod explain;
mod features;
mod feedback;
mod gatekeeper;
mod model_schedule;
mod models;
mod profile;
mod publish;
mod record;
mod replay;
mod rules;
mod run;
mod simulate;
pub mod train;

use clap::{Parser, Subcommand};

/// Sentinel: a streaming threat-analysis engine.
///
/// WAF logs and HTTP evidence go through a timely dataflow graph that
/// decodes, extracts payloads, scores them with rules and models, watches
/// client behaviour in event-time windows, and emits verdicts and
/// ModSecurity rules.
#[derive(Parser, Debug)]
#[command(name = "sentinel", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay recorded evidence files through the whole graph.
    ///
    /// Reads evidence JSONL, HAR 1.2, ModSecurity JSON audit logs, raw HTTP
    /// request streams or nginx `combined` logs (gzip accepted), and writes
    /// verdicts.jsonl, rules.jsonl, rules.conf, evidence_ready.jsonl and
    /// dead_letters.jsonl to --out. Output is identical for any --workers.
    ///
    /// Example: sentinel replay examples/sample.jsonl --out out/ --workers 2
    Replay(Box<replay::ReplayArgs>),
    /// Classify payloads, one per line, into sqli/xss/cmdi/path_traversal/xxe/benign.
    ///
    /// Writes one JSON object per input line, in input order:
    /// {"label": "...", "score": 0.97, "class_scores": {...}, "signatures": [...]}.
    ///
    /// Example: echo "1' OR '1'='1" | sentinel classify
    Classify(classify::ClassifyArgs),
    /// Print the named feature vector of each payload (a debugging aid).
    ///
    /// Example: echo "<script>alert(1)</script>" | sentinel features
    Features(features::FeaturesArgs),
    /// Run the service: consume evidence from Kafka, produce verdicts, rules,
    /// evidence-ready records and dead letters to Kafka.
    ///
    /// Delivery is at-least-once: input offsets are committed only after
    /// every output derived from them is acknowledged by the broker. SIGTERM
    /// drains the graph, flushes and commits before exiting.
    ///
    /// Example: sentinel run --config examples/sentinel.toml
    Run(run::RunArgs),
    /// Capture a Kafka topic to a file that `sentinel replay` reads back,
    /// keeping each message's partition, offset and event time.
    ///
    /// Example: sentinel record --brokers 127.0.0.1:9092 --topic events.evidence_created --out evidence.rec
    Record(record::RecordArgs),
    /// Send recorded evidence (any format `replay` reads) to a Kafka topic,
    /// one EvidenceEvent JSON message per record, keyed by client.
    ///
    /// Example: sentinel publish examples/sample.jsonl --brokers 127.0.0.1:9092
    Publish(publish::PublishArgs),
    /// Train a payload model: the generated corpus plus --corpus files or a
    /// --dataset, k-fold cross-validation, gating, registration.
    ///
    /// Exit code 3 when the model fails gating (it is registered but cannot
    /// be promoted without --force).
    ///
    /// Example: sentinel train --corpus ../shared/data/httpparams/payload_train.csv --folds 5
    Train(train::TrainArgs),
    /// The model registry: init, list, promote (canary or active), rollback.
    ///
    /// Example: sentinel models promote hybrid-3f2a9c1d8e7b --percent 10
    Models(models::ModelsArgs),
    /// Evaluate a model on labelled payload files: per-class precision,
    /// recall, F1, FPR, confusion matrix, TPR at FPR 0.1 % / 0.5 % / 1 %.
    ///
    /// Example: sentinel eval --data ../shared/data/httpparams/payload_train.csv
    Eval(eval::EvalArgs),
    /// Versioned datasets of labelled samples: import, add (incl.
    /// false-positive reports), stats, log, export.
    ///
    /// Example: sentinel dataset import ../shared/data/mgm/nuclei
    Dataset(dataset::DatasetArgs),
    /// Learn the protected application's normal traffic: per endpoint and
    /// parameter, value types, lengths, character classes and closed value
    /// sets. Unusual values on known endpoints then raise the verdict's
    /// profile score.
    ///
    /// Example: sentinel profile learn ../shared/data/csic2010/normalTrafficTraining.txt.gz
    Profile(profile::ProfileArgs),
    /// Explain a payload score or a verdict: exact Shapley values of the
    /// model in use, the behaviour score's Shapley values, a narrative, and
    /// a self-contained HTML report (--html).
    ///
    /// Example: sentinel explain --events examples/sample.jsonl --evidence-id ev-0042 --html report.html
    Explain(explain::ExplainArgs),
    /// Replay payloads in the threat twins (WebAssembly sandboxes): does the
    /// payload really exploit a query, page, command line, file path or XML
    /// parser built from it? Prints the context that broke and the evidence.
    ///
    /// Example: sentinel simulate --class sqli "1' OR '1'='1"
    Simulate(simulate::SimulateArgs),
    /// The sandbox: run payloads in a user twin module, check a module.
    ///
    /// Example: sentinel sandbox run --module app.wasm --class sqli "1' OR '1'='1"
    Sandbox(simulate::SandboxArgs),
    /// The hash-chained audit log: verify the chain, show the last records.
    ///
    /// Example: sentinel audit verify
    Audit(audit::AuditArgs),
    /// Analyst feedback: add labels and false-positive reports (to the store
    /// or to the feedback topic of a running service), list the store.
    ///
    /// Example: sentinel feedback add labels.jsonl --brokers localhost:9092
    Feedback(feedback::FeedbackArgs),
    /// Review generated rules: list, show, approve, reject, roll back.
    ///
    /// Example: sentinel rules list --dir sentinel-rules --status proposed
    Rules(rules::RulesArgs),
    /// Keep a WAF's ModSecurity rules file in step with Sentinel's rules
    /// (from a rules directory or the Kafka rule topic): write atomically,
    /// validate with the WAF, reload, keep the previous file on failure.
    ///
    /// Example: sentinel gatekeeper --from sentinel-rules --rules-file /etc/nginx/sentinel.conf --reload "nginx -s reload"
    Gatekeeper(gatekeeper::GatekeeperArgs),
    /// The HTTP control plane: analyze, predict, explain, datasets,
    /// training jobs, model promotion, sandbox panic button, audit log,
    /// Prometheus metrics; bearer tokens with roles, TLS and mTLS.
    ///
    /// Example: sentinel serve --config sentinel.toml
    Serve(crate::serve::ServeArgs),
}

/// Timely cluster options shared by `replay` and `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Processes in the cluster (each with --workers threads).
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// This process's index, 0-based.
    #[arg(long, default_value_t = 0)]
    pub process: usize,
    /// One host:port per process, in process order.
    #[arg(long, value_name = "FILE")]
    pub hostfile: Option<std::path::PathBuf>,
}

impl ClusterArgs {
    /// The cluster configuration (`None` for a single process).
    pub fn config(&self) -> anyhow::Result<Option<sentinel_dataflow::ClusterConfig>> {
        if self.processes <= 1 && self.hostfile.is_none() {
            anyhow::ensure!(
                self.process == 0,
                "--process needs --processes and --hostfile"
            );
            return Ok(None);
        }
        let Some(h) = &self.hostfile else {
            anyhow::bail!("--processes {} needs --hostfile", self.processes);
        };
        Ok(Some(sentinel_dataflow::ClusterConfig::from_hostfile(
            h,
            self.processes,
            self.process,
        )?))
    }
}

/// The data directory option shared by the model commands.
#[derive(clap::Args, Debug, Clone)]
pub struct DataDir {
    /// Data directory (models, datasets, profile).
    #[arg(long, env = "SENTINEL_DATA_DIR", default_value = "sentinel-data")]
    pub data_dir: std::path::PathBuf,
}

/// Runs a command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Replay(a) => replay::run(*a),
        Command::Classify(a) => classify::run(a),
        Command::Features(a) => features::run(a),
        Command::Run(a) => run::run(a),
        Command::Record(a) => record::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Train(a) => train::run(a),
        Command::Models(a) => models::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Dataset(a) => dataset::run(a),
        Command::Profile(a) => profile::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Sandbox(a) => simulate::run_sandbox(a),
        Command::Audit(a) => audit::run(a),
        Command::Feedback(a) => feedback::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Gatekeeper(a) => gatekeeper::run(a),
        Command::Serve(a) => crate::serve::run(a),
    }
}

/// How payload inputs are read by `classify` and `features`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadInput {
    /// One payload per line.
    Lines,
    /// One JSON object per line with a "payload" string.
    Jsonl,
}

/// Where a payload would sit in a request (decides whether `+` means space).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadContext {
    /// A query-string or form value: `+` is a space, percent escapes are decoded.
    Query,
    /// Any other value (header, JSON string): `+` stays a plus.
    Raw,
}

/// Opens FILE or standard input (`-` or none).
pub fn open_reader(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn std::io::BufRead>> {
    use anyhow::Context;
    match path {
        None => Ok(Box::new(std::io::BufReader::new(std::io::stdin()))),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(std::io::BufReader::new(std::io::stdin()))),
        Some(p) => {
            let f =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
        }
    }
}

/// Reads the payload of one input line; `Err` carries a message for the output record.
pub fn payload_of(line: &[u8], input: PayloadInput) -> Result<Vec<u8>, String> {
    match input {
        PayloadInput::Lines => Ok(line.to_vec()),
        PayloadInput::Jsonl => {
            #[derive(serde::Deserialize)]
            struct In {
                payload: String,
            }
            serde_json::from_slice::<In>(line)
                .map(|i| i.payload.into_bytes())
                .map_err(|e| format!("invalid input line: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
