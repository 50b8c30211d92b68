//! Development aid: how often the default model flags "inert" values.
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::{Analyzer, ModelBundle, ModelsConfig};

fn main() {
    let dir = std::env::args().nth(1).expect("data dir");
    let b =
        ModelBundle::open(std::path::Path::new(&dir), &ModelsConfig::default(), |_| {}).unwrap();
    let m = b.payload.active.clone();
    let mut an = Analyzer::default();
    let mut sets: Vec<(String, Vec<(String, sentinel_schema::ThreatClass)>)> = vec![(
        "generated".into(),
        generate(123, CorpusSize::default())
            .into_iter()
            .map(|s| (s.text, s.class))
            .collect(),
    )];
    for spec in [
        "../shared/data/httpparams/payload_train.csv",
        "../shared/data/mgm/nuclei",
    ] {
        sets.push((
            spec.into(),
            sentinel_models::corpus_files::load(spec).unwrap(),
        ));
    }
    for (name, samples) in sets {
        let (mut inert, mut inert_attack_truth, mut inert_flagged, mut inert_missed) = (0, 0, 0, 0);
        for (t, c) in &samples {
            let a = an.analyze_new(t.as_bytes(), true);
            if a.is_inert() {
                inert += 1;
                let s = m.classify(&a);
                let flagged = s.max_attack() >= 0.5;
                inert_flagged += usize::from(flagged);
                if c.is_attack() {
                    inert_attack_truth += 1;
                    inert_missed += usize::from(flagged);
                    if inert_attack_truth < 6 {
                        println!("  inert attack: {c:?} {t:?} model {:.3}", s.max_attack());
                    }
                }
            }
        }
        println!("{name}: {} samples, {inert} inert; model flags {inert_flagged} of them; {inert_attack_truth} inert are labelled attacks ({inert_missed} of those flagged by the model)", samples.len());
    }
}
