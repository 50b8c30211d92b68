//! The normalization pipeline: the transformations a WAF applies before
//! matching (CRS: `t:urlDecodeUni`, `t:htmlEntityDecode`, `t:jsDecode`,
//! `t:utf8toUnicode`, `t:lowercase`, `t:replaceComments`,
//! `t:compressWhitespace`, `t:removeNulls`), made bounded and lossless-ish:
//!
//! 1. repeated URL decoding (`%XX`, `%uXXXX`, overlong UTF-8 dots and
//!    slashes, `+` as space where the location is form-encoded), up to
//!    [`Limits::max_decode_passes`];
//! 2. HTML character references (numeric with or without `;`, the named ones
//!    that matter for injection) and JavaScript escapes (`\xHH`, `\uHHHH`);
//! 3. bytes to text: UTF-8 where valid, Latin-1 for stray bytes (CSIC's `%F1`
//!    is `ñ`), then NFKC so full-width `＜ｓｃｒｉｐｔ＞` becomes `<script>`;
//! 4. lower case;
//! 5. `/* ... */` comments replaced by a space (MySQL `/*! ... */` keeps its
//!    content), null bytes removed, whitespace runs compressed to one space.
//!
//! Work is bounded: input beyond [`Limits::max_input_bytes`] is cut and the
//! result is flagged `truncated`.

mod entities;
mod text;
mod url;

pub use entities::{decode_html_entities, decode_js_escapes};
pub use text::{bytes_to_text, strip_comments_and_space};
pub use url::url_decode_pass;

/// Bounds on normalization work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a payload examined; the rest is cut (`truncated`).
    pub max_input_bytes: usize,
    /// URL-decoding passes at most.
    pub max_decode_passes: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 16 * 1024,
            max_decode_passes: 4,
        }
    }
}

/// The result of normalizing one payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// The SQL view of the text: like `text` with `#` and `--` comments that
    /// end at a line break removed and line breaks as spaces. Empty when it
    /// would equal `text`.
    pub sql_text: String,
    /// URL-decoding passes that changed the value.
    pub decode_depth: u8,
    /// Percent escapes in the raw value.
    pub pct_escapes: u32,
    /// `%uXXXX`, `\uXXXX`, `\xHH` and `&#...` escapes seen.
    pub unicode_escapes: u32,
    /// Null bytes removed.
    pub null_bytes: u32,
    /// `/* */` comments replaced.
    pub block_comments: u32,
    /// True when a limit cut the work short.
    pub truncated: bool,
}

impl Normalized {
    /// The text SQL signatures look at.
    pub fn sql_view(&self) -> &str {
        if self.sql_text.is_empty() {
            &self.text
        } else {
            &self.sql_text
        }
    }
}

/// Reusable buffers so that normalizing does not allocate per call once warm.
#[derive(Default, Debug)]
pub struct Scratch {
    a: Vec<u8>,
    b: Vec<u8>,
    s: String,
}

/// Normalizes `raw`. `plus_is_space` is true for query and form values
/// (where `+` encodes a space).
pub fn normalize(raw: &[u8], plus_is_space: bool, limits: &Limits) -> Normalized {
    let mut scratch = Scratch::default();
    let mut out = Normalized::default();
    normalize_into(raw, plus_is_space, limits, &mut scratch, &mut out);
    out
}

/// [`normalize`] into caller-owned buffers.
pub fn normalize_into(
    raw: &[u8],
    plus_is_space: bool,
    limits: &Limits,
    scratch: &mut Scratch,
    out: &mut Normalized,
) {
    let truncated = raw.len() > limits.max_input_bytes;
    let raw = &raw[..raw.len().min(limits.max_input_bytes)];
    out.truncated = truncated;
    out.pct_escapes = count_pct_escapes(raw);
    out.unicode_escapes = 0;
    out.decode_depth = 0;

    // 1. URL decoding until a fixed point.
    scratch.a.clear();
    scratch.a.extend_from_slice(raw);
    let mut plus = plus_is_space;
    for _ in 0..limits.max_decode_passes {
        scratch.b.clear();
        let stats = url_decode_pass(&scratch.a, plus, &mut scratch.b);
        plus = false;
        if !stats.changed {
            break;
        }
        out.decode_depth += u8::from(stats.decoded_escapes > 0);
        out.unicode_escapes += stats.unicode_escapes;
        std::mem::swap(&mut scratch.a, &mut scratch.b);
    }

    // 2. Bytes to text, then character references and JS escapes.
    scratch.s.clear();
    bytes_to_text(&scratch.a, &mut scratch.s);
    if scratch.s.contains('&') {
        let mut decoded = String::with_capacity(scratch.s.len());
        out.unicode_escapes += decode_html_entities(&scratch.s, &mut decoded);
        scratch.s = decoded;
    }
    if scratch.s.contains('\\') {
        let mut decoded = String::with_capacity(scratch.s.len());
        out.unicode_escapes += decode_js_escapes(&scratch.s, &mut decoded);
        scratch.s = decoded;
    }

    // 3. Unicode compatibility forms (only when there is non-ASCII).
    if !scratch.s.is_ascii() {
        use unicode_normalization::UnicodeNormalization;
        let nfkc: String = scratch.s.nfkc().collect();
        scratch.s = nfkc;
    }

    // 4. Lower case.
    if scratch.s.is_ascii() {
        scratch.s.make_ascii_lowercase();
    } else {
        scratch.s = scratch.s.to_lowercase();
    }

    // 5. Comments, nulls, whitespace.
    out.text.clear();
    let stats = strip_comments_and_space(&scratch.s, &mut out.text, false);
    out.null_bytes = stats.nulls;
    out.block_comments = stats.block_comments;
    out.sql_text.clear();
    let s = &scratch.s;
    if (s.contains('\n') || s.contains('\r')) && (s.contains('#') || s.contains("--")) {
        let sql = strip_comments_and_space(s, &mut out.sql_text, true);
        out.block_comments = out.block_comments.max(sql.block_comments);
    } else if out.text.contains('\n') {
        out.sql_text.push_str(&out.text);
    }
    // In SQL a line break is just whitespace.
    if out.sql_text.contains('\n') {
        out.sql_text = out.sql_text.replace('\n', " ");
    }
    if out.sql_text == out.text {
        out.sql_text.clear();
    }
}

