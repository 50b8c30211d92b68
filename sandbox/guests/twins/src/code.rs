//! The code twin: values that reach template engines (Jinja2, Twig,
//! Freemarker, Spring EL, OGNL, Smarty, Thymeleaf), PHP code, or
//! Python/Node evaluation sinks.
//!
//! Template islands (`{{…}}`, `${…}`, `#{…}`, `*{…}`, `%{…}`, `{$…}`)
//! are evaluated: arithmetic is computed (the classic `{{7*7}}` probe:
//! the page would show 49 — the engine evaluated attacker input), and
//! expressions are scanned token by token for calls into process,
//! reflection or import machinery. PHP blocks and eval sinks are tokenized
//! the same way.

use crate::{Family, Outcome};

/// Names whose call (or, for dunder attributes, whose access) means code execution.
const DANGEROUS: &[&str] = &[
    "system",
    "exec",
    "popen",
    "shell_exec",
    "passthru",
    "proc_open",
    "pcntl_exec",
    "eval",
    "assert",
    "execSync",
    "spawn",
    "spawnSync",
    "execFile",
    "getRuntime",
    "ProcessBuilder",
    "forName",
    "getMethod",
    "invoke",
    "__import__",
    "subprocess",
    "check_output",
    "getoutput",
    "call_user_func",
    "create_function",
    "include",
    "require",
    "require_once",
    "include_once",
    "child_process",
    "Runtime",
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__mro__",
    "__class__",
    "__init__",
    "_memberAccess",
    "allowStaticMethodAccess",
    "os",
];

fn identifiers(code: &str) -> Vec<(String, bool)> {
    // (identifier, followed by a call or a member access)
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let next = b.get(j).copied();
            out.push((
                code[s..i].to_string(),
                matches!(next, Some(b'(' | b'.' | b'[' | b'\'' | b'"')),
            ));
        } else {
            i += 1;
        }
    }
    out
}

fn dangerous_call(code: &str) -> Option<String> {
    identifiers(code)
        .into_iter()
        .find(|(id, active)| {
            *active && DANGEROUS.contains(&id.as_str())
                || id.starts_with("__") && id.ends_with("__") && DANGEROUS.contains(&id.as_str())
        })
        .map(|(id, _)| id)
}

/// Evaluates integer arithmetic (`7*7`, `(3+4)*2`); `None` when it is not arithmetic.
fn arithmetic(expr: &str) -> Option<i64> {
    fn parse(b: &[u8], i: &mut usize, prec: u8) -> Option<i64> {
        while *i < b.len() && b[*i] == b' ' {
            *i += 1;
        }
        let mut lhs = if *i < b.len() && b[*i] == b'(' {
            *i += 1;
            let v = parse(b, i, 0)?;
            while *i < b.len() && b[*i] == b' ' {
                *i += 1;
            }
            if b.get(*i) != Some(&b')') {
                return None;
            }
            *i += 1;
            v
        } else {
            let s = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            std::str::from_utf8(&b[s..*i]).ok()?.parse::<i64>().ok()?
        };
        loop {
            while *i < b.len() && b[*i] == b' ' {
                *i += 1;
            }
            let Some(&op) = b.get(*i) else {
                return Some(lhs);
            };
            let p = match op {
                b'+' | b'-' => 1,
                b'*' | b'/' | b'%' => 2,
                _ => return Some(lhs),
            };
            if p <= prec {
                return Some(lhs);
            }
            *i += 1;
            let rhs = parse(b, i, p)?;
            lhs = match op {
                b'+' => lhs.checked_add(rhs)?,
                b'-' => lhs.checked_sub(rhs)?,
                b'*' => lhs.checked_mul(rhs)?,
                b'/' => lhs.checked_div(rhs)?,
                _ => lhs.checked_rem(rhs)?,
            };
        }
    }
    let b = expr.trim().as_bytes();
    if !b
        .iter()
        .any(|c| matches!(c, b'+' | b'-' | b'*' | b'/' | b'%'))
    {
        return None;
    }
    let mut i = 0;
    let v = parse(b, &mut i, 0)?;
    (i == b.len()).then_some(v)
}

/// Template islands: `(engine, expression)`.
fn islands(v: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (open, close, engine) in [
        ("{{", "}}", "jinja2/twig"),
        ("${", "}", "freemarker/spring-el"),
        ("#{", "}", "thymeleaf/ruby"),
        ("*{", "}", "thymeleaf"),
        ("%{", "}", "ognl"),
        ("{$", "}", "smarty"),
    ] {
        let mut rest = v;
        while let Some(s) = rest.find(open) {
            let after = &rest[s + open.len()..];
            // Nested braces: take up to the matching close.
            let mut depth = 0i32;
            let mut end = None;
            for (k, c) in after.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth > 0 => depth -= 1,
                    '}' if after[k..].starts_with(close) => {
                        end = Some(k);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(e) = end else { break };
            out.push((engine, after[..e].to_string()));
            rest = &after[e..];
        }
    }
    out
}

/// Runs an (already URL-decoded) payload.
pub fn run(payload: &str) -> Option<Outcome> {
    if payload.len() > 8192 {
        return None;
    }
    for (engine, expr) in islands(payload) {
        if let Some(v) = arithmetic(&expr) {
            return Some(Outcome {
                family: Family::Command,
                context: "template",
                evidence: format!("{engine} evaluated {} to {v}", expr.trim()),
            });
        }
        if let Some(f) = dangerous_call(&expr) {
            return Some(Outcome {
                family: Family::Command,
                context: "template",
                evidence: format!("{engine} expression reaches {f}"),
            });
        }
    }
    let lower = payload.to_ascii_lowercase();
    if let Some(s) = lower.find("<?php").or_else(|| lower.find("<?=")) {
        let code = &payload[s..];
        if let Some(f) = dangerous_call(code) {
            return Some(Outcome {
                family: Family::Command,
                context: "php-include",
                evidence: format!("included PHP calls {f}"),
            });
        }
    }
    // Evaluation sinks (Python eval, Node eval): the value is code.
    let ids = identifiers(payload);
    let imports = ids
        .iter()
        .any(|(id, a)| *a && matches!(id.as_str(), "__import__" | "require" | "import"));
    if imports {
        if let Some(f) = dangerous_call(payload) {
            return Some(Outcome {
                family: Family::Command,
                context: "eval",
                evidence: format!("evaluated code imports and calls {f}"),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_eval() {
        for p in [
            "{{7*7}}",
            "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "<?php system('id'); ?>",
            "__import__('os').system('id')",
            "require('child_process').execSync('id')",
            "%{(#_memberAccess['allowStaticMethodAccess']=true).(@java.lang.Runtime@getRuntime().exec('id'))}",
            "{${system('id')}}",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
        for p in [
            "{{ name }}",
            "${price}",
            "cost: $5 {approx}",
            "system of a down",
            "the os is linux",
            "a*b",
            "import this",
            "{{}}",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
