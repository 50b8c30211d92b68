//! The SQL twin: an application that builds queries by concatenation.
//!
//! The payload is placed in each context below and the query parsed in
//! several dialects. Every literal and bare identifier is then replaced by
//! `NULL` in both the payload's query and a reference query with a
//! harmless value, and the two are compared: the payload exploited the
//! query when it parses and its structure differs (extra predicates,
//! `UNION`, function calls, truncating comments, stacked statements). A
//! value that stays a value — `O'Brien` breaking the syntax, `hello` in a
//! numeric slot — is not an injection.

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions_mut, Expr, Statement, Value};
use sqlparser::dialect::{
    Dialect, GenericDialect, MsSqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect,
};
use sqlparser::parser::Parser;

use crate::{Family, Outcome};

/// The query templates (`{}` is the payload), a harmless value, and
/// whether the slot is numeric (unquoted). A numeric slot receives what a
/// number field receives: only values that start like a number are tried
/// there (free text in an unquoted slot is a type error, not an attack).
pub const CONTEXTS: &[(&str, &str, &str, bool)] = &[
    (
        "string",
        "SELECT * FROM users WHERE name = '{}' AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "string-double-quoted",
        "SELECT * FROM users WHERE name = \"{}\" AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "numeric",
        "SELECT * FROM items WHERE id = {} AND visible = 1 ORDER BY id",
        "7",
        true,
    ),
    (
        "parenthesized",
        "SELECT * FROM users WHERE (name = '{}') AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "double-quoted-parenthesized",
        "SELECT * FROM users WHERE (name = \"{}\") AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "double-parenthesized",
        "SELECT * FROM users WHERE ((name = '{}')) AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "double-quoted-double-parenthesized",
        "SELECT * FROM users WHERE ((name = \"{}\")) AND pass = 'x' ORDER BY id",
        "alice",
        false,
    ),
    (
        "numeric-parenthesized",
        "SELECT * FROM items WHERE (id = {}) AND visible = 1 ORDER BY id",
        "7",
        true,
    ),
    (
        "like",
        "SELECT * FROM items WHERE title LIKE '%{}%' AND visible = 1 ORDER BY id",
        "shoe",
        false,
    ),
    (
        "in-list",
        "SELECT * FROM items WHERE id IN ({}) AND visible = 1 ORDER BY id",
        "7",
        true,
    ),
    (
        "string-last",
        "SELECT name FROM users WHERE name = '{}'",
        "alice",
        false,
    ),
    (
        "numeric-last",
        "SELECT name FROM items WHERE id = {}",
        "7",
        true,
    ),
];

/// Statements a DBMS runs that `sqlparser` may not know.
const EXTRA_STATEMENTS: &[&str] = &[
    "WAITFOR DELAY",
    "WAITFOR TIME",
    "SHUTDOWN",
    "EXEC ",
    "EXECUTE ",
    "DECLARE ",
];

