//! Log4j lookup resolution, so that obfuscated JNDI payloads
//! (`${${lower:j}${::-n}di:ldap://...}`) are seen as what Log4j would see.

/// Resolves the Log4j 2 lookups attackers use for obfuscation, innermost
/// first: `${lower:x}`, `${upper:x}` → `x`; `${anything:-x}` and
/// `${::-x}` → the default `x`; `${env:NAME}`, `${sys:NAME}`, ... without a
/// default → empty. `${jndi:...}` is kept (it is what we look for). Work is
/// bounded by `max_steps` replacements.
pub fn resolve_log4j_lookups(text: &str, max_steps: usize) -> String {
    let mut s = text.to_string();
    for _ in 0..max_steps {
        // Innermost `${...}`: a `${` with no `${` before its `}`.
        let Some(close) = find_innermost(&s) else {
            break;
        };
        let (open, end) = close;
        let inner = &s[open + 2..end];
        let replacement: String = if let Some((_, default)) = inner.split_once(":-") {
            default.to_string()
        } else if let Some(rest) = inner
            .strip_prefix("lower:")
            .or_else(|| inner.strip_prefix("upper:"))
        {
            rest.to_string()
        } else if let Some(rest) = inner.strip_prefix("jndi:") {
            // Keep, but mark as resolved so the loop makes progress.
            format!("\u{1}jndi:{rest}\u{2}")
        } else if let Some((_, rest)) = inner.split_once(':') {
            // `${date:'j'}` style: a quoted literal survives.
            rest.trim_matches('\'')
                .chars()
                .filter(|c| c.is_alphanumeric() && rest.len() <= 3)
                .collect()
        } else {
            String::new()
        };
        s.replace_range(open..=end, &replacement);
    }
    s.replace('\u{1}', "${").replace('\u{2}', "}")
}

/// `(index of "${", index of its "}")` for an innermost lookup.
fn find_innermost(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut last_open = None;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'$' && b[i + 1] == b'{' {
            last_open = Some(i);
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            if let Some(o) = last_open {
                return Some((o, i));
            }
        }
        i += 1;
    }
    if let (Some(o), Some(&b'}')) = (last_open, b.last()) {
        return Some((o, b.len() - 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resolves_obfuscations() {
        assert_eq!(
            resolve_log4j_lookups("${jndi:ldap://x/a}", 32),
            "${jndi:ldap://x/a}"
        );
        assert_eq!(
            resolve_log4j_lookups("${${lower:j}${::-n}${upper:d}i:ldap://x/a}", 32),
            "${jndi:ldap://x/a}"
        );
        assert_eq!(
            resolve_log4j_lookups("${${env:nothing:-j}ndi${env:x:-:}rmi://h/o}", 32),
            "${jndi:rmi://h/o}"
        );
        assert_eq!(
            resolve_log4j_lookups("${${date:'j'}ndi:dns://h}", 32),
            "${jndi:dns://h}"
        );
        assert_eq!(resolve_log4j_lookups("price ${total}", 32), "price ");
    }

    proptest! {
        #[test]
        fn never_panics(s in "[${}:a-z\\-']{0,80}") {
            let _ = resolve_log4j_lookups(&s, 16);
        }
    }
}
