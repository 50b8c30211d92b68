//! `sentinel explain`: why a payload or a verdict scored as it did —
//! exact Shapley values, a narrative, and a self-contained HTML report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use comfy_table::Cell;

use sentinel_dataflow::{
    run_replay, Counters, FileInput, GraphConfig, ReplayConfig, SourceSettings,
};
use sentinel_models::bundle::PayloadSource;
use sentinel_models::explain::explain_payload;
use sentinel_models::explain::html::{render, Report};
use sentinel_models::explain::narrative::payload_sentence;
use sentinel_models::serving::ModelSet;
use sentinel_models::{Analyzer, ModelsConfig};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::{ExplainMode, InferConfig};
use sentinel_schema::{Contribution, ThreatClass, Verdict};
use sentinel_sources::{FileSource, SourceOptions};

use super::replay::PayloadModelArg;
use super::DataDir;
use crate::summary::{ratio, table};

/// Arguments of `sentinel explain`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["payload", "verdicts", "events"])))]
pub struct ExplainArgs {
    #[command(flatten)]
    data: DataDir,
    /// Explain one payload (a query value: `+` is a space).
    #[arg(long)]
    payload: Option<String>,
    /// Explain a verdict of a replay made with --explain (its verdicts.jsonl).
    #[arg(long, requires = "evidence_id")]
    verdicts: Option<PathBuf>,
    /// Explain a verdict by replaying recorded evidence files (any format).
    #[arg(long, num_args = 1.., requires = "evidence_id")]
    events: Vec<PathBuf>,
    /// The evidence whose verdict to explain (with --verdicts or --events).
    #[arg(long)]
    evidence_id: Option<String>,
    /// The class to explain (default: the predicted one).
    #[arg(long)]
    class: Option<ThreatClass>,
    /// Payload classifier: the registry's active model (default) or the rules.
    #[arg(long, value_enum, default_value = "registry")]
    payload_model: PayloadModelArg,
    /// Write the HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Print the explanation as JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn contributions_table(items: &[Contribution]) -> comfy_table::Table {
    let mut t = table(&["input", "value", "baseline", "Shapley value"]);
    for c in items {
        t.add_row(vec![
            Cell::new(&c.name),
            ratio(c.value, 4),
            ratio(c.baseline, 4),
            ratio(c.phi, 4),
        ]);
    }
    t
}

/// Runs the command.
pub fn run(a: ExplainArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(p) = &a.payload {
        let models = match a.payload_model {
            PayloadModelArg::Rules => ModelSet::rules(),
            PayloadModelArg::Registry => {
                crate::models_open::open_models(&a.data.data_dir, &ModelsConfig::default(), a.json)?
                    .payload
                    .clone()
            }
        };
        let mut analyzer = Analyzer::default();
        let analysis = analyzer.analyze_new(p.as_bytes(), true);
        let e = explain_payload(models.active.as_ref(), &analysis, a.class);
        let narrative = payload_sentence(&e);
        if let Some(path) = &a.html {
            let page = render(&Report {
                title: format!("Payload explanation: {}", e.class.as_str()),
                payload: Some(&e),
                narrative: narrative.clone(),
                ..Default::default()
            });
            write_file(path, &page)?;
        }
        if a.json {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"narrative": narrative, "explanation": e}),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "{narrative}")?;
            writeln!(
                out,
                "{}: value {:.4}, baseline {:.4} ({} method); the contributions add up to the difference.",
                e.target, e.value, e.baseline, e.method
            )?;
            let top: Vec<Contribution> = e.contributions.iter().take(15).cloned().collect();
            writeln!(out, "{}", contributions_table(&top))?;
        }
        return Ok(0);
    }
    let id = a.evidence_id.clone().unwrap_or_default();
    let verdict = if let Some(file) = &a.verdicts {
        let v = find_verdict(file, &id)?;
        if v.explanation.is_none() {
            bail!("the verdict of {id} in {} carries no explanation: replay with --explain all (or use --events)", file.display());
        }
        v
    } else {
        explain_by_replay(&a, &id)?
    };
    let Some(ex) = verdict.explanation.as_deref() else {
        bail!("no explanation was produced for {id}");
    };
    if let Some(path) = &a.html {
        let page = render(&Report {
            title: format!(
                "Verdict {}: {} ({})",
                verdict.evidence_id,
                verdict.decision.as_str(),
                verdict.label.as_str()
            ),
            verdict: Some(&verdict),
            payload: ex.payload.as_ref(),
            behaviour: ex.behaviour.as_ref(),
            narrative: ex.narrative.clone(),
        });
        write_file(path, &page)?;
    }
    if a.json {
        serde_json::to_writer_pretty(&mut out, &verdict)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", ex.narrative)?;
        if let Some(p) = &ex.payload {
            writeln!(out, "payload ({}):", p.target)?;
            writeln!(out, "{}", contributions_table(&p.contributions))?;
        }
        if let Some(b) = &ex.behaviour {
            writeln!(
                out,
                "behaviour ({}, score {:.4}, baseline {:.4}):",
                b.scorer, b.score, b.baseline
            )?;
            writeln!(out, "{}", contributions_table(&b.contributions))?;
        }
    }
    Ok(0)
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("sentinel: wrote {}", path.display());
    Ok(())
}

/// The verdict of `id` in a verdicts JSONL file.
fn find_verdict(file: &Path, id: &str) -> anyhow::Result<Verdict> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    for (i, line) in text.lines().enumerate() {
        let v: Verdict = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", file.display(), i + 1))?;
        if v.evidence_id == id {
            return Ok(v);
        }
    }
    bail!("no verdict for evidence {id} in {}", file.display())
}

/// Replays the files with every verdict explained and returns the one of `id`.
fn explain_by_replay(a: &ExplainArgs, id: &str) -> anyhow::Result<Verdict> {
    let mut config = ModelsConfig::default();
    if a.payload_model == PayloadModelArg::Rules {
        config.payload = PayloadSource::Rules;
    }
    let models = crate::models_open::open_models(&a.data.data_dir, &config, a.json)?;
    let mut inputs = Vec::new();
    for path in &a.events {
        let src = FileSource::open(path, SourceOptions::default())?;
        inputs.push(FileInput {
            path: path.clone(),
            name: path.display().to_string(),
            options: SourceOptions {
                format: Some(src.format()),
                ..SourceOptions::default()
            },
        });
    }
    let out = tempfile::tempdir().context("cannot create a temporary directory")?;
    let summary = run_replay(
        ReplayConfig {
            inputs,
            out: out.path().to_path_buf(),
            workers: 1,
            source: SourceSettings::default(),
            graph: GraphConfig {
                infer: InferConfig {
                    explain: ExplainMode::All,
                    ..InferConfig::default()
                },
                bucket_ms: 1000,
                ..GraphConfig::default()
            },
            models,
            enrichment: Arc::new(EnrichmentTables::default()),
            evidence_store: Default::default(),
            services: Default::default(),
            rules_dir: None,
            cluster: None,
            schedule_log: None,
        },
        Arc::new(Counters::default()),
    )?;
    if let Some(e) = summary.errors.first() {
        bail!("{e}");
    }
    find_verdict(&out.path().join("verdicts.jsonl"), id)
}
