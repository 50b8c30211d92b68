//! The timely source over a Kafka topic.
//!
//! Each worker is a member of the consumer group (so partitions spread over
//! every worker of every process) and polls a non-blocking `BaseConsumer`
//! with `poll(Duration::ZERO)` in a bounded loop, re-activating itself.
//! Timestamps are event-time buckets with a watermark per partition, as for
//! files. Input offsets are stored only once the acknowledgement probe — fed
//! by the sinks, which hold each timestamp until its messages are delivered —
//! has passed every timestamp of the records up to them (contiguous
//! high-water mark per partition); librdkafka commits stored offsets
//! periodically and on rebalance. When too many records are in flight the
//! assigned partitions are paused until the sinks catch up.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::{Scope, StreamVec};

use sentinel_operators::dead_letter::dead_letter;
use sentinel_operators::validate::{validate, ValidationLimits};
use sentinel_schema::Provenance;
use sentinel_sources::kafka::{consumer_config, decode_message, ClientSettings, OffsetTracker};

use crate::watermark::{bucket, PartitionWatermark};
use crate::{Counters, Envelope, SourceStatus};

/// Records held for the watermark (read, not yet released) may reach this
/// multiple of `max_in_flight` before the source pauses for memory's sake.
const HARD_CAP_FACTOR: usize = 8;

/// How the Kafka source behaves.
#[derive(Clone, Debug)]
pub struct KafkaSourceSettings {
    /// Connection.
    pub client: ClientSettings,
    /// Consumer group.
    pub group_id: String,
    /// Static membership: each worker joins as `<prefix>-w<worker index>`
    /// (`group.instance.id`).
    pub instance_id_prefix: Option<String>,
    /// Input topic.
    pub topic: String,
    /// Width of a timestamp bucket in event-time ms.
    pub bucket_ms: u64,
    /// Allowed out-of-orderness, ms.
    pub allowed_lateness_ms: i64,
    /// A partition without messages for this long no longer holds the watermark back.
    pub idle_timeout: Duration,
    /// Records released to the graph and not yet acknowledged above which
    /// partitions are paused (resumed at half). Records still held for the
    /// watermark count only past eight times this (a memory cap).
    pub max_in_flight: usize,
    /// Messages read per activation.
    pub batch: usize,
    /// Checks on decoded events.
    pub validation: ValidationLimits,
}

/// Partitions revoked or assigned by the group, seen by the consumer thread.
#[derive(Default)]
struct RebalanceLog {
    revoked: Mutex<Vec<i32>>,
    assigned: Mutex<Vec<i32>>,
}

/// The consumer context: records rebalances for the operator and the
/// consumer lag librdkafka's statistics report.
pub struct SourceContext {
    log: Arc<RebalanceLog>,
    counters: Arc<Counters>,
}

