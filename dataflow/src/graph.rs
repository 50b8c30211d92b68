//! The analysis graph, from envelopes to sinks.

use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::channels::pact::Exchange as ExchangePact;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concat, Exchange, OkErr};
use timely::dataflow::StreamVec;

use sentinel_models::bundle::ModelWatch;
use sentinel_models::ModelBundle;
use sentinel_operators::analyze::{AnalyzeConfig, AnalyzedEvent, EventAnalyzer};
use sentinel_operators::client_key::client_key;
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::InferConfig;
use sentinel_operators::policy::{PolicyConfig, RuleRegistry};
use sentinel_operators::rule_guard::{guard_batch, RuleGuard};
use sentinel_operators::rulegen::{candidates_with_sims, RuleCandidate};
use sentinel_operators::simulate::{
    simulate_verdict, simulation_targets, SimJob, SimulateConfig, Simulator,
};
use sentinel_operators::timely_ops::AggregateStage;
use sentinel_operators::timely_ops::{
    NamedMap, OrderedSink, ScoreBehaviour, SortKey, TimeStash, Wire,
};
use sentinel_operators::window::WindowConfig;
use sentinel_schema::{
    AuditHook, DeadLetter, EvidenceEvent, NoAudit, Provenance, SimResult, Verdict, WafRule,
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
    /// Threat-twin simulation of `simulate` verdicts.
    pub simulate: SimulateConfig,
    /// Timestamp bucket width, ms.
    pub bucket_ms: u64,
}

/// Services the graph's stages share: the threat-twin simulator, the
/// benign-corpus rule guard and the audit log.
#[derive(Clone)]
pub struct GraphServices {
    /// Threat-twin simulation (`None`: no simulation).
    pub simulator: Option<Arc<Simulator>>,
    /// Benign-corpus check of rule candidates (`None`: unchecked).
    pub rule_guard: Option<Arc<RuleGuard>>,
    /// Where policy decisions are recorded.
    pub audit: Arc<dyn AuditHook>,
    /// Live models: when set, the analyze stage follows its swaps (as
    /// timestamped updates broadcast through the graph).
    pub model_watch: Option<Arc<ModelWatch>>,
    /// A recorded run's model switches to replay instead of following the
    /// watch (whose preloaded bundles they name).
    pub model_schedule: Option<Arc<crate::model_updates::ModelSchedule>>,
}

impl Default for GraphServices {
    fn default() -> Self {
        GraphServices {
            simulator: None,
            rule_guard: None,
            audit: Arc::new(NoAudit),
            model_watch: None,
            model_schedule: None,
        }
    }
}

/// A batch of ordered, serialized records for a sink (`done` marks the end).
pub type SinkWriter = Box<dyn FnMut(Vec<(SortKey, Vec<u8>)>, bool)>;

/// A decoded event on its way to analysis: the event, where it came from,
/// whether it is late, whether its package was verified.
type EventInFlight = (Box<EvidenceEvent>, Provenance, bool, bool);

/// Creates the writer of each output kind. A kind's writer exists on one
/// worker only (see [`GraphOutputs::write_ordered`]); it gets ordered
/// batches, and once more an empty one with `done = true`.
pub trait SinkFactory: Send + Sync {
    /// The writer for `kind`.
    fn writer(&self, kind: OutputKind) -> SinkWriter;
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

/// The most a thread's serialization buffer keeps between lines.
const SCRATCH_KEEP_BYTES: usize = 1 << 20;

/// `v` as a JSON line. Serialized into a buffer each thread keeps, then
/// copied out at its length: one allocation per line, where growing a
/// fresh vector to a verdict's 500-odd bytes took four and three copies.
fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            // Our own types always serialize; an empty line would be visible if not.
            let line = match serde_json::to_writer(&mut *buf, v) {
                Ok(()) => buf.as_slice().to_vec(),
                Err(_) => Vec::new(),
            };
            // A rare huge record (a long explanation) does not stay
            // allocated for the thread's life.
            if buf.capacity() > SCRATCH_KEEP_BYTES {
                *buf = Vec::new();
            }
            line
        }
        Err(_) => serde_json::to_vec(v).unwrap_or_default(),
    })
}

