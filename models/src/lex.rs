//! One-pass lexical summary of a normalized payload: character classes,
//! word classes, punctuation-pattern groups and entropy.

use crate::lexicon::{self, word, GroupCounts};

/// Number of word classes tracked (bits of [`crate::lexicon::word`]).
pub const WORD_CLASSES: usize = 10;

/// Lexical summary of normalized text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lex {
    /// Length in bytes.
    pub len: u32,
    /// ASCII and Unicode letters.
    pub letters: u32,
    /// Digits.
    pub digits: u32,
    /// Spaces.
    pub spaces: u32,
    /// Printable punctuation and symbols.
    pub specials: u32,
    /// `'`.
    pub single_quotes: u32,
    /// `"`.
    pub double_quotes: u32,
    /// `` ` ``.
    pub backticks: u32,
    /// `(` and `)`.
    pub parens: u32,
    /// `<`.
    pub lt: u32,
    /// `>`.
    pub gt: u32,
    /// `;`.
    pub semicolons: u32,
    /// Line breaks (kept by normalization: they separate shell commands).
    pub newlines: u32,
    /// `|`.
    pub pipes: u32,
    /// `&`.
    pub ampersands: u32,
    /// `$`.
    pub dollars: u32,
    /// `=`.
    pub equals: u32,
    /// `{` and `}`.
    pub braces: u32,
    /// `\n`-like separators left after normalization (none: whitespace is
    /// compressed) — kept for newline-separated shell payloads in raw form.
    pub slashes: u32,
    /// `\`.
    pub backslashes: u32,
    /// `#`.
    pub hashes: u32,
    /// `%`.
    pub percents: u32,
    /// `*`.
    pub stars: u32,
    /// `,`.
    pub commas: u32,
    /// `@`.
    pub ats: u32,
    /// Word tokens.
    pub words: u32,
    /// Longest word token.
    pub max_word_len: u32,
    /// Word tokens per class, indexed by the bit position of the class.
    pub word_classes: [u16; WORD_CLASSES],
    /// Punctuation pattern hits per group.
    pub groups: GroupCounts,
    /// Shannon entropy of the bytes, bits per byte.
    pub entropy: f32,
}

impl Lex {
    /// Word tokens of a class (one of the [`crate::lexicon::word`] flags).
    #[inline]
    pub fn count(&self, class: u16) -> u32 {
        u32::from(self.word_classes[class.trailing_zeros() as usize])
    }

    /// Pattern hits of a group.
    #[inline]
    pub fn group(&self, g: lexicon::Group) -> u32 {
        u32::from(self.groups[g as usize])
    }

    /// All quote characters.
    #[inline]
    pub fn quotes(&self) -> u32 {
        self.single_quotes + self.double_quotes + self.backticks
    }
}

/// Computes the summary of `text` into `out`, reusing its storage.
pub fn lex_into(text: &str, out: &mut Lex) {
    *out = Lex::default();
    let bytes = text.as_bytes();
    out.len = bytes.len() as u32;
    let mut hist = [0u32; 256];
    let mut word_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        hist[b as usize] += 1;
        let is_word = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        if is_word {
            if word_start.is_none() {
                word_start = Some(i);
            }
        } else if let Some(s) = word_start.take() {
            add_word(&text[s..i], out);
        }
        match b {
            b'a'..=b'z' | b'A'..=b'Z' => out.letters += 1,
            b'0'..=b'9' => out.digits += 1,
            b' ' => out.spaces += 1,
            0x80.. => {
                // Continuation bytes are not counted; a lead byte counts as a letter.
                if b >= 0xC0 {
                    out.letters += 1;
                }
            }
            _ => {
                if b.is_ascii_graphic() {
                    out.specials += 1;
                }
                match b {
                    b'\'' => out.single_quotes += 1,
                    b'"' => out.double_quotes += 1,
                    b'`' => out.backticks += 1,
                    b'(' | b')' => out.parens += 1,
                    b'<' => out.lt += 1,
                    b'>' => out.gt += 1,
                    b';' => out.semicolons += 1,
                    b'\n' => out.newlines += 1,
                    b'|' => out.pipes += 1,
                    b'&' => out.ampersands += 1,
                    b'$' => out.dollars += 1,
                    b'=' => out.equals += 1,
                    b'{' | b'}' => out.braces += 1,
                    b'/' => out.slashes += 1,
                    b'\\' => out.backslashes += 1,
                    b'#' => out.hashes += 1,
                    b'%' => out.percents += 1,
                    b'*' => out.stars += 1,
                    b',' => out.commas += 1,
                    b'@' => out.ats += 1,
                    _ => {}
                }
            }
        }
    }
    if let Some(s) = word_start {
        add_word(&text[s..], out);
    }
    out.entropy = entropy(&hist, bytes.len());
    lexicon::pattern_counts(text, &mut out.groups);
}

#[inline]
fn add_word(w: &str, out: &mut Lex) {
    out.words += 1;
    out.max_word_len = out.max_word_len.max(w.len() as u32);
    let class = lexicon::word_class(w);
    if class != 0 {
        let mut bits = class;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            out.word_classes[bit] = out.word_classes[bit].saturating_add(1);
            bits &= bits - 1;
        }
    }
}

/// Shannon entropy (bits per byte) of a byte histogram.
pub fn entropy(hist: &[u32; 256], n: usize) -> f32 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f32;
    let mut h = 0.0f32;
    for &c in hist.iter() {
        if c > 0 {
            let p = c as f32 / n;
            h -= p * p.log2();
        }
    }
    h
}

/// Classes that make a word token interesting to the signature engine.
pub const INTERESTING: u16 = word::SQL_KEYWORD
    | word::SQL_FUNCTION
    | word::SQL_META
    | word::SHELL_STRONG
    | word::SHELL_WEAK
    | word::JS
    | word::EVENT_HANDLER
    | word::CODE_FUNCTION;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Group;

    #[test]
    fn summary_of_an_injection() {
        let mut l = Lex::default();
        lex_into("1' or '1'='1' union select 1,2--", &mut l);
        assert_eq!(l.single_quotes, 5);
        assert_eq!(l.count(word::SQL_BOOLEAN), 1);
        assert_eq!(l.count(word::SQL_KEYWORD), 2);
        assert_eq!(l.group(Group::SqlComment), 1);
        assert_eq!(l.commas, 1);
        assert!(l.entropy > 2.0);
    }

    #[test]
    fn entropy_bounds() {
        let mut l = Lex::default();
        lex_into("aaaa", &mut l);
        assert_eq!(l.entropy, 0.0);
        lex_into("", &mut l);
        assert_eq!(l.entropy, 0.0);
        assert_eq!(l.words, 0);
    }
}
