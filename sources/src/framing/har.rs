//! HAR 1.2 framing: one record per `log.entries[]` element.
//!
//! A HAR file is a single JSON document, so it is read whole (up to a limit)
//! and the entries are cut out as raw JSON without decoding them; each entry
//! is then decoded on its own, so one bad entry costs one dead letter.

use std::collections::VecDeque;
use std::io::{self, Read};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Frame, FrameLimits, FrameProblem, Framer};

/// Largest HAR document read, in bytes.
pub const MAX_HAR_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Frames a HAR document into its entries.
pub struct HarFramer<R> {
    reader: Option<R>,
    limits: FrameLimits,
    pending: VecDeque<Frame>,
}

#[derive(Deserialize)]
struct HarDoc<'a> {
    #[serde(borrow)]
    log: HarLog<'a>,
}

#[derive(Deserialize)]
struct HarLog<'a> {
    #[serde(borrow, default)]
    entries: Vec<&'a RawValue>,
}

impl<R: Read + Send> HarFramer<R> {
    /// Frames `reader` with `limits`.
    pub fn new(reader: R, limits: FrameLimits) -> Self {
        HarFramer {
            reader: Some(reader),
            limits,
            pending: VecDeque::new(),
        }
    }

    fn load(&mut self, reader: R) -> io::Result<()> {
        let mut doc = Vec::new();
        let read = reader.take(MAX_HAR_BYTES + 1).read_to_end(&mut doc)? as u64;
        if read > MAX_HAR_BYTES {
            doc.truncate(self.limits.keep_bytes);
            self.pending.push_back(Frame {
                offset: 0,
                bytes: doc,
                problem: Some(FrameProblem::TooLarge {
                    len: read,
                    limit: MAX_HAR_BYTES,
                }),
            });
            return Ok(());
        }
        match serde_json::from_slice::<HarDoc<'_>>(&doc) {
            Ok(har) => {
                for (i, entry) in har.log.entries.iter().enumerate() {
                    let bytes = entry.get().as_bytes();
                    let problem = (bytes.len() > self.limits.max_record_bytes).then_some(
                        FrameProblem::TooLarge {
                            len: bytes.len() as u64,
                            limit: self.limits.max_record_bytes as u64,
                        },
                    );
                    let keep = if problem.is_some() {
                        &bytes[..self.limits.keep_bytes.min(bytes.len())]
                    } else {
                        bytes
                    };
                    self.pending.push_back(Frame {
                        offset: i as u64,
                        bytes: keep.to_vec(),
                        problem,
                    });
                }
            }
            Err(e) => {
                let detail = format!("not a HAR 1.2 document: {e}");
                doc.truncate(self.limits.keep_bytes);
                self.pending.push_back(Frame {
                    offset: 0,
                    bytes: doc,
                    problem: Some(FrameProblem::Malformed(detail)),
                });
            }
        }
        Ok(())
    }
}

impl<R: Read + Send> Framer for HarFramer<R> {
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if let Some(reader) = self.reader.take() {
            self.load(reader)?;
        }
        Ok(self.pending.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_entries() {
        let doc = br#"{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"a":1},{"b":[2,3]}]}}"#;
        let mut f = HarFramer::new(&doc[..], FrameLimits::default());
        let a = f.next_frame().unwrap().unwrap();
        let b = f.next_frame().unwrap().unwrap();
        assert_eq!((a.offset, &a.bytes[..]), (0, &br#"{"a":1}"#[..]));
        assert_eq!((b.offset, &b.bytes[..]), (1, &br#"{"b":[2,3]}"#[..]));
        assert!(f.next_frame().unwrap().is_none());
    }

    #[test]
    fn broken_document_is_one_malformed_frame() {
        let doc = br#"{"log":{"entries":[{"a":1},"#;
        let mut f = HarFramer::new(&doc[..], FrameLimits::default());
        let a = f.next_frame().unwrap().unwrap();
        assert!(matches!(a.problem, Some(FrameProblem::Malformed(_))));
        assert!(f.next_frame().unwrap().is_none());
    }
}
