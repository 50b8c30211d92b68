//! The analysis graph, from envelopes to sinks.

use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange as ExchangePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Exchange, OkErr};
use timely::dataflow::StreamVec;

use sentinel_models::classifier::PayloadClassifier;
use sentinel_operators::analyze::{AnalyzeConfig, AnalyzedEvent, EventAnalyzer};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::InferConfig;
use sentinel_operators::policy::{PolicyConfig, RuleRegistry};
use sentinel_operators::rulegen::{candidates, RuleCandidate};
use sentinel_operators::timely_ops::{OrderedSink, ScoreBehaviour, SortKey, TimeStash};
use sentinel_operators::window::WindowConfig;
use sentinel_schema::{
    DeadLetter, EvidenceEvent, EvidenceReady, Provenance, Verdict, WafRule, SCHEMA_VERSION,
};
use sentinel_sinks::OutputKind;

use crate::{Counters, Envelope};

/// Everything the graph's stages are configured with.
#[derive(Clone, Copy, Debug, Default)]
pub struct GraphConfig {
    /// The stateless stage.
    pub analyze: AnalyzeConfig,
    /// Behaviour windows.
    pub window: WindowConfig,
    /// Score combination and thresholds.
    pub infer: InferConfig,
    /// Rule policy.
    pub policy: PolicyConfig,
    /// Timestamp bucket width, ms.
    pub bucket_ms: u64,
}

/// A batch of ordered, serialized records for a sink (`done` marks the end).
pub type SinkWriter = Box<dyn FnMut(Vec<(SortKey, Vec<u8>)>, bool)>;

/// A decoded event on its way to analysis: the event, where it came from, whether it is late.
type EventInFlight = (Box<EvidenceEvent>, Provenance, bool);

/// Creates the writer of each output kind on a worker. Writers are called
/// on worker 0 only, with ordered batches, and once more with `done = true`.
pub trait SinkFactory: Send + Sync {
    /// The writer for `kind`.
    fn writer(&self, worker: usize, kind: OutputKind) -> SinkWriter;
}

fn key(p: &Provenance, event_time_ms: i64, sub: u32) -> SortKey {
    (
        event_time_ms,
        sentinel_operators::timely_ops::route(&p.source),
        p.partition.unwrap_or(-1),
        p.offset,
        sub,
    )
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Our own types always serialize; an empty line would be visible if not.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Spreads records over workers by their provenance (load balance for the stateless stage).
fn spread(p: &Provenance) -> u64 {
    p.offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ sentinel_operators::timely_ops::route(&p.source)
}

/// Builds the analysis graph over `envelopes` on this worker.
#[allow(clippy::too_many_arguments)]
pub fn build_analysis<'scope>(
    envelopes: StreamVec<'scope, u64, Envelope>,
    config: GraphConfig,
    classifier: Arc<dyn PayloadClassifier>,
    enrichment: Arc<EnrichmentTables>,
    counters: Arc<Counters>,
    sinks: &dyn SinkFactory,
    worker: usize,
) {
    let (events, dead): (
        StreamVec<'scope, u64, EventInFlight>,
        StreamVec<'scope, u64, Box<DeadLetter>>,
    ) = envelopes.ok_err(|e| match e {
        Envelope::Event {
            event,
            provenance,
            late,
        } => Ok((event, provenance, late)),
        Envelope::Dead(d) => Err(d),
    });

    // Dead letters.
    let c = counters.clone();
    dead.map(move |d| {
        c.dead_letter(d.reason.as_str());
        (key(&d.provenance, 0, 0), json(&d))
    })
    .ordered_sink(
        "DeadLetterSink",
        sinks.writer(worker, OutputKind::DeadLetters),
    );

    // The stateless stage, spread over all workers.
    let mut analyzer = EventAnalyzer::new(config.analyze, classifier, enrichment);
    let analyzed: StreamVec<'scope, u64, AnalyzedEvent> = events
        .exchange(|(_, p, _)| spread(p))
        .map(move |(event, provenance, late)| analyzer.analyze(*event, provenance, late));

    // Evidence ready.
    let c = counters.clone();
    analyzed
        .clone()
        .map(move |a| {
            c.evidence_ready
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let ready = EvidenceReady {
                evidence_id: a.evidence_id.clone(),
                event_time_ms: a.event_time_ms,
                client_key: a.client_key.clone(),
                method: a.method.clone(),
                path: a.path.clone(),
                payload_count: a.payload_count,
                package_verified: a.package_verified,
                enrichment: a.enrichment.clone(),
                limits_hit: a.limits_hit.clone(),
                schema_version: SCHEMA_VERSION,
                provenance: a.provenance.clone(),
            };
            (key(&a.provenance, a.event_time_ms, 0), json(&ready))
        })
        .ordered_sink(
            "EvidenceReadySink",
            sinks.writer(worker, OutputKind::EvidenceReady),
        );

    // Behaviour windows and inference, keyed by client.
    let verdicts = analyzed.score_behaviour(
        config.window,
        config.infer,
        config.bucket_ms,
        counters.window.clone(),
    );

    let c = counters.clone();
    verdicts
        .clone()
        .map(move |v: Verdict| {
            c.verdict(v.decision, v.label);
            (key(&v.provenance, v.event_time_ms, 0), json(&v))
        })
        .ordered_sink("VerdictSink", sinks.writer(worker, OutputKind::Verdicts));

    // Rule generation, then policy on worker 0 in a deterministic order.
    let min_score = config.infer.tag_threshold;
    let policy = config.policy;
    let c = counters.clone();
    verdicts
        .flat_map(move |v: Verdict| candidates(&v, min_score))
        .unary_frontier(
            ExchangePact::new(|_: &RuleCandidate| 0u64),
            "RulePolicy",
            move |_cap, _info| {
                let mut stash: TimeStash<RuleCandidate> = TimeStash::default();
                let mut registry = RuleRegistry::new(policy);
                move |(input, frontier), output| {
                    input.for_each_stamp(|cap, data| {
                        if let Some(&t) = cap.least() {
                            let port = output.output_index();
                            stash.add(t, || cap.retain_least(port), data.flat_map(|v| v.drain(..)));
                        }
                    });
                    for (_, cap, mut batch) in stash.ready(frontier) {
                        let Some(cap) = cap else {
                            continue;
                        };
                        batch.sort_by(|a, b| {
                            a.order
                                .cmp(&b.order)
                                .then_with(|| a.rule_id.cmp(&b.rule_id))
                        });
                        let mut session = output.session(&cap);
                        for (i, rule) in registry.admit(batch).into_iter().enumerate() {
                            c.rule(rule.status);
                            session.give((i as u32, rule));
                        }
                    }
                }
            },
        )
        .map(|(i, r): (u32, WafRule)| ((r.created_at_ms, 0, -1, 0, i), json(&r)))
        .ordered_sink("RuleSink", sinks.writer(worker, OutputKind::Rules));
}
