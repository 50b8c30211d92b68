//! Decoding records on the worker that analyzes them.
//!
//! A file is read by one worker. For most formats that worker must decode
//! each record to learn its event time, but some records' times are known
//! without decoding them: a raw HTTP stream's come from the synthetic clock
//! (the record's ordinal), and an evidence JSONL line's `event_time_ms` is
//! read by a probe that stops at it without allocating. The reader frames
//! such records, places them in event time, and sends them undecoded to the
//! worker that analyzes them, which decodes and checks them there. Decoding
//! was most of the reader's work on such streams, and its allocations were
//! freed by the other worker (mimalloc then collects them on the reader's
//! thread); both now stay on the analyzing worker.
//!
//! A deferred record's time places it even when it then fails to decode or
//! to validate (a raw HTTP request's ordinal; a JSONL line whose time reads
//! but whose other fields are wrong): its file's watermark moves by that
//! time, as the reader cannot know better without decoding it. A JSONL time
//! outside 1970..9999 is not taken: such a line is decoded by the reader,
//! into its dead letter, and moves nothing. Nor is the time of a line whose
//! `client` object, read before the time, is malformed (with more than one
//! worker the probe also reads the client, see below).
//!
//! Every record of a file, deferred or decoded, is placed here on the worker
//! that analyzes it: the reader's dealer ([`crate::dealing`]) keeps fewer
//! for the reading worker, which also reads, and sends a record whose
//! client the reader can tell (a JSONL line's `client.ip` or
//! `client.session`, a raw request's session cookie, a decoded event's key)
//! to the worker that holds that client's windows, within each worker's
//! share.
//!
//! The outcome is the one reading and decoding on the reader gives: a
//! request that parses and passes the checks is an event at its own
//! timestamp, one that does not is a dead letter at the file's watermark
//! bucket. The reader sends each frame at that watermark bucket (never later
//! than the event's), and this stage delays the event to its own.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::StreamVec;

use sentinel_operators::dead_letter::dead_letter;
use sentinel_operators::timely_ops::{self, Wire};
use sentinel_operators::validate::{validate, ValidationLimits};
use sentinel_schema::Provenance;
use sentinel_sources::DeferredFrame;

use crate::graph::{client_route, spread};
use crate::{Envelope, WorkerClock};

/// An undecoded record on its way to the worker that decodes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FrameInFlight {
    /// The record.
    pub frame: DeferredFrame,
    /// Where it came from.
    pub provenance: Provenance,
    /// True when it arrived behind its file's watermark.
    pub late: bool,
    /// The timestamp its event goes to (its bucket, or the watermark's when
    /// late); the frame itself travels at the dead-letter timestamp.
    pub event_timestamp: u64,
}

/// What the file source emits: envelopes, and requests left to parse.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum SourceRecord {
    /// A decoded event or a dead letter.
    Ready(Envelope),
    /// A record whose time is known, not decoded yet.
    Frame(Box<FrameInFlight>),
}

/// The envelope a deferred frame becomes: the event, checked, or a dead
/// letter with the reason (the same the reader would have produced), and
/// whether it goes at the event's own timestamp.
pub(crate) fn decode_frame(f: FrameInFlight, limits: &ValidationLimits) -> (Envelope, Option<u64>) {
    let checked = f
        .frame
        .decode()
        .and_then(|event| validate(&event, limits).map(|()| event));
    match checked {
        Ok(event) => (
            Envelope::Event {
                event: Box::new(event),
                provenance: f.provenance,
                late: f.late,
                verified: false,
            },
            Some(f.event_timestamp),
        ),
        Err(error) => {
            let len = f.frame.bytes.len() as u64;
            (
                Envelope::Dead(Box::new(dead_letter(
                    &error,
                    &f.frame.bytes,
                    len,
                    f.provenance,
                ))),
                None,
            )
        }
    }
}

impl SourceRecord {
    /// The route hash of the record's client, as the windows exchange it
    /// ([`timely_ops::route`] of its key), when the reader can tell: a decoded event's,
    /// or the client a deferred frame names (its key written into `key`,
    /// a buffer the reader reuses for every frame).
    fn client_route(&self, key: &mut String) -> Option<u64> {
        match self {
            SourceRecord::Ready(Envelope::Event { event, .. }) => Some(client_route(event)),
            SourceRecord::Ready(Envelope::Dead(_)) => None,
            SourceRecord::Frame(f) => {
                f.frame.client.as_ref()?.write_key(key);
                Some(timely_ops::route(key))
            }
        }
    }

    /// Where the record came from.
    fn provenance(&self) -> &Provenance {
        match self {
            SourceRecord::Ready(Envelope::Event { provenance, .. }) => provenance,
            SourceRecord::Ready(Envelope::Dead(d)) => &d.provenance,
            SourceRecord::Frame(f) => &f.provenance,
        }
    }
}

