//! The aggregate stage: requests and distinct clients per aggregate key
//! (prefix, AS, User-Agent, session) maintained incrementally in
//! differential dataflow, and looked up for every event.
//!
//! * Each event's keys enter the collection `observations` as
//!   `((dim, key), client)` with `+1` at the event's timestamp and `-1` at
//!   the window's expiry ([`WindowSpan::expiry`]): the collection at time
//!   `q` is exactly the window ending at `q`.
//! * The collection is arranged by key (client as value). One operator
//!   reads the arrangement's new batches and derives, key by key, the
//!   changes of `(requests, distinct clients)`: requests from the batch's
//!   differences; distinct clients from each client's count in the trace
//!   before the batch (a cursor seek per changed client, so the work is
//!   proportional to the changes, not to a key's population — no history
//!   replay).
//! * The same operator receives each event's queries (one per key),
//!   exchanged exactly as the arrangement exchanges its keys: once both
//!   frontiers have passed `t`, it applies the changes up to `t` to its
//!   table of current figures (one entry per live key) and answers the
//!   queries of `t` from it. Observations travel through one exchange, the
//!   answers through one more (to the worker scoring the client).
//!
//! Answers leave as [`AggregateNote`]s, routed to the worker scoring the
//! event's client. Arrangements are compacted as the frontier advances,
//! so the state holds one window of observations (plus retractions not
//! yet due); its size is exported through [`WindowGauges`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::cursor::{cursor_list, Cursor};
use differential_dataflow::trace::implementations::ValSpine;
use differential_dataflow::trace::{Navigable, TraceReader};
use differential_dataflow::{AsCollection, Hashable};
use smallvec::SmallVec;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Stream, StreamVec};
use timely::progress::Antichain;

use super::behaviour::WindowGauges;
use super::TimeStash;
use crate::aggregate_window::{aggregate_keys, AggregateFigure, DimKey, DimSet, WindowSpan};
use crate::analyze::AnalyzedEvent;
use crate::window::WindowConfig;

/// One event's question: its aggregate keys and who asks.
#[derive(Clone, Debug)]
struct Probe {
    keys: Vec<DimKey>,
    client: u64,
    evidence_id: String,
    client_key: String,
}

/// The answer for one event and one of its keys: `(client key, evidence
/// id, the event's timestamp, figure)`.
pub type AggregateNote = (String, String, u64, AggregateFigure);

/// Analyzed events, boxed: an `AnalyzedEvent` is about 500 bytes, moved
/// into each container on its way and by the sort of each bucket; a box is
/// moved as a pointer.
pub type BoxedEvents<'scope> = StreamVec<'scope, u64, Box<AnalyzedEvent>>;

/// Adds the aggregate stage to a stream of events.
pub trait AggregateStage<'scope> {
    /// Passes the events through and returns, beside them, the stream of
    /// their aggregate figures in the dimensions of `dims`, one note per
    /// event and key, at the event's timestamp (no stream at all when
    /// `dims` is empty).
    fn aggregate_windows(
        self,
        dims: DimSet,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> (
        BoxedEvents<'scope>,
        Option<StreamVec<'scope, u64, AggregateNote>>,
    );
}

