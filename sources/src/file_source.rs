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
use crate::{detect_format, ClientIdentity, DecodeError, InputFormat, SyntheticClock};

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
    /// The item for record `offset` (`bytes`, `original_len` bytes long in
    /// the file) given what decoding it gave.
    fn decoded(
        offset: u64,
        decoded: Result<EvidenceEvent, DecodeError>,
        bytes: Vec<u8>,
        original_len: u64,
        origin: Option<Origin>,
    ) -> SourceItem {
        match decoded {
            Ok(event) => SourceItem::Event {
                offset,
                event: Box::new(event),
                raw: bytes,
                origin,
            },
            Err(error) => SourceItem::Bad {
                offset,
                error,
                original: bytes,
                original_len,
                origin,
            },
        }
    }

    /// The record's ordinal in the file.
    pub fn offset(&self) -> u64 {
        match self {
            SourceItem::Event { offset, .. } | SourceItem::Bad { offset, .. } => *offset,
        }
    }
}

/// The formats whose records can travel undecoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeferredFormat {
    /// A raw HTTP request: its time is the synthetic clock's (its ordinal).
    RawHttp,
    /// An evidence JSONL line: its time is its top-level `event_time_ms`,
    /// read without decoding the line ([`crate::decode::jsonl::probe_event_time`]).
    Jsonl,
}

/// A record not decoded yet whose event time is known: the reader can
/// place it in event time and leave decoding to whichever worker analyzes
/// it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeferredFrame {
    /// The record's 0-based ordinal.
    pub offset: u64,
    /// Its event time, ms.
    pub event_time_ms: i64,
    /// What the bytes are.
    pub format: DeferredFormat,
    /// The client of the event it decodes to, when the reader could tell
    /// cheaply (`None` says nothing): a hint for placing the record on the
    /// worker that holds that client's windows (for raw HTTP, exact when
    /// the strict parser reads the request; see
    /// [`crate::decode::raw_http::probe_client`]).
    pub client: Option<ClientIdentity>,
    /// The record's bytes.
    pub bytes: Vec<u8>,
}

impl DeferredFrame {
    /// Decodes the record: the event or error [`FileSource::next_item`]
    /// gives for it (same id, time and fields).
    pub fn decode(&self) -> Result<EvidenceEvent, DecodeError> {
        match self.format {
            DeferredFormat::RawHttp => {
                crate::decode::raw_http::decode(&self.bytes, self.offset, self.event_time_ms)
            }
            DeferredFormat::Jsonl => crate::decode::jsonl::decode(&self.bytes),
        }
    }

    /// The item [`FileSource::next_item`] gives for this record.
    pub fn into_item(self) -> SourceItem {
        let decoded = self.decode();
        let len = self.bytes.len() as u64;
        SourceItem::decoded(self.offset, decoded, self.bytes, len, None)
    }
}