/// Places every record on the worker that analyzes it (`route` maps the
/// record's [`spread`] hash to a worker: the reading worker's dealer, see
/// [`crate::dealing`]), and parses and checks the deferred frames there,
/// adding the time that takes to the worker's `clock`.
pub(crate) fn place_and_decode<'scope>(
    records: StreamVec<'scope, u64, SourceRecord>,
    limits: ValidationLimits,
    mut route: impl FnMut(u64, Option<u64>) -> u64 + 'static,
    clock: Arc<WorkerClock>,
) -> StreamVec<'scope, u64, Envelope> {
    let mut key = String::new();
    records.map(Wire).unary(
        Exchange::new(move |w: &Wire<SourceRecord>| {
            route(spread(w.0.provenance()), w.0.client_route(&mut key))
        }),
        "PlaceAndDecode",
        move |_cap, _info| {
            move |input, output| {
                let port = output.output_index();
                input.for_each_stamp(|cap, data| {
                    let Some(&t) = cap.least() else {
                        return;
                    };
                    let started = Instant::now();
                    let mut here = Vec::new();
                    let mut later: std::collections::BTreeMap<u64, Vec<Envelope>> =
                        Default::default();
                    for Wire(record) in data.flat_map(|v| v.drain(..)) {
                        match record {
                            SourceRecord::Ready(e) => here.push(e),
                            SourceRecord::Frame(f) => match decode_frame(*f, &limits) {
                                (e, Some(at)) if at > t => later.entry(at).or_default().push(e),
                                (e, _) => here.push(e),
                            },
                        }
                    }
                    // Parsing is part of the stage; its records are counted
                    // once, when analyzed.
                    clock.add_stage(started.elapsed(), 0);
                    output.session(&cap).give_iterator(here.into_iter());
                    for (at, envelopes) in later {
                        let delayed = cap.delayed(&at, port);
                        output
                            .session(&delayed)
                            .give_iterator(envelopes.into_iter());
                    }
                });
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::DeadLetterReason;
    use sentinel_sources::DeferredFormat;

    fn frame(bytes: &[u8]) -> FrameInFlight {
        framed(DeferredFormat::RawHttp, 1_262_304_000_030, bytes)
    }

    fn framed(format: DeferredFormat, event_time_ms: i64, bytes: &[u8]) -> FrameInFlight {
        FrameInFlight {
            frame: DeferredFrame {
                offset: 3,
                event_time_ms,
                format,
                client: None,
                bytes: bytes.to_vec(),
            },
            provenance: Provenance {
                source: "requests.txt".into(),
                partition: None,
                offset: 3,
            },
            late: false,
            event_timestamp: 1_262_304_000,
        }
    }

    #[test]
    fn a_request_becomes_an_event_at_its_own_timestamp() {
        let (env, at) = decode_frame(
            frame(b"GET http://localhost/a?b=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            &ValidationLimits::default(),
        );
        assert_eq!(at, Some(1_262_304_000));
        let Envelope::Event {
            event, provenance, ..
        } = env
        else {
            panic!("not an event: {env:?}");
        };
        assert_eq!(event.event_time_ms, 1_262_304_000_030);
        assert_eq!(provenance.offset, 3);
    }

    #[test]
    fn a_bad_request_is_a_dead_letter_with_its_bytes() {
        let bytes = b"POST /x HTTP/1.1\r\nContent-Length: 40\r\n\r\nshort";
        let (env, at) = decode_frame(frame(bytes), &ValidationLimits::default());
        assert_eq!(at, None);
        let Envelope::Dead(d) = env else {
            panic!("not a dead letter: {env:?}");
        };
        assert_eq!(d.reason, DeadLetterReason::MalformedRecord);
        assert_eq!(d.provenance.offset, 3);
    }

    #[test]
    fn a_jsonl_line_decodes_and_validates_where_it_is_analyzed() {
        let line = br#"{"evidence_id":"j","event_time_ms":1262304000030,"request":{"method":"GET","target":"/"}}"#;
        let (env, at) = decode_frame(
            framed(DeferredFormat::Jsonl, 1_262_304_000_030, line),
            &ValidationLimits::default(),
        );
        assert_eq!(at, Some(1_262_304_000));
        assert!(matches!(env, Envelope::Event { ref event, .. } if event.evidence_id == "j"));
        // Decoded but invalid (an empty id): the dead letter says why.
        let line = br#"{"evidence_id":" ","event_time_ms":1262304000030,"request":{"method":"GET","target":"/"}}"#;
        let (env, at) = decode_frame(
            framed(DeferredFormat::Jsonl, 1_262_304_000_030, line),
            &ValidationLimits::default(),
        );
        assert_eq!(at, None);
        let Envelope::Dead(d) = env else {
            panic!("not a dead letter: {env:?}");
        };
        assert_eq!(d.reason, DeadLetterReason::InvalidField);
        assert_eq!(d.original.as_bytes(), &line[..]);
    }
}
