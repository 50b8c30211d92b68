//! Payload explanations: exact Shapley values of the model in use.
//!
//! * ML model (multinomial logistic regression): the explained quantity is
//!   the class's *centered, temperature-scaled logit*
//!   `g(x) = (f_c(x) − mean_k f_k(x)) / T`, which is linear in the inputs,
//!   so `φⱼ = w′ⱼ (xⱼ − rⱼ)` is exact. Inputs are the TF-IDF values of the
//!   hashed n-gram buckets (baseline: their training mean) and the
//!   standardized named features (baseline 0, their training mean). The
//!   buckets absent from the payload are summed into one contribution. The
//!   softmax then turns `g` into the class probability, monotonically.
//! * Rule classifier: the class score is the noisy-OR of the matching
//!   signatures' weights; Shapley values are computed exactly over the
//!   matching signatures.

use std::collections::BTreeMap;

use sentinel_schema::{
    Contribution, ContributionKind, PayloadExplanation, SignatureMatch, ThreatClass,
};

use super::shapley;
use crate::analysis::PayloadAnalysis;
use crate::classifier::{rule_scores, PayloadClassifier};
use crate::features::payload::{N as N_DENSE, SPECS};
use crate::ml::{LinearModel, Scratch, ML_CLASSES};
use crate::signatures::{Matcher, SIGNATURES};

/// The n-grams that fell in a bucket, and where they are.
type BucketText = (Vec<String>, Vec<(usize, usize)>);

/// Precomputed per-model terms (one pass over the weights).
#[derive(Clone, Debug)]
pub struct LinearExplainer {
    /// Per class: `Σⱼ w′ⱼ rⱼ` over all sparse buckets (the baseline's sparse part).
    baseline_sparse: Vec<f32>,
}

impl LinearExplainer {
    /// Prepares explanations for `model`.
    pub fn new(model: &LinearModel) -> Self {
        let dim = model.dim();
        let cols = dim + N_DENSE;
        let w = model.weights.as_slice().unwrap_or(&[]);
        let k = ML_CLASSES.len();
        let t = model.temperature.max(1e-3);
        let baseline_sparse = (0..k)
            .map(|c| {
                let mut s = 0.0f64;
                for j in 0..dim {
                    let mean_w: f32 = (0..k).map(|q| w[q * cols + j]).sum::<f32>() / k as f32;
                    s += (((w[c * cols + j] - mean_w) / t)
                        * model.sparse_mean.get(j).copied().unwrap_or(0.0))
                        as f64;
                }
                s as f32
            })
            .collect();
        LinearExplainer { baseline_sparse }
    }

    /// The centered weight of column `j` for class `c`.
    fn w(model: &LinearModel, c: usize, j: usize) -> f32 {
        let cols = model.dim() + N_DENSE;
        let w = model.weights.as_slice().unwrap_or(&[]);
        let k = ML_CLASSES.len();
        let mean: f32 = (0..k).map(|q| w[q * cols + j]).sum::<f32>() / k as f32;
        (w[c * cols + j] - mean) / model.temperature.max(1e-3)
    }