/// An output line: its sort key and record.
type Line = (SortKey, OutRecord);

/// One part of a verdict on its way out: its own line (`Ok(Ok)`), a
/// simulation's line (`Ok(Err)`), or a rule candidate (`Err`).
type VerdictPart = Result<Result<Line, Line>, Wire<RuleCandidate>>;

/// The parts of one verdict: its line, its simulations' lines (sub-keys
/// 0, 1, … after the verdict's sort key) and its rule candidates.
fn verdict_parts(v: Verdict, sims: Vec<SimResult>, min_score: f32) -> Vec<VerdictPart> {
    let mut parts = Vec::with_capacity(1 + sims.len());
    for c in candidates_with_sims(&v, min_score, &sims) {
        parts.push(Err(Wire(c)));
    }
    for (i, s) in sims.iter().enumerate() {
        parts.push(Ok(Err((
            key(&v.provenance, v.event_time_ms, i as u32),
            OutRecord {
                key: s.evidence_id.clone(),
                value: json(s),
            },
        ))));
    }
    parts.push(Ok(Ok((
        key(&v.provenance, v.event_time_ms, 0),
        OutRecord {
            value: json(&v),
            key: v.evidence_id,
        },
    ))));
    parts
}

/// A record's hash by its provenance: what [`spread_events`] routes by, and
/// what a file reader's dealer maps to a worker.
pub(crate) fn spread(p: &Provenance) -> u64 {
    p.offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ sentinel_operators::timely_ops::route(&p.source)
}

/// The route hash of an event's client: what the windows exchange it by.
pub(crate) fn client_route(event: &sentinel_schema::EvidenceEvent) -> u64 {
    sentinel_operators::timely_ops::route(&client_key(event))
}

/// Spreads the events over all workers, for sources that do not place
/// their records themselves (Kafka: a worker's partitions may carry more
/// than its share): each event goes to the worker that holds its client's
/// windows, so that its analyzed form stays where it is made, unless that
/// would give a worker more than its share (a hot client), when it is
/// dealt by its provenance instead (see [`crate::dealing`]). Dead letters
/// stay where they are.
pub fn spread_events<'scope>(
    envelopes: StreamVec<'scope, u64, Envelope>,
) -> StreamVec<'scope, u64, Envelope> {
    let scope = envelopes.scope();
    let (here, peers) = (scope.index(), scope.peers());
    let even = 1.0 / peers.max(1) as f64;
    let mut balance = crate::dealing::Balance::new(peers);
    envelopes
        .map(Wire)
        .exchange(move |w: &Wire<Envelope>| match &w.0 {
            Envelope::Event {
                provenance, event, ..
            } => balance.route(
                spread(provenance),
                Some(client_route(event)),
                even,
                here,
                peers,
            ),
            // A route below `peers` is the worker itself.
            Envelope::Dead(_) => here as u64,
        })
        .map(Wire::into_inner)
}

/// A serialized output record with its Kafka key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutRecord {
    /// Message key (evidence id, rule id, or `source:partition:offset` for dead letters).
    pub key: String,
    /// JSON value.
    pub value: Vec<u8>,
}

/// An output stream: records with their deterministic order.
pub type OutStream<'scope> = StreamVec<'scope, u64, (SortKey, OutRecord)>;

/// The graph's outputs, serialized, before any sink is attached.
pub struct GraphOutputs<'scope> {
    /// Dead letters (`events.dead_letter`).
    pub dead_letters: OutStream<'scope>,
    /// Evidence ready (`events.evidence_ready`).
    pub evidence_ready: OutStream<'scope>,
    /// Verdicts (`events.sentinel_verdict`).
    pub verdicts: OutStream<'scope>,
    /// Rules (`events.rule_generated`).
    pub rules: OutStream<'scope>,
    /// Simulation results (`events.sim_result`).
    pub sim_results: OutStream<'scope>,
}

