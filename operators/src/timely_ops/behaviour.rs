//! The keyed, frontier-driven behaviour + inference operator.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::StreamVec;

use sentinel_models::anomaly::BehaviourScorer;
use sentinel_schema::Verdict;

use super::Wire;
use super::{processing_order, route, TimeStash};
use crate::analyze::AnalyzedEvent;
use crate::infer::{verdict, InferConfig};
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
    /// Network prefixes with live window state (summed over workers).
    pub prefix_keys: std::sync::atomic::AtomicI64,
    /// Approximate bytes of prefix window state (summed over workers).
    pub prefix_bytes: std::sync::atomic::AtomicI64,
}

/// Scores behaviour per client key and produces verdicts.
pub trait ScoreBehaviour<'scope> {
    /// Exchanges events by client key, keeps each key's event-time window,
    /// and emits one verdict per event when the frontier passes its bucket.
    fn score_behaviour(
        self,
        window: WindowConfig,
        infer: InferConfig,
        scorer: BehaviourScorer,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, Verdict>;
}

impl<'scope> ScoreBehaviour<'scope> for StreamVec<'scope, u64, AnalyzedEvent> {
    fn score_behaviour(
        self,
        window: WindowConfig,
        infer: InferConfig,
        scorer: BehaviourScorer,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, Verdict> {
        let pact = Exchange::new(|e: &Wire<AnalyzedEvent>| route(&e.0.client_key));
        self.map(Wire).unary_frontier(pact, "ScoreBehaviour", move |_cap, _info| {
            let mut stash: TimeStash<AnalyzedEvent> = TimeStash::default();
            let mut windows = BehaviourWindows::new(window);
            let (mut last_keys, mut last_bytes, mut last_late) = (0i64, 0i64, 0u64);
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    let Some(&time) = cap.least() else {
                        return;
                    };
                    let port = output.output_index();
                    stash.add(
                        time,
                        || cap.retain_least(port),
                        data.flat_map(|v| v.drain(..).map(Wire::into_inner)),
                    );
                });
                let ready = stash.ready(frontier);
                tracing::trace!(frontier = ?frontier.frontier().to_vec(), ready = ready.len(), held = stash.len(), "behaviour operator");
                if ready.is_empty() {
                    return;
                }
                for (time, cap, mut events) in ready {
                    let Some(cap) = cap else {
                        continue;
                    };
                    events.sort_by(|a, b| processing_order(a).cmp(&processing_order(b)));
                    let mut session = output.session(&cap);
                    for ev in &events {
                        let features = windows.observe(ev);
                        session.give(verdict(ev, &features, &scorer, &infer));
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
            }
        })
    }
}
