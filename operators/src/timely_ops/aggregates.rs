//! The aggregate stage: requests and distinct clients per aggregate key
//! (prefix, AS, User-Agent, session) maintained incrementally in
//! differential dataflow, and looked up for every event.
//!
//! * Each event's keys enter the collection `observations` as
//!   `((dim, key), client)` with `+1` at the event's timestamp and `-1` at
//!   the window's expiry ([`WindowSpan::expiry`]): the collection at time
//!   `q` is exactly the window ending at `q`.
//! * `figures` reduces it per key to `(requests, distinct clients)`.
//! * Each event's queries (one per key) meet the changes of `figures` in a
//!   lookup operator, both exchanged by key: once both frontiers have
//!   passed `t`, it applies the figures' changes up to `t` to its table of
//!   current figures (one entry per live key) and answers the queries of
//!   `t` from it.
//!
//! Answers leave as [`AggregateNote`]s, routed to the worker scoring the
//! event's client. Arrangements are compacted as the frontier advances,
//! so the state holds one window of observations (plus retractions not
//! yet due); its size is exported through [`WindowGauges`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use differential_dataflow::operators::{CountTotal, ThresholdTotal};
use differential_dataflow::trace::TraceReader;
use differential_dataflow::AsCollection;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::{Stream, StreamVec};

use super::behaviour::WindowGauges;
use super::{route, TimeStash};
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
        StreamVec<'scope, u64, AnalyzedEvent>,
        Option<StreamVec<'scope, u64, AggregateNote>>,
    );
}

impl<'scope> AggregateStage<'scope> for StreamVec<'scope, u64, AnalyzedEvent> {
    fn aggregate_windows(
        self,
        dims: DimSet,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> (
        StreamVec<'scope, u64, AnalyzedEvent>,
        Option<StreamVec<'scope, u64, AggregateNote>>,
    ) {
        if dims.is_empty() {
            return (self, None);
        }
        let span = WindowSpan::new(&window.aggregates, bucket_ms);
        let (v4, v6) = (window.prefix_v4_bits, window.prefix_v6_bits);
        let (events, probes) = tap(self, move |ev: &AnalyzedEvent| {
            let (keys, client) = aggregate_keys(ev, dims, v4, v6);
            (!keys.is_empty()).then(|| Probe {
                keys,
                client,
                evidence_id: ev.evidence_id.clone(),
                client_key: ev.client_key.clone(),
            })
        });

        // Observations: +1 at t, -1 when the window lets go of them.
        let observations = probes
            .clone()
            .unary(Pipeline, "AggregateObservations", move |_, _| {
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        let Some(&t) = cap.least() else {
                            return;
                        };
                        let expiry = span.expiry(t);
                        let mut session = output.session(&cap);
                        for probe in data.flat_map(|v| v.drain(..)) {
                            for key in probe.keys {
                                let obs = (key, probe.client);
                                session.give((obs.clone(), t, 1isize));
                                session.give((obs, expiry, -1isize));
                            }
                        }
                    });
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

        // Requests per key, and distinct clients per key: `count_total` and
        // `distinct_total` keep one accumulated count per key (no history
        // replay), which suits the totally ordered bucket timestamps.
        let requests = observations
            .clone()
            .map(|(key, _client)| key)
            .count_total()
            .map(|(key, n)| (key, false, n.max(0) as u32));
        let observed = observations.arrange_by_self_named("AggregateObservations");
        let clients = observed
            .clone()
            .distinct_total()
            .map(|(key, _client)| key)
            .count_total()
            .map(|(key, n)| (key, true, n.max(0) as u32));
        let changes = requests.concat(clients).inner;

        // State size of the observations' arrangement, per worker.
        let mut trace = observed.trace.clone();
        let (mut last_keys, mut last_bytes) = (0i64, 0i64);
        let mut measured_at = 0u64;
        let mut peak = (0i64, 0i64, 0i64);
        observed
            .stream
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
                        pairs += k.len();
                        keys += 1 + k.windows(2).filter(|w| w[0].0 != w[1].0).count();
                        bytes += k
                            .iter()
                            .map(|((_, key), _)| {
                                std::mem::size_of::<(DimKey, u64)>() + key.len() + 4
                            })
                            .sum::<usize>();
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

        (events, Some(lookup(queries, changes)))
    }
}

/// A query: the key, the event's evidence id and client key.
type Query = (DimKey, String, String);

/// Requests and distinct clients.
type Counts = (u32, u32);

/// A change of one figure of a key: `((key, is the client count, value), time, diff)`.
type FigureChange = ((DimKey, bool, u32), u64, isize);

