//! One recorded-evidence file as a stream of decoded events and dead letters.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sentinel_schema::{DeadLetterReason, EvidenceEvent};

use crate::decode::record::{self, Origin};
use crate::decode::{decode_frame, DecodeContext};
use crate::framing::{FrameLimits, FrameProblem, Framer, HarFramer, HttpStreamFramer, LineFramer};
use crate::input::{open_input, peek};
use crate::{detect_format, DecodeError, InputFormat, SyntheticClock};

/// How to read a file.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceOptions {
    /// The format, or `None` to detect it from the content.
    pub format: Option<InputFormat>,
    /// Framing limits.
    pub limits: FrameLimits,
    /// Times for formats without timestamps.
    pub clock: SyntheticClock,
}

/// One record of a file: an event, or what went wrong with it.
#[derive(Clone, Debug)]
pub enum SourceItem {
    /// A decoded event and its ordinal in the file.
    Event {
        /// The record's 0-based ordinal.
        offset: u64,
        /// The decoded event.
        event: Box<EvidenceEvent>,
        /// The record's bytes (for a dead letter if a later check fails).
        raw: Vec<u8>,
        /// For recordings: the Kafka topic, partition and offset it had live.
        origin: Option<Origin>,
    },
    /// A record that could not be decoded.
    Bad {
        /// The record's 0-based ordinal.
        offset: u64,
        /// Why.
        error: DecodeError,
        /// The record's bytes (a prefix when it was too large).
        original: Vec<u8>,
        /// The record's full length in bytes.
        original_len: u64,
        /// For recordings: the Kafka topic, partition and offset it had live.
        origin: Option<Origin>,
    },
}

impl SourceItem {
    /// The record's ordinal in the file.
    pub fn offset(&self) -> u64 {
        match self {
            SourceItem::Event { offset, .. } | SourceItem::Bad { offset, .. } => *offset,
        }
    }
}

/// A file being read record by record.
pub struct FileSource {
    path: PathBuf,
    format: InputFormat,
    framer: Box<dyn Framer>,
    ctx: DecodeContext,
    consumed: Arc<AtomicU64>,
    file_len: u64,
    failed: bool,
}

/// A file that cannot be opened or whose format cannot be told.
#[derive(Debug, thiserror::Error)]
pub enum SourceOpenError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `--format auto` found no match.
    #[error("cannot tell the format of {path} (not JSONL, HAR, ModSecurity JSON, raw HTTP or nginx combined); pass --format")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
}

impl FileSource {
    /// Opens `path` (gzip accepted) and prepares its framer.
    pub fn open(path: &Path, options: SourceOptions) -> Result<Self, SourceOpenError> {
        let io_err = |source| SourceOpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut opened = open_input(path).map_err(io_err)?;
        let format = match options.format {
            Some(f) => f,
            None => {
                let head = peek(&mut *opened.reader, 8192).map_err(io_err)?;
                detect_format(&head).ok_or_else(|| SourceOpenError::UnknownFormat {
                    path: path.to_path_buf(),
                })?
            }
        };
        let framer = make_framer(format, opened.reader, options.limits);
        Ok(FileSource {
            path: path.to_path_buf(),
            format,
            framer,
            ctx: DecodeContext {
                clock: options.clock,
            },
            consumed: opened.consumed,
            file_len: opened.file_len,
            failed: false,
        })
    }

    /// The detected or given format.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the file read so far (compressed bytes for gzip files).
    pub fn consumed(&self) -> Arc<AtomicU64> {
        self.consumed.clone()
    }

    /// Size of the file on disk.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The next record, decoded. A read error (a corrupt gzip stream, a
    /// vanished file) ends the file with one last `Bad` item that says so.
    pub fn next_item(&mut self) -> Option<SourceItem> {
        if self.failed {
            return None;
        }
        match self.framer.next_frame() {
            Ok(Some(frame)) => {
                let original_len = match frame.problem {
                    Some(FrameProblem::TooLarge { len, .. }) => len,
                    _ => frame.bytes.len() as u64,
                };
                let (origin, decoded) =
                    if self.format == InputFormat::Record && frame.problem.is_none() {
                        record::decode(&frame.bytes)
                    } else {
                        (None, decode_frame(self.format, &frame, &self.ctx))
                    };
                Some(match decoded {
                    Ok(event) => SourceItem::Event {
                        offset: frame.offset,
                        event: Box::new(event),
                        raw: frame.bytes,
                        origin,
                    },
                    Err(error) => SourceItem::Bad {
                        offset: frame.offset,
                        error,
                        original: frame.bytes,
                        original_len,
                        origin,
                    },
                })
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(SourceItem::Bad {
                    offset: u64::MAX,
                    error: DecodeError::new(
                        DeadLetterReason::MalformedRecord,
                        format!("input unreadable, rest of file skipped: {e}"),
                    ),
                    original: Vec::new(),
                    original_len: 0,
                    origin: None,
                })
            }
        }
    }
}

fn make_framer(
    format: InputFormat,
    reader: Box<dyn BufRead + Send>,
    limits: FrameLimits,
) -> Box<dyn Framer> {
    match format {
        InputFormat::Jsonl | InputFormat::Modsec | InputFormat::Nginx | InputFormat::Record => {
            Box::new(LineFramer::new(reader, limits))
        }
        InputFormat::RawHttp => Box::new(HttpStreamFramer::new(reader, limits)),
        InputFormat::Har => Box::new(HarFramer::new(reader, limits)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_jsonl_gives_events_and_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        std::fs::write(
            &path,
            b"{\"evidence_id\":\"a\",\"event_time_ms\":1,\"request\":{\"method\":\"GET\",\"target\":\"/\"}}\n\
{\"evidence_id\":\"b\",\"event_ti\n\
\xff\xfe\x00garbage\n",
        )
        .unwrap();
        let mut src = FileSource::open(&path, SourceOptions::default()).unwrap();
        assert_eq!(src.format(), InputFormat::Jsonl);
        let items: Vec<SourceItem> = std::iter::from_fn(|| src.next_item()).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(items[0], SourceItem::Event { offset: 0, .. }));
        assert!(
            matches!(&items[1], SourceItem::Bad { offset: 1, error, .. } if error.reason == DeadLetterReason::InvalidJson)
        );
        assert!(matches!(&items[2], SourceItem::Bad { offset: 2, .. }));
    }

    #[test]
    fn unknown_format_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, b"just some prose\n").unwrap();
        let err = FileSource::open(&path, SourceOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("pass --format"));
    }
}
