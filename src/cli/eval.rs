//! `sentinel eval`: score labelled payload files with a model and report
//! per-class precision, recall, F1, FPR, the confusion matrix and the
//! attack-vs-benign threshold sweep.

use std::io::Write;

use anyhow::Context;

use sentinel_models::classifier::{label_of, RULES_VERSION};
use sentinel_models::evaluate::evaluate;
use sentinel_models::registry::Registry;
use sentinel_models::serving::load_version;
use sentinel_models::{corpus_files, Analyzer, ModelsConfig};
use sentinel_schema::ThreatClass;

use super::DataDir;

/// Arguments of `sentinel eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    data_dir: DataDir,
    /// Labelled files: CSV (payload + label columns), JSONL, FILE:CLASS line
    /// files, or directories in the mgm/nuclei layout.
    #[arg(long = "data", value_name = "SPEC", required = true)]
    data: Vec<String>,
    /// The model: `active` (default), `rules-v1`, or a registered version.
    #[arg(long, default_value = "active")]
    model: String,
    /// Attack score at or above which a payload is labelled as its top attack class.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
    /// Show up to N misclassified samples.
    #[arg(long, default_value_t = 0)]
    errors: usize,
    /// Print the metrics as JSON.
    #[arg(long)]
    json: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs the command.
pub fn run(a: EvalArgs) -> anyhow::Result<i32> {
    let mut samples = Vec::new();
    for spec in &a.data {
        let s = corpus_files::load(spec).with_context(|| format!("cannot load {spec}"))?;
        anyhow::ensure!(!s.is_empty(), "{spec} holds no labelled samples");
        samples.extend(s);
    }
    // CSRF is a request-level judgement; payload files cannot carry it.
    samples.retain(|(_, c)| *c != ThreatClass::Csrf);
    let version = if a.model == "active" {
        crate::models_open::open_models(&a.data_dir.data_dir, &ModelsConfig::default(), a.quiet)?;
        Registry::open(&a.data_dir.data_dir)?.active()?
    } else {
        a.model.clone()
    };
    let classifier = if version == RULES_VERSION {
        load_version(&Registry::open(&a.data_dir.data_dir)?, RULES_VERSION)?
    } else {
        load_version(&Registry::open(&a.data_dir.data_dir)?, &version)
            .with_context(|| format!("cannot load model {version}"))?
    };
    let bar = crate::models_open::spinner(a.quiet);
    let mut analyzer = Analyzer::default();
    let (mut truth, mut predicted, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    let start = std::time::Instant::now();
    for (i, (text, class)) in samples.iter().enumerate() {
        let an = analyzer.analyze_new(text.as_bytes(), true);
        let s = classifier.classify(&an);
        let (label, _) = label_of(&s, a.threshold);
        if label != *class && wrong.len() < a.errors {
            wrong.push((text.clone(), *class, label, s.max_attack()));
        }
        truth.push(*class);
        predicted.push(label);
        scores.push(s.max_attack());
        if i % 4096 == 0 {
            bar.set_message(format!("scored {i}/{}", samples.len()));
        }
    }
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    let m = evaluate(&truth, &predicted, &scores);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"model": version, "metrics": m}),
        )?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Model {version} on {} samples ({:.0} samples/s):",
        m.samples,
        m.samples as f64 / elapsed.as_secs_f64().max(1e-9)
    )?;
    crate::summary::write_metrics(&mut out, &m)?;
    if !wrong.is_empty() {
        writeln!(out, "misclassified (truth → predicted, attack score):")?;
        for (text, t, p, s) in wrong {
            let shown: String = text.chars().take(120).collect();
            writeln!(out, "  {} → {} ({s:.3}): {shown}", t.as_str(), p.as_str())?;
        }
    }
    Ok(0)
}
