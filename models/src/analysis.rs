//! Payload analysis: normalize, summarize, match signatures, compute features.

use sentinel_schema::ThreatClass;

use crate::features::payload::{N as N_PAYLOAD, P};
use crate::lex::{lex_into, Lex};
use crate::lexicon::{word, Group};
use crate::normalize::{normalize_into, Limits, Normalized, Scratch};
use crate::signatures::{match_all, Hits, SigInput, SIGNATURES};

/// Everything learned about one payload.
#[derive(Clone, Debug)]
pub struct PayloadAnalysis {
    /// The normalized value and decoding statistics.
    pub normalized: Normalized,
    /// Lexical summary of the normalized value.
    pub lex: Lex,
    /// Matching signatures (indices into [`SIGNATURES`]).
    pub hits: Hits,
    /// Payload features, indexed by [`P`].
    pub features: [f32; N_PAYLOAD],
}

impl Default for PayloadAnalysis {
    fn default() -> Self {
        PayloadAnalysis {
            normalized: Normalized::default(),
            lex: Lex::default(),
            hits: Hits::new(),
            features: [0.0; N_PAYLOAD],
        }
    }
}

/// Features whose value is 0 for a payload with no injection syntax at all.
const ATTACK_SURFACE: [P; 31] = [
    P::NullBytes,
    P::BlockComments,
    P::Quotes,
    P::Parens,
    P::AngleBrackets,
    P::SqlKeywords,
    P::SqlBooleans,
    P::SqlFunctions,
    P::SqlMeta,
    P::SqlOperators,
    P::SqlComments,
    P::XssTags,
    P::XssHandlers,
    P::XssJsUri,
    P::XssJsWords,
    P::ShellMetachars,
    P::ShellCommands,
    P::ShellSubstitution,
    P::CodeFunctions,
    P::JndiShellshock,
    P::TemplateMarkers,
    P::TraversalSeqs,
    P::SensitiveFiles,
    P::Wrappers,
    P::XmlDoctype,
    P::XmlEntities,
    P::XmlExternal,
    P::SigSqli,
    P::SigXss,
    P::SigCmdi,
    P::SigPath,
];

impl PayloadAnalysis {
    /// True when the payload has no injection syntax at all: no signature
    /// matched, no quote, bracket, shell metacharacter, comment, traversal
    /// step (not even `..`, `/.` or `./`), line break, backslash, markup or
    /// injection vocabulary, and at most one decoding layer. Such values cannot carry the attacks Sentinel classifies; the
    /// hybrid answers "benign" for them without running the model (the
    /// `inert_values_are_benign_for_the_model` test measures that the model
    /// agrees on the corpora).
    pub fn is_inert(&self) -> bool {
        self.hits.is_empty()
            && self.features[P::SigXxe as usize] == 0.0
            && self.features[P::DecodeDepth as usize] <= 1.0
            && ATTACK_SURFACE
                .iter()
                .all(|p| self.features[*p as usize] == 0.0)
            && [&b".."[..], b"/.", b"./"]
                .iter()
                .all(|n| memchr::memmem::find(self.normalized.text.as_bytes(), n).is_none())
            // Line breaks separate shell commands; backslashes escape them.
            && memchr::memchr3(b'\n', b'\r', b'\\', self.normalized.text.as_bytes()).is_none()
    }

    /// The strongest signature weight of a class (0 when none matched).
    pub fn signature_weight(&self, class: ThreatClass) -> f32 {
        self.hits
            .iter()
            .map(|i| &SIGNATURES[*i as usize])
            .filter(|s| s.class == class)
            .map(|s| s.weight)
            .fold(0.0, f32::max)
    }

    /// Ids of the matching signatures.
    pub fn signature_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.hits.iter().map(|i| SIGNATURES[*i as usize].id)
    }

    /// One feature by index.
    #[inline]
    pub fn feature(&self, p: P) -> f32 {
        self.features[p as usize]
    }
}

/// Analyzes payloads, reusing its buffers between calls.
#[derive(Debug, Default)]
pub struct Analyzer {
    limits: Limits,
    scratch: Scratch,
}

impl Analyzer {
    /// An analyzer with the given normalization limits.
    pub fn new(limits: Limits) -> Self {
        Analyzer {
            limits,
            scratch: Scratch::default(),
        }
    }

    /// Analyzes `raw` into `out`. `plus_is_space` is true for query and form values.
    pub fn analyze(&mut self, raw: &[u8], plus_is_space: bool, out: &mut PayloadAnalysis) {
        normalize_into(
            raw,
            plus_is_space,
            &self.limits,
            &mut self.scratch,
            &mut out.normalized,
        );
        lex_into(&out.normalized.text, &mut out.lex);
        let skeletons = std::cell::OnceCell::new();
        let input = SigInput {
            text: &out.normalized.text,
            sql_text: out.normalized.sql_view(),
            raw,
            lex: &out.lex,
            skeletons: &skeletons,
        };
        match_all(&input, &mut out.hits);
        compute_features(raw, out);
    }

    /// Convenience: analyzes into a fresh value.
    pub fn analyze_new(&mut self, raw: &[u8], plus_is_space: bool) -> PayloadAnalysis {
        let mut out = PayloadAnalysis::default();
        self.analyze(raw, plus_is_space, &mut out);
        out
    }
}

