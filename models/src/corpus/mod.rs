//! Seeded, grammar-based corpus generators.
//!
//! Each attack class has a small grammar (context break → payload → suffix)
//! expanded with random choices, then passed through evasion mutations
//! (case, comments, whitespace, encodings, concatenation). The benign
//! generator produces the values real forms and APIs carry — names in many
//! languages, addresses, e-mails, numbers, dates, URLs, JSON, base64 tokens,
//! prose — and *hard negatives*: prose that mentions "select … from",
//! O'Brien, code snippets, markup that is not script. The default model is
//! trained from these generators alone, reproducibly: the same seed gives
//! the same corpus, byte for byte.

mod benign;
mod cmdi;
mod mutate;
mod sqli;
mod traversal;
mod xss;
mod xxe;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use sentinel_schema::ThreatClass;

pub use mutate::{mutate, Mutation};

/// One labelled value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sample {
    /// The value as it would appear in a request (already URL-decoded once
    /// for query parameters unless a mutation encoded it).
    pub text: String,
    /// Its class.
    pub class: ThreatClass,
}

/// The random source of the generators (portable and reproducible).
pub type CorpusRng = ChaCha8Rng;

/// Picks one element.
pub(crate) fn pick<'a, T: ?Sized>(rng: &mut CorpusRng, items: &'a [&'a T]) -> &'a T {
    items[rng.gen_range(0..items.len())]
}

/// How many samples of each class to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorpusSize {
    /// Samples per attack class (SQLi, XSS, command injection, traversal, XXE).
    pub per_attack_class: usize,
    /// Benign samples.
    pub benign: usize,
}

impl Default for CorpusSize {
    fn default() -> Self {
        CorpusSize {
            per_attack_class: 6_000,
            benign: 30_000,
        }
    }
}

/// Generates one attack of `class` (unmutated).
pub fn attack(rng: &mut CorpusRng, class: ThreatClass) -> String {
    match class {
        ThreatClass::Sqli => sqli::generate(rng),
        ThreatClass::Xss => xss::generate(rng),
        ThreatClass::Cmdi => cmdi::generate(rng),
        ThreatClass::PathTraversal => traversal::generate(rng),
        ThreatClass::Xxe => xxe::generate(rng),
        ThreatClass::Csrf | ThreatClass::Benign => benign::generate(rng),
    }
}

/// Generates a labelled corpus from `seed`. Attacks get an evasion mutation
/// with probability one half; the order is shuffled deterministically.
pub fn generate(seed: u64, size: CorpusSize) -> Vec<Sample> {
    let mut rng = CorpusRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(size.per_attack_class * 5 + size.benign);
    for class in ThreatClass::PAYLOAD_ATTACKS {
        for _ in 0..size.per_attack_class {
            let mut text = attack(&mut rng, class);
            if rng.gen_bool(0.5) {
                text = mutate(&mut rng, class, &text);
            }
            out.push(Sample { text, class });
        }
    }
    for _ in 0..size.benign {
        out.push(Sample {
            text: benign::generate(&mut rng),
            class: ThreatClass::Benign,
        });
    }
    // Deterministic Fisher-Yates shuffle.
    for i in (1..out.len()).rev() {
        let j = rng.gen_range(0..=i);
        out.swap(i, j);
    }
    out
}

/// Generates benign values only (for profiles, benchmarks, hard-negative checks).
pub fn benign_values(seed: u64, n: usize) -> Vec<String> {
    let mut rng = CorpusRng::seed_from_u64(seed);
    (0..n).map(|_| benign::generate(&mut rng)).collect()
}

/// Hard negatives only: benign values that look like attacks to a naive filter.
pub fn hard_negatives(seed: u64, n: usize) -> Vec<String> {
    let mut rng = CorpusRng::seed_from_u64(seed);
    (0..n).map(|_| benign::hard_negative(&mut rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_balanced() {
        let size = CorpusSize {
            per_attack_class: 50,
            benign: 100,
        };
        let a = generate(7, size);
        let b = generate(7, size);
        assert_eq!(a, b);
        assert_ne!(a, generate(8, size));
        assert_eq!(a.len(), 350);
        for class in ThreatClass::PAYLOAD_ATTACKS {
            assert_eq!(a.iter().filter(|s| s.class == class).count(), 50);
        }
        assert!(a.iter().all(|s| !s.text.is_empty()));
    }

    #[test]
    fn variety() {
        let a = generate(
            1,
            CorpusSize {
                per_attack_class: 500,
                benign: 2000,
            },
        );
        for class in ThreatClass::ALL.iter().filter(|c| **c != ThreatClass::Csrf) {
            let distinct: std::collections::HashSet<&str> = a
                .iter()
                .filter(|s| s.class == *class)
                .map(|s| s.text.as_str())
                .collect();
            let total = a.iter().filter(|s| s.class == *class).count();
            assert!(
                distinct.len() * 10 >= total * 6,
                "{class}: {} distinct of {total}",
                distinct.len()
            );
        }
    }
}