impl ClientContext for SourceContext {
    fn stats(&self, statistics: rdkafka::statistics::Statistics) {
        for topic in statistics.topics.values() {
            for (p, part) in &topic.partitions {
                if *p >= 0 && part.consumer_lag >= 0 {
                    self.counters.set_lag(*p, part.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (list, tpl) = match rebalance {
            Rebalance::Revoke(tpl) => (&self.log.revoked, *tpl),
            Rebalance::Assign(tpl) => (&self.log.assigned, *tpl),
            Rebalance::Error(_) => return,
        };
        if let Ok(mut l) = list.lock() {
            l.extend(tpl.elements().iter().map(|e| e.partition()));
        }
    }
}

struct PartState {
    watermark: PartitionWatermark,
    /// The offset after the last message read, once one was.
    next_offset: Option<i64>,
    /// Last message, or the assignment, whichever is newer.
    last_message: Instant,
}

/// State shared between the operator and the worker loop (final commit).
pub struct KafkaSourceState {
    consumer: BaseConsumer<SourceContext>,
    topic: String,
    tracker: OffsetTracker,
    parts: HashMap<i32, PartState>,
    log: Arc<RebalanceLog>,
    paused: bool,
    /// Since when the worker has had no partition at all.
    no_partitions_since: Option<Instant>,
    /// Offsets stored so far (next offset per partition), for reporting.
    pub stored: BTreeMap<i32, i64>,
    /// Offsets the broker's responses stepped over, since the start.
    skipped: u64,
}

impl KafkaSourceState {
    fn store(&mut self, done: Vec<(i32, i64)>) {
        if done.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, next) in &done {
            let _ = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*next));
        }
        // A partition revoked meanwhile refuses the store; its records are redelivered.
        let _ = self.consumer.store_offsets(&tpl);
        for (p, next) in done {
            self.stored.insert(p, next);
        }
    }

    /// After the graph has drained: stores every remaining offset and commits synchronously.
    pub fn final_commit(&mut self) -> Result<(), rdkafka::error::KafkaError> {
        let done = self.tracker.complete(None);
        self.store(done);
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => Ok(()),
            // Nothing stored since the last commit.
            Err(rdkafka::error::KafkaError::ConsumerCommit(
                rdkafka::types::RDKafkaErrorCode::NoOffset,
            )) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Event-time progress shared by the workers of a process: lets a worker
/// without active partitions stop holding the frontier without stranding
/// what the others emitted.
#[derive(Debug)]
pub struct ProcessClock {
    /// The largest event time any worker has read.
    pub event_time: AtomicI64,
    /// The largest timestamp any worker has emitted a record at.
    pub max_emitted: AtomicU64,
}

impl Default for ProcessClock {
    fn default() -> Self {
        ProcessClock {
            event_time: AtomicI64::new(i64::MIN),
            max_emitted: AtomicU64::new(0),
        }
    }
}

/// The source's output stream and its state (for the final commit).
pub type KafkaSourceParts<'scope> = (
    StreamVec<'scope, u64, Envelope>,
    Rc<RefCell<KafkaSourceState>>,
);

/// Builds this worker's Kafka source. `acked` is the probe over the sinks'
/// acknowledgement streams; `shutdown` drains the graph when set.
pub fn kafka_source<'scope>(
    scope: Scope<'scope, u64>,
    settings: KafkaSourceSettings,
    counters: Arc<Counters>,
    acked: ProbeHandle<u64>,
    shutdown: Arc<AtomicBool>,
    process_clock: Arc<ProcessClock>,
) -> Result<KafkaSourceParts<'scope>, rdkafka::error::KafkaError> {
    let log = Arc::new(RebalanceLog::default());
    let mut cc = consumer_config(&settings.client, &settings.group_id);
    cc.set("statistics.interval.ms", "1000");
    if let Some(prefix) = &settings.instance_id_prefix {
        cc.set("group.instance.id", format!("{prefix}-w{}", scope.index()));
    }
    let consumer: BaseConsumer<SourceContext> = cc.create_with_context(SourceContext {
        log: log.clone(),
        counters: counters.clone(),
    })?;
    consumer.subscribe(&[settings.topic.as_str()])?;
    let state = Rc::new(RefCell::new(KafkaSourceState {
        consumer,
        topic: settings.topic.clone(),
        tracker: OffsetTracker::new(),
        parts: HashMap::new(),
        log,
        paused: false,
        no_partitions_since: Some(Instant::now()),
        stored: BTreeMap::new(),
        skipped: 0,
    }));
    let shared = state.clone();
    let worker = scope.index();
    let (watermark_counters, bucket_ms) = (counters.clone(), settings.bucket_ms);
    let source_name = format!("kafka:{}", settings.topic);
    let stream = source(scope, "KafkaSource", move |capability, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(capability);
        move |output| {
            let Some(c) = cap.as_mut() else {
                return;
            };
            let mut st = shared.borrow_mut();
            let st = &mut *st;
            // Rebalances: forget revoked partitions (their records will be redelivered).
            let revoked: Vec<i32> = st
                .log
                .revoked
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            let revoked_now = revoked.clone();
            for p in revoked {
                st.parts.remove(&p);
                st.tracker.forget(p);
            }
            let assigned: Vec<i32> = st
                .log
                .assigned
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            let rebalanced = !assigned.is_empty() || !revoked_now.is_empty();
            if rebalanced && st.paused {
                // Pause state may survive a rebalance for partitions kept by
                // this consumer: resume explicitly, backpressure re-pauses if needed.
                if let Ok(a) = st.consumer.assignment() {
                    let _ = st.consumer.resume(&a);
                }
                st.paused = false;
            }
            // A newly assigned partition holds the capability until it has
            // delivered data or stayed silent for the idle timeout.
            let lateness = settings.allowed_lateness_ms;
            for p in &assigned {
                st.parts.entry(*p).or_insert_with(|| PartState {
                    watermark: PartitionWatermark::new(lateness),
                    next_offset: None,
                    last_message: Instant::now(),
                });
            }
            if rebalanced {
                let mut now_assigned: Vec<i32> = st
                    .consumer
                    .assignment()
                    .map(|a| a.elements().iter().map(|e| e.partition()).collect())
                    .unwrap_or_default();
                now_assigned.sort_unstable();
                tracing::info!(worker, topic = %st.topic, partitions = ?now_assigned, "assigned partitions");
            }
            if shutdown.load(Ordering::Relaxed) {
                // Drain: no more input; the worker loop commits once the sinks have delivered.
                cap = None;
                return;
            }
            let now = Instant::now();
            let now_time = *c.time();
            let mut out: BTreeMap<u64, Vec<Envelope>> = BTreeMap::new();
            let mut got = 0;
            let mut skipped = 0u64;
            while got < settings.batch {
                let Some(result) = st.consumer.poll(Duration::ZERO) else {
                    break;
                };
                let msg = match result {
                    Ok(m) => m,
                    // Transient client errors (broker down, rebalancing) are
                    // retried by librdkafka; keep polling on later activations.
                    Err(_) => break,
                };
                got += 1;
                counters.records_in.fetch_add(1, Ordering::Relaxed);
                let partition = msg.partition();
                let offset = msg.offset();
                let provenance = Provenance {
                    source: source_name.clone(),
                    partition: Some(partition),
                    offset: u64::try_from(offset).unwrap_or(0),
                };
                let lateness = settings.allowed_lateness_ms;
                let part = st.parts.entry(partition).or_insert_with(|| PartState {
                    watermark: PartitionWatermark::new(lateness),
                    next_offset: None,
                    last_message: now,
                });
                part.last_message = now;
                // Offsets the broker's responses stepped over: normal after
                // compaction or transactions, a broker fault otherwise.
                if let Some(expected) = part.next_offset.filter(|e| offset > *e) {
                    skipped += (offset - expected) as u64;
                    tracing::debug!(
                        worker,
                        partition,
                        from = expected,
                        to = offset,
                        "offsets skipped"
                    );
                }
                part.next_offset = Some(offset + 1);
                let side_time = part
                    .watermark
                    .watermark()
                    .map_or(now_time, |w| bucket(w, settings.bucket_ms).max(now_time));
                let payload = msg.payload();
                let (time, envelope) = match decode_message(payload)
                    .and_then(|e| validate(&e, &settings.validation).map(|_| e))
                {
                    Ok(event) => {
                        let t = event.event_time_ms;
                        let late = part.watermark.observe(t);
                        process_clock.event_time.fetch_max(t, Ordering::Relaxed);
                        let time = if late {
                            side_time
                        } else {
                            bucket(t, settings.bucket_ms).max(now_time)
                        };
                        (
                            time,
                            Envelope::Event {
                                event: Box::new(event),
                                provenance,
                                late,
                                verified: false,
                            },
                        )
                    }
                    Err(e) => {
                        let bytes = payload.unwrap_or_default();
                        (
                            side_time,
                            Envelope::Dead(Box::new(dead_letter(
                                &e,
                                bytes,
                                bytes.len() as u64,
                                provenance,
                            ))),
                        )
                    }
                };
                st.tracker.register(partition, offset, time);
                out.entry(time).or_default().push(envelope);
            }
            for (time, items) in out {
                process_clock.max_emitted.fetch_max(time, Ordering::Relaxed);
                let delayed = c.delayed(&time);
                output.session(&delayed).give_iterator(items.into_iter());
            }

            st.skipped += skipped;
            // Offsets whose outputs are all delivered.
            let frontier = acked.with_frontier(|f| f.first().copied());
            let done = st.tracker.complete(frontier);
            st.store(done);

            // The capability follows the least watermark of the active
            // partitions; an active partition without data yet holds it.
            let mut holding = false;
            let mut active: Vec<u64> = Vec::new();
            for p in st.parts.values() {
                if now.duration_since(p.last_message) >= settings.idle_timeout {
                    continue;
                }
                match p.watermark.watermark() {
                    Some(w) => active.push(bucket(w, settings.bucket_ms)),
                    None => holding = true,
                }
            }
            // A worker that has just lost or not yet received partitions
            // waits an idle timeout before letting go of the frontier.
            if st.parts.is_empty() {
                st.no_partitions_since.get_or_insert(now);
            } else {
                st.no_partitions_since = None;
            }
            let waiting_for_partitions = st
                .no_partitions_since
                .is_some_and(|since| now.duration_since(since) < settings.idle_timeout);
            let target = match active.iter().min() {
                _ if holding || waiting_for_partitions => now_time,
                Some(&least) => least,
                None => {
                    // Nothing active: move past the newest event time this
                    // process has seen, so that idle workers and idle
                    // partitions neither hold back the windows of the others
                    // nor leave the last events unprocessed. A message that
                    // arrives later for an earlier bucket is placed in the
                    // current one.
                    let clock = process_clock.event_time.load(Ordering::Relaxed);
                    if clock == i64::MIN {
                        now_time
                    } else {
                        (bucket(clock, settings.bucket_ms) + 1)
                            .max(process_clock.max_emitted.load(Ordering::Relaxed) + 1)
                    }
                }
            };
            if target > now_time {
                tracing::debug!(
                    worker,
                    from = now_time,
                    to = target,
                    active = active.len(),
                    in_flight = st.tracker.in_flight(),
                    "source capability advanced"
                );
                c.downgrade(&target);
                watermark_counters
                    .set_watermark(worker, (target as i64).saturating_mul(bucket_ms as i64));
            }
            // Backpressure: pause while the graph holds too many released
            // records. Records still waiting for the watermark do not count —
            // pausing for them would stop the watermark they wait for — except
            // past a hard memory cap.
            let released = *c.time();
            let downstream = st.tracker.downstream(frontier, released);
            let in_flight = st.tracker.in_flight();
            let over = downstream > settings.max_in_flight
                || in_flight > settings.max_in_flight.saturating_mul(HARD_CAP_FACTOR);
            if !st.paused && over {
                if let Ok(a) = st.consumer.assignment() {
                    if st.consumer.pause(&a).is_ok() {
                        tracing::debug!(worker, downstream, in_flight, "paused");
                        st.paused = true;
                    }
                }
            } else if st.paused
                && downstream <= settings.max_in_flight / 2
                && in_flight <= settings.max_in_flight.saturating_mul(HARD_CAP_FACTOR) / 2
            {
                if let Ok(a) = st.consumer.assignment() {
                    if st.consumer.resume(&a).is_ok() {
                        tracing::debug!(worker, downstream, in_flight, "resumed");
                        st.paused = false;
                    }
                }
            }
            counters.set_source_status(
                worker,
                SourceStatus {
                    paused: st.paused,
                    downstream,
                    in_flight,
                    time: *c.time(),
                    acked: frontier,
                    partitions: st.parts.len(),
                    skipped: st.skipped,
                },
            );
            if got > 0 {
                activator.activate();
            } else {
                activator.activate_after(Duration::from_millis(5));
            }
        }
    });
    Ok((stream, state))
}

