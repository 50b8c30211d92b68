//! `sentinel dataset`: versioned labelled datasets in the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use comfy_table::Cell;

use sentinel_models::corpus_files;
use sentinel_models::dataset::{
    clean, export_csv, export_jsonl, quality, stratified_split, DatasetStore, Origin, Sample, Split,
};
use sentinel_schema::ThreatClass;

use super::DataDir;
use crate::summary::{num, ratio, table};

/// Arguments of `sentinel dataset`.
#[derive(clap::Args, Debug)]
pub struct DatasetArgs {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DatasetCommand {
    /// Import labelled corpora (CSV, JSONL, FILE:CLASS, directories) as a new version.
    Import {
        #[command(flatten)]
        data: DataDir,
        /// Corpus specs.
        #[arg(required = true)]
        specs: Vec<String>,
        /// Dataset name.
        #[arg(long, default_value = "main")]
        name: String,
        /// Version message.
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Add samples by hand, or a false-positive report.
    ///
    /// Example: sentinel dataset add --label benign --false-positive --predicted sqli --payload "select a dish from the menu"
    Add {
        #[command(flatten)]
        data: DataDir,
        /// The class.
        #[arg(long)]
        label: ThreatClass,
        /// Payloads (repeatable).
        #[arg(long = "payload")]
        payloads: Vec<String>,
        /// A file with one payload per line.
        #[arg(long)]
        file: Option<PathBuf>,
        /// These are false-positive reports: the model flagged them wrongly.
        #[arg(long, requires = "predicted")]
        false_positive: bool,
        /// What the model predicted (for --false-positive).
        #[arg(long)]
        predicted: Option<ThreatClass>,
        /// The evidence the value was seen in.
        #[arg(long)]
        evidence: Option<String>,
        /// A note kept with each sample.
        #[arg(long)]
        note: Option<String>,
        /// Dataset name.
        #[arg(long, default_value = "main")]
        name: String,
    },
    /// Quality of a version: class balance, duplicates, label conflicts, false-positive reports.
    Stats {
        #[command(flatten)]
        data: DataDir,
        /// NAME, NAME@VERSION or a version prefix.
        #[arg(default_value = "main")]
        spec: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The versions of a dataset, newest first.
    Log {
        #[command(flatten)]
        data: DataDir,
        /// Dataset name.
        #[arg(default_value = "main")]
        name: String,
    },
    /// Export a version (optionally one split) as CSV or JSON Lines.
    Export {
        #[command(flatten)]
        data: DataDir,
        /// NAME, NAME@VERSION or a version prefix.
        #[arg(default_value = "main")]
        spec: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Only this split (stratified by class, seeded).
        #[arg(long, value_enum)]
        split: Option<SplitArg>,
        /// Seed of the split.
        #[arg(long, default_value_t = 20_261_126)]
        seed: u64,
        /// Share of each class in the training split.
        #[arg(long, default_value_t = 0.8)]
        train: f64,
        /// Share of each class in the validation split (the rest is test).
        #[arg(long, default_value_t = 0.1)]
        validation: f64,
        /// Output file (`-` for standard output).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

/// `--format` of `dataset export`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// `payload,label,origin,split,note`.
    Csv,
    /// One JSON sample per line.
    Jsonl,
}

/// `--split` of `dataset export`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitArg {
    /// Training split.
    Train,
    /// Validation split.
    Validation,
    /// Test split.
    Test,
    /// Everything, with a split column.
    All,
}

/// The cleaned samples of a dataset spec, for `sentinel train`, and the version id.
pub fn training_samples(
    data_dir: &Path,
    spec: &str,
) -> anyhow::Result<(String, Vec<(String, ThreatClass)>)> {
    let store = DatasetStore::open(data_dir)?;
    let v = store.resolve(spec)?;
    let samples = store.samples(&v)?;
    let (clean, report) = clean(&samples);
    if report.duplicates + report.resolved + report.dropped + report.empty > 0 {
        eprintln!(
            "sentinel: dataset {}: dropped {} duplicates, {} empty, {} tied conflicts; resolved {} conflicts",
            v.short(),
            report.duplicates,
            report.empty,
            report.dropped,
            report.resolved
        );
    }
    Ok((v.id, clean))
}

/// Runs the command.
pub fn run(a: DatasetArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.command {
        DatasetCommand::Import {
            data,
            specs,
            name,
            message,
        } => {
            let store = DatasetStore::open(&data.data_dir)?;
            let mut samples = Vec::new();
            for spec in &specs {
                let s = corpus_files::load(spec).with_context(|| format!("cannot load {spec}"))?;
                anyhow::ensure!(!s.is_empty(), "{spec} holds no labelled samples");
                samples.extend(s.into_iter().map(|(payload, label)| Sample {
                    payload,
                    label,
                    origin: Origin::Import {
                        source: spec.clone(),
                    },
                    note: None,
                }));
            }
            let msg = message.unwrap_or_else(|| format!("import {}", specs.join(" ")));
            let v = store.commit(&name, &samples, &msg)?;
            writeln!(
                out,
                "{name}@{}: {} samples ({} added)",
                v.short(),
                v.samples,
                samples.len()
            )?;
        }
        DatasetCommand::Add {
            data,
            label,
            mut payloads,
            file,
            false_positive,
            predicted,
            evidence,
            note,
            name,
        } => {
            if let Some(f) = &file {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                payloads.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_string),
                );
            }
            anyhow::ensure!(!payloads.is_empty(), "give --payload or --file");
            let origin = match (false_positive, predicted) {
                (true, Some(p)) => Origin::FalsePositive {
                    predicted: p,
                    evidence_id: evidence.clone(),
                },
                _ => Origin::Manual,
            };
            let samples: Vec<Sample> = payloads
                .into_iter()
                .map(|payload| Sample {
                    payload,
                    label,
                    origin: origin.clone(),
                    note: note.clone(),
                })
                .collect();
            let store = DatasetStore::open(&data.data_dir)?;
            let what = if false_positive {
                "false-positive report"
            } else {
                "sample"
            };
            let v = store.commit(
                &name,
                &samples,
                &format!(
                    "add {} {what}(s) labelled {}",
                    samples.len(),
                    label.as_str()
                ),
            )?;
            writeln!(out, "{name}@{}: {} samples", v.short(), v.samples)?;
        }
        DatasetCommand::Stats { data, spec, json } => {
            let store = DatasetStore::open(&data.data_dir)?;
            let v = store.resolve(&spec)?;
            let samples = store.samples(&v)?;
            let q = quality(&samples);
            if json {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({"version": v.id, "quality": q}),
                )?;
                writeln!(out)?;
                return Ok(0);
            }
            writeln!(out, "{spec} = {} ({}): {}", v.short(), v.message, v.samples)?;
            let mut t = table(&["class", "samples", "share"]);
            for (c, n) in &q.per_class {
                t.add_row(vec![
                    Cell::new(c),
                    num(*n as u64),
                    ratio(*n as f32 / q.samples.max(1) as f32, 4),
                ]);
            }
            writeln!(out, "{t}")?;
            let mut t = table(&["quality", "value"]);
            t.add_row(vec![
                Cell::new("imbalance (largest/smallest class)"),
                ratio(q.imbalance, 1),
            ]);
            t.add_row(vec![
                Cell::new("exact duplicates"),
                num(q.duplicates as u64),
            ]);
            t.add_row(vec![
                Cell::new("payloads with conflicting labels"),
                num(q.conflicts as u64),
            ]);
            t.add_row(vec![
                Cell::new("false-positive reports"),
                num(q.false_positive_reports as u64),
            ]);
            t.add_row(vec![Cell::new("empty payloads"), num(q.empty as u64)]);
            t.add_row(vec![
                Cell::new("mean length (characters)"),
                ratio(q.mean_length, 1),
            ]);
            writeln!(out, "{t}")?;
            for (p, labels) in &q.conflict_examples {
                let shown: String = p.chars().take(80).collect();
                writeln!(out, "  conflict: {shown:?} labelled {}", labels.join(", "))?;
            }
        }
        DatasetCommand::Log { data, name } => {
            let store = DatasetStore::open(&data.data_dir)?;
            let mut t = table(&["version", "samples", "message"]);
            for v in store.log(&name)? {
                t.add_row(vec![
                    Cell::new(v.short()),
                    num(v.samples as u64),
                    Cell::new(&v.message),
                ]);
            }
            writeln!(out, "{t}")?;
        }
        DatasetCommand::Export {
            data,
            spec,
            format,
            split,
            seed,
            train,
            validation,
            out: path,
        } => {
            anyhow::ensure!(
                train + validation <= 1.0 + 1e-9,
                "--train + --validation exceed 1"
            );
            let store = DatasetStore::open(&data.data_dir)?;
            let v = store.resolve(&spec)?;
            let samples = store.samples(&v)?;
            let labels: Vec<ThreatClass> = samples.iter().map(|s| s.label).collect();
            let splits = stratified_split(&labels, seed, train, validation);
            let (rows, rows_splits): (Vec<Sample>, Vec<Split>) = match split {
                None => (samples, Vec::new()),
                Some(SplitArg::All) => (samples, splits),
                Some(one) => {
                    let want = match one {
                        SplitArg::Train => Split::Train,
                        SplitArg::Validation => Split::Validation,
                        _ => Split::Test,
                    };
                    samples
                        .into_iter()
                        .zip(splits)
                        .filter(|(_, s)| *s == want)
                        .unzip()
                }
            };
            let sp = (!rows_splits.is_empty()).then_some(rows_splits.as_slice());
            let writer: Box<dyn Write> = if path.as_os_str() == "-" {
                Box::new(std::io::BufWriter::new(std::io::stdout()))
            } else {
                Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                ))
            };
            match format {
                ExportFormat::Csv => export_csv(writer, &rows, sp)?,
                ExportFormat::Jsonl => export_jsonl(writer, &rows, sp)?,
            }
            if path.as_os_str() != "-" {
                eprintln!(
                    "sentinel: wrote {} samples of {} to {}",
                    rows.len(),
                    v.short(),
                    path.display()
                );
            }
        }
    }
    Ok(0)
}
