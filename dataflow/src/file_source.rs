//! The timely source over recorded-evidence files.
//!
//! Files are spread over workers (file `i` on worker `i % peers`). Each file
//! is one partition with its own event-time watermark (a Kafka recording
//! has one per recorded partition, and its events keep their live
//! provenance); the worker's capability follows the least watermark of its
//! open partitions, so a window closes only when every one has moved past it.
//!
//! Raw HTTP requests are parsed by the worker that analyzes them (see
//! [`crate::deferred_decode`]); other formats are decoded here. Every
//! record is then placed on the worker that analyzes it, the reading
//! worker keeping fewer ([`crate::dealing`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::{Scope, StreamVec};

use sentinel_operators::dead_letter::dead_letter;
use sentinel_operators::validate::{validate, ValidationLimits};
use sentinel_schema::Provenance;
use sentinel_sources::decode::record::Origin;
use sentinel_sources::{FileSource, SourceItem, SourceOptions, SourceRecord};

use crate::dealing::Dealer;
use crate::deferred_decode::{place_and_decode, FrameInFlight, SourceRecord as Out};
use crate::in_flight::{InFlight, IN_FLIGHT_RECHECK};
use crate::pacing::{Pacer, Speed};
use crate::watermark::{bucket, PartitionWatermark};
use crate::worker_clock::CpuStopwatch;
use crate::{Counters, Envelope};

/// One input file.
#[derive(Clone, Debug)]
pub struct FileInput {
    /// Where it is.
    pub path: PathBuf,
    /// Its name in provenance (the path as the user gave it).
    pub name: String,
    /// How to read it.
    pub options: SourceOptions,
}

/// Source behaviour shared by all files.
#[derive(Clone, Copy, Debug)]
pub struct SourceSettings {
    /// Width of a timestamp bucket in event-time ms.
    pub bucket_ms: u64,
    /// Allowed out-of-orderness before an event counts as late, ms.
    pub allowed_lateness_ms: i64,
    /// Replay speed.
    pub speed: Speed,
    /// Checks on decoded events.
    pub validation: ValidationLimits,
    /// Records read per file per activation.
    pub batch: usize,
    /// Most records read that the graph could finish but has not (their
    /// timestamps are below the source's own, and the graph's output
    /// frontier has not passed them) before the reader stops reading
    /// until it has finished half of them: the file is not read into
    /// memory ahead of the analysis, and the worker that reads cannot run
    /// ahead of the others. `0` reads without a bound.
    pub max_in_flight: usize,
}

/// [`SourceSettings::max_in_flight`] by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8192;

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            bucket_ms: 1000,
            allowed_lateness_ms: 5000,
            speed: Speed::Max,
            validation: ValidationLimits::default(),
            batch: 2048,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

struct Partition {
    input: FileInput,
    reader: Option<FileSource>,
    /// Watermark per partition of the file (`-1` for files that are one partition).
    watermarks: BTreeMap<i32, PartitionWatermark>,
    lateness: i64,
    pacer: Pacer,
    pending: Option<SourceRecord>,
    consumed: Option<Arc<AtomicU64>>,
    reported_bytes: u64,
    last_offset: u64,
    done: bool,
}

impl Partition {
    /// The timestamp of records that do not go to their own event-time
    /// bucket (dead letters, late events): the bucket of the file's
    /// watermark, which depends only on the file's content — so their place
    /// in the output does not depend on pacing or batching.
    fn side_time(&self, part: i32, now_time: u64, bucket_ms: u64) -> u64 {
        self.watermarks
            .get(&part)
            .and_then(|w| w.watermark())
            .map_or(now_time, |w| bucket(w, bucket_ms).max(now_time))
    }

