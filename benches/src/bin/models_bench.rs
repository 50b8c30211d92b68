//! Model benchmarks (release build, one thread):
//!
//! 1. uncached classification (normalize → features → n-gram TF-IDF →
//!    hybrid model) over 50,000 distinct generated values (70 % benign):
//!    payloads/s and per-call latency percentiles;
//! 2. cached prediction through the serving engine (cache hit);
//! 3. training on 100,000 generated samples (featurize + one fit);
//! 4. explanation (exact Shapley values) per payload.
//!
//! `cargo run --release -p sentinel-benches --bin models-bench`

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sentinel_models::analysis::PayloadAnalysis;
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::explain::explain_payload;
use sentinel_models::ml::{NgramHasher, TrainConfig, Trainer, TrainingSet};
use sentinel_models::serving::{ServingConfig, ServingEngine};
use sentinel_models::Analyzer;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Classifies every value once (after a warm-up), timing each call.
fn uncached(
    analyzer: &mut Analyzer,
    model: &dyn sentinel_models::PayloadClassifier,
    name: &str,
    values: &[String],
) -> anyhow::Result<()> {
    let mut a = PayloadAnalysis::default();
    for v in values.iter().take(2000) {
        analyzer.analyze(v.as_bytes(), true, &mut a);
        std::hint::black_box(model.classify(&a));
    }
    let mut h = Histogram::<u64>::new(3)?;
    let mut attacks = 0usize;
    let start = Instant::now();
    for v in values {
        let t = Instant::now();
        analyzer.analyze(v.as_bytes(), true, &mut a);
        let s = model.classify(&a);
        h.record(t.elapsed().as_nanos() as u64)?;
        attacks += usize::from(s.max_attack() >= 0.5);
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes: usize = values.iter().map(|v| v.len()).sum();
    println!(
        "uncached classification, {name} ({} values, mean {:.0} bytes): {:.0} payloads/s; latency p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs ({} flagged)",
        values.len(),
        bytes as f64 / values.len().max(1) as f64,
        values.len() as f64 / secs,
        pct(&h, 0.5),
        pct(&h, 0.99),
        pct(&h, 0.999),
        attacks
    );
    if std::env::var_os("MODELS_BENCH_SPLIT").is_some() {
        let analyses: Vec<PayloadAnalysis> = values
            .iter()
            .map(|v| analyzer.analyze_new(v.as_bytes(), true))
            .collect();
        let t = Instant::now();
        for v in values {
            analyzer.analyze(v.as_bytes(), true, &mut a);
        }
        let an = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for x in &analyses {
            std::hint::black_box(model.classify(x));
        }
        let cl = t.elapsed().as_secs_f64();
        println!(
            "  split: analysis {:.2} µs/payload, model {:.2} µs/payload",
            an * 1e6 / values.len() as f64,
            cl * 1e6 / values.len() as f64
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let bundle = sentinel_benches::bench_models("full")?;
    let model = bundle.payload.active.clone();
    println!("model: {}", model.version());
    let values: Vec<String> = generate(
        99,
        CorpusSize {
            per_attack_class: 3000,
            benign: 35_000,
        },
    )
    .into_iter()
    .map(|s| s.text)
    .collect();

    // 1. Uncached classification, on the generated mix and on real
    //    parameter values (HttpParams, when ../shared/data is present).
    let mut analyzer = Analyzer::default();
    let mut a = PayloadAnalysis::default();
    uncached(&mut analyzer, model.as_ref(), "generated mix", &values)?;
    let real = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/httpparams/payload_train.csv"
    );
    if std::path::Path::new(real).exists() {
        let real: Vec<String> = sentinel_models::corpus_files::load(real)?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        uncached(&mut analyzer, model.as_ref(), "HttpParams values", &real)?;
    }
    if std::env::var_os("MODELS_BENCH_CLASSIFY_ONLY").is_some() {
        for _ in 0..20 {
            for v in &values {
                analyzer.analyze(v.as_bytes(), true, &mut a);
                std::hint::black_box(model.classify(&a));
            }
        }
        return Ok(());
    }

    // 2. Cached predictions.
    let engine = ServingEngine::new(bundle.payload.clone(), ServingConfig::default());
    let hot: Vec<&String> = values.iter().take(5000).collect();
    for v in &hot {
        engine.predict(v.as_bytes(), true, "bench");
    }
    let mut h = Histogram::<u64>::new(3)?;
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for v in &hot {
            let t = Instant::now();
            let p = engine.predict(v.as_bytes(), true, "bench");
            h.record(t.elapsed().as_nanos() as u64)?;
            debug_assert!(p.cached);
            std::hint::black_box(p);
        }
    }
    let n = rounds * hot.len();
    println!(
        "cached prediction: {n} hits, {:.0} ns mean; p50 {:.3} µs, p99 {:.3} µs",
        start.elapsed().as_nanos() as f64 / n as f64,
        pct(&h, 0.5),
        pct(&h, 0.99)
    );

    // 3. Training on 100,000 samples.
    let corpus = generate(
        7,
        CorpusSize {
            per_attack_class: 14_000,
            benign: 30_000,
        },
    );
    let t0 = Instant::now();
    let set = TrainingSet::build(
        corpus.iter().map(|s| (s.text.as_str(), s.class)),
        NgramHasher::default(),
        |_| {},
    );
    let featurize = t0.elapsed();
    let all: Vec<usize> = (0..set.len()).collect();
    let t1 = Instant::now();
    let _m = Trainer {
        config: TrainConfig::default(),
    }
    .fit(&set, &all, |_| {});
    let fit = t1.elapsed();
    println!(
        "training: {} samples featurized in {:.2} s, fitted ({} epochs + calibration) in {:.2} s: {:.2} s in all",
        set.len(),
        featurize.as_secs_f64(),
        TrainConfig::default().epochs,
        fit.as_secs_f64(),
        (featurize + fit).as_secs_f64()
    );

    // 4. Explanations.
    if let Some(h) = model.as_hybrid() {
        let t = Instant::now();
        let _ = h.explainer();
        println!(
            "explainer preparation (once per model): {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let mut h = Histogram::<u64>::new(3)?;
    let sample: Vec<&String> = values.iter().step_by(25).collect();
    let mut total = Duration::ZERO;
    for v in &sample {
        let t = Instant::now();
        analyzer.analyze(v.as_bytes(), true, &mut a);
        let e = explain_payload(model.as_ref(), &a, None);
        let d = t.elapsed();
        total += d;
        h.record(d.as_nanos() as u64)?;
        std::hint::black_box(e);
    }
    println!(
        "explanation: {} payloads, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        sample.len(),
        total.as_secs_f64() * 1e6 / sample.len() as f64,
        pct(&h, 0.5),
        pct(&h, 0.99),
        h.max() as f64 / 1000.0
    );
    Ok(())
}
