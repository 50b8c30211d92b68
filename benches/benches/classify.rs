//! Single-thread payload classification throughput (normalize → lex →
//! signatures → features → classify), uncached: the rule classifier and
//! the default hybrid model (trained into `target/bench-data` on first use).
//!
//! `cargo bench -p sentinel-benches --bench classify`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sentinel_models::analysis::PayloadAnalysis;
use sentinel_models::{Analyzer, PayloadClassifier, RuleClassifier};

fn classify(c: &mut Criterion) {
    let mix = sentinel_benches::payload_mix(10_000);
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.sample_size(20);
    group.bench_function("rules_uncached_10k_mix", |b| {
        let mut analyzer = Analyzer::default();
        let mut out = PayloadAnalysis::default();
        b.iter_batched(
            || (),
            |_| {
                let mut attacks = 0u32;
                for p in &mix {
                    analyzer.analyze(p, true, &mut out);
                    if RuleClassifier.classify(&out).max_attack() >= 0.5 {
                        attacks += 1;
                    }
                }
                attacks
            },
            BatchSize::SmallInput,
        )
    });
    let bundle = sentinel_benches::bench_models("full").expect("default model");
    let model = bundle.payload.active.clone();
    group.bench_function("hybrid_uncached_10k_mix", |b| {
        let mut analyzer = Analyzer::default();
        let mut out = PayloadAnalysis::default();
        b.iter_batched(
            || (),
            |_| {
                let mut attacks = 0u32;
                for p in &mix {
                    analyzer.analyze(p, true, &mut out);
                    if model.classify(&out).max_attack() >= 0.5 {
                        attacks += 1;
                    }
                }
                attacks
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
