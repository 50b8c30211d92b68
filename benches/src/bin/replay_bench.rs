//! End-to-end replay throughput: a recorded file through the whole timely
//! graph (parsing, analysis, windows, inference, rules, JSON output to a
//! temporary directory), repeated, with 1 and 2 workers.
//!
//! `cargo run --release -p sentinel-benches --bin replay-bench [FILE] [--runs N] [--models full|rules]`
//! (default FILE: ../shared/data/csic2010/normalTrafficTraining.txt.gz;
//! default models: full — the default ML model and the behaviour forest)

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use sentinel_dataflow::{run_replay, Counters};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// End-to-end replay throughput with 1 and 2 workers.
#[derive(clap::Parser)]
#[command(name = "replay-bench")]
struct Args {
    /// Recorded input (raw HTTP, JSONL, gzip or not).
    #[arg(default_value = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/csic2010/normalTrafficTraining.txt.gz"
    ))]
    file: PathBuf,
    /// Runs per worker count (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// `full` (the default model and the behaviour forest) or `rules`.
    #[arg(long, default_value = "full")]
    models: String,
}

fn main() -> anyhow::Result<()> {
    let Args { file, runs, models } = clap::Parser::parse();
    let bundle = sentinel_benches::bench_models(&models)?;
    let services = sentinel_benches::bench_services(&models, false)?;
    println!(
        "replay-bench: {} ({} runs per worker count; models: {})",
        file.display(),
        runs,
        bundle.describe()
    );
    for workers in [1usize, 2] {
        let mut rates = Vec::new();
        let mut records = 0;
        for _ in 0..runs {
            let out = tempfile::tempdir()?;
            let counters = Arc::new(Counters::default());
            let summary = run_replay(
                sentinel_benches::bench_replay(
                    &file,
                    &file.display().to_string(),
                    out.path(),
                    workers,
                    bundle.clone(),
                    services.clone(),
                ),
                counters.clone(),
            )?;
            records = counters.records_in.load(Ordering::Relaxed);
            rates.push(records as f64 / summary.elapsed.as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!(
            "workers={workers} records={records} median={median:.0} records/s min={:.0} max={:.0}",
            rates[0],
            rates[rates.len() - 1]
        );
    }
    Ok(())
}
