//! The aggregate stage: requests and distinct clients per aggregate key
//! (prefix, AS, User-Agent, session) maintained incrementally in
//! differential dataflow, and looked up for every event.
//!
//! * Each event's keys enter the collection `observations` as
//!   `((dim, key), client)` with `+1` at the event's timestamp and `-1` at
//!   the window's expiry ([`WindowSpan::expiry`]): the collection at time
//!   `q` is exactly the window ending at `q`.
//! * `figures` reduces it per key to `(requests, distinct clients)`.
//! * Each event asks for its keys' figures with a query that lives for
//!   its timestamp only (`+1` at `t`, `-1` at `t + 1`); the join of the
//!   queries with `figures` answers it at `t`.
//!
//! Answers leave as [`AggregateNote`]s, routed to the worker scoring the
//! event's client. Arrangements are compacted as the frontier advances,
//! so the state holds one window of observations (plus retractions not
//! yet due); its size is exported through [`WindowGauges`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use differential_dataflow::trace::implementations::{ValBuilder, ValSpine};
use differential_dataflow::trace::TraceReader;
use differential_dataflow::AsCollection;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::{Stream, StreamVec};

use super::behaviour::WindowGauges;
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
/// id, the event's timestamp, figure)`. In the stream it travels with its
/// own time and difference (see [`AggregateStage::aggregate_windows`]).
pub type AggregateNote = (String, String, u64, AggregateFigure);

/// Adds the aggregate stage to a stream of events.
pub trait AggregateStage<'scope> {
    /// Passes the events through and returns, beside them, the stream of
    /// their aggregate figures in the dimensions of `dims`: updates
    /// `(note, time, diff)` whose positive, consolidated updates with
    /// `time` equal to the note's timestamp are the answers (the rest are
    /// the retractions of expired queries).
    #[allow(clippy::type_complexity)]
    fn aggregate_windows(
        self,
        dims: DimSet,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> (
        StreamVec<'scope, u64, AnalyzedEvent>,
        StreamVec<'scope, u64, (AggregateNote, u64, isize)>,
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
        StreamVec<'scope, u64, (AggregateNote, u64, isize)>,
    ) {
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

        // Queries: alive for their own timestamp only.
        type Query = (String, String, u64);
        let queries = probes
            .unary(Pipeline, "AggregateQueries", move |_, _| {
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        let Some(&t) = cap.least() else {
                            return;
                        };
                        let mut session = output.session(&cap);
                        for probe in data.flat_map(|v| v.drain(..)) {
                            for key in probe.keys {
                                let q: (DimKey, Query) = (
                                    key,
                                    (probe.evidence_id.clone(), probe.client_key.clone(), t),
                                );
                                session.give((q.clone(), t, 1isize));
                                session.give((q, t + 1, -1isize));
                            }
                        }
                    });
                }
            })
            .as_collection();

        let observed = observations.arrange_by_key_named("AggregateObservations");
        let figures = observed
            .clone()
            .reduce_abelian::<_, ValBuilder<_, _, _, _>, ValSpine<DimKey, (u32, u32), u64, isize>, _, _>(
                "AggregateFigures",
                |_key, input: &[(&u64, isize)], output: &mut Vec<((u32, u32), isize)>| {
                    let requests: isize = input.iter().map(|(_, n)| *n).sum();
                    output.push(((requests as u32, input.len() as u32), 1));
                },
                |vec, key, upds| {
                    vec.clear();
                    vec.extend(upds.drain(..).map(|(v, t, r)| ((key.clone(), v), t, r)));
                },
            );

        // State size of the observations' arrangement, per worker.
        let mut trace = observed.trace.clone();
        let (mut last_keys, mut last_bytes) = (0i64, 0i64);
        let mut measured_at = 0u64;
        let mut peak = (0i64, 0i64);
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
                let (mut keys, mut bytes) = (0usize, 0usize);
                trace.map_spans(|s| {
                    if let Some(b) = &s.inner {
                        let k = &b.storage.keys;
                        keys += k.len();
                        bytes += k
                            .iter()
                            .map(|(_, key)| std::mem::size_of::<DimKey>() + key.len())
                            .sum::<usize>();
                        bytes += b.storage.vals.vals.len() * (8 + 4);
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
                    peak = (bytes, keys);
                }
            });

        let notes = queries.arrange_by_key_named("AggregateQueries").join_core(
            figures,
            |key: &DimKey, q: &Query, f: &(u32, u32)| {
                Some((
                    q.1.clone(),
                    q.0.clone(),
                    q.2,
                    AggregateFigure {
                        dim: key.0,
                        key: key.1.clone(),
                        requests: f.0,
                        clients: f.1,
                    },
                ))
            },
        );
        (events, notes.inner)
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
