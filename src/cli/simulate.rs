//! `sentinel simulate` and `sentinel sandbox`: replay payloads in the
//! threat twins (or a user module) inside the WebAssembly sandbox.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use comfy_table::Cell;

use sentinel_operators::simulate::Simulator;
use sentinel_sandbox::{Sandbox, SandboxConfig, Simulation};
use sentinel_schema::ThreatClass;

use super::DataDir;
use crate::summary::table;

/// The classes that have a twin.
const TWIN_CLASSES: [ThreatClass; 5] = [
    ThreatClass::Sqli,
    ThreatClass::Xss,
    ThreatClass::Cmdi,
    ThreatClass::PathTraversal,
    ThreatClass::Xxe,
];

/// Arguments of `sentinel simulate`.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    data: DataDir,
    /// The class under test (`sqli`, `xss`, `cmdi`, `path_traversal`,
    /// `xxe`); without it every twin runs the payload.
    #[arg(long)]
    class: Option<String>,
    /// A user twin module (`.wasm` or `.wat`, sandbox ABI v1) instead of the built-in twins.
    #[arg(long, value_name = "FILE")]
    module: Option<PathBuf>,
    /// One JSON object per simulation instead of a table.
    #[arg(long)]
    json: bool,
    /// Fuel budget per simulation.
    #[arg(long, default_value_t = SandboxConfig::default().fuel)]
    fuel: u64,
    /// Wall-clock deadline per simulation, ms.
    #[arg(long, default_value_t = SandboxConfig::default().timeout_ms)]
    timeout_ms: u64,
    /// Payloads (as they arrive in a request parameter; URL-encoding is decoded by the twins).
    #[arg(required = true)]
    payloads: Vec<String>,
}

/// Arguments of `sentinel sandbox`.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    #[command(subcommand)]
    command: SandboxCommand,
}

#[derive(clap::Subcommand, Debug)]
enum SandboxCommand {
    /// Run payloads in a user-supplied twin module (sandbox ABI v1).
    ///
    /// Example: sentinel sandbox run --module app.wasm --class sqli "1' OR '1'='1"
    Run {
        /// The module (`.wasm` or `.wat`).
        #[arg(long, value_name = "FILE")]
        module: PathBuf,
        #[command(flatten)]
        rest: SandboxRunArgs,
    },
    /// Check that a module loads: no imports, the ABI's exports, ABI version 1.
    ///
    /// Example: sentinel sandbox check --module app.wasm
    Check {
        #[command(flatten)]
        data: DataDir,
        /// The module (`.wasm` or `.wat`).
        #[arg(long, value_name = "FILE")]
        module: PathBuf,
    },
}

/// The options `sandbox run` shares with `simulate`.
#[derive(clap::Args, Debug)]
struct SandboxRunArgs {
    #[command(flatten)]
    data: DataDir,
    /// The class passed to the module.
    #[arg(long, default_value = "sqli")]
    class: String,
    /// One JSON object per simulation instead of a table.
    #[arg(long)]
    json: bool,
    /// Payloads.
    #[arg(required = true)]
    payloads: Vec<String>,
}

fn open(
    data_dir: &Path,
    config: SandboxConfig,
    module: Option<&Path>,
) -> anyhow::Result<std::sync::Arc<Simulator>> {
    let audit = crate::sandbox_open::open_audit(data_dir)?;
    crate::sandbox_open::open_simulator(data_dir, &config, module, audit, false)
}

fn classes(class: Option<&str>) -> anyhow::Result<Vec<ThreatClass>> {
    match class {
        None => Ok(TWIN_CLASSES.to_vec()),
        Some(c) => {
            let parsed = TWIN_CLASSES
                .into_iter()
                .find(|t| t.as_str() == c)
                .with_context(|| {
                    format!("no twin for class {c:?}; use sqli, xss, cmdi, path_traversal or xxe")
                })?;
            Ok(vec![parsed])
        }
    }
}

