//! Twin precision on the public corpora (`cargo run --release -p
//! sentinel-benches --bin twin-eval [-- DATA_DIR]`, default `../shared/data`):
//! for each threat twin, run in the WebAssembly sandbox exactly as the
//! pipeline runs it, the share of the corpora's attack payloads of its
//! class it confirms, and the share of benign values (httpparams `norm`
//! rows, mgm false positives) it wrongly confirms.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sentinel_models::corpus_files;
use sentinel_sandbox::{Sandbox, SandboxConfig};
use sentinel_schema::{NoAudit, ThreatClass};

const TWINS: [ThreatClass; 5] = [
    ThreatClass::Sqli,
    ThreatClass::Xss,
    ThreatClass::Cmdi,
    ThreatClass::PathTraversal,
    ThreatClass::Xxe,
];

fn main() -> anyhow::Result<()> {
    let data = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let mut samples: Vec<(String, ThreatClass, &'static str)> = Vec::new();
    for (spec, name) in [
        (data.join("httpparams/payload_train.csv"), "httpparams"),
        (data.join("mgm/nuclei"), "mgm"),
    ] {
        let spec = spec.to_string_lossy().into_owned();
        for (text, class) in corpus_files::load(&spec)? {
            samples.push((text, class, name));
        }
    }
    samples.sort();
    samples.dedup();
    let sb = Sandbox::new(SandboxConfig::default(), Arc::new(NoAudit))?;
    let twins = sb.twins(None)?;
    let t0 = Instant::now();
    // Work split over two threads; each result is (sample index, twin index, exploit).
    let jobs: Vec<(usize, usize)> = samples
        .iter()
        .enumerate()
        .flat_map(|(i, (_, class, _))| {
            let targets: Vec<usize> = if *class == ThreatClass::Benign {
                (0..TWINS.len()).collect()
            } else {
                TWINS.iter().position(|t| t == class).into_iter().collect()
            };
            targets.into_iter().map(move |t| (i, t))
        })
        .collect();
    let results: Vec<(usize, usize, bool, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(2).max(1))
            .map(|chunk| {
                let (sb, twins, samples) = (&sb, &twins, &samples);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&(i, t)| {
                            let sim =
                                sb.simulate(twins, TWINS[t].as_str(), samples[i].0.as_bytes());
                            let failed = sim.report.is_err();
                            (i, t, sim.report.map(|r| r.exploit).unwrap_or(false), failed)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let failures = results.iter().filter(|r| r.3).count();
    println!(
        "{} distinct samples, {} simulations in {elapsed:.1} s ({:.0}/s on 2 threads), {failures} failed",
        samples.len(),
        results.len(),
        results.len() as f64 / elapsed
    );
    println!(
        "\n| twin (class) | attack payloads | confirmed | benign values | wrongly confirmed |"
    );
    println!("|---|---|---|---|---|");
    let benign_total = samples
        .iter()
        .filter(|s| s.1 == ThreatClass::Benign)
        .count();
    let mut any_fp = std::collections::BTreeSet::new();
    for (t, class) in TWINS.iter().enumerate() {
        let att: Vec<_> = results
            .iter()
            .filter(|r| r.1 == t && samples[r.0].1 == *class)
            .collect();
        let conf = att.iter().filter(|r| r.2).count();
        let fps: Vec<_> = results
            .iter()
            .filter(|r| r.1 == t && samples[r.0].1 == ThreatClass::Benign && r.2)
            .collect();
        for r in &fps {
            any_fp.insert(r.0);
        }
        println!(
            "| {} | {} | {conf} ({:.1} %) | {benign_total} | {} ({:.3} %) |",
            class.as_str(),
            att.len(),
            100.0 * conf as f64 / att.len().max(1) as f64,
            fps.len(),
            100.0 * fps.len() as f64 / benign_total.max(1) as f64
        );
        // A deterministic sample of what was not confirmed, to read.
        for r in att
            .iter()
            .filter(|r| !r.2)
            .step_by(att.len().max(1) / 6 + 1)
            .take(6)
        {
            println!(
                "|   not confirmed | `{}` ({}) | | | |",
                samples[r.0]
                    .0
                    .replace('|', "\\|")
                    .chars()
                    .take(80)
                    .collect::<String>(),
                samples[r.0].2
            );
        }
        for r in fps.iter().take(5) {
            println!(
                "|   e.g. | | | `{}` ({}) | |",
                samples[r.0]
                    .0
                    .replace('|', "\\|")
                    .chars()
                    .take(80)
                    .collect::<String>(),
                samples[r.0].2
            );
        }
    }
    println!(
        "| any twin | | | {benign_total} | {} ({:.3} %) |",
        any_fp.len(),
        100.0 * any_fp.len() as f64 / benign_total.max(1) as f64
    );
    Ok(())
}
