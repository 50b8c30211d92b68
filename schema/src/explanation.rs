//! Explanations: why a verdict, a payload score or a behaviour score is
//! what it is, as exact Shapley values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ThreatClass;

/// What an input of a model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContributionKind {
    /// A hashed character n-gram or word bucket present in the payload.
    Ngram,
    /// A named payload feature (see `sentinel features --list`).
    Feature,
    /// Every n-gram bucket absent from the payload, together.
    AbsentNgrams,
    /// A matching signature (rule classifier).
    Signature,
    /// A behaviour-window feature.
    Behaviour,
    /// The remaining inputs of a truncated list, together.
    Rest,
}

/// One input's Shapley value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Contribution {
    /// What it is.
    pub kind: ContributionKind,
    /// Readable name (`n-gram "union"`, `quote_count`, ...).
    pub name: String,
    /// The input's value for this payload or window.
    pub value: f32,
    /// The input's baseline value (the training mean, or a typical value).
    pub baseline: f32,
    /// Its Shapley value, in the units of the explained quantity.
    pub phi: f32,
    /// Byte ranges `[start, end)` of the input in the normalized payload
    /// (n-grams; at most 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<(usize, usize)>,
}

/// A signature that matched, with where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignatureMatch {
    /// Signature id.
    pub id: String,
    /// Its class.
    pub class: ThreatClass,
    /// Its weight.
    pub weight: f32,
    /// What it looks for.
    pub description: String,
    /// Byte ranges `[start, end)` of its matches in the normalized text.
    pub spans: Vec<(usize, usize)>,
}

/// Why a payload scored as it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PayloadExplanation {
    /// The model explained.
    pub model_version: String,
    /// The class explained (the predicted one unless asked otherwise).
    pub class: ThreatClass,
    /// The final score of that class (after the rule override, if any).
    pub score: f32,
    /// `linear-exact` (closed form) or `rules-exact` (subset enumeration).
    pub method: String,
    /// The quantity the contributions add up to.
    pub target: String,
    /// Its value for this payload.
    pub value: f32,
    /// Its value at the baseline input.
    pub baseline: f32,
    /// Shapley values, largest magnitude first; `Σ phi = value − baseline`.
    pub contributions: Vec<Contribution>,
    /// How a signature overrode the model, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_override: Option<String>,
    /// Matching signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SignatureMatch>,
    /// The normalized payload the model saw.
    pub normalized: String,
}

/// Why a client's behaviour scored as it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BehaviourExplanation {
    /// `iforest` or `heuristic`.
    pub scorer: String,
    /// The behaviour score.
    pub score: f32,
    /// The score of a typical ordinary window (the baseline).
    pub baseline: f32,
    /// Exact Shapley values over the window features; `Σ phi = score − baseline`.
    pub contributions: Vec<Contribution>,
}

/// The explanation attached to a verdict on request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VerdictExplanation {
    /// One paragraph for an analyst.
    pub narrative: String,
    /// The top finding's payload explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<PayloadExplanation>,
    /// The behaviour score's explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<BehaviourExplanation>,
}

impl PayloadExplanation {
    /// Keeps the `k` largest contributions and folds the rest into one
    /// `rest` entry, so the sum still equals `value − baseline`.
    pub fn truncated(mut self, k: usize) -> Self {
        if self.contributions.len() > k + 1 {
            let rest: Vec<Contribution> = self.contributions.split_off(k);
            self.contributions.push(Contribution {
                kind: ContributionKind::Rest,
                name: format!("{} more inputs", rest.len()),
                value: 0.0,
                baseline: 0.0,
                phi: rest.iter().map(|c| c.phi).sum(),
                spans: Vec::new(),
            });
        }
        self
    }
}
