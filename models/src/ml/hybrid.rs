//! The hybrid classifier: the ML model, with the rules as a safety net.

use std::cell::RefCell;
use std::sync::Arc;

use sentinel_schema::{ClassScores, ThreatClass};

use super::artifact::ModelArtifact;
use super::fast::{FastScratch, FastTables};
use super::model::LinearModel;
use crate::analysis::PayloadAnalysis;
use crate::classifier::{rule_scores, PayloadClassifier};

/// The hybrid combination: ML scores, lifted per class to the rule score
/// where a signature at least as strong as `rule_override` matched.
/// `features` are the payload's named features (for the signature weights).
pub fn combine(
    mut ml: ClassScores,
    rules: &ClassScores,
    features: &[f32],
    rule_override: f32,
) -> ClassScores {
    use crate::features::payload::P;
    let sig = |p: P| features.get(p as usize).copied().unwrap_or(0.0);
    let mut lifted = false;
    for (class, w) in [
        (ThreatClass::Sqli, sig(P::SigSqli)),
        (ThreatClass::Xss, sig(P::SigXss)),
        (ThreatClass::Cmdi, sig(P::SigCmdi)),
        (ThreatClass::PathTraversal, sig(P::SigPath)),
        (ThreatClass::Xxe, sig(P::SigXxe)),
    ] {
        if w >= rule_override && rules.get(class) > ml.get(class) {
            ml.set(class, rules.get(class));
            lifted = true;
        }
    }
    if lifted {
        ml.benign = (1.0 - ml.max_attack()).min(ml.benign);
    }
    ml
}

thread_local! {
    static SCRATCH: RefCell<FastScratch> = RefCell::new(FastScratch::default());
}

/// The ML model's calibrated probabilities, except that a rule signature
/// at least as strong as `rule_override` lifts its class to the rule's
/// score (rules catch what the model misses). The model sees the signature
/// weights as features, so it also learns when a signature over-fires
/// (the model rescues what rules over-fire on).
#[derive(Clone, Debug)]
pub struct HybridClassifier {
    model: Arc<LinearModel>,
    rule_override: f32,
    version: String,
    explainer: Arc<std::sync::OnceLock<crate::explain::LinearExplainer>>,
    fast: Arc<FastTables>,
}

impl HybridClassifier {
    /// A classifier over a trained artifact, labelled `version`.
    pub fn new(artifact: ModelArtifact, version: impl Into<String>) -> Self {
        HybridClassifier {
            rule_override: artifact.rule_override,
            fast: Arc::new(FastTables::new(&artifact.model)),
            model: Arc::new(artifact.model),
            version: version.into(),
            explainer: Arc::default(),
        }
    }

    /// The linear model.
    pub fn model(&self) -> &LinearModel {
        &self.model
    }

    /// The override threshold.
    pub fn rule_override(&self) -> f32 {
        self.rule_override
    }

    /// The explainer of the model (prepared on first use: one pass over the weights).
    pub fn explainer(&self) -> &crate::explain::LinearExplainer {
        self.explainer
            .get_or_init(|| crate::explain::LinearExplainer::new(&self.model))
    }

    /// The ML probabilities alone.
    pub fn ml_scores(&self, a: &PayloadAnalysis) -> ClassScores {
        let margins = SCRATCH.with(|s| self.fast.margins(&self.model, a, &mut s.borrow_mut()));
        LinearModel::scores(&self.model.softmax(&margins))
    }
}

impl PayloadClassifier for HybridClassifier {
    fn version(&self) -> &str {
        &self.version
    }

    fn as_hybrid(&self) -> Option<&HybridClassifier> {
        Some(self)
    }

    fn classify(&self, a: &PayloadAnalysis) -> ClassScores {
        if a.is_inert() {
            return ClassScores {
                benign: 1.0,
                ..Default::default()
            };
        }
        let ml = self.ml_scores(a);
        if a.hits.is_empty() {
            return ml;
        }
        combine(ml, &rule_scores(a), &a.features, self.rule_override)
    }
}
