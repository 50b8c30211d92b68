//! The keyed, frontier-driven behaviour + inference operator.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::StreamVec;

use sentinel_models::anomaly::{BehaviourScoreMemo, BehaviourScorer};
use sentinel_schema::Verdict;

use super::aggregates::AggregateNote;
use super::Wire;
use super::{processing_order, route, TimeStash};
use crate::aggregate_window::AggregateFigure;
use crate::analyze::AnalyzedEvent;
use crate::infer::{verdict_scored, InferConfig};
use crate::window::{BehaviourWindows, WindowConfig};

/// Gauges the operator updates (shared with metrics and progress displays).
#[derive(Debug, Default)]
pub struct WindowGauges {
    /// Keys with live window state (summed over workers).
    pub active_keys: std::sync::atomic::AtomicI64,
    /// Approximate bytes of window state (summed over workers).
    pub state_bytes: std::sync::atomic::AtomicI64,
    /// Late events seen.
    pub late: std::sync::atomic::AtomicU64,
    /// Aggregate keys (prefix, AS, User-Agent, session) in the
    /// arrangements of the aggregate windows (summed over workers).
    pub aggregate_keys: std::sync::atomic::AtomicI64,
    /// Approximate bytes of the aggregate windows' arranged state (summed over workers).
    pub aggregate_bytes: std::sync::atomic::AtomicI64,
    /// Each worker's largest `aggregate_bytes` so far, summed over workers.
    pub aggregate_peak_bytes: std::sync::atomic::AtomicI64,
    /// `aggregate_keys` at each worker's largest state, summed over workers.
    pub aggregate_peak_keys: std::sync::atomic::AtomicI64,
    /// (key, client) pairs at each worker's largest state, summed over workers.
    pub aggregate_peak_pairs: std::sync::atomic::AtomicI64,
    /// Behaviour scores taken from a worker's memo of recent feature
    /// vectors ([`BehaviourScoreMemo`]), summed over workers.
    pub score_memo_hits: std::sync::atomic::AtomicU64,
    /// Behaviour scores computed (the memo had not seen the vector).
    pub score_memo_misses: std::sync::atomic::AtomicU64,
}

/// Scores behaviour per client key and produces verdicts.
pub trait ScoreBehaviour<'scope> {
    /// Exchanges events and their aggregate notes (see
    /// [`super::AggregateStage`]) by client key, keeps each key's
    /// event-time window, and emits one verdict per event when both
    /// frontiers pass its bucket.
    fn score_behaviour(
        self,
        notes: Option<StreamVec<'scope, u64, AggregateNote>>,
        window: WindowConfig,
        infer: InferConfig,
        scorer: BehaviourScorer,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, Verdict>;
}

impl<'scope> ScoreBehaviour<'scope> for super::BoxedEvents<'scope> {
    fn score_behaviour(
        self,
        notes: Option<StreamVec<'scope, u64, AggregateNote>>,
        window: WindowConfig,
        infer: InferConfig,
        scorer: BehaviourScorer,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, Verdict> {
        let pact = Exchange::new(|e: &Wire<Box<AnalyzedEvent>>| route(&e.0.client_key));
        let notes = notes
            .unwrap_or_else(|| timely::dataflow::operators::generic::operator::empty(self.scope()));
        let note_pact = Exchange::new(|n: &AggregateNote| route(&n.0));
        self.map(Wire).binary_frontier(notes, pact, note_pact, "ScoreBehaviour", move |_cap, _info| {
            let mut stash: TimeStash<Box<AnalyzedEvent>> = TimeStash::default();
            let mut answers = NoteStash::default();
            let mut windows = BehaviourWindows::new(window);
            let mut memo = BehaviourScoreMemo::default();
            let (mut last_keys, mut last_bytes, mut last_late) = (0i64, 0i64, 0u64);
            let mut last_memo = (0u64, 0u64);
            move |(input, frontier), (note_input, note_frontier), output| {
                note_input.for_each_stamp(|_, data| {
                    for v in data {
                        answers.add(v.drain(..));
                    }
                });
                stash.take_input(input, output.output_index(), Wire::into_inner);
                let ready = stash.ready_all(&[frontier, note_frontier]);
                tracing::trace!(frontier = ?frontier.frontier().to_vec(), ready = ready.len(), held = stash.len(), "behaviour operator");
                if ready.is_empty() {
                    return;
                }
                for (time, cap, mut events) in ready {
                    let Some(cap) = cap else {
                        continue;
                    };
                    events.sort_by(|a, b| processing_order(a).cmp(&processing_order(b)));
                    let mut figures = answers.take(time);
                    let mut session = output.session(&cap);
                    for ev in &mut events {
                        if let Some(f) = figures.get_mut(&ev.evidence_id) {
                            ev.aggregates = f.clone();
                        }
                        let features = windows.observe(ev);
                        let raw = memo.score(&scorer, &features);
                        session.give(verdict_scored(ev, &features, raw, &scorer, &infer));
                    }
                    let bucket_end = (time as i64 + 1).saturating_mul(bucket_ms as i64);
                    windows.expire(bucket_end);
                }
                let (keys, bytes, late) = (
                    windows.active_keys() as i64,
                    windows.state_bytes() as i64,
                    windows.late(),
                );
                gauges
                    .active_keys
                    .fetch_add(keys - last_keys, Ordering::Relaxed);
                gauges
                    .state_bytes
                    .fetch_add(bytes - last_bytes, Ordering::Relaxed);
                gauges.late.fetch_add(late - last_late, Ordering::Relaxed);
                (last_keys, last_bytes, last_late) = (keys, bytes, late);
                let (hits, misses) = memo.stats();
                gauges
                    .score_memo_hits
                    .fetch_add(hits - last_memo.0, Ordering::Relaxed);
                gauges
                    .score_memo_misses
                    .fetch_add(misses - last_memo.1, Ordering::Relaxed);
                last_memo = (hits, misses);
            }
        })
    }
}

/// The aggregate answers received, by timestamp, until their events are scored.
#[derive(Default)]
struct NoteStash {
    by_time: BTreeMap<u64, Vec<AggregateNote>>,
}

impl NoteStash {
    fn add(&mut self, notes: impl Iterator<Item = AggregateNote>) {
        for note in notes {
            self.by_time.entry(note.2).or_default().push(note);
        }
    }

    /// The answers of `time` by evidence id, figures sorted by dimension.
    fn take(&mut self, time: u64) -> HashMap<String, Vec<AggregateFigure>> {
        // Drop anything older: its events have been scored.
        while let Some(entry) = self.by_time.first_entry() {
            if *entry.key() >= time {
                break;
            }
            entry.remove();
        }
        let mut out: HashMap<String, Vec<AggregateFigure>> = HashMap::new();
        for (_, evidence_id, _, figure) in self.by_time.remove(&time).unwrap_or_default() {
            out.entry(evidence_id).or_default().push(figure);
        }
        for figures in out.values_mut() {
            figures.sort();
            figures.dedup_by(|a, b| a.dim == b.dim && a.key == b.key);
        }
        out
    }
}
