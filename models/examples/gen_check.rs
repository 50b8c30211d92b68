//! Development aid: rule-classifier detection on the generated corpus.
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::{label_of, Analyzer, PayloadClassifier, RuleClassifier};
use std::collections::BTreeMap;
fn main() {
    let c = generate(
        42,
        CorpusSize {
            per_attack_class: 2000,
            benign: 10000,
        },
    );
    let mut an = Analyzer::default();
    let mut st: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    let show = std::env::args().nth(1);
    for s in &c {
        let a = an.analyze_new(s.text.as_bytes(), true);
        let (l, _) = label_of(&RuleClassifier.classify(&a), 0.5);
        let e = st.entry(s.class.to_string()).or_default();
        e.0 += 1;
        if l == s.class {
            e.1 += 1
        }
        if l.is_attack() == s.class.is_attack() {
            e.2 += 1
        }
        if show.as_deref() == Some(s.class.as_str()) && l != s.class {
            println!("{l}\t{:?}", s.text);
        }
    }
    for (k, (n, ex, bin)) in st {
        eprintln!(
            "{k:<16} {n:>6} exact {:>6.1}% attack? {:>6.1}%",
            100.0 * ex as f64 / n as f64,
            100.0 * bin as f64 / n as f64
        );
    }
}