    /// Observes an event time on partition `part`: whether it is late, and
    /// its timestamp (its bucket, or `side_time` — the bucket of the
    /// watermark before it — when late).
    fn place(
        &mut self,
        part: i32,
        event_time_ms: i64,
        side_time: u64,
        now_time: u64,
        bucket_ms: u64,
    ) -> (bool, u64) {
        let lateness = self.lateness;
        let late = self
            .watermarks
            .entry(part)
            .or_insert_with(|| PartitionWatermark::new(lateness))
            .observe(event_time_ms);
        let time = if late {
            side_time
        } else {
            bucket(event_time_ms, bucket_ms).max(now_time)
        };
        (late, time)
    }

    /// The least watermark bucket of the file's partitions (`None` while
    /// the file has produced no event).
    fn least(&self, bucket_ms: u64) -> Option<u64> {
        self.watermarks
            .values()
            .filter_map(|w| w.watermark())
            .map(|w| bucket(w, bucket_ms))
            .min()
    }
}

/// The partition key and provenance of a file record: the file and its
/// ordinal, or for recordings the live topic, partition and offset.
fn provenance_of(name: &str, offset: u64, origin: Option<Origin>) -> (i32, Provenance) {
    match origin {
        Some(o) => (
            o.partition,
            Provenance {
                source: format!("kafka:{}", o.topic),
                partition: Some(o.partition),
                offset: u64::try_from(o.offset).unwrap_or(0),
            },
        ),
        None => (
            -1,
            Provenance {
                source: name.to_string(),
                partition: None,
                offset,
            },
        ),
    }
}

/// Builds the file source for this worker's share of `inputs`: every record
/// is dealt to the worker that analyzes it, where raw HTTP requests are
/// parsed.
///
/// `done` is a probe over the graph's outputs (attached by the caller once
/// the graph is built): what it has passed is finished, which bounds the
/// records in flight ([`SourceSettings::max_in_flight`]).
pub fn file_source<'scope>(
    scope: Scope<'scope, u64>,
    inputs: &[FileInput],
    settings: SourceSettings,
    counters: Arc<Counters>,
    errors: Arc<Mutex<Vec<String>>>,
    done: ProbeHandle<u64>,
) -> StreamVec<'scope, u64, Envelope> {
    let clock = counters.worker_clocks.for_worker(scope.index());
    let dealer = Dealer::new(scope.index(), scope.peers(), &counters.worker_clocks);
    let route = dealer.router();
    let records = read_files(scope, inputs, settings, counters, errors, dealer, done);
    place_and_decode(records, settings.validation, route, clock)
}

