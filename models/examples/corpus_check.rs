//! Development aid: per-class detection and false-positive rates of the rule
//! classifier on the shared corpora. `cargo run -p sentinel-models --release --example corpus_check`
use sentinel_models::{label_of, Analyzer, PayloadClassifier, RuleClassifier};
use sentinel_schema::ThreatClass;
use std::collections::BTreeMap;

fn main() {
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
    let verbose = std::env::args().nth(1);
    let mut an = Analyzer::default();
    let mut stats: BTreeMap<(String, ThreatClass), (u32, u32, u32)> = BTreeMap::new();
    let start = std::time::Instant::now();
    for (p, class, src) in &samples {
        let a = an.analyze_new(p.as_bytes(), true);
        let s = RuleClassifier.classify(&a);
        let (label, _) = label_of(&s, 0.5);
        let e = stats.entry((src.to_string(), *class)).or_default();
        e.0 += 1;
        if label == *class {
            e.1 += 1;
        }
        if label.is_attack() == class.is_attack() {
            e.2 += 1;
        }
        if let Some(v) = &verbose {
            let want = v.as_str();
            let show = match want {
                "fp" => !class.is_attack() && label.is_attack(),
                "fn" => class.is_attack() && !label.is_attack(),
                c => class.as_str() == c && label != *class,
            };
            if show {
                println!(
                    "{src}\t{class}\t{label}\t{:?}\t{:?}",
                    p,
                    a.signature_ids().collect::<Vec<_>>()
                );
            }
        }
    }
    let el = start.elapsed();
    eprintln!(
        "{} samples in {:?} ({:.0}/s)",
        samples.len(),
        el,
        samples.len() as f64 / el.as_secs_f64()
    );
    eprintln!(
        "{:<12} {:<15} {:>7} {:>9} {:>9}",
        "source", "class", "n", "exact", "attack?"
    );
    for ((src, class), (n, exact, bin)) in stats {
        eprintln!(
            "{:<12} {:<15} {:>7} {:>8.1}% {:>8.1}%",
            src,
            class.as_str(),
            n,
            100.0 * exact as f64 / n as f64,
            100.0 * bin as f64 / n as f64
        );
    }
}