/// What [`FileSource::next_record`] gives.
#[derive(Clone, Debug)]
pub enum SourceRecord {
    /// A record decoded, or what went wrong with it.
    Item(SourceItem),
    /// A record whose event time is known before it is decoded, handed on
    /// undecoded.
    Deferred(DeferredFrame),
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
    probe_clients: bool,
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
            probe_clients: true,
        })
    }

    /// Whether deferred records say who their client is
    /// ([`DeferredFrame::client`]; on by default). A reader with no other
    /// worker to place records on turns it off: the client then costs
    /// nothing to read.
    pub fn probe_clients(&mut self, on: bool) {
        self.probe_clients = on;
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
        self.next_record(false).map(|r| match r {
            SourceRecord::Item(item) => item,
            SourceRecord::Deferred(frame) => frame.into_item(),
        })
    }

    /// The next record; with `defer`, records whose event time is known
    /// without decoding them come undecoded ([`SourceRecord::Deferred`]),
    /// so a reader can leave the decoding to other workers: raw HTTP
    /// requests (the synthetic clock's time) and JSONL lines whose
    /// top-level `event_time_ms` reads as a time in range. Records of other
    /// formats must be decoded for their time and are, as are frames the
    /// framer already found wrong.
    pub fn next_record(&mut self, defer: bool) -> Option<SourceRecord> {
        if self.failed {
            return None;
        }
        match self.framer.next_frame() {
            Ok(Some(frame)) => {
                if defer && frame.problem.is_none() {
                    let known = match self.format {
                        InputFormat::RawHttp => Some((
                            DeferredFormat::RawHttp,
                            self.ctx.clock.time_of(frame.offset),
                            self.probe_clients
                                .then(|| crate::decode::raw_http::probe_client(&frame.bytes))
                                .flatten(),
                        )),
                        InputFormat::Jsonl if self.probe_clients => {
                            let probe = crate::decode::jsonl::probe(&frame.bytes);
                            probe.time.map(|t| (DeferredFormat::Jsonl, t, probe.client))
                        }
                        InputFormat::Jsonl => crate::decode::jsonl::probe_event_time(&frame.bytes)
                            .map(|t| (DeferredFormat::Jsonl, t, None)),
                        _ => None,
                    };
                    if let Some((format, event_time_ms, client)) = known {
                        return Some(SourceRecord::Deferred(DeferredFrame {
                            offset: frame.offset,
                            event_time_ms,
                            format,
                            client,
                            bytes: frame.bytes,
                        }));
                    }
                }
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
                Some(SourceRecord::Item(SourceItem::decoded(
                    frame.offset,
                    decoded,
                    frame.bytes,
                    original_len,
                    origin,
                )))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(SourceRecord::Item(SourceItem::Bad {
                    offset: u64::MAX,
                    error: DecodeError::new(
                        DeadLetterReason::MalformedRecord,
                        format!("input unreadable, rest of file skipped: {e}"),
                    ),
                    original: Vec::new(),
                    original_len: 0,
                    origin: None,
                }))
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

    /// A deferred frame's client, when it names one, is its event's (for
    /// raw HTTP: when the strict parser read it; see `probe_client`).
    fn assert_client_hint_holds(f: &DeferredFrame) {
        if let (Some(hint), Ok(event)) = (&f.client, f.decode()) {
            if !crate::decode::raw_http::parsed_leniently(&event) {
                assert_eq!(hint, &ClientIdentity::of(&event), "{f:?}");
            }
        }
    }

    /// A raw HTTP stream of `requests` (some malformed) in a file.
    fn raw_http_file(dir: &Path, requests: &[Vec<u8>]) -> PathBuf {
        let path = dir.join("requests.txt");
        std::fs::write(&path, requests.concat()).unwrap();
        path
    }

    fn raw_http_options() -> SourceOptions {
        SourceOptions {
            format: Some(InputFormat::RawHttp),
            ..SourceOptions::default()
        }
    }

    fn request_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            ("[a-z0-9/=&%?._-]{0,40}", "[ -~]{0,30}", "(|Cookie: JSESSIONID=[A-F0-9]{0,8}\r\n|cookie: theme=dark; sid=[a-z]{1,4}\r\n|Cookie: a=b\r\n)").prop_map(|(target, agent, cookie)| format!(
                "GET http://localhost:8080/{target} HTTP/1.1\r\nUser-Agent: {agent}\r\n{cookie}Host: localhost\r\n\r\n"
            )
            .into_bytes()),
            "[a-z0-9=&%+]{0,60}".prop_map(|body| format!(
                "POST http://localhost:8080/form HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()),
            // A lie about the body's length, or a head that is not HTTP.
            Just(b"POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n".to_vec()),
            Just(b"GET /a b c HTTP/1.1\r\n\r\n".to_vec()),
        ]
    }

    proptest::proptest! {
        /// Deferred frames decode to exactly the items of an ordinary read.
        #[test]
        fn deferred_raw_http_decodes_to_the_same_items(
            requests in proptest::collection::vec(request_strategy(), 0..12)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = raw_http_file(dir.path(), &requests);
            let mut plain = FileSource::open(&path, raw_http_options()).unwrap();
            let expected: Vec<String> = std::iter::from_fn(|| plain.next_item())
                .map(|i| format!("{i:?}"))
                .collect();
            let mut deferring = FileSource::open(&path, raw_http_options()).unwrap();
            let mut deferred = 0;
            let got: Vec<String> = std::iter::from_fn(|| deferring.next_record(true))
                .map(|r| match r {
                    SourceRecord::Item(i) => format!("{i:?}"),
                    SourceRecord::Deferred(f) => {
                        deferred += 1;
                        assert_client_hint_holds(&f);
                        if f.decode().is_ok_and(|e| !crate::decode::raw_http::parsed_leniently(&e)) {
                            assert!(f.client.is_some(), "a strictly parsed request's client is known");
                        }
                        format!("{:?}", f.into_item())
                    }
                })
                .collect();
            proptest::prop_assert_eq!(got, expected);
            // With no malformed request, every request was deferred (frames
            // the framer found wrong are decoded, into dead letters, at once).
            let well_formed = requests
                .iter()
                .filter(|r| r.starts_with(b"GET http") || r.starts_with(b"POST http"))
                .count();
            if well_formed == requests.len() {
                proptest::prop_assert_eq!(deferred, requests.len());
            }
        }
    }

    #[test]
    fn raw_http_and_timed_jsonl_are_deferred() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        std::fs::write(
            &path,
            b"{\"evidence_id\":\"a\",\"event_time_ms\":1,\"request\":{\"method\":\"GET\",\"target\":\"/\"}}\n\
{\"evidence_id\":\"b\",\"event_time_ms\":\"2\",\"request\":{\"method\":\"GET\",\"target\":\"/\"}}\n",
        )
        .unwrap();
        let mut src = FileSource::open(&path, SourceOptions::default()).unwrap();
        assert!(matches!(
            src.next_record(true),
            Some(SourceRecord::Deferred(DeferredFrame {
                offset: 0,
                event_time_ms: 1,
                format: DeferredFormat::Jsonl,
                ..
            }))
        ));
        // A time that does not read as one: decoded at once, a dead letter.
        assert!(matches!(
            src.next_record(true),
            Some(SourceRecord::Item(SourceItem::Bad { offset: 1, .. }))
        ));
        let path = raw_http_file(dir.path(), &[b"GET / HTTP/1.1\r\n\r\n".to_vec()]);
        let mut src = FileSource::open(&path, raw_http_options()).unwrap();
        let clock = SyntheticClock::default();
        assert!(matches!(
            src.next_record(true),
            Some(SourceRecord::Deferred(DeferredFrame { offset: 0, event_time_ms, format: DeferredFormat::RawHttp, .. })) if event_time_ms == clock.time_of(0)
        ));
        // Other formats are decoded by the reader.
        let path = dir.path().join("access.log");
        std::fs::write(
            &path,
            b"203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
        )
        .unwrap();
        let mut src = FileSource::open(
            &path,
            SourceOptions {
                format: Some(InputFormat::Nginx),
                ..SourceOptions::default()
            },
        )
        .unwrap();
        assert!(matches!(src.next_record(true), Some(SourceRecord::Item(_))));
    }

    /// A JSONL line: an event (its fields in either order), or a line
    /// broken in one of the ways a producer breaks them.
    fn jsonl_line_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        // The client: none, an address, a recorder's session, a bad
        // address, or an empty object (the key then hangs on cookies).
        let client = prop_oneof![
            Just(String::new()),
            (any::<u32>())
                .prop_map(|a| format!(r#""client":{{"ip":"{}"}},"#, std::net::Ipv4Addr::from(a))),
            (any::<u128>()).prop_map(|a| format!(
                r#""client":{{"port":80,"ip":"{}"}},"#,
                std::net::Ipv6Addr::from(a)
            )),
            "[a-z0-9]{0,8}".prop_map(|s| format!(r#""client":{{"session":"{s}"}},"#)),
            Just(r#""client":{"ip":"not an address"},"#.to_string()),
            Just(r#""client":{},"#.to_string()),
        ];
        let event = (0i64..4_000_000_000_000, "[a-z0-9]{0,8}", "[ -~]{0,20}", any::<bool>(), client, any::<bool>())
            .prop_map(|(t, id, target, time_first, client, cookie)| {
                let target = serde_json::to_string(&format!("/{target}")).unwrap();
                let headers = if cookie {
                    r#","headers":[{"name":"Cookie","value":"a=1; PHPSESSID=p7"}]"#
                } else {
                    ""
                };
                if time_first {
                    format!(r#"{{"event_time_ms":{t},{client}"evidence_id":"{id}","request":{{"method":"GET","target":{target}{headers}}}}}"#)
                } else {
                    format!(r#"{{{client}"evidence_id":"{id}","request":{{"method":"GET","target":{target}{headers}}},"event_time_ms":{t}}}"#)
                }
            });
        prop_oneof![
            4 => event.clone().prop_map(String::into_bytes),
            // Cut short, a stray field after the time, a second time.
            1 => (event.clone(), 1usize..60).prop_map(|(l, n)| l.as_bytes()[..n.min(l.len())].to_vec()),
            1 => event.clone().prop_map(|l| l.replacen('}', r#","extra":1}"#, 1).into_bytes()),
            1 => event.prop_map(|l| l.replacen('{', r#"{"event_time_ms":7,"#, 1).into_bytes()),
            1 => Just(br#"{"evidence_id":"x","event_time_ms":"5"}"#.to_vec()),
            1 => Just(b"\xff\xfe not json".to_vec()),
        ]
    }

    proptest::proptest! {
        /// Deferred JSONL lines decode to exactly the items of an ordinary read.
        #[test]
        fn deferred_jsonl_decodes_to_the_same_items(
            lines in proptest::collection::vec(jsonl_line_strategy(), 0..12)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("e.jsonl");
            let mut text = Vec::new();
            for l in &lines {
                text.extend_from_slice(l);
                text.push(b'\n');
            }
            std::fs::write(&path, &text).unwrap();
            let options = SourceOptions { format: Some(InputFormat::Jsonl), ..SourceOptions::default() };
            let mut plain = FileSource::open(&path, options).unwrap();
            let expected: Vec<String> = std::iter::from_fn(|| plain.next_item())
                .map(|i| format!("{i:?}"))
                .collect();
            let mut deferring = FileSource::open(&path, options).unwrap();
            let got: Vec<String> = std::iter::from_fn(|| deferring.next_record(true))
                .map(|r| match r {
                    SourceRecord::Item(i) => format!("{i:?}"),
                    SourceRecord::Deferred(f) => {
                        // The probed time is the decoded event's.
                        if let Ok(e) = f.decode() {
                            assert_eq!(e.event_time_ms, f.event_time_ms);
                        }
                        assert_client_hint_holds(&f);
                        format!("{:?}", f.into_item())
                    }
                })
                .collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