/// Reads this worker's share of `inputs`; tells `dealer` what reading
/// costs after each activation (it reads the workers' stage clocks itself).
fn read_files<'scope>(
    scope: Scope<'scope, u64>,
    inputs: &[FileInput],
    settings: SourceSettings,
    counters: Arc<Counters>,
    errors: Arc<Mutex<Vec<String>>>,
    mut dealer: Dealer,
    done: ProbeHandle<u64>,
) -> StreamVec<'scope, u64, Out> {
    let (index, peers) = (scope.index(), scope.peers());
    let mine: Vec<FileInput> = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % peers == index)
        .map(|(_, f)| f.clone())
        .collect();
    source(scope, "FileSource", move |capability, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(capability);
        let mut parts: Vec<Partition> = mine
            .into_iter()
            .map(|input| Partition {
                input,
                reader: None,
                watermarks: BTreeMap::new(),
                lateness: settings.allowed_lateness_ms,
                pacer: Pacer::new(settings.speed),
                pending: None,
                consumed: None,
                reported_bytes: 0,
                last_offset: 0,
                done: false,
            })
            .collect();
        let mut in_flight = InFlight::new(settings.max_in_flight);
        move |output| {
            let Some(c) = cap.as_mut() else {
                return;
            };
            let now_time = *c.time();
            let finished_below = done.with_frontier(|f| f.first().copied().unwrap_or(u64::MAX));
            if in_flight.hold(finished_below, now_time) {
                activator.activate_after(IN_FLIGHT_RECHECK);
                return;
            }
            let mut out: BTreeMap<u64, Vec<Out>> = BTreeMap::new();
            let mut wait: Option<Duration> = None;
            let now = Instant::now();
            let reading_cpu = CpuStopwatch::start();
            let mut read_now = 0u64;
            for p in parts.iter_mut().filter(|p| !p.done) {
                if p.reader.is_none() {
                    match FileSource::open(&p.input.path, p.input.options) {
                        Ok(mut r) => {
                            // A client tells where a record goes; alone,
                            // this worker keeps every record.
                            r.probe_clients(peers > 1);
                            p.consumed = Some(r.consumed());
                            p.reader = Some(r);
                        }
                        Err(e) => {
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(e.to_string());
                            }
                            p.done = true;
                            continue;
                        }
                    }
                }
                for _ in 0..settings.batch {
                    let item = match p.pending.take() {
                        Some(i) => Some(i),
                        None => p.reader.as_mut().and_then(|r| r.next_record(true)),
                    };
                    let Some(item) = item else {
                        p.done = true;
                        break;
                    };
                    let event_time = match &item {
                        SourceRecord::Item(SourceItem::Event { event, .. }) => {
                            Some(event.event_time_ms)
                        }
                        SourceRecord::Deferred(f) => Some(f.event_time_ms),
                        SourceRecord::Item(SourceItem::Bad { .. }) => None,
                    };
                    if let Some(t) = event_time {
                        if let Some(d) = p.pacer.wait_for(t, now) {
                            wait = Some(wait.map_or(d, |w: Duration| w.min(d)));
                            p.pending = Some(item);
                            break;
                        }
                    }
                    counters.records_in.fetch_add(1, Ordering::Relaxed);
                    read_now += 1;
                    let item = match item {
                        SourceRecord::Item(item) => item,
                        SourceRecord::Deferred(frame) => {
                            // Its time is known: place it like an event
                            // (its watermark moves), and send it at the
                            // dead-letter timestamp, never later than its
                            // own; it is parsed where it is analyzed.
                            p.last_offset = frame.offset;
                            let (part, provenance) =
                                provenance_of(&p.input.name, frame.offset, None);
                            let wm_time = p.side_time(part, now_time, settings.bucket_ms);
                            let (late, event_timestamp) = p.place(
                                part,
                                frame.event_time_ms,
                                wm_time,
                                now_time,
                                settings.bucket_ms,
                            );
                            out.entry(wm_time).or_default().push(Out::Frame(Box::new(
                                FrameInFlight {
                                    frame,
                                    provenance,
                                    late,
                                    event_timestamp,
                                },
                            )));
                            continue;
                        }
                    };
                    match item {
                        SourceItem::Event {
                            offset,
                            event,
                            raw,
                            origin,
                        } => {
                            p.last_offset = offset;
                            let (part, provenance) = provenance_of(&p.input.name, offset, origin);
                            let wm_time = p.side_time(part, now_time, settings.bucket_ms);
                            if let Err(e) = validate(&event, &settings.validation) {
                                let len = raw.len() as u64;
                                out.entry(wm_time)
                                    .or_default()
                                    .push(Out::Ready(Envelope::Dead(Box::new(dead_letter(
                                        &e, &raw, len, provenance,
                                    )))));
                                continue;
                            }
                            let (late, time) = p.place(
                                part,
                                event.event_time_ms,
                                wm_time,
                                now_time,
                                settings.bucket_ms,
                            );
                            out.entry(time)
                                .or_default()
                                .push(Out::Ready(Envelope::Event {
                                    event,
                                    provenance,
                                    late,
                                    verified: false,
                                }));
                        }
                        SourceItem::Bad {
                            offset,
                            error,
                            original,
                            original_len,
                            origin,
                        } => {
                            let offset = if offset == u64::MAX {
                                p.last_offset + 1
                            } else {
                                offset
                            };
                            p.last_offset = offset;
                            let (part, provenance) = provenance_of(&p.input.name, offset, origin);
                            out.entry(p.side_time(part, now_time, settings.bucket_ms))
                                .or_default()
                                .push(Out::Ready(Envelope::Dead(Box::new(dead_letter(
                                    &error,
                                    &original,
                                    original_len,
                                    provenance,
                                )))));
                        }
                    }
                }
                if let Some(consumed) = &p.consumed {
                    let total = consumed.load(Ordering::Relaxed);
                    counters
                        .bytes_in
                        .fetch_add(total - p.reported_bytes, Ordering::Relaxed);
                    p.reported_bytes = total;
                }
            }
            for (time, items) in out {
                in_flight.sent(time, items.len());
                let delayed = c.delayed(&time);
                output.session(&delayed).give_iterator(items.into_iter());
            }
            // What this activation's reading cost (its records are dealt
            // on, above); the dealer reads where the stage clocks stand.
            dealer.observe(reading_cpu.elapsed(), read_now);
            if parts.iter().all(|p| p.done) {
                cap = None;
                return;
            }
            // The capability follows the least watermark of the open files; a
            // file that has produced no event yet holds it where it is.
            let least = parts
                .iter()
                .filter(|p| !p.done)
                .map(|p| p.least(settings.bucket_ms))
                .try_fold(u64::MAX, |acc, w| w.map(|w| acc.min(w)));
            if let Some(least) = least {
                if least > now_time && least != u64::MAX {
                    c.downgrade(&least);
                }
            }
            match wait {
                Some(d) => activator.activate_after(d),
                None => activator.activate(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_sources::{InputFormat, SyntheticClock};
    use timely::dataflow::operators::Inspect;

    /// What came out of the source: timestamp, offset, event time (`None`
    /// for a dead letter), late.
    type Emitted = (u64, u64, Option<i64>, bool);

    /// `n` raw HTTP requests in a file, the one at `bad` not HTTP at all.
    fn requests_file(dir: &std::path::Path, n: usize, bad: Option<usize>) -> PathBuf {
        let path = dir.join("requests.http");
        let mut data = Vec::new();
        for i in 0..n {
            if Some(i) == bad {
                data.extend_from_slice(b"this line is not an HTTP request\r\n\r\n");
            } else {
                data.extend_from_slice(
                    format!(
                        "GET http://shop.example/item?id={i} HTTP/1.1\r\nHost: shop.example\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
        }
        std::fs::write(&path, &data).unwrap();
        path
    }

    fn raw_http_input(path: &std::path::Path) -> FileInput {
        FileInput {
            path: path.to_path_buf(),
            name: "requests.http".into(),
            options: SourceOptions {
                format: Some(InputFormat::RawHttp),
                ..SourceOptions::default()
            },
        }
    }

    fn read(input: FileInput, settings: SourceSettings) -> Vec<Emitted> {
        let mut out = timely::execute_directly(move |worker| {
            let (tx, rx) = std::sync::mpsc::channel();
            worker.dataflow::<u64, _, _>(|scope| {
                let done = ProbeHandle::new();
                let envelopes = file_source(
                    scope,
                    &[input],
                    settings,
                    Arc::new(Counters::default()),
                    Arc::default(),
                    done.clone(),
                );
                timely::dataflow::operators::Probe::probe_with(envelopes, &done).inspect_core(
                    move |batch| {
                        let Ok((stamp, data)) = batch else {
                            return;
                        };
                        let t = stamp.iter().copied().min().unwrap_or_default();
                        for e in data {
                            let _ = tx.send(match e {
                                Envelope::Event {
                                    event,
                                    provenance,
                                    late,
                                    ..
                                } => (t, provenance.offset, Some(event.event_time_ms), *late),
                                Envelope::Dead(d) => (t, d.provenance.offset, None, false),
                            });
                        }
                    },
                );
            });
            rx
        })
        .try_iter()
        .collect::<Vec<_>>();
        out.sort_by_key(|e| e.1);
        out
    }

    #[test]
    fn raw_http_requests_parsed_downstream_keep_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = requests_file(dir.path(), 40, Some(17));
        // 10 ms between requests, 50 ms buckets, no lateness: a bucket
        // every five requests.
        let settings = SourceSettings {
            bucket_ms: 50,
            allowed_lateness_ms: 0,
            ..SourceSettings::default()
        };
        let emitted = read(raw_http_input(&path), settings);
        assert_eq!(emitted.len(), 40);
        let clock = SyntheticClock::default();
        for (t, offset, event_time, _) in emitted {
            let own = bucket(clock.time_of(offset), 50);
            match event_time {
                // An event at its own bucket.
                Some(time) => {
                    assert_eq!(time, clock.time_of(offset));
                    assert_eq!(t, own, "request {offset}");
                }
                // The dead letter at the watermark's bucket: the previous
                // request's time.
                None => {
                    assert_eq!(offset, 17);
                    assert_eq!(t, bucket(clock.time_of(16), 50));
                }
            }
        }
    }

    #[test]
    fn a_tight_bound_on_records_in_flight_loses_nothing_and_never_stalls() {
        let dir = tempfile::tempdir().unwrap();
        let path = requests_file(dir.path(), 3000, Some(1234));
        for (bucket_ms, max_in_flight, batch) in [
            (50, 3, 2048),
            (50, 1, 7),
            // Every record in one bucket: none is finishable before the
            // end, so the reader must never hold.
            (1_000_000_000, 1, 64),
        ] {
            let bounded = SourceSettings {
                bucket_ms,
                max_in_flight,
                batch,
                ..SourceSettings::default()
            };
            let unbounded = SourceSettings {
                max_in_flight: 0,
                ..bounded
            };
            let got = read(raw_http_input(&path), bounded);
            assert_eq!(got.len(), 3000);
            assert_eq!(got, read(raw_http_input(&path), unbounded));
        }
    }

    #[test]
    fn jsonl_lines_decoded_downstream_keep_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        // Ten lines 10 ms apart; line 4 has its time but no request (a
        // dead letter decoded downstream, whose time still moved the
        // watermark: line 5, 5 ms behind it, is late), line 6 has a time
        // that is not one (decoded by the reader), line 8 is 40 ms behind
        // (late).
        let base = 1_767_225_600_000i64;
        let mut text = String::new();
        for i in 0..10i64 {
            let t = match i {
                5 => base + 35,
                8 => base + 40,
                _ => base + i * 10,
            };
            let line = match i {
                4 => format!(r#"{{"evidence_id":"e{i}","event_time_ms":{t}}}"#),
                6 => format!(r#"{{"evidence_id":"e{i}","event_time_ms":"{t}"}}"#),
                _ => format!(
                    r#"{{"evidence_id":"e{i}","event_time_ms":{t},"request":{{"method":"GET","target":"/a?i={i}"}}}}"#
                ),
            };
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let input = FileInput {
            path: path.clone(),
            name: "events.jsonl".into(),
            options: SourceOptions {
                format: Some(InputFormat::Jsonl),
                ..SourceOptions::default()
            },
        };
        let settings = SourceSettings {
            bucket_ms: 20,
            allowed_lateness_ms: 0,
            ..SourceSettings::default()
        };
        let emitted = read(input, settings);
        assert_eq!(emitted.len(), 10);
        let at = |ms: i64| bucket(ms, 20);
        for (t, offset, event_time, late) in emitted {
            match (offset, event_time) {
                // Its time moved the watermark to line 4's bucket first.
                (4, None) => assert_eq!(t, at(base + 30)),
                (6, None) => assert_eq!(t, at(base + 40)),
                (5, Some(time)) => {
                    assert_eq!(time, base + 35);
                    assert!(late, "behind the rejected line's time");
                    assert_eq!(t, at(base + 40));
                }
                (8, Some(time)) => {
                    assert_eq!(time, base + 40);
                    assert!(late);
                    assert_eq!(t, at(base + 70), "late: at the watermark's bucket");
                }
                (o, Some(time)) => {
                    assert_eq!(time, base + o as i64 * 10);
                    assert!(!late);
                    assert_eq!(t, at(time), "line {o}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Reads `input` with two workers (50 records per activation) and
    /// returns `(worker, pick(envelope))` for every envelope that `pick`
    /// takes, as the source emitted them.
    fn on_two_workers<T: Send + 'static>(
        input: FileInput,
        counters: Arc<Counters>,
        pick: impl Fn(&Envelope) -> Option<T> + Send + Sync + Copy + 'static,
    ) -> Vec<(usize, T)> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        timely::execute(timely::Config::process(2), move |worker| {
            let index = worker.index();
            let (input, c, s) = (input.clone(), counters.clone(), s.clone());
            worker.dataflow::<u64, _, _>(|scope| {
                let settings = SourceSettings {
                    batch: 50,
                    ..SourceSettings::default()
                };
                file_source(
                    scope,
                    &[input],
                    settings,
                    c,
                    Arc::default(),
                    ProbeHandle::new(),
                )
                .inspect_core(move |batch| {
                    let Ok((_, data)) = batch else {
                        return;
                    };
                    let picked = data.iter().filter_map(|e| pick(e).map(|v| (index, v)));
                    s.lock().unwrap().extend(picked);
                });
            });
        })
        .unwrap();
        let mut seen = seen.lock().unwrap();
        std::mem::take(&mut *seen)
    }

    #[test]
    fn two_workers_get_every_record_once_and_the_stage_clock_runs_where_they_are_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let input = raw_http_input(&requests_file(dir.path(), 600, None));
        let counters = Arc::new(Counters::default());
        let mut seen = on_two_workers(input, counters.clone(), |event| match event {
            Envelope::Event { provenance, .. } => Some(provenance.offset),
            Envelope::Dead(_) => None,
        });
        seen.sort_by_key(|e| e.1);
        assert_eq!(
            seen.iter().map(|e| e.1).collect::<Vec<_>>(),
            (0..600).collect::<Vec<_>>()
        );
        // Both workers parse: the reader (worker 0) keeps at most half.
        let on_reader = seen.iter().filter(|e| e.0 == 0).count();
        assert!(
            (1..=330).contains(&on_reader),
            "{on_reader} of 600 on the reader"
        );
        // Each worker's clock counted the parsing it did (no analysis here,
        // so no records, only time).
        for w in 0..2 {
            let r = counters.worker_clocks.for_worker(w).reading();
            assert_eq!(r.stage_records, 0);
            assert!(r.stage_nanos > 0, "worker {w}: {r:?}");
        }
    }

    #[test]
    fn records_are_analyzed_where_their_client_is_windowed() {
        // 800 JSONL events from 40 addresses, read by worker 0 of two.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut text = String::new();
        for i in 0..800i64 {
            let t = 1_767_225_600_000i64 + i * 10;
            text.push_str(&format!(
                r#"{{"evidence_id":"e{i}","event_time_ms":{t},"client":{{"ip":"192.0.2.{}"}},"request":{{"method":"GET","target":"/"}}}}"#,
                i % 40
            ));
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let input = FileInput {
            path,
            name: "events.jsonl".into(),
            options: SourceOptions::default(),
        };
        let seen = on_two_workers(input, Arc::default(), |e| match e {
            Envelope::Event { event, .. } => {
                Some(sentinel_operators::client_key::client_key(event))
            }
            Envelope::Dead(_) => None,
        });
        assert_eq!(seen.len(), 800);
        // Where the windows exchange each client.
        let owner = |c: &str| (sentinel_operators::timely_ops::route(c) % 2) as usize;
        let owned_by_one = seen.iter().filter(|(_, c)| owner(c) == 1).count();
        assert!(
            owned_by_one > 100,
            "both workers own clients: {owned_by_one}"
        );
        // Worker 1's clients all went to it; the reader kept only its own
        // (and dealt some of those to worker 1, to stay within its share).
        for (w, c) in &seen {
            if owner(c) == 1 {
                assert_eq!(*w, 1, "{c} was analyzed on worker {w}");
            }
        }
        let on_reader = seen.iter().filter(|(w, _)| *w == 0).count();
        assert!(on_reader <= 800 - owned_by_one, "{on_reader}");
    }
}
