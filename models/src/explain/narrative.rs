//! One-paragraph narratives from explanations.

use sentinel_schema::{
    BehaviourExplanation, Contribution, ContributionKind, PayloadExplanation, ThreatClass, Verdict,
};

/// A readable class name.
pub fn class_name(c: ThreatClass) -> &'static str {
    match c {
        ThreatClass::Sqli => "SQL injection",
        ThreatClass::Xss => "cross-site scripting",
        ThreatClass::Cmdi => "command or code injection",
        ThreatClass::PathTraversal => "path traversal",
        ThreatClass::Xxe => "XML external entity injection",
        ThreatClass::Csrf => "cross-site request forgery",
        ThreatClass::Benign => "benign",
    }
}

fn fmt_num(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn describe(c: &Contribution) -> String {
    match c.kind {
        ContributionKind::Ngram => format!("{} ({:+.2})", c.name, c.phi),
        ContributionKind::Feature | ContributionKind::Behaviour => format!(
            "{} = {} (typically {}; {:+.2})",
            c.name,
            fmt_num(c.value),
            fmt_num(c.baseline),
            c.phi
        ),
        _ => format!("{} ({:+.2})", c.name, c.phi),
    }
}

fn list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// The payload part of a narrative.
pub fn payload_sentence(e: &PayloadExplanation) -> String {
    let mut s = if e.class == ThreatClass::Benign {
        format!(
            "The payload was judged benign (score {:.2}) by {}.",
            e.score, e.model_version
        )
    } else {
        format!(
            "The payload was classified as {} with score {:.2} by {}.",
            class_name(e.class),
            e.score,
            e.model_version
        )
    };
    let informative = |c: &&Contribution| {
        !matches!(
            c.kind,
            ContributionKind::AbsentNgrams | ContributionKind::Rest
        )
    };
    let pro: Vec<String> = e
        .contributions
        .iter()
        .filter(informative)
        .filter(|c| c.phi > 0.0)
        .take(4)
        .map(describe)
        .collect();
    let con: Vec<String> = e
        .contributions
        .iter()
        .filter(informative)
        .filter(|c| c.phi < 0.0)
        .take(2)
        .map(describe)
        .collect();
    if !pro.is_empty() {
        s.push_str(&format!(
            " Strongest evidence for it, against a typical value: {}.",
            list(&pro)
        ));
    }
    if !con.is_empty() {
        s.push_str(&format!(" Evidence against: {}.", list(&con)));
    }
    if let Some(o) = &e.rule_override {
        s.push_str(&format!(" The rules had the last word: {o}."));
    } else if let Some(sig) = e.signatures.iter().find(|s| s.class == e.class) {
        let at = sig
            .spans
            .first()
            .and_then(|(a, b)| e.normalized.get(*a..*b))
            .map(|t| format!(" at {t:?}"))
            .unwrap_or_default();
        s.push_str(&format!(
            " Signature {} ({}) matched{at}.",
            sig.id, sig.description
        ));
    }
    s
}

/// The behaviour part of a narrative.
pub fn behaviour_sentence(e: &BehaviourExplanation) -> String {
    let drivers: Vec<String> = e
        .contributions
        .iter()
        .filter(|c| c.phi > 0.01)
        .take(3)
        .map(describe)
        .collect();
    let mut s = format!(
        "The client's behaviour scored {:.2} ({}; an ordinary client scores {:.2})",
        e.score, e.scorer, e.baseline
    );
    if drivers.is_empty() {
        s.push('.');
    } else {
        s.push_str(&format!(", driven by {}.", list(&drivers)));
    }
    s
}

/// The full narrative of a verdict.
pub fn verdict_narrative(
    v: &Verdict,
    payload: Option<&PayloadExplanation>,
    behaviour: Option<&BehaviourExplanation>,
    weights: (f32, f32),
) -> String {
    let mut parts = Vec::new();
    let anomaly = v.behaviour_score.max(v.profile_score);
    parts.push(format!(
        "Decision {} with combined score {:.2} = {} × payload {:.2} + {} × anomaly {:.2}.",
        v.decision.as_str(),
        v.score,
        weights.0,
        v.payload_score,
        weights.1,
        anomaly
    ));
    if let Some(p) = payload {
        parts.push(payload_sentence(p));
    }
    if let Some(b) = behaviour {
        parts.push(behaviour_sentence(b));
    }
    if v.profile_score > 0.0 {
        parts.push(format!(
            "Against the learned application profile it scored {:.2}.",
            v.profile_score
        ));
    }
    if !v.anomalies.is_empty() {
        parts.push(format!("Noted: {}.", v.anomalies.join("; ")));
    }
    parts.join(" ")
}
