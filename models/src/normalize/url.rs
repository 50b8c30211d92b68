//! One pass of lenient URL decoding.

/// What one decoding pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// True when the output differs from the input.
    pub changed: bool,
    /// `%XX` and `%uXXXX` escapes decoded.
    pub decoded_escapes: u32,
    /// `%uXXXX` escapes among them.
    pub unicode_escapes: u32,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX`, IIS-style `%uXXXX` (to UTF-8) and, when `plus_is_space`,
/// `+` into `out`. Invalid escapes are kept literally, as CRS does.
pub fn url_decode_pass(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) -> PassStats {
    let mut stats = PassStats::default();
    out.reserve(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                stats.decoded_escapes += 1;
                stats.changed = true;
                i += 3;
                continue;
            }
            if matches!(input.get(i + 1), Some(b'u') | Some(b'U')) && i + 6 <= input.len() {
                let digits = &input[i + 2..i + 6];
                if digits.iter().all(u8::is_ascii_hexdigit) {
                    let cp = digits
                        .iter()
                        .fold(0u32, |acc, d| acc << 4 | u32::from(hex(*d).unwrap_or(0)));
                    let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    stats.decoded_escapes += 1;
                    stats.unicode_escapes += 1;
                    stats.changed = true;
                    i += 6;
                    continue;
                }
            }
        } else if b == b'+' && plus_is_space {
            out.push(b' ');
            stats.changed = true;
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &[u8], plus: bool) -> (Vec<u8>, PassStats) {
        let mut out = Vec::new();
        let st = url_decode_pass(s, plus, &mut out);
        (out, st)
    }

    #[test]
    fn decodes_and_keeps_invalid() {
        assert_eq!(dec(b"a%20b%zz%2", false).0, b"a b%zz%2");
        assert_eq!(dec(b"%u00e9", false).0, "é".as_bytes());
        assert_eq!(dec(b"%uD800", false).0, "\u{FFFD}".as_bytes());
        assert_eq!(dec(b"a+b", true).0, b"a b");
        let (_, st) = dec(b"plain", true);
        assert!(!st.changed);
    }

    proptest! {
        #[test]
        fn never_panics_never_grows_much(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (out, _) = dec(&bytes, true);
            prop_assert!(out.len() <= bytes.len() + 2);
        }
    }
}
