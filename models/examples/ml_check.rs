//! Development aid: train the hybrid on generated data, evaluate on the shared corpora.
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::ml::{
    HybridClassifier, ModelArtifact, NgramHasher, TrainConfig, Trainer, TrainingSet,
};
use sentinel_models::{label_of, Analyzer, PayloadClassifier};
use sentinel_schema::ThreatClass;
use std::collections::BTreeMap;

fn main() {
    let t0 = std::time::Instant::now();
    let corpus = generate(42, CorpusSize::default());
    let set = TrainingSet::build(
        corpus.iter().map(|s| (s.text.as_str(), s.class)),
        NgramHasher::default(),
        |_| {},
    );
    let t1 = t0.elapsed();
    let all: Vec<usize> = (0..set.len()).collect();
    let model = Trainer {
        config: TrainConfig::default(),
    }
    .fit(&set, &all, |p| eprintln!("{p:?}"));
    eprintln!(
        "corpus+featurize {:?}, total {:?}, T={}",
        t1,
        t0.elapsed(),
        model.temperature
    );
    let clf = HybridClassifier::new(
        ModelArtifact {
            kind: "hybrid-logreg".into(),
            feature_schema: "payload-v1".into(),
            rule_override: 0.9,
            model,
        },
        "dev",
    );

    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let mut samples: Vec<(String, ThreatClass, &'static str)> = Vec::new();
    let mut rdr = csv::Reader::from_path(root.join("httpparams/payload_train.csv")).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        samples.push((r[0].to_string(), r[2].parse().unwrap(), "httpparams"));
    }
    for cat in [
        "cmdexe",
        "log4shell",
        "shellshock",
        "sqli",
        "traversal",
        "xss",
        "xxe",
    ] {
        for (file, label) in [
            ("true-positives.txt", Some(cat)),
            ("false-positives.txt", None),
        ] {
            let p = root.join("mgm/nuclei/payloads").join(cat).join(file);
            for line in std::fs::read_to_string(p).unwrap_or_default().lines() {
                if line.is_empty() {
                    continue;
                }
                let class = match label {
                    Some(c) => c.parse().unwrap(),
                    None => ThreatClass::Benign,
                };
                samples.push((
                    line.to_string(),
                    class,
                    if label.is_some() { "mgm" } else { "mgm-fp" },
                ));
            }
        }
    }
    let show = std::env::args().nth(1);
    let mut an = Analyzer::default();
    let mut st: BTreeMap<(String, ThreatClass), (u32, u32, u32)> = BTreeMap::new();
    let start = std::time::Instant::now();
    for (p, class, src) in &samples {
        let a = an.analyze_new(p.as_bytes(), true);
        let s = clf.classify(&a);
        let (l, _) = label_of(&s, 0.5);
        let e = st.entry((src.to_string(), *class)).or_default();
        e.0 += 1;
        if l == *class {
            e.1 += 1
        }
        if l.is_attack() == class.is_attack() {
            e.2 += 1
        }
        if let Some(v) = &show {
            let show_it = match v.as_str() {
                "fp" => !class.is_attack() && l.is_attack(),
                "fn" => class.is_attack() && !l.is_attack(),
                c => class.as_str() == c && l != *class,
            };
            if show_it {
                println!("{src}\t{class}\t{l}\t{:?}", p);
            }
        }
    }
    eprintln!("{} classified in {:?}", samples.len(), start.elapsed());
    for ((src, class), (n, ex, bin)) in st {
        eprintln!(
            "{:<12} {:<15} {:>7} {:>8.1}% {:>8.1}%",
            src,
            class.as_str(),
            n,
            100.0 * ex as f64 / n as f64,
            100.0 * bin as f64 / n as f64
        );
    }
}