impl<'scope> AggregateStage<'scope> for BoxedEvents<'scope> {
    fn aggregate_windows(
        self,
        dims: DimSet,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> (
        BoxedEvents<'scope>,
        Option<StreamVec<'scope, u64, AggregateNote>>,
    ) {
        if dims.is_empty() {
            return (self, None);
        }
        let span = WindowSpan::new(&window.aggregates, bucket_ms);
        let (v4, v6) = (window.prefix_v4_bits, window.prefix_v6_bits);
        let (events, probes) = tap(self, move |ev| {
            let ev: &AnalyzedEvent = ev;
            let (keys, client) = aggregate_keys(ev, dims, v4, v6);
            (!keys.is_empty()).then(|| Probe {
                keys,
                client,
                evidence_id: ev.evidence_id.clone(),
                client_key: ev.client_key.clone(),
            })
        });

        // Observations: +1 at t, -1 when the window lets go of them. The
        // retractions are held here and sent when the input frontier
        // reaches their time: sent at once, they would sit in the
        // arrangement's batcher, which re-sorts everything it holds every
        // time the frontier moves (every bucket).
        let observations = probes
            .clone()
            .unary_frontier(Pipeline, "AggregateObservations", move |_cap, _| {
                let mut due: BTreeMap<u64, Vec<(DimKey, u64)>> = BTreeMap::new();
                let mut held: Option<Capability<u64>> = None;
                move |(input, frontier), output| {
                    let port = output.output_index();
                    input.for_each_stamp(|cap, data| {
                        let Some(&t) = cap.least() else {
                            return;
                        };
                        let expiry = span.expiry(t);
                        if held.as_ref().is_none_or(|h| *h.time() > expiry) {
                            held = Some(cap.delayed(&expiry, port));
                        }
                        let retractions = due.entry(expiry).or_default();
                        let mut session = output.session(&cap);
                        for probe in data.flat_map(|v| v.drain(..)) {
                            for key in probe.keys {
                                retractions.push((key.clone(), probe.client));
                                session.give(((key, probe.client), t, 1isize));
                            }
                        }
                    });
                    // Retractions whose time the input has reached.
                    while let Some(entry) = due.first_entry() {
                        let e = *entry.key();
                        if frontier.less_than(&e) {
                            break;
                        }
                        let Some(h) = held.as_mut() else {
                            break;
                        };
                        h.downgrade(&e);
                        let mut session = output.session(&*h);
                        for obs in entry.remove() {
                            session.give((obs, e, -1isize));
                        }
                    }
                    match due.first_key_value() {
                        Some((&next, _)) => {
                            if let Some(h) = held.as_mut() {
                                h.downgrade(&next);
                            }
                        }
                        None => held = None,
                    }
                }
            })
            .as_collection();

        // Queries: one per event and key, at the event's timestamp.
        let queries = probes.flat_map(|p: Probe| {
            let (eid, ck) = (p.evidence_id, p.client_key);
            p.keys
                .into_iter()
                .map(move |k| (k, eid.clone(), ck.clone()))
        });

        let observed = observations.arrange_by_key_named("AggregateObservations");

        // State size of the observations' arrangement, per worker.
        let mut trace = observed.trace.clone();
        let (mut last_keys, mut last_bytes) = (0i64, 0i64);
        let mut measured_at = 0u64;
        let mut peak = (0i64, 0i64, 0i64);
        observed
            .stream
            .clone()
            .sink(Pipeline, "AggregateState", move |(input, frontier)| {
                input.for_each(|_, _| {});
                trace.set_logical_compaction(frontier.frontier());
                trace.set_physical_compaction(frontier.frontier());
                let now = frontier.frontier().first().copied().unwrap_or(u64::MAX);
                // A walk over the batch headers, at most once per slide.
                if now != u64::MAX && now < measured_at.saturating_add(span.slide()) {
                    return;
                }
                measured_at = now;
                let (mut keys, mut pairs, mut bytes) = (0usize, 0usize, 0usize);
                trace.map_spans(|s| {
                    if let Some(b) = &s.inner {
                        let k = &b.storage.keys;
                        keys += k.len();
                        bytes += k
                            .iter()
                            .map(|(_, key)| std::mem::size_of::<DimKey>() + key.len() + 4)
                            .sum::<usize>();
                        let clients = b.storage.vals.vals.len();
                        pairs += clients;
                        bytes += clients * (8 + 4);
                        bytes += b.updates * 16;
                    }
                });
                let (keys, bytes) = (keys as i64, bytes as i64);
                gauges
                    .aggregate_keys
                    .fetch_add(keys - last_keys, Ordering::Relaxed);
                gauges
                    .aggregate_bytes
                    .fetch_add(bytes - last_bytes, Ordering::Relaxed);
                (last_keys, last_bytes) = (keys, bytes);
                if bytes > peak.0 {
                    gauges
                        .aggregate_peak_bytes
                        .fetch_add(bytes - peak.0, Ordering::Relaxed);
                    gauges
                        .aggregate_peak_keys
                        .fetch_add(keys - peak.1, Ordering::Relaxed);
                    gauges
                        .aggregate_peak_pairs
                        .fetch_add(pairs as i64 - peak.2, Ordering::Relaxed);
                    peak = (bytes, keys, pairs as i64);
                }
            });

        (events, Some(figures_and_lookup(observed, queries)))
    }
}

/// A query: the key, the event's evidence id and client key.
type Query = (DimKey, String, String);

/// Requests and distinct clients.
type Counts = (u32, u32);

/// The arranged observations: key, client, bucket, count.
type Observed<'scope> = Arranged<'scope, TraceAgent<ValSpine<DimKey, u64, u64, isize>>>;