fn dialects() -> [(&'static str, Box<dyn Dialect>); 5] {
    [
        ("mysql", Box::new(MySqlDialect {})),
        ("postgresql", Box::new(PostgreSqlDialect {})),
        ("mssql", Box::new(MsSqlDialect {})),
        ("sqlite", Box::new(SQLiteDialect {})),
        ("generic", Box::new(GenericDialect {})),
    ]
}

/// The statements with values, bare identifiers and arithmetic between
/// them blanked, as text: what is left is the query's structure.
fn shape(mut statements: Vec<Statement>) -> String {
    use sqlparser::ast::{BinaryOperator as B, UnaryOperator as U};
    let atom = |e: &Expr| matches!(e, Expr::Value(v) if v.value == Value::Null);
    let _ = visit_expressions_mut(&mut statements, |e: &mut Expr| {
        let collapse = match e {
            Expr::Value(_)
            | Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Dictionary(_)
            | Expr::Array(_)
            | Expr::Map(_) => true,
            Expr::Nested(inner) => atom(inner),
            Expr::UnaryOp {
                op:
                    U::Minus
                    | U::Plus
                    | U::PGBitwiseNot
                    | U::PGSquareRoot
                    | U::PGCubeRoot
                    | U::PGAbs
                    | U::PGPrefixFactorial
                    | U::PGPostfixFactorial
                    | U::Hash
                    | U::AtDashAt
                    | U::DoubleAt
                    | U::QuestionDash
                    | U::QuestionPipe,
                expr,
            } => atom(expr),
            Expr::BinaryOp { left, op, right } => {
                atom(left)
                    && atom(right)
                    && !matches!(
                        op,
                        B::And
                            | B::Or
                            | B::Xor
                            | B::Eq
                            | B::NotEq
                            | B::Lt
                            | B::LtEq
                            | B::Gt
                            | B::GtEq
                            | B::Spaceship
                            | B::StringConcat
                    )
            }
            _ => false,
        };
        if collapse {
            *e = Expr::Value(Value::Null.into());
        }
        ControlFlow::<()>::Continue(())
    });
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Splits SQL at `;` outside quotes and comments.
fn split_statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    out.push(&sql[start..i]);
                    return out;
                }
                b'#' => {
                    out.push(&sql[start..i]);
                    return out;
                }
                b';' => {
                    out.push(&sql[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(&sql[start..]);
    out
}

/// Block comments replaced by a space (`WAITFOR/**/DELAY`).
fn strip_block_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        out.push(' ');
        match rest[i + 2..].find("*/") {
            Some(e) => rest = &rest[i + 2 + e + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// A statement stacked after the first, when the whole batch does not
/// parse (statements `sqlparser` does not know, like `WAITFOR DELAY`).
fn stacked(dialect: &dyn Dialect, sql: &str) -> Option<String> {
    let parts = split_statements(sql);
    if parts.len() < 2 {
        return None;
    }
    parse(dialect, parts[0])?;
    parts[1..]
        .iter()
        .map(|p| strip_block_comments(p))
        .filter(|p| !p.trim().is_empty())
        .find_map(|p| {
            let p = p.trim();
            let upper = p
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_uppercase();
            if let Some(k) = EXTRA_STATEMENTS.iter().find(|k| upper.starts_with(*k)) {
                return Some(format!("a stacked {} statement runs", k.trim()));
            }
            parse(dialect, p).map(|s| format!("a stacked statement runs: {}", s[0]))
        })
}

/// Block comments as the DBMS lexer sees them: whitespace, except MySQL's
/// executable comments (`/*!50000UNION*/`), whose content is code. Quotes
/// are respected. (`sqlparser` would otherwise read `||/*` as one operator.)
fn uncomment(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' || c == b'`' => quote = Some(c),
            None if c == b'/' && b.get(i + 1) == Some(&b'*') => {
                out.push_str(&sql[last..i]);
                let end = sql[i + 2..].find("*/").map(|e| i + 2 + e);
                let inner = &sql[i + 2..end.unwrap_or(b.len())];
                if let Some(code) = inner.strip_prefix('!') {
                    out.push(' ');
                    out.push_str(code.trim_start_matches(|c: char| c.is_ascii_digit()));
                }
                out.push(' ');
                i = end.map(|e| e + 2).unwrap_or(b.len());
                last = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out.push_str(&sql[last.min(sql.len())..]);
    out
}

fn parse(dialect: &dyn Dialect, sql: &str) -> Option<Vec<Statement>> {
    Parser::parse_sql(dialect, &uncomment(sql))
        .ok()
        .filter(|s| !s.is_empty())
}

/// Runs an (already URL-decoded) payload in every context.
pub fn run(payload: &str) -> Option<Outcome> {
    if payload.len() > 4096 || payload.trim().is_empty() {
        return None;
    }
    let number_like = payload
        .trim_start()
        .starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | '('));
    let backslash = payload.contains('\\');
    let refs = references();
    for (d, (dialect_name, dialect)) in dialects().into_iter().enumerate() {
        for (c, (context, template, _, numeric)) in CONTEXTS.iter().enumerate() {
            if *numeric && !number_like {
                continue;
            }
            // Inside a quoted literal, only the closing quote or a backslash
            // escape can leave it: without either the structure cannot change.
            if let Some(q) = slot_quote(template) {
                if !backslash && !payload.contains(q) {
                    continue;
                }
            }
            let Some((ref_statements, ref_shape, ref_truncated)) = refs[d][c] else {
                continue;
            };
            let query = template.replace("{}", payload);
            let Some(attacked) = parse(dialect.as_ref(), &query) else {
                if let Some(e) = stacked(dialect.as_ref(), &query) {
                    return Some(Outcome {
                        family: Family::Sql,
                        context,
                        evidence: format!("{dialect_name}: {e}"),
                    });
                }
                continue;
            };
            let n = attacked.len();
            let a = shape(attacked);
            if n == ref_statements && a == ref_shape {
                continue;
            }
            if *numeric && n == 1 && ref_truncated == Some(a.as_str()) {
                // An unquoted slot: a value that merely ends the query early
                // (`J3F#7`, a `#` or `--` in free text) is not an attack.
                continue;
            }
            return Some(Outcome {
                family: Family::Sql,
                context,
                evidence: format!(
                    "{dialect_name}: the query became `{a}` instead of `{ref_shape}`"
                ),
            });
        }
    }
    None
}

/// The quote that opens a template's slot (`None` for unquoted slots).
fn slot_quote(template: &str) -> Option<char> {
    let before = &template[..template.find("{}")?];
    let q = before.chars().rev().find(|c| matches!(c, '\'' | '"'))?;
    // Open only when the prefix has an odd number of that quote.
    (before.matches(q).count() % 2 == 1).then_some(q)
}

/// A template's parse with its harmless value: statement count, shape,
/// and for unquoted slots the shape of the query cut at the slot.
pub(crate) type Reference = (usize, &'static str, Option<&'static str>);

/// A computed reference (owned strings).
pub type ComputedReference = (usize, String, Option<String>);

/// The reference table's type: per dialect, per context.
pub(crate) type ReferenceTable = [[Option<Reference>; CONTEXT_COUNT]; DIALECT_COUNT];

/// References per dialect and context, precomputed (`sql_refs.rs`, checked
/// by a test against [`compute_references`]): a WebAssembly guest runs each
/// simulation in a fresh instance, where a lazily computed table would be
/// rebuilt — 60 parses — every time.
fn references() -> &'static ReferenceTable {
    &crate::sql_refs::REFERENCES
}

/// Number of templates.
pub const CONTEXT_COUNT: usize = CONTEXTS.len();
/// Number of dialects.
pub const DIALECT_COUNT: usize = 5;

/// Computes the reference table (what `sql_refs.rs` holds).
pub fn compute_references() -> Vec<Vec<Option<ComputedReference>>> {
    dialects()
        .iter()
        .map(|(_, dialect)| {
            CONTEXTS
                .iter()
                .map(|(_, template, harmless, numeric)| {
                    let r = parse(dialect.as_ref(), &template.replace("{}", harmless))?;
                    let truncated = if *numeric {
                        let cut = &template[..template.find("{}").unwrap_or(template.len())];
                        parse(dialect.as_ref(), &format!("{cut}{harmless}")).map(shape)
                    } else {
                        None
                    };
                    Some((r.len(), shape(r), truncated))
                })
                .collect()
        })
        .collect()
}

/// Renders the reference table as the source of `sql_refs.rs`.
pub fn render_references() -> String {
    let mut out = String::from(
        "//! Generated by `sql::render_references` (the test `sql::tests::reference_table_is_current`\n\
         //! checks it; run it with `SENTINEL_BLESS=1` to regenerate). Do not edit.\n\n\
         /// Per dialect, per context: (statements, shape, truncated shape).\n\
         #[rustfmt::skip]\n\
         pub(crate) static REFERENCES: crate::sql::ReferenceTable = [\n",
    );
    for d in compute_references() {
        out.push_str("    [\n");
        for c in d {
            match c {
                None => out.push_str("        None,\n"),
                Some((n, shape, t)) => out.push_str(&format!(
                    "        Some(({n}, {shape:?}, {})),\n",
                    match t {
                        Some(t) => format!("Some({t:?})"),
                        None => "None".into(),
                    }
                )),
            }
        }
        out.push_str("    ],\n");
    }
    out.push_str("];\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_table_is_current() {
        let text = render_references();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sql_refs.rs");
        if std::env::var_os("SENTINEL_BLESS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let current = std::fs::read_to_string(path).unwrap();
        assert!(
            current == text,
            "src/sql_refs.rs is stale: rerun this test with SENTINEL_BLESS=1"
        );
    }

    #[test]
    fn injections_change_the_query() {
        for p in [
            "' OR '1'='1",
            "admin'--",
            "admin' #",
            "1 OR 1=1",
            "1 UNION SELECT username, password FROM users",
            "1; DROP TABLE users",
            "x' AND SLEEP(5) AND 'a'='a",
            "1) OR (1=1",
            "%' OR 1=1 -- ",
            "1/**/UnIoN/**/SeLeCt/**/1,2",
            "249'/*x*/||/*x*/1490>1489-- ",
            "1 /*!50000UNION*/ SELECT 1,2",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
    }

    #[test]
    fn values_stay_values() {
        for p in [
            "alice",
            "O'Brien",
            "hello",
            "42",
            "red shoes",
            "select the best gift",
            "it's 5 o'clock",
            "",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
