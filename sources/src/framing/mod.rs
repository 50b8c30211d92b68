//! Cutting a byte stream into records.
//!
//! A framer never holds more than its limits allow: an oversized record is
//! skipped to its end and reported as a [`FrameProblem::TooLarge`] frame
//! carrying only a prefix, so a 50 MB line costs at most the limit in memory
//! and still becomes a dead letter with its reason.

mod har;
mod http_stream;
mod lines;

use std::io;

pub use har::HarFramer;
pub use http_stream::HttpStreamFramer;
pub use lines::LineFramer;

/// One record cut from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// 0-based ordinal of the record in the input (its source offset).
    pub offset: u64,
    /// The record's bytes (only a prefix when `problem` is `TooLarge`).
    pub bytes: Vec<u8>,
    /// Set when the framer could not cut a well-formed record.
    pub problem: Option<FrameProblem>,
}

/// Why a frame is not a well-formed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameProblem {
    /// The record exceeds the size limit; `len` bytes were skipped in total.
    TooLarge {
        /// Full length of the record in bytes.
        len: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The bytes are not a record of the format (e.g. junk between HTTP requests).
    Malformed(String),
}

/// Splits an input into [`Frame`]s.
pub trait Framer: Send {
    /// The next frame, or `None` at the end of the input.
    fn next_frame(&mut self) -> io::Result<Option<Frame>>;
}

/// Size limits for framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest record accepted, in bytes.
    pub max_record_bytes: usize,
    /// How many bytes of an oversized or malformed record to keep for its dead letter.
    pub keep_bytes: usize,
    /// Largest HTTP header block, in bytes.
    pub max_header_bytes: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_record_bytes: 8 * 1024 * 1024,
            keep_bytes: 4096,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// True when `line` looks like an HTTP/1.x request line:
/// `METHOD SP target SP HTTP/d.d` with an upper-case method token.
pub fn looks_like_request_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(sp1) = memchr::memchr(b' ', line) else {
        return false;
    };
    let method = &line[..sp1];
    if method.is_empty()
        || method.len() > 24
        || !method
            .iter()
            .all(|b| b.is_ascii_uppercase() || *b == b'-' || *b == b'_')
    {
        return false;
    }
    let Some(sp2) = memchr::memrchr(b' ', line) else {
        return false;
    };
    if sp2 <= sp1 + 1 {
        return false;
    }
    let version = &line[sp2 + 1..];
    version.len() == 8
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6] == b'.'
        && version[7].is_ascii_digit()
}

/// The lines of an HTTP head after its request line, without their
/// `\n` or `\r\n` ends: what `head.split(|b| *b == b'\n').skip(1)` gives,
/// with the `\r` stripped, but found with `memchr` rather than byte by byte.
pub(crate) fn header_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut from = memchr::memchr(b'\n', head).map(|i| i + 1);
    std::iter::from_fn(move || {
        let start = from?;
        let rest = &head[start..];
        let line = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                from = Some(start + i + 1);
                &rest[..i]
            }
            None => {
                from = None;
                rest
            }
        };
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert!(looks_like_request_line(b"GET / HTTP/1.1"));
        assert!(looks_like_request_line(
            b"POST http://h:8080/a?b=c d HTTP/1.0\r"
        ));
        assert!(!looks_like_request_line(b"get / HTTP/1.1"));
        assert!(!looks_like_request_line(b"GET / HTTP/11"));
        assert!(!looks_like_request_line(b"GET HTTP/1.1"));
        assert!(!looks_like_request_line(b""));
        assert!(!looks_like_request_line(b"Host: x"));
    }

    proptest::proptest! {
        /// `header_lines` gives exactly the lines of a byte-wise split.
        #[test]
        fn header_lines_are_the_split_lines(
            head in proptest::collection::vec(proptest::sample::select(vec![b'a', b':', b' ', b'\r', b'\n']), 0..64)
        ) {
            let expected: Vec<&[u8]> = head
                .split(|b| *b == b'\n')
                .skip(1)
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .collect();
            let got: Vec<&[u8]> = header_lines(&head).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