impl<'scope> GraphOutputs<'scope> {
    /// The streams with the output kind each one carries.
    pub fn into_streams(self) -> [(OutputKind, OutStream<'scope>); 5] {
        [
            (OutputKind::DeadLetters, self.dead_letters),
            (OutputKind::EvidenceReady, self.evidence_ready),
            (OutputKind::Verdicts, self.verdicts),
            (OutputKind::Rules, self.rules),
            (OutputKind::SimResults, self.sim_results),
        ]
    }

    /// Writes every output through ordered sinks (files). The kinds are
    /// dealt over the first `writers` workers (in a cluster, process 0's:
    /// one process holds every output file), so that
    /// no single worker writes everything: with two workers, evidence-ready
    /// records are written by worker 1 and verdicts by worker 0.
    /// `done` is told what the sinks have received (a file source's bound
    /// on the records in flight reads it).
    pub fn write_ordered(
        self,
        sinks: &dyn SinkFactory,
        worker: usize,
        writers: usize,
        done: &timely::dataflow::operators::probe::Handle<u64>,
    ) {
        for (i, (kind, stream)) in self.into_streams().into_iter().enumerate() {
            let stream = timely::dataflow::operators::Probe::probe_with(stream, done);
            let writer_worker = i % writers.max(1);
            let writer: SinkWriter = if worker == writer_worker {
                sinks.writer(kind)
            } else {
                Box::new(|_, _| {})
            };
            stream
                .map(|(k, r)| (k, r.value))
                .ordered_sink(kind.file_name(), writer_worker, writer);
        }
    }
}

/// The dead-letter key: where the record came from.
fn dead_letter_key(p: &Provenance) -> String {
    match p.partition {
        Some(part) => format!("{}:{}:{}", p.source, part, p.offset),
        None => format!("{}:{}", p.source, p.offset),
    }
}

/// Builds the analysis graph over `envelopes` on this worker and returns its
/// outputs. The events are analyzed on the worker they arrive on: the
/// source places them (the file source deals them, Kafka's go through
/// [`spread_events`]).
pub fn build_analysis<'scope>(
    envelopes: StreamVec<'scope, u64, Envelope>,
    config: GraphConfig,
    models: Arc<ModelBundle>,
    enrichment: Arc<EnrichmentTables>,
    services: GraphServices,
    counters: Arc<Counters>,
) -> GraphOutputs<'scope> {
    let GraphServices {
        simulator,
        rule_guard,
        audit,
        model_watch,
        model_schedule,
    } = services;
    let scope = envelopes.scope();
    let input_probe = timely::dataflow::operators::probe::Handle::new();
    let envelopes = timely::dataflow::operators::Probe::probe_with(envelopes, &input_probe);
    let (events, dead): (
        StreamVec<'scope, u64, EventInFlight>,
        StreamVec<'scope, u64, Box<DeadLetter>>,
    ) = envelopes.ok_err(|e| match e {
        Envelope::Event {
            event,
            provenance,
            late,
            verified,
        } => Ok((event, provenance, late, verified)),
        Envelope::Dead(d) => Err(d),
    });

    // Dead letters.
    let c = counters.clone();
    let dead_letters = dead.map(move |d| {
        c.dead_letter(d.reason.as_str());
        (
            key(&d.provenance, 0, 0),
            OutRecord {
                key: dead_letter_key(&d.provenance),
                value: json(&d),
            },
        )
    });

    // The stateless stage, spread over all workers.
    let scorer = models.behaviour.clone();
    let analyze_config = AnalyzeConfig {
        explain: config.infer.explain.on(),
        ..config.analyze
    };
    // One payload memo per process: a value is scored once, whichever
    // worker sees it.
    let analyzer = EventAnalyzer::sharing(
        analyze_config,
        models,
        enrichment,
        counters.payload_memos.clone(),
    );
    // Records are analyzed where their source placed them (see
    // `spread_events`; a file's reader deals them), and the time the stage
    // takes is added to the worker's clock (the reader's dealer reads it).
    let clock = counters.worker_clocks.for_worker(scope.index());
    let analyze_clock = clock.clone();
    let analyze = move |a: &mut EventAnalyzer,
                        (event, provenance, late, verified): EventInFlight| {
        let started = Instant::now();
        let analyzed = a.analyze(*event, provenance, late, verified);
        analyze_clock.add_stage(started.elapsed(), 1);
        analyzed
    };
    let analyzed: StreamVec<'scope, u64, AnalyzedEvent> = match model_watch {
        // Live models: switches travel through the graph as timestamped updates.
        Some(watch) => {
            let bucket_ms = config.bucket_ms;
            let audit = audit.clone();
            let updates = match model_schedule {
                Some(schedule) => crate::model_updates::scheduled_updates(scope, schedule),
                None => crate::model_updates::model_updates(
                    scope,
                    input_probe,
                    watch.clone(),
                    move |t, bundle, initial| {
                        let from_ms = (t as i64).saturating_mul(bucket_ms as i64);
                        let id = bundle.describe();
                        if !initial {
                            eprintln!("sentinel: model update at timestamp {t} (event time {from_ms} ms on): {id}");
                        }
                        let canary = bundle.payload.canary.as_ref().map(
                            |(c, p)| serde_json::json!({"version": c.version(), "percent": p}),
                        );
                        audit.audit(
                            "system",
                            "model.update",
                            &id,
                            serde_json::json!({"timestamp": t, "event_time_ms_from": from_ms,
                                "bucket_ms": bucket_ms, "initial": initial,
                                "active": bundle.payload.active.version(), "canary": canary}),
                        );
                    },
                ),
            };
            crate::model_updates::analyze_with_updates(
                events.map(Wire),
                updates,
                watch,
                analyzer,
                analyze,
            )
        }
        None => {
            let mut analyzer = analyzer;
            events.map_named("Analyze", move |e| analyze(&mut analyzer, e))
        }
    };

    // Evidence ready, made in one pass with the analysis going on, and
    // `ok_err` moves each to its stream (two consumers of `analyzed` would
    // have been handed a deep copy of every analyzed event).
    let c = counters.clone();
    // Events travel by value through the graph; `ok_err` only routes them.
    #[allow(clippy::result_large_err)]
    let (evidence_ready, analyzed) = analyzed
        .flat_map_named("EvidenceReady", move |a: AnalyzedEvent| {
            c.evidence_ready
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = Instant::now();
            let line: Line = (
                key(&a.provenance, a.event_time_ms, 0),
                OutRecord {
                    key: a.evidence_id.clone(),
                    value: json(&a.evidence_ready_ref()),
                },
            );
            clock.add_stage(started.elapsed(), 0);
            // Boxed: the event is moved into several containers and
            // sorted before it is scored (see `AggregateStage`).
            [Ok(line), Err(Box::new(a))]
        })
        .ok_err(|part| part);

    // Behaviour windows and inference, keyed by client.
    let (analyzed, aggregate_notes) = analyzed.aggregate_windows(
        config.infer.aggregate_dims(),
        config.window,
        config.bucket_ms,
        counters.window.clone(),
    );
    let verdicts = analyzed.score_behaviour(
        aggregate_notes,
        config.window,
        config.infer,
        scorer,
        config.bucket_ms,
        counters.window.clone(),
    );

    // Simulation of `simulate` verdicts, spread over the workers by evidence
    // id: the twins are the costliest step, and the clients whose verdicts
    // need them are few (one attacker's verdicts all reach the worker that
    // holds its key). Which worker runs a twin changes no output.
    let sim_config = config.simulate;
    let needs_twins = simulator.is_some();
    // Verdicts travel by value through the graph; `ok_err` only routes them.
    #[allow(clippy::result_large_err)]
    let (to_simulate, plain) = verdicts.ok_err(move |v: Verdict| {
        if needs_twins && !simulation_targets(&v, &sim_config).is_empty() {
            Ok(Wire(SimJob::new(v)))
        } else {
            Err(v)
        }
    });
    let c = counters.clone();
    let simulated = to_simulate
        .exchange(|w: &Wire<SimJob>| sentinel_operators::timely_ops::route(w.0.evidence_id()))
        .map_named("Simulate", move |Wire(job)| {
            let v = job.into_verdict();
            let sims = match &simulator {
                Some(s) => simulate_verdict(s, &v, &sim_config),
                None => Vec::new(),
            };
            for s in &sims {
                c.simulation(s.exploit, s.error.is_some());
            }
            if let (Some(s), false) = (&simulator, sims.is_empty()) {
                let stats = s.cache_stats();
                c.simulation_cache(stats.hits, stats.misses);
            }
            (v, sims)
        });
    let verdicts = plain.map(|v: Verdict| (v, Vec::new())).concat(simulated);

    // One pass over each verdict makes its three outputs — its line, its
    // simulations' lines, its rule candidates — and `ok_err` moves each to
    // its stream. (Three consumers of `verdicts` would each have been
    // handed a deep copy of every verdict but the last.)
    let min_score = config.infer.tag_threshold;
    let c = counters.clone();
    // The parts travel by value; `ok_err` only routes them.
    #[allow(clippy::result_large_err)]
    let (lines, candidates): (StreamVec<_, Result<Line, Line>>, _) = verdicts
        .flat_map_named(
            "VerdictParts",
            move |(v, sims): (Verdict, Vec<SimResult>)| {
                c.verdict_scored(&v);
                verdict_parts(v, sims, min_score)
            },
        )
        .ok_err(|part: VerdictPart| part);
    let (verdict_out, sim_results): (OutStream<'_>, OutStream<'_>) = lines.ok_err(|line| line);

    // Rule generation, then policy on worker 0 in a deterministic order.
    let policy = config.policy;
    let c = counters.clone();
    let rules = candidates.unary_frontier(
            ExchangePact::new(|_: &Wire<RuleCandidate>| 0u64),
            "RulePolicy",
            move |_cap, _info| {
                let mut stash: TimeStash<RuleCandidate> = TimeStash::default();
                let mut registry = RuleRegistry::new(policy);
                move |(input, frontier), output| {
                    stash.take_input(input, output.output_index(), Wire::into_inner);
                    for (_, cap, mut batch) in stash.ready(frontier) {
                        let Some(cap) = cap else {
                            continue;
                        };
                        batch.sort_by(|a, b| {
                            a.order
                                .cmp(&b.order)
                                .then_with(|| a.rule_id.cmp(&b.rule_id))
                        });
                        let batch = match &rule_guard {
                            Some(g) => {
                                let (kept, rejected) = guard_batch(g, batch, audit.as_ref());
                                c.rules_rejected
                                    .fetch_add(rejected as u64, std::sync::atomic::Ordering::Relaxed);
                                kept
                            }
                            None => batch,
                        };
                        let mut session = output.session(&cap);
                        for (i, rule) in registry.admit(batch).into_iter().enumerate() {
                            c.rule(rule.status);
                            audit.audit(
                                "policy",
                                &format!("rule.{}", rule.status.as_str()),
                                &rule.rule_id,
                                serde_json::json!({"modsec_id": rule.modsec_id, "version": rule.version,
                                    "class": rule.class.as_str(), "confidence": rule.confidence,
                                    "pattern": rule.pattern, "evidence_ids": rule.provenance.evidence_ids,
                                    "sim_ids": rule.provenance.sim_ids}),
                            );
                            session.give((i as u32, rule));
                        }
                    }
                }
            },
        )
        .map(|(i, r): (u32, WafRule)| {
            (
                (r.created_at_ms, 0, -1, 0, i),
                OutRecord {
                    key: r.rule_id.clone(),
                    value: json(&r),
                },
            )
        });

    GraphOutputs {
        dead_letters,
        evidence_ready,
        verdicts: verdict_out,
        rules,
        sim_results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_operators::dead_letter::dead_letter;
    use sentinel_schema::DeadLetterReason;
    use sentinel_sources::DecodeError;
    use std::sync::Mutex;
    use timely::dataflow::operators::vec::ToStream;
    use timely::dataflow::operators::Inspect;

    #[test]
    fn json_lines_are_whole_whatever_came_before() {
        // A small line, a line past what the thread's buffer keeps, and a
        // small one again: each is exactly what `serde_json` writes.
        let small = serde_json::json!({"a": 1, "b": "x"});
        let huge = "y".repeat(SCRATCH_KEEP_BYTES + 10);
        for _ in 0..2 {
            assert_eq!(json(&small), serde_json::to_vec(&small).unwrap());
            assert_eq!(json(&huge), serde_json::to_vec(&huge).unwrap());
        }
        assert_eq!(json(&small), br#"{"a":1,"b":"x"}"#.to_vec());
    }

    fn provenance(offset: u64) -> Provenance {
        Provenance {
            source: "events".into(),
            partition: Some(0),
            offset,
        }
    }

    /// Worker 0 holds 400 events and 5 dead letters; returns, per worker,
    /// the offsets of the events and of the dead letters it ends up with.
    /// Events 0..200 come from 20 addresses (`192.0.2.{i % 20}`), events
    /// 200..400 from one anonymous client.
    fn spread_from_worker_0() -> Vec<(usize, bool, u64)> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        timely::execute(timely::Config::process(2), move |worker| {
            let index = worker.index();
            let s = s.clone();
            worker.dataflow::<u64, _, _>(|scope| {
                let mut envelopes = Vec::new();
                if index == 0 {
                    for i in 0..400u64 {
                        let client = if i < 200 {
                            format!(r#""client":{{"ip":"192.0.2.{}"}},"#, i % 20)
                        } else {
                            String::new()
                        };
                        let line = format!(
                            r#"{{"evidence_id":"e{i}","event_time_ms":{i},{client}"request":{{"method":"GET","target":"/"}}}}"#
                        );
                        let event: sentinel_schema::EvidenceEvent =
                            serde_json::from_str(&line).expect("a valid event");
                        envelopes.push(Envelope::Event {
                            event: Box::new(event),
                            provenance: provenance(i),
                            late: false,
                            verified: false,
                        });
                    }
                    for i in 400..405u64 {
                        let e = DecodeError::new(DeadLetterReason::InvalidJson, "bad");
                        envelopes.push(Envelope::Dead(Box::new(dead_letter(
                            &e,
                            b"{",
                            1,
                            provenance(i),
                        ))));
                    }
                }
                spread_events(envelopes.to_stream(scope)).inspect_core(move |batch| {
                    let Ok((_, data)) = batch else {
                        return;
                    };
                    for e in data {
                        let (dead, offset) = match e {
                            Envelope::Event { provenance, .. } => (false, provenance.offset),
                            Envelope::Dead(d) => (true, d.provenance.offset),
                        };
                        s.lock().unwrap().push((index, dead, offset));
                    }
                });
            });
        })
        .unwrap();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_by_key(|e| e.2);
        seen
    }

    #[test]
    fn events_are_spread_and_dead_letters_stay() {
        let seen = spread_from_worker_0();
        // Every record once.
        assert_eq!(
            seen.iter().map(|e| e.2).collect::<Vec<_>>(),
            (0..405).collect::<Vec<_>>()
        );
        // Dead letters on the worker that had them.
        assert!(seen.iter().filter(|e| e.1).all(|e| e.0 == 0));
        // The addressed events went to the worker holding their client.
        for (worker, _, offset) in seen.iter().filter(|e| e.2 < 200) {
            let key = format!("ip:192.0.2.{}", offset % 20);
            let owner = sentinel_operators::timely_ops::route(&key) % 2;
            assert_eq!(*worker as u64, owner, "event {offset}");
        }
        // The anonymous flood did not pile onto one worker: each has about
        // half of the events (its share, the slack, and a margin).
        let on_1 = seen.iter().filter(|e| !e.1 && e.0 == 1).count();
        assert!((124..=276).contains(&on_1), "{on_1} of 400 on worker 1");
    }
}