    /// Exact Shapley values of `g_c` for an analyzed payload. Returns
    /// `(value, baseline, contributions)`, contributions unsorted.
    pub fn shapley(
        &self,
        model: &LinearModel,
        a: &PayloadAnalysis,
        class: ThreatClass,
    ) -> (f32, f32, Vec<Contribution>) {
        let c = ML_CLASSES
            .iter()
            .position(|x| *x == class)
            .unwrap_or(ML_CLASSES.len() - 1);
        let mut s = Scratch::default();
        model.featurize(a, &mut s);
        let dim = model.dim();
        let k = ML_CLASSES.len() as f32;
        let bias =
            (model.bias[c] - model.bias.iter().sum::<f32>() / k) / model.temperature.max(1e-3);
        // Readable names of the buckets present: the n-grams that fell in them.
        let mut names: BTreeMap<u32, BucketText> = BTreeMap::new();
        let text = &a.normalized.text;
        let bytes = text.as_bytes();
        model.hasher.for_each(text, |bucket, start, len| {
            let gram = String::from_utf8_lossy(&bytes[start..start + len]).into_owned();
            let e = names.entry(bucket).or_default();
            if !e.0.contains(&gram) && e.0.len() < 4 {
                e.0.push(gram);
            }
            if e.1.len() < 4 {
                e.1.push((start, start + len));
            }
        });
        let mut out = Vec::with_capacity(s.sparse.idx.len() + N_DENSE + 1);
        let mut value = bias;
        let mut present_baseline = 0.0f32;
        for (i, x) in s.sparse.idx.iter().zip(&s.sparse.val) {
            let j = *i as usize;
            let w = Self::w(model, c, j);
            let r = model.sparse_mean.get(j).copied().unwrap_or(0.0);
            value += w * x;
            present_baseline += w * r;
            let (grams, spans) = names
                .get(i)
                .map(|(g, sp)| {
                    (
                        g.iter()
                            .map(|s| format!("{s:?}"))
                            .collect::<Vec<_>>()
                            .join(" | "),
                        sp.clone(),
                    )
                })
                .unwrap_or_default();
            out.push(Contribution {
                kind: ContributionKind::Ngram,
                name: format!("n-gram {grams}"),
                value: *x,
                baseline: r,
                phi: w * (x - r),
                spans,
            });
        }
        let absent = -(self.baseline_sparse[c] - present_baseline);
        out.push(Contribution {
            kind: ContributionKind::AbsentNgrams,
            name: "n-grams absent from the payload".into(),
            value: 0.0,
            baseline: 0.0,
            phi: absent,
            spans: Vec::new(),
        });
        for (d, z) in s.dense.iter().enumerate() {
            let w = Self::w(model, c, dim + d);
            value += w * z;
            out.push(Contribution {
                kind: ContributionKind::Feature,
                name: SPECS[d].name.to_string(),
                value: a.features[d],
                baseline: model.dense_mean[d].exp() - 1.0,
                phi: w * z,
                spans: Vec::new(),
            });
        }
        let baseline = bias + self.baseline_sparse[c];
        (value, baseline, out)
    }
}

/// Shapley values of the rule classifier's noisy-OR score of `class` over
/// the matching signatures of that class (exact enumeration; at most 16
/// signatures, the strongest).
pub fn rules_shapley(a: &PayloadAnalysis, class: ThreatClass) -> (f32, Vec<Contribution>) {
    let mut sigs: Vec<&crate::signatures::Signature> = a
        .hits
        .iter()
        .map(|i| &SIGNATURES[*i as usize])
        .filter(|s| s.class == class)
        .collect();
    sigs.sort_by(|x, y| y.weight.total_cmp(&x.weight).then_with(|| x.id.cmp(y.id)));
    sigs.truncate(16);
    let v = |mask: u32| -> f64 {
        1.0 - sigs
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .fold(1.0f64, |acc, (_, s)| acc * (1.0 - s.weight as f64))
    };
    let value = v((1u32 << sigs.len()) - 1) as f32;
    let phi = shapley::exact(sigs.len(), v);
    let out = sigs
        .iter()
        .zip(phi)
        .map(|(s, p)| Contribution {
            kind: ContributionKind::Signature,
            name: s.id.to_string(),
            value: 1.0,
            baseline: 0.0,
            phi: p as f32,
            spans: Vec::new(),
        })
        .collect();
    (value, out)
}

/// The matching signatures with the byte spans of their matches in the
/// normalized text (regex signatures; custom matchers have no spans).
pub fn signature_matches(a: &PayloadAnalysis) -> Vec<SignatureMatch> {
    let mut out: Vec<SignatureMatch> = a
        .hits
        .iter()
        .map(|i| {
            let s = &SIGNATURES[*i as usize];
            let spans = match &s.matcher {
                Matcher::Regex(re) => re
                    .find_iter(&a.normalized.text)
                    .take(8)
                    .map(|m| (m.start(), m.end()))
                    .collect(),
                Matcher::Func(_) => Vec::new(),
            };
            SignatureMatch {
                id: s.id.to_string(),
                class: s.class,
                weight: s.weight,
                description: s.description.to_string(),
                spans,
            }
        })
        .collect();
    out.sort_by(|x, y| y.weight.total_cmp(&x.weight).then_with(|| x.id.cmp(&y.id)));
    out
}

