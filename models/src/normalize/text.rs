//! Bytes to text and the final clean-up pass.

/// Appends `bytes` to `out` as text: UTF-8 where valid; overlong UTF-8
/// encodings of ASCII (`C0 AE` for `.`, `C0 AF` for `/`, classic traversal
/// evasions) decoded to that ASCII; any other stray byte as its Latin-1
/// character (so `%F1` from a Latin-1 form is `ñ`).
pub fn bytes_to_text(bytes: &[u8], out: &mut String) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        out.push_str(s);
        return;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            out.push(b as char);
            i += 1;
            continue;
        }
        if let Some((ascii, len)) = overlong_ascii(&bytes[i..]) {
            out.push(ascii);
            i += len;
            continue;
        }
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        if len > 0 && i + len <= bytes.len() {
            if let Ok(s) = std::str::from_utf8(&bytes[i..i + len]) {
                out.push_str(s);
                i += len;
                continue;
            }
        }
        out.push(char::from(b));
        i += 1;
    }
}

/// An overlong UTF-8 encoding (2 to 6 bytes, the classic IIS/Tomcat
/// traversal evasions `C0 AE`, `E0 80 AE`, `F8 80 80 80 AF`) of an ASCII
/// character: the character and the bytes used.
fn overlong_ascii(b: &[u8]) -> Option<(char, usize)> {
    let (len, mask) = match b.first()? {
        0xC0 | 0xC1 => (2, 0x1F),
        0xE0 => (3, 0x0F),
        0xF0 => (4, 0x07),
        0xF8 => (5, 0x03),
        0xFC => (6, 0x01),
        _ => return None,
    };
    if b.len() < len || !b[1..len].iter().all(|c| (0x80..0xC0).contains(c)) {
        return None;
    }
    let cp = b[1..len].iter().fold(u32::from(b[0] & mask), |acc, c| {
        acc << 6 | u32::from(c & 0x3F)
    });
    (cp < 0x80).then(|| (char::from(cp as u8), len))
}

/// What the clean-up pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Null characters removed.
    pub nulls: u32,
    /// `/* */` comments replaced by a space.
    pub block_comments: u32,
}

/// Appends `s` to `out` with `/* ... */` comments replaced by a space
/// (MySQL executable comments `/*!NNNNN ... */` keep their content), null
/// characters removed and whitespace runs compressed to one space — or to
/// one newline when the run contains a line break, because a newline
/// separates shell commands — and trimmed. With `line_comments`, `#` and
/// `--` comments that end at a line break inside the value are removed too
/// (the SQL view: `union#x\nselect` is `union select`).
pub fn strip_comments_and_space(s: &str, out: &mut String, line_comments: bool) -> CleanStats {
    let mut stats = CleanStats::default();
    let bytes = s.as_bytes();
    // The separator owed before the next visible character: none, ' ' or '\n'.
    let mut pending_space: Option<char> = None;
    let mut in_exec_comment = false;
    let mut i = 0;
    let push_space = |out: &mut String, pending: &mut Option<char>| {
        if !out.is_empty() && pending.is_none() {
            *pending = Some(' ');
        }
    };
    let push_newline = |out: &mut String, pending: &mut Option<char>| {
        if !out.is_empty() {
            *pending = Some('\n');
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            stats.block_comments += 1;
            if bytes.get(i + 2) == Some(&b'!') {
                i += 3;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                in_exec_comment = true;
                push_space(out, &mut pending_space);
                continue;
            }
            match memchr::memmem::find(&bytes[i + 2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => i = bytes.len(),
            }
            push_space(out, &mut pending_space);
            continue;
        }
        // `#` and `--` comments that end at a line break inside the value
        // (MySQL multi-line evasion: `union#x\nselect`) are removed.
        if line_comments
            && (b == b'#' || (b == b'-' && bytes.get(i + 1) == Some(&b'-')))
            && memchr::memchr(b'\n', &bytes[i..]).is_some()
        {
            let nl = memchr::memchr(b'\n', &bytes[i..]).unwrap_or(0);
            stats.block_comments += 1;
            i += nl + 1;
            push_space(out, &mut pending_space);
            continue;
        }
        if in_exec_comment && b == b'*' && bytes.get(i + 1) == Some(&b'/') {
            in_exec_comment = false;
            i += 2;
            push_space(out, &mut pending_space);
            continue;
        }
        if b == 0 {
            stats.nulls += 1;
            i += 1;
            continue;
        }
        if b < 0x80 {
            if b == b'\n' || b == b'\r' {
                push_newline(out, &mut pending_space);
            } else if b.is_ascii_whitespace() || b == 0x0B {
                push_space(out, &mut pending_space);
            } else {
                if let Some(sep) = pending_space.take() {
                    out.push(sep);
                }
                out.push(b as char);
            }
            i += 1;
            continue;
        }
        // Non-ASCII: take the whole character.
        let ch = s[i..].chars().next().unwrap_or('\u{FFFD}');
        if ch.is_whitespace() {
            push_space(out, &mut pending_space);
        } else if ch == '\u{200B}' || ch == '\u{FEFF}' || ch == '\u{200C}' || ch == '\u{200D}' {
            // Zero-width characters split keywords invisibly: drop them.
        } else {
            if let Some(sep) = pending_space.take() {
                out.push(sep);
            }
            out.push(ch);
        }
        i += ch.len_utf8();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> (String, CleanStats) {
        let mut out = String::new();
        let st = strip_comments_and_space(s, &mut out, true);
        (out, st)
    }

    #[test]
    fn comments_and_space() {
        assert_eq!(clean("a/*x*/b").0, "a b");
        assert_eq!(clean("a /* unterminated").0, "a");
        assert_eq!(clean("/*!12345select*/ 1").0, "select 1");
        assert_eq!(clean("\u{a0}x\u{200b}y\0 ").0, "xy");
        assert_eq!(clean("a/**/b/**/c").1.block_comments, 2);
        assert_eq!(clean("1 */ 2").0, "1 */ 2");
        assert_eq!(clean("a \r\n b\n").0, "a\nb");
        assert_eq!(clean("union#x*/y\nselect 1#").0, "union select 1#");
        let mut kept = String::new();
        strip_comments_and_space("a#b\nc", &mut kept, false);
        assert_eq!(kept, "a#b\nc");
    }

    #[test]
    fn text_from_bytes() {
        let mut s = String::new();
        bytes_to_text(
            b"a\xF1b\xC0\xAE\xE0\x80\xAF\xC3\xA9\xF8\x80\x80\x80\xAE\xFC\x80\x80\x80\x80\xAF",
            &mut s,
        );
        assert_eq!(s, "añb./é./");
    }
}
