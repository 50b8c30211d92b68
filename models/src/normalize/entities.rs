//! HTML character references and JavaScript escapes, decoded the lenient
//! way browsers do (numeric references without `;`, leading zeros).
//!
//! Only the named references that matter for injection are known; an
//! unknown `&name;` is kept as is. (The `html-escape` crate decodes only
//! `;`-terminated references, which is what attackers avoid.)

/// Named references decoded with or without `;`, longest first where prefixes clash.
const NAMED: &[(&str, char)] = &[
    ("newline", '\n'),
    ("lowbar", '_'),
    ("commat", '@'),
    ("percnt", '%'),
    ("dollar", '$'),
    ("verbar", '|'),
    ("period", '.'),
    ("hyphen", '-'),
    ("equals", '='),
    ("lbrack", '['),
    ("rbrack", ']'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("colon", ':'),
    ("grave", '`'),
    ("quest", '?'),
    ("comma", ','),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("semi", ';'),
    ("lpar", '('),
    ("rpar", ')'),
    ("bsol", '\\'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("excl", '!'),
    ("plus", '+'),
    ("vert", '|'),
    ("amp", '&'),
    ("tab", '\t'),
    ("sol", '/'),
    ("num", '#'),
    ("ast", '*'),
    ("hat", '^'),
    ("lt", '<'),
    ("gt", '>'),
];

/// Decodes character references of `s` into `out`; returns how many.
pub fn decode_html_entities(s: &str, out: &mut String) -> u32 {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    let mut last = 0;
    while let Some(off) = memchr::memchr(b'&', &b[i..]) {
        let amp = i + off;
        out.push_str(&s[last..amp]);
        let (ch, len) = reference_at(&b[amp + 1..]);
        match ch {
            Some(c) => {
                out.push(c);
                n += 1;
                i = amp + 1 + len;
            }
            None => {
                out.push('&');
                i = amp + 1;
            }
        }
        last = i;
    }
    out.push_str(&s[last..]);
    n
}

/// The character of the reference after `&`, and the bytes it used.
fn reference_at(rest: &[u8]) -> (Option<char>, usize) {
    if rest.first() == Some(&b'#') {
        let (hexa, start) = match rest.get(1) {
            Some(b'x') | Some(b'X') => (true, 2),
            _ => (false, 1),
        };
        let mut j = start;
        let mut cp: u32 = 0;
        while j < rest.len() {
            let d = if hexa {
                (rest[j] as char).to_digit(16)
            } else {
                (rest[j] as char).to_digit(10)
            };
            match d {
                Some(d) => {
                    cp = cp
                        .saturating_mul(if hexa { 16 } else { 10 })
                        .saturating_add(d);
                    j += 1;
                }
                None => break,
            }
        }
        if j == start {
            return (None, 0);
        }
        if rest.get(j) == Some(&b';') {
            j += 1;
        }
        let ch = match cp {
            0 => '\u{FFFD}',
            _ => char::from_u32(cp).unwrap_or('\u{FFFD}'),
        };
        return (Some(ch), j);
    }
    for (name, ch) in NAMED {
        let nb = name.as_bytes();
        if rest.len() >= nb.len() && rest[..nb.len()].eq_ignore_ascii_case(nb) {
            let mut len = nb.len();
            if rest.get(len) == Some(&b';') {
                len += 1;
            } else if rest.get(len).is_some_and(|c| c.is_ascii_alphanumeric()) {
                // `&ltx` is not `<x`... unless browsers say so; only
                // `;`-less forms at a word end are decoded.
                continue;
            }
            return (Some(*ch), len);
        }
    }
    (None, 0)
}

/// Decodes `\xHH`, `\uHHHH`, `\u{H..}`, `\n`, `\r` and `\t` escapes of `s`
/// into `out` (CRS `t:jsDecode`); returns how many.
pub fn decode_js_escapes(s: &str, out: &mut String) -> u32 {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    let mut last = 0;
    while let Some(off) = memchr::memchr(b'\\', &b[i..]) {
        let bs = i + off;
        let rest = &b[bs + 1..];
        let parsed = match rest.first() {
            Some(b'n') => Some((u32::from(b'\n'), 1)),
            Some(b'r') => Some((u32::from(b'\r'), 1)),
            Some(b't') => Some((u32::from(b'\t'), 1)),
            Some(b'x') if rest.len() >= 3 => parse_hex(&rest[1..3]).map(|cp| (cp, 3)),
            Some(b'u') if rest.get(1) == Some(&b'{') => {
                memchr::memchr(b'}', &rest[2..]).and_then(|end| {
                    (end > 0 && end <= 6)
                        .then(|| parse_hex(&rest[2..2 + end]))
                        .flatten()
                        .map(|cp| (cp, 3 + end))
                })
            }
            Some(b'u') if rest.len() >= 5 => parse_hex(&rest[1..5]).map(|cp| (cp, 5)),
            _ => None,
        };
        match parsed {
            Some((cp, len)) => {
                out.push_str(&s[last..bs]);
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                n += 1;
                i = bs + 1 + len;
                last = i;
            }
            None => i = bs + 1,
        }
    }
    out.push_str(&s[last..]);
    n
}

fn parse_hex(d: &[u8]) -> Option<u32> {
    if d.is_empty() || !d.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    std::str::from_utf8(d)
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn html(s: &str) -> String {
        let mut o = String::new();
        decode_html_entities(s, &mut o);
        o
    }

    fn js(s: &str) -> String {
        let mut o = String::new();
        decode_js_escapes(s, &mut o);
        o
    }

    #[test]
    fn references() {
        assert_eq!(html("&lt;a&gt; &amp; &quot;x&quot;"), "<a> & \"x\"");
        assert_eq!(html("&#0000060&#x3C;&#X3c"), "<<<");
        assert_eq!(html("AT&T &unknown; &"), "AT&T &unknown; &");
        assert_eq!(html("&ltx"), "&ltx");
        assert_eq!(html("&#0;"), "\u{FFFD}");
        assert_eq!(html("&#99999999999;"), "\u{FFFD}");
    }

    #[test]
    fn js_escapes() {
        assert_eq!(js(r"\x3c\u0073\u{63}ript"), "<script");
        assert_eq!(js(r"c:\windows\x"), "c:\\windows\\x");
        assert_eq!(js(r"a;id\n"), "a;id\n");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,128}") {
            let _ = html(&s);
            let _ = js(&s);
        }
        #[test]
        fn never_panics_on_reference_soup(s in "[&#xX0-9a-z;\\\\u{}]{0,64}") {
            let _ = html(&s);
            let _ = js(&s);
        }
    }
}