fn sort(c: &mut [Contribution]) {
    c.sort_by(|a, b| {
        b.phi
            .abs()
            .total_cmp(&a.phi.abs())
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Explains `classifier`'s score of `class` (default: its predicted class)
/// for an analyzed payload.
pub fn explain_payload(
    classifier: &dyn PayloadClassifier,
    a: &PayloadAnalysis,
    class: Option<ThreatClass>,
) -> PayloadExplanation {
    let scores = classifier.classify(a);
    let class = class.unwrap_or_else(|| match scores.top_attack() {
        Some((c, s)) if s >= 0.5 => c,
        _ => ThreatClass::Benign,
    });
    let signatures = signature_matches(a);
    let normalized = a.normalized.text.clone();
    match classifier.as_hybrid() {
        Some(h) => {
            let (value, baseline, mut contributions) = h.explainer().shapley(h.model(), a, class);
            sort(&mut contributions);
            let ml = h.ml_scores(a).get(class);
            let fin = scores.get(class);
            let rule_override = (fin > ml + 1e-6).then(|| {
                let sig = signatures
                    .iter()
                    .find(|s| s.class == class)
                    .map(|s| format!("{} (weight {:.2})", s.id, s.weight))
                    .unwrap_or_default();
                format!(
                    "signature {sig} lifted {} from the model's {ml:.4} to {fin:.4}",
                    class.as_str()
                )
            });
            PayloadExplanation {
                model_version: classifier.version().to_string(),
                class,
                score: fin,
                method: "linear-exact".into(),
                target: format!(
                    "centered logit of {} (softmax input, temperature-scaled)",
                    class.as_str()
                ),
                value,
                baseline,
                contributions,
                rule_override,
                signatures,
                normalized,
            }
        }
        None => {
            let explained = if class == ThreatClass::Benign {
                scores
                    .top_attack()
                    .map(|(c, _)| c)
                    .unwrap_or(ThreatClass::Sqli)
            } else {
                class
            };
            let (value, mut contributions) = rules_shapley(a, explained);
            sort(&mut contributions);
            PayloadExplanation {
                model_version: classifier.version().to_string(),
                class,
                score: rule_scores(a).get(class),
                method: "rules-exact".into(),
                target: format!(
                    "noisy-OR score of {} over matching signatures",
                    explained.as_str()
                ),
                value,
                baseline: 0.0,
                contributions,
                rule_override: None,
                signatures,
                normalized,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::ml::{
        HybridClassifier, ModelArtifact, NgramHasher, TrainConfig, Trainer, TrainingSet,
    };
    use crate::RuleClassifier;

    fn small_model() -> HybridClassifier {
        let corpus = crate::corpus::generate(
            3,
            crate::corpus::CorpusSize {
                per_attack_class: 150,
                benign: 600,
            },
        );
        let set = TrainingSet::build(
            corpus.iter().map(|s| (s.text.as_str(), s.class)),
            NgramHasher {
                bits: 12,
                ..Default::default()
            },
            |_| {},
        );
        let all: Vec<usize> = (0..set.len()).collect();
        let model = Trainer {
            config: TrainConfig {
                epochs: 3,
                ..Default::default()
            },
        }
        .fit(&set, &all, |_| {});
        HybridClassifier::new(
            ModelArtifact {
                kind: "hybrid-logreg".into(),
                feature_schema: "payload-v1".into(),
                rule_override: 0.9,
                model,
            },
            "test",
        )
    }

    #[test]
    fn contributions_sum_to_value_minus_baseline_and_match_the_logits() {
        let clf = small_model();
        let ex = LinearExplainer::new(clf.model());
        let mut an = Analyzer::default();
        for payload in [
            "1' union select password from users--",
            "<svg onload=alert(1)>",
            "red shoes",
            "../../etc/passwd",
        ] {
            let a = an.analyze_new(payload.as_bytes(), true);
            for class in ML_CLASSES {
                let (value, baseline, c) = ex.shapley(clf.model(), &a, class);
                let sum: f32 = c.iter().map(|c| c.phi).sum();
                assert!(
                    (sum - (value - baseline)).abs() < 1e-3,
                    "{payload} {class:?}: {sum} vs {}",
                    value - baseline
                );
                // `value` is the model's own centered logit.
                let mut s = Scratch::default();
                clf.model().featurize(&a, &mut s);
                let mut m = [0.0; 6];
                clf.model().margins_of(&s, &mut m);
                let ci = ML_CLASSES.iter().position(|x| *x == class).unwrap();
                let centered = (m[ci] - m.iter().sum::<f32>() / 6.0) / clf.model().temperature;
                assert!((centered - value).abs() < 1e-3, "{centered} vs {value}");
            }
        }
    }

    #[test]
    fn closed_form_matches_brute_force_on_the_real_model() {
        // Players: 6 present n-gram buckets and 6 named features of a real
        // payload; every other input stays at the payload's value. A player
        // outside the coalition takes its baseline value. Brute force over
        // all 2^12 coalitions must give the closed-form values.
        let clf = small_model();
        let model = clf.model();
        let ex = LinearExplainer::new(model);
        let mut an = Analyzer::default();
        let a = an.analyze_new(b"1' union select password from users where 'a'='a", true);
        let class = ThreatClass::Sqli;
        let c = ML_CLASSES.iter().position(|x| *x == class).unwrap();
        let mut s = Scratch::default();
        model.featurize(&a, &mut s);
        let sparse_players: Vec<usize> = (0..6).collect();
        let dense_players: Vec<usize> = (0..N_DENSE)
            .filter(|d| s.dense[*d] != 0.0)
            .take(6)
            .collect();
        assert_eq!(dense_players.len(), 6);
        let g = |mask: u32| -> f64 {
            let mut t = Scratch::default();
            t.sparse = s.sparse.clone();
            t.dense = s.dense;
            for (p, &i) in sparse_players.iter().enumerate() {
                if mask & (1 << p) == 0 {
                    t.sparse.val[i] = model.sparse_mean[t.sparse.idx[i] as usize];
                }
            }
            for (p, &d) in dense_players.iter().enumerate() {
                if mask & (1 << (p + 6)) == 0 {
                    t.dense[d] = 0.0;
                }
            }
            let mut m = [0.0; 6];
            model.margins_of(&t, &mut m);
            ((m[c] - m.iter().sum::<f32>() / 6.0) / model.temperature) as f64
        };
        let brute = shapley::exact(12, g);
        let (_, _, closed) = ex.shapley(model, &a, class);
        let ngram_phi: Vec<f32> = closed
            .iter()
            .filter(|c| c.kind == ContributionKind::Ngram)
            .map(|c| c.phi)
            .collect();
        let feature_phi: Vec<f32> = closed
            .iter()
            .filter(|c| c.kind == ContributionKind::Feature)
            .map(|c| c.phi)
            .collect();
        for (p, &i) in sparse_players.iter().enumerate() {
            assert!(
                (brute[p] - ngram_phi[i] as f64).abs() < 1e-4,
                "bucket {i}: {} vs {}",
                brute[p],
                ngram_phi[i]
            );
        }
        for (p, &d) in dense_players.iter().enumerate() {
            assert!(
                (brute[p + 6] - feature_phi[d] as f64).abs() < 1e-4,
                "feature {d}: {} vs {}",
                brute[p + 6],
                feature_phi[d]
            );
        }
    }

    #[test]
    fn rules_shapley_is_efficient_and_names_the_signatures() {
        let mut an = Analyzer::default();
        let a = an.analyze_new(b"1' union select password from users-- ", true);
        let (value, c) = rules_shapley(&a, ThreatClass::Sqli);
        let sum: f32 = c.iter().map(|c| c.phi).sum();
        assert!((sum - value).abs() < 1e-5);
        assert!(c.len() >= 2, "{c:?}");
        let e = explain_payload(&RuleClassifier, &a, None);
        assert_eq!(e.class, ThreatClass::Sqli);
        assert!(e.signatures.iter().any(|s| !s.spans.is_empty()));
    }
}