/// How often a worker shares its process's clock with the cluster.
const CLOCK_SHARE_EVERY: Duration = Duration::from_millis(20);

/// Makes [`ProcessClock`] cluster-wide: every worker broadcasts its process's
/// clock when it changed, and every worker folds what it receives into its
/// own process's clock. Without this, a process whose partitions have gone
/// idle only moves its capability past the event times *it* has read, and
/// holds back, until more input arrives, the last buckets of a process that
/// read later event times.
///
/// The clock records travel at timestamp 0 under a capability that stays
/// there (they carry no data the graph waits for) and is dropped at
/// shutdown.
pub fn share_process_clock(
    scope: Scope<'_, u64>,
    clock: Arc<ProcessClock>,
    shutdown: Arc<AtomicBool>,
) {
    use timely::dataflow::operators::generic::Operator;
    use timely::dataflow::operators::vec::Broadcast;
    let local = clock.clone();
    let clocks: StreamVec<'_, u64, (i64, u64)> =
        source(scope, "ShareProcessClock", move |capability, info| {
            let activator = scope.activator_for(info.address);
            let mut cap = Some(capability);
            let mut last = (i64::MIN, 0u64);
            move |output| {
                let Some(c) = cap.as_ref() else {
                    return;
                };
                if shutdown.load(Ordering::Relaxed) {
                    cap = None;
                    return;
                }
                let now = (
                    local.event_time.load(Ordering::Relaxed),
                    local.max_emitted.load(Ordering::Relaxed),
                );
                if now != last {
                    last = now;
                    output.session(c).give(now);
                }
                activator.activate_after(CLOCK_SHARE_EVERY);
            }
        });
    clocks.broadcast().sink(
        timely::dataflow::channels::pact::Pipeline,
        "FoldProcessClock",
        move |(input, _frontier)| {
            input.for_each(|_, batch| {
                for (event_time, max_emitted) in batch.drain(..) {
                    clock.event_time.fetch_max(event_time, Ordering::Relaxed);
                    clock.max_emitted.fetch_max(max_emitted, Ordering::Relaxed);
                }
            });
        },
    );
}