/// A change of one figure of a key, without its time.
type KeyChange = (DimKey, bool, u32, isize);

/// Answers each query at its timestamp from the figures as of that
/// timestamp (see the module documentation).
fn lookup<'scope>(
    queries: StreamVec<'scope, u64, Query>,
    changes: StreamVec<'scope, u64, FigureChange>,
) -> StreamVec<'scope, u64, AggregateNote> {
    let by_query = Exchange::new(|q: &Query| route(&q.0 .1));
    let by_change = Exchange::new(|c: &FigureChange| route(&(c.0).0 .1));
    queries.binary_frontier(
        changes,
        by_query,
        by_change,
        "AggregateLookup",
        |_cap, _info| {
            let mut stash: TimeStash<Query> = TimeStash::default();
            let mut pending: BTreeMap<u64, Vec<KeyChange>> = BTreeMap::new();
            let mut table = FigureTable::default();
            move |(query_input, query_frontier), (change_input, change_frontier), output| {
                change_input.for_each_stamp(|_, data| {
                    for v in data {
                        for ((key, clients, n), t, diff) in v.drain(..) {
                            pending.entry(t).or_default().push((key, clients, n, diff));
                        }
                    }
                });
                query_input.for_each_stamp(|cap, data| {
                    let Some(&time) = cap.least() else {
                        return;
                    };
                    let port = output.output_index();
                    stash.add(
                        time,
                        || cap.retain_least(port),
                        data.flat_map(|v| v.drain(..)),
                    );
                });
                for (time, cap, queries) in stash.ready_all(&[query_frontier, change_frontier]) {
                    while let Some(entry) = pending.first_entry() {
                        if *entry.key() > time {
                            break;
                        }
                        table.apply(entry.remove());
                    }
                    let Some(cap) = cap else {
                        continue;
                    };
                    let mut session = output.session(&cap);
                    for (key, evidence_id, client_key) in queries {
                        if let Some((requests, clients)) = table.get(&key) {
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
                    table.apply(entry.remove());
                }
            }
        },
    )
}

/// The current figures of the keys a worker looks up.
#[derive(Default)]
struct FigureTable {
    figures: HashMap<DimKey, Figures>,
}

/// A key's request and client counts, each with the multiplicity of its
/// values while a timestamp's retractions and insertions are applied.
#[derive(Default)]
struct Figures {
    requests: Vec<(u32, isize)>,
    clients: Vec<(u32, isize)>,
}

fn add(values: &mut Vec<(u32, isize)>, value: u32, diff: isize) {
    match values.iter_mut().find(|(v, _)| *v == value) {
        Some((_, n)) => *n += diff,
        None => values.push((value, diff)),
    }
    values.retain(|(_, n)| *n != 0);
}

fn current(values: &[(u32, isize)]) -> Option<u32> {
    values.iter().find(|(_, n)| *n > 0).map(|(v, _)| *v)
}

impl FigureTable {
    /// Applies changes of one timestamp (retractions and insertions in any order).
    fn apply(&mut self, changes: Vec<KeyChange>) {
        for (key, clients, value, diff) in changes {
            let entry = self.figures.entry(key).or_default();
            add(
                if clients {
                    &mut entry.clients
                } else {
                    &mut entry.requests
                },
                value,
                diff,
            );
        }
        self.figures
            .retain(|_, f| !f.requests.is_empty() || !f.clients.is_empty());
    }

    /// The figures of `key`, when it has any.
    fn get(&self, key: &DimKey) -> Option<Counts> {
        let f = self.figures.get(key)?;
        Some((current(&f.requests)?, current(&f.clients)?))
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

    #[test]
    fn the_table_follows_retractions_and_insertions_in_any_order() {
        let k: DimKey = (AggregateDim::Prefix, "net:192.0.2.0/24".into());
        let mut t = FigureTable::default();
        t.apply(vec![(k.clone(), false, 1, 1), (k.clone(), true, 1, 1)]);
        assert_eq!(t.get(&k), Some((1, 1)));
        // The next timestamp's changes arrive insertion first.
        t.apply(vec![(k.clone(), false, 3, 1), (k.clone(), false, 1, -1)]);
        assert_eq!(t.get(&k), Some((3, 1)));
        t.apply(vec![(k.clone(), true, 2, 1), (k.clone(), true, 1, -1)]);
        assert_eq!(t.get(&k), Some((3, 2)));
        t.apply(vec![(k.clone(), false, 3, -1)]);
        assert_eq!(t.get(&k), None);
        t.apply(vec![(k.clone(), true, 2, -1)]);
        assert!(t.figures.is_empty());
    }
}