/// Derives the figures' changes from the arranged observations and
/// answers each query at its timestamp from the figures as of that
/// timestamp (see the module documentation).
fn figures_and_lookup<'scope>(
    observed: Observed<'scope>,
    queries: StreamVec<'scope, u64, Query>,
) -> StreamVec<'scope, u64, AggregateNote> {
    let mut trace = observed.trace.clone();
    // Routed exactly as `arrange_by_key` routes the observations' keys.
    let by_key = Exchange::new(|q: &Query| q.0.hashed());
    observed.stream.binary_frontier(
        queries,
        Pipeline,
        by_key,
        "AggregateFigures",
        move |_cap, _info| {
            let mut upper = Antichain::from_elem(0u64);
            let mut stash: TimeStash<Query> = TimeStash::default();
            // Figures of a key from a time on (0, 0: gone), by time.
            let mut pending: BTreeMap<u64, Vec<(DimKey, Counts)>> = BTreeMap::new();
            // Figures as of the last batch read, and as of the last answered time.
            let mut latest: HashMap<DimKey, Counts> = HashMap::new();
            let mut table: HashMap<DimKey, Counts> = HashMap::new();
            move |(batch_input, batch_frontier), (query_input, query_frontier), output| {
                let lower = upper.clone();
                let mut batches = Vec::new();
                batch_input.for_each(|_, spans| {
                    for span in spans.drain(..) {
                        upper.clone_from(span.upper());
                        if let Some(b) = span.inner {
                            batches.push(b);
                        }
                    }
                });
                if !batches.is_empty() {
                    // The trace holds every batch before `lower` (this handle
                    // compacts no further than `upper`, as `count_total` does).
                    let before = trace
                        .batches_through(lower.borrow())
                        .expect("the aggregate trace is readable through its last upper");
                    let (mut now, now_storage) = cursor_list(batches);
                    // One cursor per earlier batch (a cursor list would seek
                    // values in batches that lack the key).
                    let mut was: Vec<_> = before.iter().map(|b| b.cursor()).collect();
                    let mut steps: Vec<(u64, i64, i64)> = Vec::new();
                    let mut holding: Vec<usize> = Vec::new();
                    while let Some(key) = now.get_key(&now_storage) {
                        steps.clear();
                        holding.clear();
                        for (i, (c, b)) in was.iter_mut().zip(&before).enumerate() {
                            c.seek_key(b, key);
                            if c.get_key(b) == Some(key) {
                                holding.push(i);
                            }
                        }
                        while let Some(client) = now.get_val(&now_storage) {
                            // The client's count before this batch…
                            let mut count = 0isize;
                            for &i in &holding {
                                let (c, b) = (&mut was[i], &before[i]);
                                c.seek_val(b, client);
                                if c.get_val(b) == Some(client) {
                                    c.map_times(b, |_, d| count += *d);
                                }
                            }
                            // … and through the batch's times, in order.
                            let mut times: SmallVec<[(u64, isize); 4]> = SmallVec::new();
                            now.map_times(&now_storage, |t, d| times.push((*t, *d)));
                            times.sort_unstable();
                            for (t, d) in times {
                                let present = count > 0;
                                count += d;
                                let delta = i64::from(count > 0) - i64::from(present);
                                steps.push((t, d as i64, delta));
                            }
                            now.step_val(&now_storage);
                        }
                        steps.sort_unstable_by_key(|s| s.0);
                        let (mut requests, mut clients) = latest
                            .get(key)
                            .map_or((0i64, 0i64), |c| (i64::from(c.0), i64::from(c.1)));
                        let mut i = 0;
                        while i < steps.len() {
                            let t = steps[i].0;
                            while i < steps.len() && steps[i].0 == t {
                                requests += steps[i].1;
                                clients += steps[i].2;
                                i += 1;
                            }
                            let figures = (requests.max(0) as u32, clients.max(0) as u32);
                            pending.entry(t).or_default().push((key.clone(), figures));
                        }
                        if requests > 0 {
                            latest.insert(key.clone(), (requests as u32, clients.max(0) as u32));
                        } else {
                            latest.remove(key);
                        }
                        now.step_key(&now_storage);
                    }
                }
                // Let the trace forget what no later batch needs.
                trace.set_logical_compaction(upper.borrow());
                trace.set_physical_compaction(upper.borrow());

                stash.take_input(query_input, output.output_index(), |q| q);
                for (time, cap, queries) in stash.ready_all(&[query_frontier, batch_frontier]) {
                    while let Some(entry) = pending.first_entry() {
                        if *entry.key() > time {
                            break;
                        }
                        apply(&mut table, entry.remove());
                    }
                    let Some(cap) = cap else {
                        continue;
                    };
                    let mut session = output.session(&cap);
                    for (key, evidence_id, client_key) in queries {
                        if let Some(&(requests, clients)) = table.get(&key) {
                            session.give((
                                client_key,
                                evidence_id,
                                time,
                                AggregateFigure {
                                    dim: key.0,
                                    key: key.1,
                                    requests,
                                    clients,
                                },
                            ));
                        }
                    }
                }
                // Changes no query can still be waiting for.
                let bound = stash
                    .first_time()
                    .into_iter()
                    .chain(query_frontier.frontier().first().copied())
                    .min()
                    .unwrap_or(u64::MAX);
                while let Some(entry) = pending.first_entry() {
                    if *entry.key() >= bound {
                        break;
                    }
                    apply(&mut table, entry.remove());
                }
            }
        },
    )
}

