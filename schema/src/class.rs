//! The seven verdict classes and per-class scores.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A threat class. `Benign` is a class like the others so that every payload
/// and every request gets exactly one label.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThreatClass {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Command and code injection (shell, shellshock, JNDI/log4shell, template/eval).
    Cmdi,
    /// Path traversal and local file inclusion.
    PathTraversal,
    /// XML external entities and entity expansion.
    Xxe,
    /// Cross-site request forgery (a request-level verdict).
    Csrf,
    /// Nothing malicious.
    Benign,
}

impl ThreatClass {
    /// Every class, in the canonical order used by score vectors.
    pub const ALL: [ThreatClass; 7] = [
        ThreatClass::Sqli,
        ThreatClass::Xss,
        ThreatClass::Cmdi,
        ThreatClass::PathTraversal,
        ThreatClass::Xxe,
        ThreatClass::Csrf,
        ThreatClass::Benign,
    ];

    /// The attack classes a single payload can carry (CSRF is request-level).
    pub const PAYLOAD_ATTACKS: [ThreatClass; 5] = [
        ThreatClass::Sqli,
        ThreatClass::Xss,
        ThreatClass::Cmdi,
        ThreatClass::PathTraversal,
        ThreatClass::Xxe,
    ];

    /// Position of the class in [`ThreatClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The wire name (`sqli`, `xss`, `cmdi`, `path_traversal`, `xxe`, `csrf`, `benign`).
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatClass::Sqli => "sqli",
            ThreatClass::Xss => "xss",
            ThreatClass::Cmdi => "cmdi",
            ThreatClass::PathTraversal => "path_traversal",
            ThreatClass::Xxe => "xxe",
            ThreatClass::Csrf => "csrf",
            ThreatClass::Benign => "benign",
        }
    }

    /// True for every class but `Benign`.
    pub fn is_attack(self) -> bool {
        self != ThreatClass::Benign
    }
}

impl fmt::Display for ThreatClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A class name that is not one of the known names or aliases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown threat class {0:?} (expected sqli, xss, cmdi, path_traversal, xxe, csrf or benign)"
)]
pub struct ParseClassError(pub String);

impl FromStr for ThreatClass {
    type Err = ParseClassError;

    /// Parses wire names and the aliases used by public corpora
    /// (`norm`, `path-traversal`, `traversal`, `cmdexe`, `shellshock`, `log4shell`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "sqli" | "sql" | "sql_injection" | "sql-injection" => ThreatClass::Sqli,
            "xss" | "cross_site_scripting" => ThreatClass::Xss,
            "cmdi" | "cmdexe" | "shellshock" | "log4shell" | "rce" | "command_injection"
            | "code_injection" => ThreatClass::Cmdi,
            "path_traversal" | "path-traversal" | "traversal" | "lfi" => ThreatClass::PathTraversal,
            "xxe" | "xml" => ThreatClass::Xxe,
            "csrf" => ThreatClass::Csrf,
            "benign" | "norm" | "normal" | "valid" | "good" => ThreatClass::Benign,
            _ => return Err(ParseClassError(s.to_string())),
        })
    }
}

/// One probability-like score in `[0, 1]` per class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClassScores {
    /// SQL injection.
    pub sqli: f32,
    /// Cross-site scripting.
    pub xss: f32,
    /// Command and code injection.
    pub cmdi: f32,
    /// Path traversal.
    pub path_traversal: f32,
    /// XML external entities.
    pub xxe: f32,
    /// Cross-site request forgery.
    pub csrf: f32,
    /// Benign.
    pub benign: f32,
}

impl ClassScores {
    /// Builds scores from an array in [`ThreatClass::ALL`] order.
    pub fn from_array(a: [f32; 7]) -> Self {
        ClassScores {
            sqli: a[0],
            xss: a[1],
            cmdi: a[2],
            path_traversal: a[3],
            xxe: a[4],
            csrf: a[5],
            benign: a[6],
        }
    }

    /// The scores as an array in [`ThreatClass::ALL`] order.
    pub fn to_array(&self) -> [f32; 7] {
        [
            self.sqli,
            self.xss,
            self.cmdi,
            self.path_traversal,
            self.xxe,
            self.csrf,
            self.benign,
        ]
    }

    /// The score of one class.
    pub fn get(&self, class: ThreatClass) -> f32 {
        self.to_array()[class.index()]
    }

    /// Sets the score of one class.
    pub fn set(&mut self, class: ThreatClass, value: f32) {
        let mut a = self.to_array();
        a[class.index()] = value;
        *self = ClassScores::from_array(a);
    }

    /// The attack class with the highest score (ties resolved in canonical
    /// order) and its score; `None` when every attack score is zero.
    pub fn top_attack(&self) -> Option<(ThreatClass, f32)> {
        let a = self.to_array();
        let mut best: Option<(ThreatClass, f32)> = None;
        for class in ThreatClass::ALL.iter().copied().filter(|c| c.is_attack()) {
            let s = a[class.index()];
            if s > 0.0 && best.is_none_or(|(_, b)| s > b) {
                best = Some((class, s));
            }
        }
        best
    }

    /// The highest attack score (0 when none).
    pub fn max_attack(&self) -> f32 {
        self.top_attack().map(|(_, s)| s).unwrap_or(0.0)
    }

    /// Element-wise maximum.
    pub fn max(&self, other: &ClassScores) -> ClassScores {
        let (a, b) = (self.to_array(), other.to_array());
        let mut out = [0.0f32; 7];
        for i in 0..7 {
            out[i] = a[i].max(b[i]);
        }
        ClassScores::from_array(out)
    }

    /// Rounds every score to 4 decimals (stable, readable output).
    pub fn rounded(&self) -> ClassScores {
        let mut a = self.to_array();
        for v in &mut a {
            *v = round4(*v);
        }
        ClassScores::from_array(a)
    }
}

/// Rounds to 4 decimal places.
pub(crate) fn round4(v: f32) -> f32 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in ThreatClass::ALL {
            assert_eq!(c.as_str().parse::<ThreatClass>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }

    #[test]
    fn corpus_aliases() {
        assert_eq!("norm".parse::<ThreatClass>().unwrap(), ThreatClass::Benign);
        assert_eq!(
            "path-traversal".parse::<ThreatClass>().unwrap(),
            ThreatClass::PathTraversal
        );
        assert_eq!(
            "log4shell".parse::<ThreatClass>().unwrap(),
            ThreatClass::Cmdi
        );
        assert!("nope".parse::<ThreatClass>().is_err());
    }

    #[test]
    fn top_attack_ignores_benign() {
        let mut s = ClassScores {
            benign: 0.9,
            ..Default::default()
        };
        assert_eq!(s.top_attack(), None);
        s.xss = 0.3;
        s.sqli = 0.3;
        assert_eq!(s.top_attack(), Some((ThreatClass::Sqli, 0.3)));
    }
}
