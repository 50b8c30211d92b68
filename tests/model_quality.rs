//! Quality of the default model (trained from the generators alone) on
//! corpora it never saw, and the inert-value shortcut of the hybrid.

mod common;

use common::*;
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_models::evaluate::evaluate;
use sentinel_models::{
    corpus_files, label_of, Analyzer, ModelBundle, ModelsConfig, PayloadClassifier,
};
use sentinel_schema::ThreatClass;

fn default_model() -> std::sync::Arc<dyn PayloadClassifier> {
    models_ready();
    ModelBundle::open(&data_dir(), &ModelsConfig::default(), |_| {})
        .unwrap()
        .payload
        .active
}

fn metrics(
    model: &dyn PayloadClassifier,
    samples: &[(String, ThreatClass)],
) -> sentinel_models::evaluate::Metrics {
    let mut an = Analyzer::default();
    let (mut t, mut p, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for (text, class) in samples {
        let a = an.analyze_new(text.as_bytes(), true);
        let scores = model.classify(&a);
        t.push(*class);
        p.push(label_of(&scores, 0.5).0);
        s.push(scores.max_attack());
    }
    evaluate(&t, &p, &s)
}

#[test]
fn the_default_model_generalizes_to_public_corpora() {
    let model = default_model();
    assert!(model.version().starts_with("hybrid-"));
    if let Some(p) = shared("httpparams/payload_train.csv") {
        let m = metrics(
            model.as_ref(),
            &corpus_files::load(p.to_str().unwrap()).unwrap(),
        );
        assert!(m.attack_tpr >= 0.98, "HttpParams TPR {}", m.attack_tpr);
        assert!(m.attack_fpr <= 0.005, "HttpParams FPR {}", m.attack_fpr);
        let at_half_percent = m.sweep.iter().find(|p| p.max_fpr == 0.005).unwrap();
        assert!(at_half_percent.tpr >= 0.99, "{at_half_percent:?}");
    }
    if let Some(p) = shared("mgm/nuclei") {
        let m = metrics(
            model.as_ref(),
            &corpus_files::load(p.to_str().unwrap()).unwrap(),
        );
        assert!(m.attack_tpr >= 0.99, "mgm TPR {}", m.attack_tpr);
    }
}

#[test]
fn inert_values_are_benign_for_the_model() {
    // The hybrid answers "benign" without the model for values with no
    // injection syntax. That must never change a label: the model itself
    // scores every such value below 0.5 on every corpus we have.
    let model = default_model();
    let hybrid = model.as_hybrid().expect("the default model is a hybrid");
    let mut samples: Vec<String> = generate(77, CorpusSize::default())
        .into_iter()
        .map(|s| s.text)
        .collect();
    for rel in ["httpparams/payload_train.csv", "mgm/nuclei"] {
        if let Some(p) = shared(rel) {
            samples.extend(
                corpus_files::load(p.to_str().unwrap())
                    .unwrap()
                    .into_iter()
                    .map(|(t, _)| t),
            );
        }
    }
    let mut an = Analyzer::default();
    let mut inert = 0;
    for t in &samples {
        let a = an.analyze_new(t.as_bytes(), true);
        if a.is_inert() {
            inert += 1;
            let ml = hybrid.ml_scores(&a).max_attack();
            assert!(ml < 0.5, "the model flags inert value {t:?} ({ml})");
        }
    }
    assert!(inert > 10_000, "{inert}");
}
