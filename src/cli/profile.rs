//! `sentinel profile`: learn the protected application's normal traffic.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use comfy_table::Cell;

use sentinel_models::anomaly::{AppProfile, ForestConfig, ProfileConfig};
use sentinel_models::bundle::{learned_behaviour_path, profile_path};
use sentinel_operators::profile_learn::ProfileLearner;
use sentinel_sources::{FileSource, SourceItem, SourceOptions};

use super::replay::FormatArg;
use super::DataDir;
use crate::summary::{num, table};

/// Arguments of `sentinel profile`.
#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ProfileCommand {
    /// Learn per-endpoint, per-parameter value profiles from normal traffic
    /// (any format `replay` reads) and store them in the data directory,
    /// where the pipeline picks them up.
    ///
    /// Example: sentinel profile learn ../shared/data/csic2010/normalTrafficTraining.txt.gz
    Learn {
        #[command(flatten)]
        data: DataDir,
        /// Recorded normal traffic.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Input format.
        #[arg(long, value_enum, default_value = "auto")]
        format: FormatArg,
        /// Learn from requests the rules flag as attacks too (by default they are left out).
        #[arg(long)]
        include_attacks: bool,
        /// Also fit the behaviour forest on this traffic's client windows
        /// (needs real client keys and timestamps: at least 1000 windows from 20 clients).
        #[arg(long)]
        behaviour: bool,
        /// Requests an endpoint needs before it is judged.
        #[arg(long, default_value_t = ProfileConfig::default().min_endpoint_requests)]
        min_endpoint_requests: u64,
        /// Values a parameter needs before it is judged.
        #[arg(long, default_value_t = ProfileConfig::default().min_param_samples)]
        min_param_samples: u64,
        /// No progress display.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Show the learned profile: endpoints and their parameters.
    Show {
        #[command(flatten)]
        data: DataDir,
        /// Most endpoints listed.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
}

/// Runs the command.
pub fn run(a: ProfileArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.command {
        ProfileCommand::Learn {
            data,
            files,
            format,
            include_attacks,
            behaviour,
            min_endpoint_requests,
            min_param_samples,
            quiet,
        } => {
            let config = ProfileConfig {
                min_endpoint_requests,
                min_param_samples,
                ..ProfileConfig::default()
            };
            let mut learner = ProfileLearner::new(config, !include_attacks);
            let bar = crate::models_open::spinner(quiet);
            let mut bad = 0u64;
            for path in &files {
                let mut src = FileSource::open(
                    path,
                    SourceOptions {
                        format: format.format(),
                        ..SourceOptions::default()
                    },
                )?;
                let mut n = 0u64;
                while let Some(item) = src.next_item() {
                    match item {
                        SourceItem::Event { event, .. } => learner.observe(&event),
                        SourceItem::Bad { .. } => bad += 1,
                    }
                    n += 1;
                    if n.is_multiple_of(1024) {
                        bar.set_message(format!("{}: {n} records", path.display()));
                    }
                }
            }
            bar.finish_and_clear();
            let stats = learner.stats();
            anyhow::ensure!(stats.learned > 0, "no usable requests in the input");
            let mut behaviour_note = String::new();
            if behaviour {
                let source = files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                match learner.fit_behaviour(60_000, &ForestConfig::default(), 1000, 20, &source) {
                    Some(model) => {
                        let path = learned_behaviour_path(&data.data_dir);
                        let bytes = bincode_bytes(&model)?;
                        sentinel_models::fsutil::write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
                        behaviour_note = format!("; behaviour forest fitted on {} windows ({})", model.trained_on, path.display());
                    }
                    None => behaviour_note = format!("; too little client traffic for a behaviour forest ({} clients), kept the default", stats.clients),
                }
            }
            let profile = learner.into_profile();
            let path = profile_path(&data.data_dir);
            profile.save(&path)?;
            writeln!(
                out,
                "learned {} endpoints, {} parameters from {} requests ({} left out as attacks, {} unreadable records) into {}{behaviour_note}",
                profile.endpoints.len(),
                profile.param_count(),
                stats.learned,
                stats.skipped_attacks,
                bad,
                path.display()
            )?;
        }
        ProfileCommand::Show { data, limit } => {
            let path = profile_path(&data.data_dir);
            let profile = AppProfile::load(&path)
                .with_context(|| "no profile yet: run `sentinel profile learn`".to_string())?;
            writeln!(
                out,
                "{}: {} requests, {} endpoints",
                path.display(),
                profile.requests,
                profile.endpoints.len()
            )?;
            let mut endpoints: Vec<_> = profile.endpoints.iter().collect();
            endpoints.sort_by(|a, b| {
                (b.1.params.len().min(1), b.1.requests)
                    .cmp(&(a.1.params.len().min(1), a.1.requests))
                    .then_with(|| a.0.cmp(b.0))
            });
            let mut t = table(&[
                "endpoint",
                "requests",
                "parameter",
                "seen",
                "types",
                "length",
                "values",
            ]);
            for (key, e) in endpoints.into_iter().take(limit) {
                let mut first = true;
                for (name, p) in &e.params {
                    t.add_row(vec![
                        Cell::new(if first { key.as_str() } else { "" }),
                        if first {
                            num(e.requests)
                        } else {
                            Cell::new("")
                        },
                        Cell::new(name),
                        num(p.seen),
                        Cell::new(p.type_names().join("/")),
                        Cell::new(format!("{}–{}", p.min_len, p.max_len)),
                        Cell::new(if p.open {
                            "open".to_string()
                        } else {
                            format!("{} known", p.values.len())
                        }),
                    ]);
                    first = false;
                }
                if first {
                    t.add_row(vec![
                        Cell::new(key),
                        num(e.requests),
                        Cell::new("(none)"),
                        Cell::new(""),
                        Cell::new(""),
                        Cell::new(""),
                        Cell::new(""),
                    ]);
                }
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(0)
}

fn bincode_bytes(model: &sentinel_models::anomaly::ForestModel) -> anyhow::Result<Vec<u8>> {
    sentinel_models::anomaly::behaviour_model::to_bytes(model)
        .context("cannot serialize the behaviour model")
}
