//! `sentinel models`: the registry — list, inspect, promote, roll back.

use std::io::Write;

use comfy_table::Cell;

use sentinel_models::registry::Registry;
use sentinel_models::ModelsConfig;

use super::DataDir;
use crate::summary::{ratio, table};

/// Arguments of `sentinel models`.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ModelsCommand {
    /// Prepare a data directory: train the default payload model from the
    /// generated corpora (when the registry is empty) and fit the behaviour model.
    Init {
        #[command(flatten)]
        data: DataDir,
        /// No progress display.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// List registered versions with their gating metrics, the active model and the canary.
    List {
        #[command(flatten)]
        data: DataDir,
        /// Print the registry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Promote a version: --percent 100 (default) makes it active; less
    /// starts or changes a canary (1 → 10 → 100 is the usual rollout).
    Promote {
        #[command(flatten)]
        data: DataDir,
        /// The version (see `models list`), or `rules-v1`.
        #[arg(value_name = "VERSION")]
        model: String,
        /// Share of client keys routed to it.
        #[arg(long, default_value_t = 100.0)]
        percent: f32,
        /// Promote even though it failed gating.
        #[arg(long)]
        force: bool,
    },
    /// Roll back: cancel the canary, or return to the model active before the last promotion.
    Rollback {
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs the command.
pub fn run(a: ModelsArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.command {
        ModelsCommand::Init { data, quiet } => {
            let bundle =
                crate::models_open::open_models(&data.data_dir, &ModelsConfig::default(), quiet)?;
            writeln!(out, "{}: {}", data.data_dir.display(), bundle.describe())?;
        }
        ModelsCommand::List { data, json } => {
            let registry = Registry::open(&data.data_dir)?;
            let state = registry.state()?;
            if json {
                serde_json::to_writer_pretty(&mut out, &state)?;
                writeln!(out)?;
                return Ok(0);
            }
            let active = state.active.clone().unwrap_or_else(|| "rules-v1".into());
            let mut t = table(&[
                "version",
                "status",
                "dataset",
                "samples",
                "macro F1",
                "attack FPR",
                "TPR@FPR 0.5%",
                "gate",
                "parent",
            ]);
            for m in &state.versions {
                let status = if m.version == active {
                    "active".to_string()
                } else if let Some(c) = state.canary.as_ref().filter(|c| c.version == m.version) {
                    format!("canary {}%", c.percent)
                } else {
                    String::new()
                };
                let metric = |k: &str| m.metrics.get(k).copied().unwrap_or(f64::NAN) as f32;
                t.add_row(vec![
                    Cell::new(&m.version),
                    Cell::new(status),
                    Cell::new(m.dataset_version.as_deref().unwrap_or("")),
                    Cell::new(metric("samples")),
                    ratio(metric("macro_f1"), 4),
                    ratio(metric("attack_fpr"), 4),
                    ratio(metric("tpr_at_fpr_0.005"), 4),
                    Cell::new(if metric("gate_passed") >= 1.0 {
                        "passed"
                    } else {
                        "FAILED"
                    }),
                    Cell::new(m.parent.as_deref().unwrap_or("")),
                ]);
            }
            writeln!(out, "{t}")?;
            writeln!(out, "active: {active}")?;
            if let Some(c) = &state.canary {
                writeln!(
                    out,
                    "canary: {} at {}% of client keys",
                    c.version, c.percent
                )?;
            }
            if let Some(h) = state.history.last() {
                writeln!(
                    out,
                    "last change: {} {} (was {})",
                    h.action,
                    h.version,
                    h.previous.as_deref().unwrap_or("rules-v1")
                )?;
            }
        }
        ModelsCommand::Promote {
            data,
            model: version,
            percent,
            force,
        } => {
            let registry = Registry::open(&data.data_dir)?;
            let state = registry.promote(&version, percent, force)?;
            match &state.canary {
                Some(c) if c.version == version => writeln!(
                    out,
                    "{version} is the canary for {}% of client keys",
                    c.percent
                )?,
                _ => writeln!(out, "{version} is active")?,
            }
        }
        ModelsCommand::Rollback { data } => {
            let registry = Registry::open(&data.data_dir)?;
            let state = registry.rollback()?;
            writeln!(
                out,
                "active: {}{}",
                state.active.as_deref().unwrap_or("rules-v1"),
                match &state.canary {
                    Some(c) => format!("; canary {} at {}%", c.version, c.percent),
                    None => "; no canary".into(),
                }
            )?;
        }
    }
    Ok(0)
}
