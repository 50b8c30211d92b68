//! The corpus generators against the threat twins: every generated attack
//! must really exploit the twin of its class (it parses as the intended
//! injection, runs a command, escapes the web root, resolves an external
//! entity...), and no generated benign value may exploit any twin.

use std::collections::BTreeMap;

use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_schema::ThreatClass;
use sentinel_twins::{run, run_all, Family};

fn family(c: ThreatClass) -> Option<Family> {
    Family::parse(c.as_str())
}

fn corpus() -> Vec<sentinel_models::corpus::Sample> {
    let seed = std::env::var("TWIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(31);
    generate(
        seed,
        CorpusSize {
            per_attack_class: 800,
            benign: 3000,
        },
    )
}

#[test]
fn every_generated_attack_exploits_its_twin() {
    let mut missed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut total = 0;
    for s in corpus().iter().filter(|s| s.class.is_attack()) {
        let f = family(s.class).expect("payload classes map to twins");
        total += 1;
        if run(f, &s.text).is_none() {
            missed
                .entry(s.class.as_str())
                .or_default()
                .push(s.text.clone());
        }
    }
    let n: usize = missed.values().map(Vec::len).sum();
    assert!(
        n == 0,
        "{n} of {total} generated attacks exploit no twin:\n{}",
        missed
            .iter()
            .map(|(c, v)| format!("{c} ({}): {:?}", v.len(), &v[..v.len().min(12)]))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn no_generated_benign_value_exploits_a_twin() {
    let mut hits = Vec::new();
    let mut total = 0;
    for s in corpus().iter().filter(|s| s.class == ThreatClass::Benign) {
        total += 1;
        for o in run_all(&s.text) {
            hits.push(format!(
                "{:?} in {} ({}): {}",
                s.text,
                o.family.as_str(),
                o.context,
                o.evidence
            ));
        }
    }
    assert!(
        hits.is_empty(),
        "{} of {total} benign values exploit a twin:\n{}",
        hits.len(),
        hits[..hits.len().min(20)].join("\n")
    );
}
