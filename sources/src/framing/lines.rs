//! Line framing (JSONL, ModSecurity JSON, nginx): one non-blank line per record.

use std::io::{self, BufRead};

use super::{Frame, FrameLimits, FrameProblem, Framer};

/// Cuts an input into lines; blank lines are skipped and do not count as records.
pub struct LineFramer<R> {
    reader: R,
    limits: FrameLimits,
    next_offset: u64,
}

impl<R: BufRead + Send> LineFramer<R> {
    /// Frames `reader` with `limits`.
    pub fn new(reader: R, limits: FrameLimits) -> Self {
        LineFramer {
            reader,
            limits,
            next_offset: 0,
        }
    }

    /// Reads one physical line into `out` (without the newline), keeping at
    /// most `max + 1` bytes; returns `(total_len, saw_any_bytes)`.
    fn read_line_bounded(&mut self, out: &mut Vec<u8>) -> io::Result<(u64, bool)> {
        let cap = self.limits.max_record_bytes + 1;
        let mut total: u64 = 0;
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok((total, any));
            }
            any = true;
            let (chunk, consumed, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], i + 1, true),
                None => (buf, buf.len(), false),
            };
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            total += chunk.len() as u64;
            self.reader.consume(consumed);
            if done {
                return Ok((total, any));
            }
        }
    }
}

impl<R: BufRead + Send> Framer for LineFramer<R> {
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let mut line = Vec::new();
            let (mut total, any) = self.read_line_bounded(&mut line)?;
            if !any {
                return Ok(None);
            }
            if line.last() == Some(&b'\r') && total as usize == line.len() {
                line.pop();
                total -= 1;
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) && total as usize == line.len() {
                continue;
            }
            let offset = self.next_offset;
            self.next_offset += 1;
            if total as usize > self.limits.max_record_bytes {
                line.truncate(self.limits.keep_bytes);
                return Ok(Some(Frame {
                    offset,
                    bytes: line,
                    problem: Some(FrameProblem::TooLarge {
                        len: total,
                        limit: self.limits.max_record_bytes as u64,
                    }),
                }));
            }
            return Ok(Some(Frame {
                offset,
                bytes: line,
                problem: None,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(input: &[u8], limits: FrameLimits) -> Vec<Frame> {
        let mut f = LineFramer::new(io::BufReader::with_capacity(7, input), limits);
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().unwrap() {
            out.push(fr);
        }
        out
    }

    #[test]
    fn skips_blank_lines_and_numbers_records() {
        let out = frames(b"a\r\n\n  \nb\nc", FrameLimits::default());
        let got: Vec<(u64, &[u8])> = out.iter().map(|f| (f.offset, &f.bytes[..])).collect();
        assert_eq!(got, vec![(0, &b"a"[..]), (1, b"b"), (2, b"c")]);
    }

    #[test]
    fn oversized_line_is_reported_with_prefix() {
        let limits = FrameLimits {
            max_record_bytes: 10,
            keep_bytes: 4,
            ..FrameLimits::default()
        };
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        let out = frames(&input, limits);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].bytes, b"xxxx");
        assert_eq!(
            out[0].problem,
            Some(FrameProblem::TooLarge {
                len: 100,
                limit: 10
            })
        );
        assert_eq!(out[1].bytes, b"ok");
        assert_eq!(out[1].offset, 1);
    }

    proptest! {
        #[test]
        fn never_panics_and_offsets_are_dense(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let limits = FrameLimits { max_record_bytes: 64, keep_bytes: 8, ..FrameLimits::default() };
            let out = frames(&input, limits);
            for (i, f) in out.iter().enumerate() {
                prop_assert_eq!(f.offset, i as u64);
                prop_assert!(f.bytes.len() <= 65);
            }
        }
    }
}
