//! Anomaly-detection quality figures (not timings).
//!
//! 1. Application profile on CSIC 2010 normal traffic: learn on a seeded 80 %
//!    of the requests, then score the held-out 20 % as they are (false
//!    positives) and with one parameter value replaced by (a) a generated
//!    attack payload, (b) a value of the wrong shape (letters in a numeric
//!    field, a value far longer than any seen) — detection rates at the
//!    0.5 and 0.9 score thresholds.
//! 2. Behaviour model: the default Isolation Forest and the heuristic on
//!    simulated clients of each kind, from a seed the forest never saw.
//!
//! `cargo run --release -p sentinel-benches --bin anomaly-eval [CSIC_FILE]`

use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use sentinel_models::anomaly::sessions::{kind_vectors, normal_vectors, ClientKind};
use sentinel_models::anomaly::{AppProfile, BehaviourModelConfig, BehaviourScorer, ProfileConfig};
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::features::behaviour::N;
use sentinel_operators::extract::{extract, ExtractLimits};
use sentinel_operators::profile_params::profile_params;
use sentinel_sources::{FileSource, SourceItem, SourceOptions};

type Request = (String, String, Vec<(String, String)>);

fn rate(scores: &[f32], t: f32) -> f64 {
    scores.iter().filter(|s| **s >= t).count() as f64 / scores.len().max(1) as f64
}

fn main() -> anyhow::Result<()> {
    let file = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/data/csic2010/normalTrafficTraining.txt.gz"
            ))
        });
    let mut src = FileSource::open(&file, SourceOptions::default())?;
    let mut requests: Vec<Request> = Vec::new();
    while let Some(item) = src.next_item() {
        if let SourceItem::Event { event, .. } = item {
            let x = extract(&event.request, &ExtractLimits::default());
            requests.push((
                x.summary.method.clone(),
                x.summary.path.clone(),
                profile_params(&x.payloads),
            ));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2010);
    requests.shuffle(&mut rng);
    let cut = requests.len() * 4 / 5;
    let (train, test) = requests.split_at(cut);
    let mut profile = AppProfile::new(ProfileConfig::default());
    for (m, p, params) in train {
        profile.observe(m, p, params);
    }
    let normal: Vec<f32> = test
        .iter()
        .map(|(m, p, params)| profile.score(m, p, params).score)
        .collect();
    let attacks: Vec<String> = generate(
        7,
        CorpusSize {
            per_attack_class: 400,
            benign: 0,
        },
    )
    .into_iter()
    .map(|s| s.text)
    .collect();
    let with_params: Vec<&Request> = test.iter().filter(|r| !r.2.is_empty()).collect();
    let mut injected = Vec::new();
    let mut shape = Vec::new();
    for (i, (m, p, params)) in with_params.iter().enumerate() {
        let j = rng.gen_range(0..params.len());
        let mut a = params.clone();
        a[j].1 = attacks[i % attacks.len()].clone();
        injected.push(profile.score(m, p, &a).score);
        let mut b = params.clone();
        b[j].1 = if b[j].1.bytes().all(|c| c.is_ascii_digit()) && !b[j].1.is_empty() {
            "abc".to_string()
        } else {
            "x".repeat(b[j].1.len() * 4 + 40)
        };
        shape.push(profile.score(m, p, &b).score);
    }
    println!(
        "profile: learned {} endpoints / {} parameters from {} CSIC requests; held out {} ({} with parameters)",
        profile.endpoints.len(),
        profile.param_count(),
        train.len(),
        test.len(),
        with_params.len()
    );
    println!("| held-out traffic | requests | score ≥ 0.5 | score ≥ 0.9 |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("normal (false positives)", &normal),
        ("one value replaced by a generated attack", &injected),
        ("one value of the wrong shape", &shape),
    ] {
        println!(
            "| {name} | {} | {:.4} | {:.4} |",
            s.len(),
            rate(s, 0.5),
            rate(s, 0.9)
        );
    }

    let forest = BehaviourScorer::from_config(&BehaviourModelConfig::default());
    let heuristic = BehaviourScorer::Heuristic;
    println!();
    println!("behaviour: share of requests scoring ≥ 0.5 (simulated clients, seed unseen in training; hostile kinds from their 11th request)");
    println!("| client kind | requests | Isolation Forest | heuristic |");
    println!("|---|---:|---:|---:|");
    let show = |name: &str, v: &[[f32; N]]| {
        let f: Vec<f32> = v.iter().map(|x| forest.score(x)).collect();
        let h: Vec<f32> = v.iter().map(|x| heuristic.score(x)).collect();
        println!(
            "| {name} | {} | {:.4} | {:.4} |",
            v.len(),
            rate(&f, 0.5),
            rate(&h, 0.5)
        );
    };
    show("ordinary mix", &normal_vectors(99, 1000));
    for k in ClientKind::NORMAL {
        show(k.name(), &kind_vectors(k, 4242, 200, 0));
    }
    for k in ClientKind::HOSTILE {
        show(k.name(), &kind_vectors(k, 4242, 50, 10));
    }
    Ok(())
}
