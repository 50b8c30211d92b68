//! # sentinel-twins
//!
//! Threat twins: small emulations of the vulnerable code an attack aims at,
//! each of which *runs* a payload the way a careless application would and
//! reports whether it was exploited, and how:
//!
//! * [`sql`] — queries built by string concatenation in string, numeric,
//!   parenthesized and `LIKE` contexts, parsed with `sqlparser` (MySQL,
//!   PostgreSQL, SQL Server, generic dialects): exploited when the payload
//!   changes the statement's structure;
//! * [`xss`] — the payload reflected into HTML body, attribute, URL and
//!   script-string contexts, tokenized by a WHATWG tokenizer (`html5gum`):
//!   exploited when script can run (script elements, event handlers,
//!   `javascript:` URLs, broken-out script strings);
//! * [`shell`] — a shell command line built by concatenation, lexed like a
//!   POSIX shell: exploited when another known program runs or a command
//!   substitution happens; Shellshock function definitions;
//! * [`log4j`] — Log4j 2 lookup evaluation: exploited when a `jndi:` lookup results;
//! * [`code`] — template engines (Jinja, Twig, Spring EL, OGNL, Smarty),
//!   PHP, Python and Node evaluation sinks;
//! * [`traversal`] — a file server joining a base directory and the
//!   payload, decoding like common servers: exploited when the resolved path
//!   leaves the base directory;
//! * [`xxe`] — an XML parser that honours DTDs: exploited by external
//!   entities, parameter entities, XInclude or entity expansion bombs.
//!
//! The twins are independent of Sentinel's signatures and models: they are
//! the ground truth the generators and the classifier are checked against,
//! and (compiled to WebAssembly) the sandboxes that confirm exploitability.

#![warn(missing_docs)]

pub mod code;
pub mod decode;
pub mod log4j;
pub mod shell;
pub mod sql;
mod sql_refs;
pub mod traversal;
pub mod xss;
pub mod xxe;

/// The attack families the twins emulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// SQL injection.
    Sql,
    /// Cross-site scripting.
    Xss,
    /// Command or code injection (shell, Shellshock, Log4j, templates, eval).
    Command,
    /// Path traversal.
    Traversal,
    /// XML external entities and entity expansion.
    Xxe,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 5] = [
        Family::Sql,
        Family::Xss,
        Family::Command,
        Family::Traversal,
        Family::Xxe,
    ];

    /// Snake-case name (matching Sentinel's class names).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Sql => "sqli",
            Family::Xss => "xss",
            Family::Command => "cmdi",
            Family::Traversal => "path_traversal",
            Family::Xxe => "xxe",
        }
    }

    /// Parses a class name.
    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// What running a payload in a twin showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The twin family.
    pub family: Family,
    /// The context (template) in which the payload was exploited.
    pub context: &'static str,
    /// What happened, for people.
    pub evidence: String,
}

/// Runs `payload` (as it would arrive in a request parameter, still
/// URL-encoded) in every context of the twin of `family`; the first
/// exploitation found, if any.
pub fn run(family: Family, payload: &str) -> Option<Outcome> {
    let variants = decode::request_variants(payload);
    for v in &variants {
        let found = match family {
            Family::Sql => sql::run(v),
            Family::Xss => xss::run(v),
            Family::Command => shell::run(v)
                .or_else(|| log4j::run(v))
                .or_else(|| code::run(v)),
            Family::Traversal => traversal::run(v),
            Family::Xxe => xxe::run(v),
        };
        if let Some(o) = found {
            return Some(o);
        }
    }
    None
}

/// The names of the contexts (templates, server variants, parsers) the
/// twin of `family` embeds a payload in.
pub fn contexts(family: Family) -> Vec<&'static str> {
    match family {
        Family::Sql => sql::CONTEXTS.iter().map(|c| c.0).collect(),
        Family::Xss => xss::CONTEXTS.iter().map(|c| c.0).collect(),
        Family::Command => {
            let mut v: Vec<&'static str> = shell::CONTEXTS.iter().map(|c| c.0).collect();
            v.extend([
                "cgi-environment",
                "logged-value",
                "template",
                "php-include",
                "eval",
            ]);
            v
        }
        Family::Traversal => traversal::VARIANTS.to_vec(),
        Family::Xxe => vec!["xml-body"],
    }
}

/// Runs `payload` in every twin; the families that were exploited.
pub fn run_all(payload: &str) -> Vec<Outcome> {
    Family::ALL
        .into_iter()
        .filter_map(|f| run(f, payload))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        #[test]
        fn twins_never_panic(s in "\\PC{0,200}") {
            let _ = run_all(&s);
        }

        #[test]
        fn twins_never_panic_on_injection_soup(parts in proptest::collection::vec(prop_oneof![
            Just("'"), Just("\""), Just("<"), Just(">"), Just("${"), Just("}"), Just("{{"), Just("}}"), Just("%"), Just("%25"), Just("&#"), Just(";"),
            Just("--"), Just("/*"), Just("*/"), Just("("), Just(")"), Just("`"), Just("$("), Just("<!DOCTYPE a ["), Just("<!ENTITY"), Just("%x;"), Just("&x;"),
            Just("../"), Just("\\"), Just("\0"), Just(" "), Just("a"), Just("script"), Just("SELECT"), Just("UNION"), Just("jndi:"), Just("() {"),
        ], 0..40)) {
            let _ = run_all(&parts.concat());
        }
    }

    #[test]
    fn family_names_round_trip() {
        for f in Family::ALL {
            assert_eq!(Family::parse(f.as_str()), Some(f));
        }
    }
}