fn count_pct_escapes(raw: &[u8]) -> u32 {
    let mut n = 0;
    for i in memchr::memchr_iter(b'%', raw) {
        let next = raw.get(i + 1).copied().unwrap_or(0);
        if next.is_ascii_hexdigit() || next == b'u' || next == b'U' {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        normalize(s.as_bytes(), true, &Limits::default()).text
    }

    #[test]
    fn crs_style_transformations() {
        assert_eq!(n("1%27%20OR%20%271%27%3D%271"), "1' or '1'='1");
        assert_eq!(n("%253Cscript%253E"), "<script>");
        assert_eq!(n("UN/**/ION  SELECT\t1"), "un ion select 1");
        assert_eq!(n("/*!50000union*/ select"), "union select");
        assert_eq!(
            n("&#60;img src=x onerror&#61;alert(1)&gt;"),
            "<img src=x onerror=alert(1)>"
        );
        assert_eq!(n("&#x3C&#x73;cript>"), "<script>");
        // Hex references are greedy, as in browsers.
        assert_eq!(n("&#x3c&#x73cript"), "<\u{73c}ript");
        assert_eq!(n("javascript&colon;alert(1)"), "javascript:alert(1)");
        assert_eq!(n("%u003Cscript%u003E"), "<script>");
        assert_eq!(n("\\x3cscript\\u003e"), "<script>");
        assert_eq!(n("＜ＳＣＲＩＰＴ＞"), "<script>");
        assert_eq!(n("..%c0%af..%c0%afetc/passwd"), "../../etc/passwd");
        assert_eq!(n("A%F1adir+al+carrito"), "añadir al carrito");
        assert_eq!(n("a%00b"), "ab");
        assert_eq!(n("  lots   of\t\tspace "), "lots of space");
        assert_eq!(n("127.0.0.1%0Aid"), "127.0.0.1\nid");
    }

    #[test]
    fn depth_and_escape_counts() {
        let r = normalize(b"%252e%252e%252f", false, &Limits::default());
        assert_eq!(r.text, "../");
        assert_eq!(r.decode_depth, 2);
        assert_eq!(r.pct_escapes, 3);
    }

    #[test]
    fn plus_is_kept_outside_forms() {
        assert_eq!(normalize(b"a+b", false, &Limits::default()).text, "a+b");
        assert_eq!(normalize(b"a+b", true, &Limits::default()).text, "a b");
        // A second pass never turns `+` into space: `%2B` stays a plus.
        assert_eq!(normalize(b"a%2Bb", true, &Limits::default()).text, "a+b");
    }

    #[test]
    fn limits_are_reported() {
        let big = vec![b'a'; 100];
        let r = normalize(
            &big,
            false,
            &Limits {
                max_input_bytes: 10,
                max_decode_passes: 1,
            },
        );
        assert!(r.truncated);
        assert_eq!(r.text.len(), 10);
    }

    proptest! {
        #[test]
        fn never_panics_and_is_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let r = normalize(&bytes, true, &Limits::default());
            // NFKC can expand, but not unboundedly.
            prop_assert!(r.text.len() <= bytes.len() * 18 + 8);
        }

        #[test]
        fn idempotent_on_plain_ascii(s in "[a-z0-9 ]{0,64}") {
            let once = n(&s);
            prop_assert_eq!(n(&once), once.clone());
        }
    }
}