/// One row of output.
fn record(sim: &Simulator, class: &str, payload: &str, s: &Simulation) -> serde_json::Value {
    let twin = sim
        .twin_for(class)
        .unwrap_or_else(|| sim.module.name().to_string());
    let mut v = serde_json::json!({
        "payload": payload,
        "class": class,
        "twin": twin,
        "duration_us": s.duration.as_micros() as u64,
        "fuel_used": s.fuel_used,
    });
    match &s.report {
        Ok(r) => {
            v["exploit"] = r.exploit.into();
            v["context"] = r.context.clone().into();
            v["contexts_tried"] = r.contexts.clone().into();
            v["evidence"] = r.evidence.clone().into();
        }
        Err(e) => {
            v["exploit"] = false.into();
            v["error"] = e.to_string().into();
            v["error_kind"] = e.kind().into();
        }
    }
    v
}

fn print(rows: &[serde_json::Value], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for r in rows {
            writeln!(out, "{r}")?;
        }
        return Ok(());
    }
    let mut t = table(&[
        "payload", "twin", "exploit", "context", "evidence", "fuel", "µs",
    ]);
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        let exploit = match (r["exploit"].as_bool(), r.get("error")) {
            (_, Some(e)) => format!("error: {}", e.as_str().unwrap_or("")),
            (Some(true), _) => "YES".into(),
            _ => "no".into(),
        };
        let evidence = r["evidence"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let payload: String = s("payload").chars().take(48).collect();
        t.add_row(vec![
            Cell::new(payload),
            Cell::new(s("twin")),
            Cell::new(exploit),
            Cell::new(r["context"].as_str().unwrap_or("-")),
            Cell::new(evidence.chars().take(120).collect::<String>()),
            Cell::new(r["fuel_used"].as_u64().unwrap_or(0)),
            Cell::new(r["duration_us"].as_u64().unwrap_or(0)),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// Runs `sentinel simulate`; exit code 0 when the payloads were simulated
/// (whether or not they exploit), 1 when a simulation failed.
pub fn run(a: SimulateArgs) -> anyhow::Result<i32> {
    let config = SandboxConfig {
        fuel: a.fuel,
        timeout_ms: a.timeout_ms,
        ..SandboxConfig::default()
    };
    let sim = open(&a.data.data_dir, config, a.module.as_deref())?;
    let classes = classes(a.class.as_deref())?;
    let mut rows = Vec::new();
    let mut failed = false;
    for p in &a.payloads {
        for c in &classes {
            let s = sim.sandbox.simulate(&sim.module, c.as_str(), p.as_bytes());
            failed |= s.report.is_err();
            rows.push(record(&sim, c.as_str(), p, &s));
        }
    }
    print(&rows, a.json)?;
    Ok(i32::from(failed))
}

/// Runs `sentinel sandbox`.
pub fn run_sandbox(a: SandboxArgs) -> anyhow::Result<i32> {
    match a.command {
        SandboxCommand::Run { module, rest } => {
            let sim = open(&rest.data.data_dir, SandboxConfig::default(), Some(&module))?;
            let mut rows = Vec::new();
            let mut failed = false;
            for p in &rest.payloads {
                let s = sim.sandbox.simulate(&sim.module, &rest.class, p.as_bytes());
                failed |= s.report.is_err();
                rows.push(record(&sim, &rest.class, p, &s));
            }
            print(&rows, rest.json)?;
            Ok(i32::from(failed))
        }
        SandboxCommand::Check { data, module } => {
            let audit = crate::sandbox_open::open_audit(&data.data_dir)?;
            let sandbox = Sandbox::new(SandboxConfig::default(), audit)?;
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read {}", module.display()))?;
            match sandbox.load("check", &bytes, None) {
                Ok(m) => {
                    println!(
                        "ok: {} (sha256 {}) implements sandbox ABI v1",
                        module.display(),
                        m.sha256()
                    );
                    Ok(0)
                }
                Err(e) => {
                    println!("refused: {e:#}");
                    Ok(2)
                }
            }
        }
    }
}
