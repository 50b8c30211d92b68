//! Dataset quality: class balance, duplicates, label conflicts, and the
//! cleaning that training applies.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use sentinel_schema::ThreatClass;

use super::sample::Sample;

/// Quality figures of a set of samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Quality {
    /// Samples.
    pub samples: usize,
    /// Samples per class.
    pub per_class: BTreeMap<String, usize>,
    /// Largest class size over smallest (present classes).
    pub imbalance: f32,
    /// Samples repeating an earlier (payload, label) pair exactly.
    pub duplicates: usize,
    /// Distinct payloads carrying more than one label.
    pub conflicts: usize,
    /// Some conflicting payloads with their labels (at most 10).
    pub conflict_examples: Vec<(String, Vec<String>)>,
    /// False-positive reports.
    pub false_positive_reports: usize,
    /// Empty or whitespace-only payloads.
    pub empty: usize,
    /// Mean payload length, characters.
    pub mean_length: f32,
}

/// Computes the quality figures.
pub fn quality(samples: &[Sample]) -> Quality {
    let mut q = Quality {
        samples: samples.len(),
        ..Default::default()
    };
    let mut labels: HashMap<&str, Vec<ThreatClass>> = HashMap::new();
    let mut total_len = 0usize;
    for s in samples {
        *q.per_class.entry(s.label.as_str().to_string()).or_default() += 1;
        let seen = labels.entry(s.payload.as_str()).or_default();
        if seen.contains(&s.label) {
            q.duplicates += 1;
        } else {
            seen.push(s.label);
        }
        q.false_positive_reports += usize::from(s.is_false_positive());
        q.empty += usize::from(s.payload.trim().is_empty());
        total_len += s.payload.chars().count();
    }
    let mut conflicts: Vec<(String, Vec<String>)> = labels
        .iter()
        .filter(|(_, l)| l.len() > 1)
        .map(|(p, l)| {
            (
                p.to_string(),
                l.iter().map(|c| c.as_str().to_string()).collect(),
            )
        })
        .collect();
    conflicts.sort();
    q.conflicts = conflicts.len();
    q.conflict_examples = conflicts.into_iter().take(10).collect();
    let (min, max) = q
        .per_class
        .values()
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(*n), hi.max(*n)));
    q.imbalance = if min == usize::MAX || min == 0 {
        0.0
    } else {
        max as f32 / min as f32
    };
    q.mean_length = if samples.is_empty() {
        0.0
    } else {
        total_len as f32 / samples.len() as f32
    };
    q
}

/// What cleaning removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CleanReport {
    /// Exact duplicates dropped.
    pub duplicates: usize,
    /// Conflicts resolved by a false-positive report or a majority.
    pub resolved: usize,
    /// Conflicting payloads dropped (tied labels).
    pub dropped: usize,
    /// Empty payloads dropped.
    pub empty: usize,
}

/// The training view of a dataset: one label per distinct payload, in
/// first-appearance order. Conflicts resolve to the label of the latest
/// false-positive report, else the majority label; ties are dropped.
pub fn clean(samples: &[Sample]) -> (Vec<(String, ThreatClass)>, CleanReport) {
    let mut report = CleanReport::default();
    let mut order: Vec<&str> = Vec::new();
    let mut votes: HashMap<&str, (BTreeMap<ThreatClass, usize>, Option<ThreatClass>)> =
        HashMap::new();
    for s in samples {
        if s.payload.trim().is_empty() {
            report.empty += 1;
            continue;
        }
        let entry = votes.entry(s.payload.as_str()).or_insert_with(|| {
            order.push(s.payload.as_str());
            (BTreeMap::new(), None)
        });
        let n = entry.0.entry(s.label).or_default();
        if *n > 0 {
            report.duplicates += 1;
        }
        *n += 1;
        if s.is_false_positive() {
            entry.1 = Some(s.label);
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for p in order {
        let Some((counts, fp)) = votes.get(p) else {
            continue;
        };
        let label = if counts.len() == 1 {
            counts.keys().next().copied()
        } else if let Some(l) = fp {
            report.resolved += 1;
            Some(*l)
        } else {
            let best = counts.values().copied().max().unwrap_or(0);
            let winners: Vec<ThreatClass> = counts
                .iter()
                .filter(|(_, n)| **n == best)
                .map(|(c, _)| *c)
                .collect();
            if winners.len() == 1 {
                report.resolved += 1;
                Some(winners[0])
            } else {
                report.dropped += 1;
                None
            }
        };
        if let Some(l) = label {
            out.push((p.to_string(), l));
        }
    }
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::super::sample::Origin;
    use super::*;

    fn s(p: &str, l: ThreatClass) -> Sample {
        Sample {
            payload: p.into(),
            label: l,
            origin: Origin::Manual,
            note: None,
        }
    }

    #[test]
    fn duplicates_conflicts_and_resolution() {
        use ThreatClass::*;
        let mut fp = s("select from menu", Benign);
        fp.origin = Origin::FalsePositive {
            predicted: Sqli,
            evidence_id: None,
        };
        let samples = vec![
            s("a", Benign),
            s("a", Benign),
            s("select from menu", Sqli),
            fp,
            s("x", Xss),
            s("x", Sqli),
            s("y", Cmdi),
            s("y", Cmdi),
            s("y", Benign),
            s(" ", Benign),
        ];
        let q = quality(&samples);
        assert_eq!(q.duplicates, 2);
        assert_eq!(q.conflicts, 3);
        assert_eq!(q.false_positive_reports, 1);
        assert_eq!(q.empty, 1);
        let (clean, r) = clean(&samples);
        assert_eq!(
            clean,
            vec![
                ("a".into(), Benign),
                ("select from menu".into(), Benign),
                ("y".into(), Cmdi)
            ]
        );
        assert_eq!((r.duplicates, r.resolved, r.dropped, r.empty), (2, 2, 1, 1));
    }
}
