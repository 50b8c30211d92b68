//! Detection signatures: named, weighted patterns over normalized payloads.
//!
//! Each signature has a stable id (`sqli.union_select`), a class, a weight
//! (the probability that a payload matching it is an attack of that class,
//! set from the shared corpora and the hard-negative generators), a cheap
//! gate over the [`Lex`] summary, and a matcher. The gate keeps the regex
//! engine away from the vast majority of benign values: a value without
//! quotes, SQL words or comment markers never runs an SQL regex.
//!
//! The regexes stay within the PCRE subset so that rule generation can reuse
//! them in ModSecurity `@rx` operators.

mod cmdi;
mod log4j;
mod sqli;
mod traversal;
mod xss;
mod xxe;

use std::sync::LazyLock;

use regex::Regex;
use sentinel_schema::ThreatClass;

use crate::lex::Lex;

pub use log4j::resolve_log4j_lookups;

/// What a signature sees.
#[derive(Clone, Copy, Debug)]
pub struct SigInput<'a> {
    /// The normalized text.
    pub text: &'a str,
    /// The SQL view of the text (line comments removed); SQL signatures match it.
    pub sql_text: &'a str,
    /// The raw value (before any decoding).
    pub raw: &'a [u8],
    /// The lexical summary of `text`.
    pub lex: &'a Lex,
    /// The path skeletons of `text` and `raw`, computed on first use.
    pub skeletons: &'a std::cell::OnceCell<[String; 2]>,
}

impl SigInput<'_> {
    /// The path skeletons of the normalized text and of the raw value
    /// (see [`traversal::path_skeleton`]), computed once per payload.
    pub fn skeletons(&self) -> &[String; 2] {
        self.skeletons.get_or_init(|| {
            [
                traversal::path_skeleton(self.text.as_bytes()),
                traversal::path_skeleton(self.raw),
            ]
        })
    }
}

/// How a signature inspects a payload.
pub enum Matcher {
    /// A regex search over the normalized text.
    Regex(Regex),
    /// Custom logic.
    Func(fn(&SigInput<'_>) -> bool),
}

/// One detection signature.
pub struct Signature {
    /// Stable id, `class.name`.
    pub id: &'static str,
    /// The class it detects.
    pub class: ThreatClass,
    /// Probability of an attack of `class` given a match, in `(0, 1)`.
    pub weight: f32,
    /// What it looks for, for explanations.
    pub description: &'static str,
    /// Cheap precondition over the lexical summary.
    pub gate: fn(&Lex) -> bool,
    /// The matcher.
    pub matcher: Matcher,
}

impl Signature {
    /// A regex signature. Panics at start-up on an invalid built-in regex
    /// (a programming error caught by the test suite).
    pub fn rx(
        id: &'static str,
        class: ThreatClass,
        weight: f32,
        description: &'static str,
        gate: fn(&Lex) -> bool,
        pattern: &str,
    ) -> Signature {
        let regex = Regex::new(pattern).unwrap_or_else(|e| panic!("signature {id}: {e}"));
        Signature {
            id,
            class,
            weight,
            description,
            gate,
            matcher: Matcher::Regex(regex),
        }
    }

    /// A signature with custom matching logic.
    pub fn func(
        id: &'static str,
        class: ThreatClass,
        weight: f32,
        description: &'static str,
        gate: fn(&Lex) -> bool,
        f: fn(&SigInput<'_>) -> bool,
    ) -> Signature {
        Signature {
            id,
            class,
            weight,
            description,
            gate,
            matcher: Matcher::Func(f),
        }
    }

    /// True when the signature matches the input.
    #[inline]
    pub fn matches(&self, input: &SigInput<'_>) -> bool {
        if !(self.gate)(input.lex) {
            return false;
        }
        match &self.matcher {
            Matcher::Regex(r) if self.class == ThreatClass::Sqli => r.is_match(input.sql_text),
            Matcher::Regex(r) => r.is_match(input.text),
            Matcher::Func(f) => f(input),
        }
    }

    /// The regex source, when the matcher is a regex.
    pub fn pattern(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Regex(r) => Some(r.as_str()),
            Matcher::Func(_) => None,
        }
    }

    /// Byte spans in `text` that the signature matched (for highlighting).
    pub fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        match &self.matcher {
            Matcher::Regex(r) => r.find_iter(text).map(|m| (m.start(), m.end())).collect(),
            Matcher::Func(_) => Vec::new(),
        }
    }
}

/// Every built-in signature, in a fixed order (indices are stable within a build).
pub static SIGNATURES: LazyLock<Vec<Signature>> = LazyLock::new(|| {
    let mut v = Vec::new();
    v.extend(sqli::signatures());
    v.extend(xss::signatures());
    v.extend(cmdi::signatures());
    v.extend(traversal::signatures());
    v.extend(xxe::signatures());
    v
});

/// Indices into [`SIGNATURES`] of the signatures that match.
pub type Hits = smallvec::SmallVec<[u16; 8]>;

/// Sets `hits` to the index of every signature matching the input.
pub fn match_all(input: &SigInput<'_>, hits: &mut Hits) {
    hits.clear();
    if input.text.is_empty() {
        return;
    }
    for (i, sig) in SIGNATURES.iter().enumerate() {
        if sig.matches(input) {
            hits.push(i as u16);
        }
    }
}

/// Looks a signature up by id.
pub fn by_id(id: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.id == id)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::lex::lex_into;
    use crate::normalize::{normalize, Limits};

    /// Ids of the signatures matching a raw payload.
    pub fn ids(raw: &str) -> Vec<&'static str> {
        let n = normalize(raw.as_bytes(), true, &Limits::default());
        let mut lex = Lex::default();
        lex_into(&n.text, &mut lex);
        let mut hits = Hits::new();
        let skeletons = std::cell::OnceCell::new();
        let input = SigInput {
            text: &n.text,
            sql_text: n.sql_view(),
            raw: raw.as_bytes(),
            lex: &lex,
            skeletons: &skeletons,
        };
        match_all(&input, &mut hits);
        hits.iter().map(|i| SIGNATURES[*i as usize].id).collect()
    }

    /// Asserts that `raw` matches some signature of `class`.
    pub fn assert_class(raw: &str, class: ThreatClass) {
        let got = ids(raw);
        assert!(
            got.iter().any(|id| by_id(id).unwrap().class == class),
            "{raw:?} should match a {class} signature, got {got:?}"
        );
    }

    /// Asserts that `raw` matches no signature at all.
    pub fn assert_clean(raw: &str) {
        let got = ids(raw);
        assert!(got.is_empty(), "{raw:?} should be clean, got {got:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_weights_valid() {
        let mut seen = std::collections::HashSet::new();
        for s in SIGNATURES.iter() {
            assert!(seen.insert(s.id), "duplicate id {}", s.id);
            assert!(s.weight > 0.0 && s.weight < 1.0, "{}", s.id);
            assert!(s.id.starts_with(match s.class {
                ThreatClass::Sqli => "sqli.",
                ThreatClass::Xss => "xss.",
                ThreatClass::Cmdi => "cmdi.",
                ThreatClass::PathTraversal => "path.",
                ThreatClass::Xxe => "xxe.",
                _ => "?",
            }));
        }
        assert!(SIGNATURES.len() > 40);
    }
}