fn compute_features(raw: &[u8], a: &mut PayloadAnalysis) {
    let l = &a.lex;
    let n = &a.normalized;
    let len = l.len.max(1) as f32;
    let raw_len = raw.len().max(1) as f32;
    let mut upper = 0u32;
    let mut nonprint = 0u32;
    for &b in raw {
        if b.is_ascii_uppercase() {
            upper += 1;
        } else if !(b.is_ascii_graphic() || b == b' ') {
            nonprint += 1;
        }
    }
    let f = &mut a.features;
    let set = |f: &mut [f32; N_PAYLOAD], p: P, v: f32| f[p as usize] = v;
    set(f, P::LenRaw, raw.len() as f32);
    set(f, P::LenNorm, l.len as f32);
    set(f, P::Entropy, l.entropy);
    set(f, P::RatioAlpha, l.letters as f32 / len);
    set(f, P::RatioDigit, l.digits as f32 / len);
    set(f, P::RatioSpace, l.spaces as f32 / len);
    set(f, P::RatioSpecial, l.specials as f32 / len);
    set(f, P::RatioUpperRaw, upper as f32 / raw_len);
    set(f, P::RatioNonprintableRaw, nonprint as f32 / raw_len);
    set(f, P::PctEscapes, n.pct_escapes as f32);
    set(f, P::DecodeDepth, f32::from(n.decode_depth));
    set(f, P::NullBytes, n.null_bytes as f32);
    set(f, P::UnicodeEscapes, n.unicode_escapes as f32);
    set(f, P::BlockComments, n.block_comments as f32);
    set(f, P::Quotes, l.quotes() as f32);
    set(f, P::Parens, l.parens as f32);
    set(f, P::AngleBrackets, (l.lt + l.gt) as f32);
    set(f, P::Words, l.words as f32);
    set(f, P::MaxWordLen, l.max_word_len as f32);
    set(f, P::SqlKeywords, l.count(word::SQL_KEYWORD) as f32);
    set(f, P::SqlBooleans, l.count(word::SQL_BOOLEAN) as f32);
    set(f, P::SqlFunctions, l.count(word::SQL_FUNCTION) as f32);
    set(f, P::SqlMeta, l.count(word::SQL_META) as f32);
    set(f, P::SqlOperators, l.group(Group::SqlOperator) as f32);
    set(f, P::SqlComments, l.group(Group::SqlComment) as f32);
    set(f, P::XssTags, l.count(word::HTML_TAG).min(l.lt) as f32);
    set(f, P::XssHandlers, l.count(word::EVENT_HANDLER) as f32);
    set(f, P::XssJsUri, l.group(Group::JsUri) as f32);
    set(f, P::XssJsWords, l.count(word::JS) as f32);
    set(
        f,
        P::ShellMetachars,
        (l.semicolons + l.pipes + l.ampersands + l.backticks + l.dollars) as f32,
    );
    set(
        f,
        P::ShellCommands,
        (l.count(word::SHELL_STRONG) + l.count(word::SHELL_WEAK)) as f32,
    );
    set(f, P::ShellSubstitution, l.group(Group::Substitution) as f32);
    set(f, P::CodeFunctions, l.count(word::CODE_FUNCTION) as f32);
    set(f, P::JndiShellshock, l.group(Group::JndiShellshock) as f32);
    set(f, P::TemplateMarkers, l.group(Group::Template) as f32);
    set(f, P::TraversalSeqs, l.group(Group::Traversal) as f32);
    set(f, P::SensitiveFiles, l.group(Group::SensitiveFile) as f32);
    set(f, P::Wrappers, l.group(Group::Wrapper) as f32);
    set(f, P::XmlDoctype, l.group(Group::XmlDoctype) as f32);
    set(f, P::XmlEntities, l.group(Group::XmlEntity) as f32);
    set(f, P::XmlExternal, l.group(Group::XmlExternal) as f32);
    set(f, P::Truncated, f32::from(u8::from(n.truncated)));
    let mut sig = [0.0f32; 5];
    for i in a.hits.iter() {
        let s = &SIGNATURES[*i as usize];
        let slot = match s.class {
            ThreatClass::Sqli => 0,
            ThreatClass::Xss => 1,
            ThreatClass::Cmdi => 2,
            ThreatClass::PathTraversal => 3,
            ThreatClass::Xxe => 4,
            _ => continue,
        };
        sig[slot] = sig[slot].max(s.weight);
    }
    set(f, P::SigSqli, sig[0]);
    set(f, P::SigXss, sig[1]);
    set(f, P::SigCmdi, sig[2]);
    set(f, P::SigPath, sig[3]);
    set(f, P::SigXxe, sig[4]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_reflect_the_payload() {
        let mut an = Analyzer::default();
        let a = an.analyze_new(b"1%27%20UNION%20SELECT%20password%20FROM%20users--", true);
        assert_eq!(a.normalized.text, "1' union select password from users--");
        assert_eq!(a.feature(P::SqlKeywords), 3.0);
        assert_eq!(a.feature(P::DecodeDepth), 1.0);
        assert!(a.feature(P::SigSqli) > 0.9);
        assert!(a.signature_ids().any(|id| id == "sqli.union_select"));
        assert_eq!(a.feature(P::SigXss), 0.0);
    }

    #[test]
    fn reuse_gives_identical_results() {
        let mut an = Analyzer::default();
        let mut out = PayloadAnalysis::default();
        an.analyze(b"<script>alert(1)</script>", false, &mut out);
        let first = out.features;
        an.analyze(b"harmless", false, &mut out);
        an.analyze(b"<script>alert(1)</script>", false, &mut out);
        assert_eq!(first, out.features);
    }
}
