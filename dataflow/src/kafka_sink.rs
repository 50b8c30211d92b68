//! Kafka sinks that hold each timestamp until its messages are delivered.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::{Capability, Probe};
use timely::dataflow::StreamVec;

use sentinel_sinks::kafka::KafkaProducer;
use sentinel_sinks::OutputKind;

use crate::graph::OutStream;
use crate::GraphOutputs;

/// Output topic names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputTopics {
    /// `events.evidence_ready`.
    pub evidence_ready: String,
    /// `events.sentinel_verdict`.
    pub verdict: String,
    /// `events.sim_result`.
    pub sim_result: String,
    /// `events.rule_generated`.
    pub rule_generated: String,
    /// `events.dead_letter`.
    pub dead_letter: String,
}

impl Default for OutputTopics {
    fn default() -> Self {
        OutputTopics {
            evidence_ready: OutputKind::EvidenceReady.default_topic().into(),
            verdict: OutputKind::Verdicts.default_topic().into(),
            sim_result: OutputKind::SimResults.default_topic().into(),
            rule_generated: OutputKind::Rules.default_topic().into(),
            dead_letter: OutputKind::DeadLetters.default_topic().into(),
        }
    }
}

impl OutputTopics {
    /// The topic of an output kind.
    pub fn topic(&self, kind: OutputKind) -> &str {
        match kind {
            OutputKind::EvidenceReady => &self.evidence_ready,
            OutputKind::Verdicts => &self.verdict,
            OutputKind::SimResults => &self.sim_result,
            OutputKind::Rules => &self.rule_generated,
            OutputKind::DeadLetters => &self.dead_letter,
        }
    }

    /// Every topic.
    pub fn all(&self) -> Vec<&str> {
        OutputKind::ALL.iter().map(|k| self.topic(*k)).collect()
    }
}

/// The record type header of an output kind.
fn record_type(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Verdicts => "verdict",
        OutputKind::Rules => "waf_rule",
        OutputKind::EvidenceReady => "evidence_ready",
        OutputKind::DeadLetters => "dead_letter",
        OutputKind::SimResults => "sim_result",
    }
}

/// Produces an output stream to Kafka; the returned stream carries no data
/// but holds each timestamp until every message at it has been delivered.
fn kafka_sink<'scope>(
    stream: OutStream<'scope>,
    kind: OutputKind,
    topic: String,
    producer: Rc<RefCell<KafkaProducer>>,
    fatal: Arc<Mutex<Option<String>>>,
) -> StreamVec<'scope, u64, ()> {
    let name = format!("KafkaSink({topic})");
    let scope = stream.scope();
    stream.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, &name, move |_cap, info| {
        let activator = scope.activator_for(info.address);
        let mut held: BTreeMap<u64, Capability<u64>> = BTreeMap::new();
        move |(input, frontier), output| {
            let port = output.output_index();
            input.for_each_stamp(|cap, data| {
                let Some(&t) = cap.least() else {
                    return;
                };
                if let std::collections::btree_map::Entry::Vacant(slot) = held.entry(t) {
                    if let Some(c) = cap.retain_least(port) {
                        slot.insert(c);
                    }
                }
                let mut p = producer.borrow_mut();
                for batch in data {
                    for (_, rec) in batch.drain(..) {
                        if let Err(e) = p.send(&topic, record_type(kind), t, &rec.key, &rec.value) {
                            set_fatal(&fatal, e.to_string());
                        }
                    }
                }
            });
            let p = producer.borrow();
            p.poll();
            tracing::trace!(topic = %topic, held = held.len(), counts = ?p.counts(), frontier = ?frontier.frontier().to_vec(), "kafka sink");
            if let Some(f) = p.failure() {
                // Never acknowledge after a failed delivery: offsets stay uncommitted.
                set_fatal(&fatal, format!("delivery to {topic} failed: {f}"));
                return;
            }
            held.retain(|t, _| frontier.less_equal(t) || !p.acknowledged(*t));
            if !held.is_empty() {
                activator.activate_after(Duration::from_millis(2));
            }
        }
    })
}

fn set_fatal(slot: &Arc<Mutex<Option<String>>>, msg: String) {
    if let Ok(mut f) = slot.lock() {
        if f.is_none() {
            *f = Some(msg);
        }
    }
}

impl<'scope> GraphOutputs<'scope> {
    /// Produces every output to its topic from every worker, and attaches the
    /// acknowledgement streams to `acked`.
    pub fn write_kafka(
        self,
        topics: &OutputTopics,
        producer: Rc<RefCell<KafkaProducer>>,
        acked: &ProbeHandle<u64>,
        fatal: Arc<Mutex<Option<String>>>,
    ) {
        for (kind, stream) in self.into_streams() {
            kafka_sink(
                stream,
                kind,
                topics.topic(kind).to_string(),
                producer.clone(),
                fatal.clone(),
            )
            .probe_with(acked);
        }
    }
}
