//! Generated rules against the public corpora (`cargo run --release -p
//! sentinel-benches --bin rules-eval [-- DATA_DIR]`, default `../shared/data`):
//!
//! 1. every attack payload of HttpParams and mgm becomes a request (in the
//!    parameter its class would use) and the whole stream is replayed
//!    through the full graph with the default models, the threat twins and
//!    the rule guard (which knows only Sentinel's generated benign values);
//! 2. the active (auto-applied) rules are run, with Sentinel's
//!    normalization standing in for their transformations, over every
//!    benign value of the corpora (HttpParams `norm`, mgm false positives)
//!    in every parameter — the share of benign values any rule fires on is
//!    the false-positive figure;
//! 3. rule generation time: candidates from every verdict, guard and
//!    policy, per rule emitted.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sentinel_dataflow::{run_replay, Counters};
use sentinel_models::corpus_files;
use sentinel_models::normalize::{normalize, Limits};
use sentinel_operators::policy::{PolicyConfig, RuleRegistry};
use sentinel_operators::rule_guard::{guard_batch, RuleGuard};
use sentinel_operators::rulegen::candidates_with_sims;
use sentinel_schema::{NoAudit, RuleStatus, ThreatClass, Verdict, WafRule};

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let data = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let mut samples: Vec<(String, ThreatClass)> = Vec::new();
    for spec in [
        data.join("httpparams/payload_train.csv"),
        data.join("mgm/nuclei"),
    ] {
        samples.extend(corpus_files::load(&spec.to_string_lossy())?);
    }
    samples.sort();
    samples.dedup();
    let (attacks, benign): (Vec<_>, Vec<_>) = samples
        .into_iter()
        .partition(|(_, c)| *c != ThreatClass::Benign);
    println!(
        "{} attack payloads, {} benign values",
        attacks.len(),
        benign.len()
    );

    // 1. Replay the attacks.
    let tmp = tempfile::tempdir()?;
    let events = tmp.path().join("attacks.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&events)?);
        for (i, (text, class)) in attacks.iter().enumerate() {
            let param = match class {
                ThreatClass::Sqli => "id",
                ThreatClass::Xss => "q",
                ThreatClass::PathTraversal => "file",
                ThreatClass::Xxe => "xml",
                _ => "host",
            };
            let ev = serde_json::json!({
                "evidence_id": format!("att-{i:06}"),
                "event_time_ms": 1_767_225_600_000i64 + i as i64 * 10,
                "client": {"ip": format!("198.51.{}.{}", 100 + (i / 250) % 50, 1 + i % 250)},
                "request": {"method": "GET", "target": format!("/app?{param}={}", encode(text)),
                            "headers": [{"name": "Host", "value": "shop.example"}]},
            });
            serde_json::to_writer(&mut f, &ev)?;
            f.write_all(b"\n")?;
        }
    }
    let services = sentinel_benches::bench_services("full", false)?;
    let guard = services.rule_guard.clone();
    let out = tmp.path().join("out");
    let t0 = Instant::now();
    run_replay(
        sentinel_benches::bench_replay(
            &events,
            "attacks",
            &out,
            2,
            sentinel_benches::bench_models("full")?,
            services,
        ),
        Arc::new(Counters::default()),
    )?;
    println!("replayed in {:.1} s", t0.elapsed().as_secs_f64());
    let rules: Vec<WafRule> = std::fs::read_to_string(out.join("rules.jsonl"))?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut by_status = std::collections::BTreeMap::new();
    for r in &rules {
        *by_status.entry(r.status.as_str()).or_insert(0usize) += 1;
    }
    println!("rules: {} {:?}", rules.len(), by_status);

    // 2. False positives of the active rules on the benign corpora.
    let active: Vec<(&WafRule, regex::Regex)> = rules
        .iter()
        .filter(|r| r.status == RuleStatus::AutoApplied)
        .filter_map(|r| regex::Regex::new(&r.pattern).ok().map(|re| (r, re)))
        .collect();
    let limits = Limits::default();
    let mut fired = 0usize;
    let mut per_rule: std::collections::BTreeMap<u64, (usize, String)> = Default::default();
    for (text, _) in &benign {
        let n = normalize(text.as_bytes(), true, &limits).text;
        let mut any = false;
        for (r, re) in &active {
            if re.is_match(&n) {
                any = true;
                let e = per_rule.entry(r.modsec_id).or_insert((0, text.clone()));
                e.0 += 1;
            }
        }
        fired += usize::from(any);
    }
    println!(
        "\nactive rules: {}; benign values any of them fires on: {fired} of {} ({:.3} %)",
        active.len(),
        benign.len(),
        100.0 * fired as f64 / benign.len().max(1) as f64
    );
    for (id, (n, example)) in &per_rule {
        let r = active
            .iter()
            .find(|(r, _)| r.modsec_id == *id)
            .map(|(r, _)| *r);
        println!(
            "  rule {id} ({}) fires on {n}, e.g. {:?}",
            r.map(|r| r.msg.as_str()).unwrap_or(""),
            example.chars().take(80).collect::<String>()
        );
    }

    // 3. Rule generation time per rule (candidates → guard → policy).
    let verdicts: Vec<Verdict> = std::fs::read_to_string(out.join("verdicts.jsonl"))?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let guard = guard.ok_or_else(|| anyhow::anyhow!("no guard"))?;
    let fresh_guard = RuleGuard::from_config(&Default::default())?;
    for (name, g) in [
        ("cold guard (each pattern scanned once)", &fresh_guard),
        ("warm guard", guard.as_ref()),
    ] {
        let t0 = Instant::now();
        let mut registry = RuleRegistry::new(PolicyConfig::default());
        let mut emitted = 0usize;
        for v in &verdicts {
            let c = candidates_with_sims(v, 0.5, &[]);
            if c.is_empty() {
                continue;
            }
            let (kept, _) = guard_batch(g, c, &NoAudit);
            emitted += registry.admit(kept).len();
        }
        let el = t0.elapsed();
        println!(
            "\nrule generation, {name}: {} verdicts, {emitted} rules in {:.1} ms: {:.0} µs per rule",
            verdicts.len(),
            el.as_secs_f64() * 1e3,
            el.as_secs_f64() * 1e6 / emitted.max(1) as f64
        );
    }
    Ok(())
}
