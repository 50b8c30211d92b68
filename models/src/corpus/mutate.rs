//! Evasion mutations: what attackers do to slip past signature filters.

use rand::Rng;
use sentinel_schema::ThreatClass;

use super::{pick, CorpusRng};

/// The mutations the generators apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Random letter case.
    Case,
    /// Percent-encoding of special characters (or of everything).
    UrlEncode,
    /// Two layers of percent-encoding.
    DoubleUrlEncode,
    /// SQL inline comments between keywords (`UNION/**/SELECT`).
    SqlComments,
    /// Alternative whitespace (tabs, newlines, `+`).
    Whitespace,
    /// HTML character references for markup characters.
    HtmlEntities,
    /// Shell quoting or `${IFS}` inside commands.
    ShellObfuscation,
}

fn case(rng: &mut CorpusRng, s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            // `0x7e` stays a hex literal (`0X7e` is none for MySQL).
            let out = if prev == '0' && c == 'x' {
                c
            } else if rng.gen_bool(0.5) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            prev = c;
            out
        })
        .collect()
}

fn url_encode(rng: &mut CorpusRng, s: &str, all: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        let special = !b.is_ascii_alphanumeric();
        // A literal `%` is always escaped: left alone, decoding would eat
        // what follows it (`%data;` is not `%25data;`).
        if all || b == b'%' || (special && rng.gen_bool(0.8)) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Splits off a trailing line comment (`--…`, `#…`): evasions rewrite the
/// code before it and leave the comment intact (a newline inside it would
/// end it early, `--/**/` is no comment for MySQL).
fn code_and_comment(s: &str) -> (&str, &str) {
    let cut = [s.find("--"), s.find('#')]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(s.len());
    s.split_at(cut)
}

fn sql_comments(rng: &mut CorpusRng, s: &str) -> String {
    let (code, comment) = code_and_comment(s);
    let sep = pick(rng, &["/**/", "/*x*/", "/*!*/", " /**/ "]);
    format!("{}{comment}", code.split(' ').collect::<Vec<_>>().join(sep))
}

fn whitespace(rng: &mut CorpusRng, s: &str) -> String {
    let ws = pick(rng, &["\t", "\n", "  ", "+", "%09", "%0a"]);
    // Percent-encoded whitespace means the value is URL-encoded: a literal
    // `%` must then be encoded too.
    let escaped;
    let s = if ws.starts_with('%') {
        escaped = s.replace('%', "%25");
        escaped.as_str()
    } else {
        s
    };
    let (code, comment) = code_and_comment(s);
    format!("{}{comment}", code.replace(' ', ws))
}

fn html_entities(rng: &mut CorpusRng, s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '<' | '>' | '(' | ')' | ':' | '\'' | '"') && rng.gen_bool(0.7) {
            // Without its `;`, a reference would swallow a following `;` or digit.
            let bare_ok = !matches!(chars.peek(), Some(n) if *n == ';' || n.is_ascii_digit());
            match rng.gen_range(0..3) {
                0 => out.push_str(&format!("&#{};", c as u32)),
                1 => out.push_str(&format!("&#x{:x};", c as u32)),
                _ if bare_ok => out.push_str(&format!("&#{:07}", c as u32)),
                _ => out.push_str(&format!("&#{:07};", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn shell_obfuscation(rng: &mut CorpusRng, s: &str) -> String {
    match rng.gen_range(0..3) {
        0 => s.replace(' ', "${IFS}"),
        1 => s
            .replace("cat ", "c'a't ")
            .replace("id", "i\\d")
            .replace("whoami", "w'h'oami"),
        _ => s
            .replace("/etc/passwd", "/e??/pas*d")
            .replace(' ', "$IFS$9"),
    }
}

/// Applies one evasion suited to `class`.
pub fn mutate(rng: &mut CorpusRng, class: ThreatClass, s: &str) -> String {
    let options: &[Mutation] = match class {
        ThreatClass::Sqli => &[
            Mutation::Case,
            Mutation::UrlEncode,
            Mutation::DoubleUrlEncode,
            Mutation::SqlComments,
            Mutation::Whitespace,
        ],
        ThreatClass::Xss => &[
            Mutation::Case,
            Mutation::UrlEncode,
            Mutation::DoubleUrlEncode,
            Mutation::HtmlEntities,
        ],
        ThreatClass::Cmdi => &[
            Mutation::UrlEncode,
            Mutation::ShellObfuscation,
            Mutation::Whitespace,
        ],
        ThreatClass::PathTraversal => &[
            Mutation::UrlEncode,
            Mutation::DoubleUrlEncode,
            Mutation::Case,
        ],
        ThreatClass::Xxe => &[Mutation::UrlEncode, Mutation::Whitespace],
        _ => &[Mutation::Case],
    };
    let m = options[rng.gen_range(0..options.len())];
    match m {
        Mutation::Case => case(rng, s),
        Mutation::UrlEncode => url_encode(rng, s, false),
        Mutation::DoubleUrlEncode => {
            let once = url_encode(rng, s, false);
            url_encode(rng, &once, false)
        }
        Mutation::SqlComments => sql_comments(rng, s),
        Mutation::Whitespace => whitespace(rng, s),
        Mutation::HtmlEntities => html_entities(rng, s),
        Mutation::ShellObfuscation => shell_obfuscation(rng, s),
    }
}
