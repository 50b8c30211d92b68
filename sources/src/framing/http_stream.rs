//! Raw HTTP/1.1 request streams: requests back to back, bodies delimited by
//! `Content-Length` or chunked transfer coding, blank lines tolerated between
//! requests, junk between requests reported and skipped to the next request line.

use std::io::{self, Read};

use super::{looks_like_request_line, Frame, FrameLimits, FrameProblem, Framer};

/// Frames a stream of raw HTTP requests.
pub struct HttpStreamFramer<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    limits: FrameLimits,
    next_offset: u64,
}

/// How the body of a request is delimited.
enum BodyLength {
    Fixed(u64),
    Chunked,
    Invalid(String),
}

impl<R: Read + Send> HttpStreamFramer<R> {
    /// Frames `reader` with `limits`.
    pub fn new(reader: R, limits: FrameLimits) -> Self {
        HttpStreamFramer {
            reader,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            eof: false,
            limits,
            next_offset: 0,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads more input; returns false at end of input.
    fn fill_more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 64 * 1024, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Makes at least `n` bytes available if the input has them.
    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        while self.avail().len() < n {
            if !self.fill_more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.start..self.start + n].to_vec();
        self.start += n;
        out
    }

    /// Finds the end of the header block (index just past the blank line).
    fn find_header_end(&mut self) -> io::Result<Option<usize>> {
        let mut searched: usize = 0;
        loop {
            let a = self.avail();
            let from = searched.saturating_sub(3);
            if let Some(end) = header_end(&a[from..]) {
                return Ok(Some(from + end));
            }
            searched = a.len();
            if searched > self.limits.max_header_bytes || !self.fill_more()? {
                return Ok(None);
            }
        }
    }

    /// Skips input up to the next line that looks like a request line (or
    /// the end), returning the skipped bytes (at most `keep_bytes` kept) and
    /// their total length.
    fn skip_to_next_request(&mut self, from: usize) -> io::Result<(Vec<u8>, u64)> {
        let mut kept = Vec::new();
        let mut total: u64 = 0;
        let mut line_start = from;
        loop {
            let a = self.avail();
            match memchr::memchr(b'\n', &a[line_start..]) {
                Some(i) => {
                    let next = line_start + i + 1;
                    let next_line_end = memchr::memchr(b'\n', &a[next..]).map(|j| next + j);
                    match next_line_end {
                        Some(e) if looks_like_request_line(&a[next..e]) => {
                            let skipped = self.take(next);
                            total += skipped.len() as u64;
                            keep_prefix(&mut kept, &skipped, self.limits.keep_bytes);
                            return Ok((kept, total));
                        }
                        Some(_) => line_start = next,
                        None => {
                            if !self.fill_more()? {
                                let n = self.avail().len();
                                let skipped = self.take(n);
                                total += skipped.len() as u64;
                                keep_prefix(&mut kept, &skipped, self.limits.keep_bytes);
                                return Ok((kept, total));
                            }
                        }
                    }
                }
                None => {
                    // Drop what we scanned so memory stays bounded on huge junk.
                    if line_start > self.limits.keep_bytes * 4 {
                        let skipped = self.take(line_start);
                        total += skipped.len() as u64;
                        keep_prefix(&mut kept, &skipped, self.limits.keep_bytes);
                        line_start = 0;
                    }
                    if !self.fill_more()? {
                        let n = self.avail().len();
                        let skipped = self.take(n);
                        total += skipped.len() as u64;
                        keep_prefix(&mut kept, &skipped, self.limits.keep_bytes);
                        return Ok((kept, total));
                    }
                }
            }
        }
    }

    fn frame(&mut self, bytes: Vec<u8>, problem: Option<FrameProblem>) -> Frame {
        let offset = self.next_offset;
        self.next_offset += 1;
        Frame {
            offset,
            bytes,
            problem,
        }
    }

    /// Consumes `n` body bytes without buffering them all; returns how many existed.
    fn discard(&mut self, mut n: u64) -> io::Result<u64> {
        let mut skipped = 0;
        while n > 0 {
            if self.avail().is_empty() && !self.fill_more()? {
                break;
            }
            let k = (self.avail().len() as u64).min(n) as usize;
            self.start += k;
            n -= k as u64;
            skipped += k as u64;
        }
        Ok(skipped)
    }

    /// Reads a chunked body starting at `at` (relative to `start`); returns
    /// the end index of the message or an error description.
    fn chunked_end(&mut self, mut at: usize, max: usize) -> io::Result<Result<usize, String>> {
        loop {
            let line_end = loop {
                if let Some(i) = memchr::memchr(b'\n', &self.avail()[at..]) {
                    break at + i;
                }
                if self.avail().len() > max || !self.fill_more()? {
                    return Ok(Err("chunked body truncated or too large".into()));
                }
            };
            let line = &self.avail()[at..line_end];
            let size_text = line
                .split(|b| *b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let size = match std::str::from_utf8(size_text)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
            {
                Some(s) => s,
                None => return Ok(Err("invalid chunk size line".into())),
            };
            at = line_end + 1;
            if size == 0 {
                // Trailers until a blank line.
                loop {
                    let le = loop {
                        if let Some(i) = memchr::memchr(b'\n', &self.avail()[at..]) {
                            break at + i;
                        }
                        if !self.fill_more()? {
                            return Ok(Ok(self.avail().len()));
                        }
                    };
                    let blank = self.avail()[at..le].trim_ascii().is_empty();
                    at = le + 1;
                    if blank {
                        return Ok(Ok(at));
                    }
                }
            }
            let need = at as u64 + size + 2;
            if need > max as u64 {
                return Ok(Err(format!("chunked body exceeds {max} bytes")));
            }
            if !self.ensure(need as usize)? {
                return Ok(Err("chunked body truncated".into()));
            }
            at = need as usize;
        }
    }
}

impl<R: Read + Send> Framer for HttpStreamFramer<R> {
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        // Blank lines between requests are not records.
        loop {
            let skip = self
                .avail()
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                .count();
            self.start += skip;
            if !self.avail().is_empty() {
                break;
            }
            if !self.fill_more()? {
                return Ok(None);
            }
        }
        // The first line must be a request line, else it is junk up to the next one.
        let first_line_end = loop {
            if let Some(i) = memchr::memchr(b'\n', self.avail()) {
                break Some(i);
            }
            if self.avail().len() > self.limits.max_header_bytes || !self.fill_more()? {
                break None;
            }
        };
        let first_ok = match first_line_end {
            Some(i) => looks_like_request_line(&self.avail()[..i]),
            None => looks_like_request_line(self.avail()),
        };
        if !first_ok {
            let (kept, total) = self.skip_to_next_request(0)?;
            return Ok(Some(self.frame(
                kept,
                Some(FrameProblem::Malformed(format!(
                    "{total} bytes that are not an HTTP request (expected `METHOD target HTTP/x.y`)"
                ))),
            )));
        }
        let Some(head_end) = self.find_header_end()? else {
            if self.eof && self.avail().len() <= self.limits.max_header_bytes {
                // Truncated request at the end of the input: the decoder reports it.
                let n = self.avail().len();
                let bytes = self.take(n);
                return Ok(Some(self.frame(bytes, None)));
            }
            let (kept, total) = self.skip_to_next_request(1)?;
            return Ok(Some(self.frame(
                kept,
                Some(FrameProblem::Malformed(format!(
                    "header block of {total}+ bytes has no end within the {} byte limit",
                    self.limits.max_header_bytes
                ))),
            )));
        };
        let max = self.limits.max_record_bytes;
        match body_length(&self.avail()[..head_end]) {
            BodyLength::Fixed(len) => {
                let total = head_end as u64 + len;
                if total > max as u64 {
                    let mut kept = self.take(head_end.min(self.limits.keep_bytes));
                    let rest = head_end - kept.len();
                    self.start += rest;
                    let room = self.limits.keep_bytes.saturating_sub(kept.len());
                    let _ = self.ensure(room.min(len as usize));
                    let a = self.avail();
                    kept.extend_from_slice(&a[..a.len().min(room).min(len as usize)]);
                    let skipped = self.discard(len)?;
                    return Ok(Some(self.frame(
                        kept,
                        Some(FrameProblem::TooLarge {
                            len: head_end as u64 + skipped,
                            limit: max as u64,
                        }),
                    )));
                }
                // A truncated final body is framed as is; the decoder reports it.
                let _ = self.ensure(total as usize)?;
                let n = (total as usize).min(self.avail().len());
                let bytes = self.take(n);
                Ok(Some(self.frame(bytes, None)))
            }
            BodyLength::Chunked => match self.chunked_end(head_end, max)? {
                Ok(end) => {
                    let bytes = self.take(end);
                    Ok(Some(self.frame(bytes, None)))
                }
                Err(why) => {
                    let (kept, _) = self.skip_to_next_request(head_end)?;
                    Ok(Some(self.frame(kept, Some(FrameProblem::Malformed(why)))))
                }
            },
            BodyLength::Invalid(why) => {
                let (kept, _) = self.skip_to_next_request(head_end)?;
                Ok(Some(self.frame(kept, Some(FrameProblem::Malformed(why)))))
            }
        }
    }
}

fn keep_prefix(kept: &mut Vec<u8>, more: &[u8], keep: usize) {
    let room = keep.saturating_sub(kept.len());
    kept.extend_from_slice(&more[..more.len().min(room)]);
}

/// Index just past the first blank line (`\r\n\r\n` or `\n\n`).
fn header_end(a: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(j) = memchr::memchr(b'\n', &a[i..]) {
        let nl = i + j;
        let rest = &a[nl + 1..];
        if rest.starts_with(b"\n") {
            return Some(nl + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

/// Reads `Content-Length` / `Transfer-Encoding` from a header block.
fn body_length(head: &[u8]) -> BodyLength {
    let mut length: Option<u64> = None;
    for line in super::header_lines(head) {
        // Only two names matter here: most lines are passed on their first byte.
        if !matches!(line.first(), Some(b't' | b'T' | b'c' | b'C')) {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if value
                .split(|b| *b == b',')
                .any(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"))
            {
                return BodyLength::Chunked;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            match (parsed, length) {
                (None, _) => {
                    return BodyLength::Invalid(format!(
                        "invalid Content-Length {:?}",
                        String::from_utf8_lossy(value)
                    ))
                }
                (Some(n), Some(m)) if n != m => {
                    return BodyLength::Invalid("conflicting Content-Length headers".into())
                }
                (Some(n), _) => length = Some(n),
            }
        }
    }
    BodyLength::Fixed(length.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(input: &[u8], limits: FrameLimits) -> Vec<Frame> {
        let mut f = HttpStreamFramer::new(input, limits);
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().unwrap() {
            out.push(fr);
        }
        out
    }

    #[test]
    fn csic_style_stream() {
        let input = b"GET http://localhost:8080/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\r\n\
POST http://localhost:8080/b HTTP/1.1\r\nContent-Length: 6\r\n\r\nid=%F1\r\n\r\n\
GET /c HTTP/1.1\r\n\r\n";
        let out = frames(input, FrameLimits::default());
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|f| f.problem.is_none()));
        assert!(out[1].bytes.ends_with(b"\r\n\r\nid=%F1"));
        assert_eq!(out[2].offset, 2);
    }

    #[test]
    fn junk_between_requests_is_one_malformed_frame() {
        let input = b"GET /a HTTP/1.1\r\n\r\n\x00\xffgarbage\nmore junk\nGET /b HTTP/1.1\r\n\r\n";
        let out = frames(input, FrameLimits::default());
        assert_eq!(out.len(), 3);
        assert!(matches!(out[1].problem, Some(FrameProblem::Malformed(_))));
        assert!(out[2].problem.is_none());
        assert!(out[2].bytes.starts_with(b"GET /b"));
    }

    #[test]
    fn chunked_bodies() {
        let input = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let out = frames(input, FrameLimits::default());
        assert_eq!(out.len(), 2);
        assert!(out[0].bytes.ends_with(b"0\r\n\r\n"));
        assert!(out[1].bytes.starts_with(b"GET /b"));
    }

    #[test]
    fn huge_body_is_skipped_and_reported() {
        let mut input = b"POST /a HTTP/1.1\r\nContent-Length: 100000\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'A', 100_000));
        input.extend_from_slice(b"GET /b HTTP/1.1\r\n\r\n");
        let limits = FrameLimits {
            max_record_bytes: 1000,
            keep_bytes: 64,
            ..FrameLimits::default()
        };
        let out = frames(&input, limits);
        assert_eq!(out.len(), 2);
        assert!(matches!(
            out[0].problem,
            Some(FrameProblem::TooLarge { .. })
        ));
        assert!(out[0].bytes.len() <= 64);
        assert!(out[1].bytes.starts_with(b"GET /b"));
    }

    #[test]
    fn invalid_content_length_resyncs() {
        let input = b"POST /a HTTP/1.1\r\nContent-Length: zz\r\n\r\nbody\nGET /b HTTP/1.1\r\n\r\n";
        let out = frames(input, FrameLimits::default());
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0].problem, Some(FrameProblem::Malformed(_))));
        assert!(out[1].bytes.starts_with(b"GET /b"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let limits = FrameLimits { max_record_bytes: 512, keep_bytes: 32, max_header_bytes: 256 };
            let out = frames(&input, limits);
            for (i, f) in out.iter().enumerate() {
                prop_assert_eq!(f.offset, i as u64);
            }
        }

        #[test]
        fn request_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just(&b"GET / HTTP/1.1\r\n"[..]), Just(&b"Content-Length: 3\r\n"[..]),
            Just(&b"Transfer-Encoding: chunked\r\n"[..]), Just(&b"\r\n"[..]), Just(&b"5\r\nabc"[..]),
            Just(&b"0\r\n"[..]), Just(&b"x"[..]), Just(&b"\n"[..])], 0..64)) {
            let input: Vec<u8> = parts.concat();
            let _ = frames(&input, FrameLimits { max_record_bytes: 128, keep_bytes: 16, max_header_bytes: 64 });
        }
    }
}