/// Sets the figures of keys (`(0, _)`: the key has left the window).
fn apply(table: &mut HashMap<DimKey, Counts>, changes: Vec<(DimKey, Counts)>) {
    for (key, figures) in changes {
        if figures.0 == 0 {
            table.remove(&key);
        } else {
            table.insert(key, figures);
        }
    }
}

/// Passes records through and emits `f(record)`, when some, on a second stream.
fn tap<'scope, D, P, F>(
    stream: StreamVec<'scope, u64, D>,
    mut f: F,
) -> (StreamVec<'scope, u64, D>, StreamVec<'scope, u64, P>)
where
    D: Clone + 'static,
    P: Clone + 'static,
    F: FnMut(&D) -> Option<P> + 'static,
{
    let mut builder = OperatorBuilder::new("Tap".to_owned(), stream.scope());
    let mut input = builder.new_input(stream, Pipeline);
    let (mut out_records, records) = builder.new_output::<Vec<D>>();
    let (mut out_derived, derived): (_, Stream<'scope, u64, Vec<P>>) = builder.new_output();
    builder.build(move |_| {
        move |_frontiers| {
            let mut records_out = out_records.activate();
            let mut derived_out = out_derived.activate();
            input.for_each_stamp(|cap, data| {
                for batch in data {
                    let mut extra: Vec<P> = batch.iter().filter_map(&mut f).collect();
                    derived_out.give(&cap, &mut extra);
                    records_out.give(&cap, batch);
                }
            });
        }
    });
    (records, derived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate_window::AggregateDim;
    use sentinel_schema::ClassScores;
    use timely::dataflow::operators::Inspect;
    use timely::dataflow::InputHandleVec;

    fn event(id: String, client_key: String, t: u64) -> Box<AnalyzedEvent> {
        Box::new(AnalyzedEvent {
            status: Some(200),
            payload_count: 0,
            scores: ClassScores::default(),
            ..AnalyzedEvent::for_test(&id, &client_key, t as i64 * 1000)
        })
    }

    #[test]
    fn every_event_gets_its_figures_and_the_state_is_measured() {
        let gauges = Arc::new(WindowGauges::default());
        let g = gauges.clone();
        let rx = timely::execute_directly(move |worker| {
            let mut input = InputHandleVec::<u64, Box<AnalyzedEvent>>::new();
            let (tx, rx) = std::sync::mpsc::channel();
            worker.dataflow::<u64, _, _>(|scope| {
                let (_events, notes) = input.to_stream(scope).aggregate_windows(
                    DimSet::of([AggregateDim::Prefix]),
                    WindowConfig::default(),
                    1000,
                    g.clone(),
                );
                if let Some(notes) = notes {
                    notes.inspect_core(move |event| {
                        if let Ok((_, data)) = event {
                            let data: &Vec<AggregateNote> = data;
                            for n in data {
                                let _ = tx.send(n.clone());
                            }
                        }
                    });
                }
            });
            for t in 0..30u64 {
                input.advance_to(t);
                for c in 0..4 {
                    input.send(event(format!("e{t}-{c}"), format!("ip:192.0.2.{c}"), t));
                }
                // One client without an address: no prefix, no note.
                input.send(event(format!("s{t}"), "session:x".into(), t));
            }
            rx
        });
        let notes: Vec<AggregateNote> = rx.try_iter().collect();
        assert_eq!(notes.len(), 30 * 4);
        for (_, id, t, f) in &notes {
            assert!(id.starts_with('e'), "{id}");
            assert_eq!(f.key, "net:192.0.2.0/24");
            // Window of 60 s: every bucket so far, 4 requests each, 4 addresses.
            assert_eq!(
                (f.requests, f.clients),
                (4 * (*t as u32 + 1), 4),
                "bucket {t}"
            );
        }
        assert!(gauges.aggregate_peak_bytes.load(Ordering::Relaxed) > 0);
        assert!(gauges.aggregate_peak_keys.load(Ordering::Relaxed) > 0);
        assert!(gauges.aggregate_peak_pairs.load(Ordering::Relaxed) >= 4);
    }
}
