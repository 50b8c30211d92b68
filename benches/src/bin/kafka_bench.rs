//! Kafka end-to-end benchmark against a local tansu broker.
//!
//! 1. Broker alone: produce N evidence events to a 4-partition topic and
//!    consume them back (same payloads), events/s each way.
//! 2. Sentinel throughput: the service (2 workers) consumes the N events and
//!    produces every output with delivery acknowledgements; events/s from the
//!    first record read to the last verdict counted.
//! 3. Sentinel latency: events produced at a fixed rate with their event time
//!    set to the wall clock; a consumer reads the verdict topic; p50/p99 of
//!    (verdict received − event time). Uses `bucket_ms = 10` and no allowed
//!    lateness: latency is bounded below by the bucket plus the lateness.
//!
//! `cargo run --release -p sentinel-benches --bin kafka-bench [-- --events N --rate R --models full|rules --timeout-s S --model-watch --only broker|throughput|latency --distinct-attacks N --no-twins --keep-resident BYTES]`
//!
//! One event in five is a SQL injection; `--distinct-attacks N` makes the
//! attacks cycle over N payloads (default 0: every attack a payload of its
//! own, so the twins' outcome cache never helps — the worst case).
//!
//! When the throughput phase times out, the error names what the service had
//! read, the dead letters, the consumer lag and each worker's source state
//! (paused, records released and read but unacknowledged, capability and
//! acknowledgement frontier), which tells a stall in the graph from unread input.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use sentinel_dataflow::{
    run_service, Counters, GraphConfig, KafkaSourceSettings, OutputTopics, ServiceConfig,
};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_sinks::kafka::ProducerSettings;
use sentinel_sources::kafka::ClientSettings;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Broker(Child, u16);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tansu() -> PathBuf {
    std::env::var_os("TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let p = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cargo/bin/tansu");
            if p.exists() {
                p
            } else {
                PathBuf::from("tansu")
            }
        })
}

fn start_broker() -> anyhow::Result<Broker> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args([
            "broker",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start tansu (install it with ./scripts/test.sh)")?;
    let b = Broker(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("tansu did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(b)
}

fn create_topic(port: u16, name: &str, partitions: u32) -> anyhow::Result<()> {
    let ok = Command::new(tansu())
        .args([
            "topic",
            "create",
            name,
            "--partitions",
            &partitions.to_string(),
            "--broker",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !ok {
        bail!("cannot create {name}");
    }
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A realistic evidence event (~500 bytes), an attack one time in five.
fn event(i: usize, time_ms: i64) -> (String, Vec<u8>) {
    event_from(i, 0, time_ms)
}

/// An event whose attack payloads start at variant `first` (the latency
/// phase's differ from the throughput phase's, which the outcome cache has seen).
fn event_from(i: usize, first: usize, time_ms: i64) -> (String, Vec<u8>) {
    let ip = format!("198.51.{}.{}", 100 + (i % 2000) / 250, 1 + (i % 2000) % 250);
    let target = if i % 5 == 4 {
        // The tautology's operand: `--distinct-attacks N` cycles over N
        // variants (0: every attack its own payload).
        let k = first
            + match DISTINCT_ATTACKS.load(Ordering::Relaxed) {
                0 => i / 5,
                d => (i / 5) % d,
            };
        format!("/products?id=1%27%20OR%20%27{k}%27%3D%27{k}&sort=price")
    } else {
        "/products?id=42&sort=price&page=3".to_string()
    };
    let v = serde_json::json!({
        "evidence_id": format!("bench-{i:09}"), "event_time_ms": time_ms, "client": {"ip": ip},
        "request": {"method": "GET", "target": target, "headers": [
            {"name": "Host", "value": "shop.example"},
            {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
            {"name": "Cookie", "value": "sid=5f2a9c81d3e4"}]},
        "response": {"status": 200}
    });
    (
        format!("ip:{ip}"),
        serde_json::to_vec(&v).unwrap_or_default(),
    )
}

/// Counts the bench producer's failed deliveries: a message the broker did
/// not take is not input the service could have lost.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// The bench's producer.
type BenchProducer = BaseProducer<Deliveries>;

fn producer(brokers: &str) -> anyhow::Result<BenchProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Deliveries::default())?)
}

/// The high watermark the broker reports for each partition of a topic.
fn high_watermarks(p: &BenchProducer, topic: &str, partitions: i32) -> Vec<i64> {
    (0..partitions)
        .map(|part| {
            p.client()
                .fetch_watermarks(topic, part, Duration::from_secs(10))
                .map_or(-1, |(_, high)| high)
        })
        .collect()
}

/// After a flush: how many of the `sent` records the broker acknowledged,
/// with a warning naming the failed deliveries. (The broker's reported high
/// watermarks are not used: tansu's lag behind what it serves, by tens of
/// seconds at times.)
fn delivered(p: &BenchProducer, topic: &str, sent: usize) -> usize {
    let failed = p.context().failed.swap(0, Ordering::Relaxed) as usize;
    if failed > 0 {
        let first = p
            .context()
            .first_error
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .unwrap_or_default();
        eprintln!(
            "warning: {failed} of the {sent} records sent to {topic} were not delivered (first error: {first}); the service is measured on the others"
        );
    }
    sent - failed
}

fn send(p: &BenchProducer, topic: &str, k: &str, v: &[u8]) {
    let mut rec = BaseRecord::to(topic).key(k).payload(v);
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((_, r)) => {
                rec = r;
                p.poll(Duration::from_millis(5));
            }
        }
    }
}

/// Consumes `topic` from the beginning with a fresh consumer for at most
/// `limit`, returning how many records it got by then and the time it took.
fn consume_for(
    brokers: &str,
    topic: &str,
    partitions: i32,
    n: usize,
    limit: Duration,
) -> anyhow::Result<(usize, Duration)> {
    // The same consumer settings as Sentinel's source.
    let c: BaseConsumer = sentinel_sources::kafka::consumer_config(
        &ClientSettings {
            brokers: brokers.into(),
            properties: BTreeMap::new(),
        },
        "bench-reader",
    )
    .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    let start = Instant::now();
    let mut got = 0;
    while got < n && start.elapsed() < limit {
        match c.poll(Duration::ZERO) {
            Some(Ok(_)) => got += 1,
            _ => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    Ok((got, start.elapsed()))
}

fn consume_all(brokers: &str, topic: &str, partitions: i32, n: usize) -> anyhow::Result<Duration> {
    let (got, took) = consume_for(brokers, topic, partitions, n, Duration::from_secs(300))?;
    if got < n {
        bail!("consumed only {got} of {n}");
    }
    Ok(took)
}

fn service_config(
    brokers: &str,
    topic: &str,
    group: &str,
    bucket_ms: u64,
    lateness: i64,
    shutdown: Arc<AtomicBool>,
    (models, services): (
        Arc<sentinel_models::ModelBundle>,
        sentinel_dataflow::GraphServices,
    ),
) -> ServiceConfig {
    ServiceConfig {
        workers: 2,
        source: KafkaSourceSettings {
            client: ClientSettings {
                brokers: brokers.into(),
                properties: BTreeMap::new(),
            },
            group_id: group.into(),
            instance_id_prefix: None,
            topic: topic.into(),
            bucket_ms,
            allowed_lateness_ms: lateness,
            idle_timeout: Duration::from_millis(200),
            max_in_flight: MAX_IN_FLIGHT.load(std::sync::atomic::Ordering::Relaxed),
            batch: 4096,
            validation: Default::default(),
        },
        producer: ProducerSettings {
            brokers: brokers.into(),
            properties: BTreeMap::new(),
        },
        topics: OutputTopics::default(),
        graph: GraphConfig {
            bucket_ms,
            ..GraphConfig::default()
        },
        models,
        enrichment: Arc::new(EnrichmentTables::default()),
        shutdown,
        connect_timeout: Duration::from_secs(10),
        evidence_store: Default::default(),
        services,
        cluster: None,
    }
}

/// `--distinct-attacks`: how many different attack payloads (0: all different).
static DISTINCT_ATTACKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `--max-in-flight`: the source's backpressure threshold.
static MAX_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(200_000);

/// Kafka throughput and latency through a local tansu broker.
#[derive(clap::Parser)]
#[command(name = "kafka-bench")]
struct Args {
    /// Events in the throughput backlog.
    #[arg(long, default_value_t = 500_000)]
    events: usize,
    /// Offered rate of the latency phase, events/s.
    #[arg(long, default_value_t = 25_000)]
    rate: usize,
    /// `full` (the default model, the behaviour forest, the twins) or `rules`.
    #[arg(long, default_value = "full")]
    models: String,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// As `sentinel run`: models follow the registry through timestamped
    /// updates, so the analysis waits for the control frontier.
    #[arg(long)]
    model_watch: bool,
    /// Run one phase only.
    #[arg(long, value_parser = ["broker", "throughput", "latency"])]
    only: Option<String>,
    /// Full models without the threat twins (tells the twins' share of the
    /// latency from the models').
    #[arg(long)]
    no_twins: bool,
    /// The sandbox's `memory_keep_resident_bytes` (default: the sandbox's).
    #[arg(long, value_name = "BYTES")]
    keep_resident: Option<usize>,
    /// Attacks cycle over N payloads (0: every attack a payload of its own).
    #[arg(long, value_name = "N", default_value_t = 0)]
    distinct_attacks: usize,
    /// The source's backpressure threshold.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    max_in_flight: usize,
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let Args {
        events: n,
        rate,
        models,
        timeout_s,
        model_watch,
        only,
        no_twins,
        keep_resident,
        distinct_attacks,
        max_in_flight,
    } = clap::Parser::parse();
    DISTINCT_ATTACKS.store(distinct_attacks, Ordering::Relaxed);
    MAX_IN_FLIGHT.store(max_in_flight, Ordering::Relaxed);
    let bundle = sentinel_benches::bench_models(&models)?;
    let mut services = sentinel_benches::bench_services_keeping(&models, true, keep_resident)?;
    if no_twins {
        services.simulator = None;
    }
    if model_watch {
        services.model_watch = Some(Arc::new(sentinel_models::bundle::ModelWatch::new(
            bundle.clone(),
        )));
    }
    println!(
        "models: {}{}{}",
        bundle.describe(),
        if model_watch {
            " (model watch: timestamped updates, as sentinel run)"
        } else {
            ""
        },
        if no_twins { " (no threat twins)" } else { "" }
    );
    let broker = start_broker()?;
    let brokers = format!("127.0.0.1:{}", broker.1);
    for (t, p) in [
        ("bench.alone", 4),
        ("bench.in", 4),
        ("bench.latency", 4),
        ("events.evidence_ready", 4),
        ("events.sentinel_verdict", 4),
        ("events.sim_result", 1),
        ("events.rule_generated", 1),
        ("events.dead_letter", 1),
    ] {
        create_topic(broker.1, t, p)?;
    }

    let phase = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let events: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| event(i, 1_767_225_600_000 + i as i64))
        .collect();
    let p = producer(&brokers)?;
    if phase("broker") {
        broker_alone(&brokers, &p, &events)?;
    }
    if phase("throughput") {
        throughput(&brokers, &p, &events, timeout_s, (&bundle, &services))?;
    }
    if phase("latency") {
        latency(&brokers, n, rate, (&bundle, &services))?;
    }
    Ok(())
}

/// Phase 1: the broker alone, with the same payloads.
fn broker_alone(
    brokers: &str,
    p: &BenchProducer,
    events: &[(String, Vec<u8>)],
) -> anyhow::Result<()> {
    let n = events.len();
    let bytes: usize = events.iter().map(|e| e.1.len()).sum();
    let start = Instant::now();
    for (k, v) in events {
        send(p, "bench.alone", k, v);
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(120))?;
    let produce = start.elapsed();
    let n = delivered(p, "bench.alone", n);
    let consume = consume_all(brokers, "bench.alone", 4, n)?;
    println!(
        "broker alone: {n} events ({} bytes avg): produce {:.0} events/s, consume {:.0} events/s",
        bytes / n.max(1),
        n as f64 / produce.as_secs_f64(),
        n as f64 / consume.as_secs_f64()
    );
    Ok(())
}

/// The models and services the service runs with.
type Analysis<'a> = (
    &'a Arc<sentinel_models::ModelBundle>,
    &'a sentinel_dataflow::GraphServices,
);

/// Phase 2: Sentinel throughput over a backlog produced once the consumer
/// group has settled (so no input is read twice).
fn throughput(
    brokers: &str,
    p: &BenchProducer,
    events: &[(String, Vec<u8>)],
    timeout_s: u64,
    (bundle, services): Analysis<'_>,
) -> anyhow::Result<()> {
    let n = events.len();
    let shutdown = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let cfg = service_config(
        brokers,
        "bench.in",
        "bench-throughput",
        1000,
        5000,
        shutdown.clone(),
        (bundle.clone(), services.clone()),
    );
    let c = counters.clone();
    let handle = std::thread::spawn(move || run_service(cfg, c));
    std::thread::sleep(Duration::from_secs(8));
    for (k, v) in events {
        send(p, "bench.in", k, v);
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(120))?;
    let n = delivered(p, "bench.in", n);
    let deadline = Instant::now() + Duration::from_secs(60);
    while counters.records_in.load(Ordering::Relaxed) == 0 {
        if Instant::now() > deadline {
            bail!("the service read nothing");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    while counters.verdicts.load(Ordering::Relaxed) < n as u64 {
        if start.elapsed() > Duration::from_secs(timeout_s) {
            let fresh = consume_for(brokers, "bench.in", 4, n, Duration::from_secs(60))?;
            bail!(
                "only {} verdicts after {timeout_s} s ({} simulations so far); read {} records, {} dead letters; consumer lag {:?}; sources {:?}; the broker's high watermarks now {:?}; a fresh consumer reads {} records of {n} from the topic in {:.1} s",
                counters.verdicts.load(Ordering::Relaxed),
                counters.simulations.load(Ordering::Relaxed),
                counters.records_in.load(Ordering::Relaxed),
                counters.dead_total(),
                counters.lag(),
                counters.source_status(),
                high_watermarks(p, "bench.in", 4),
                fresh.0,
                fresh.1.as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    shutdown.store(true, Ordering::Relaxed);
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("service panicked"))??;
    let drained = start.elapsed();
    println!(
        "sentinel throughput (2 workers): {:.0} events/s to the last verdict ({n} events in {:.2} s); {:.0} events/s until every output was acknowledged and offsets committed ({:.2} s); {} records read",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        n as f64 / drained.as_secs_f64(),
        drained.as_secs_f64(),
        counters.records_in.load(Ordering::Relaxed)
    );
    let (hits, misses) = (
        counters.simulation_cache_hits.load(Ordering::Relaxed),
        counters.simulation_cache_misses.load(Ordering::Relaxed),
    );
    if hits + misses > 0 {
        println!(
            "  threat twins: {} simulations, {misses} run in the sandbox, {hits} reused from the outcome cache ({:.1} %)",
            hits + misses,
            100.0 * hits as f64 / (hits + misses) as f64
        );
    }
    Ok(())
}

/// Phase 3: latency at a fixed rate.
fn latency(
    brokers: &str,
    n: usize,
    rate: usize,
    (bundle, services): Analysis<'_>,
) -> anyhow::Result<()> {
    let shutdown = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let cfg = service_config(
        brokers,
        "bench.latency",
        "bench-latency",
        10,
        0,
        shutdown.clone(),
        (bundle.clone(), services.clone()),
    );
    let c = counters.clone();
    let handle = std::thread::spawn(move || run_service(cfg, c));
    std::thread::sleep(Duration::from_secs(8)); // let the group settle
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-latency-reader")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition_offset("events.sentinel_verdict", p, Offset::End)?;
    }
    reader.assign(&tpl)?;
    // Let the reader resolve its end offsets before anything is produced.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(2) {
        let _ = reader.poll(Duration::from_millis(50));
    }
    let m = (rate * 10).min(n);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let b2 = brokers.to_string();
    let prod = std::thread::spawn(move || -> anyhow::Result<()> {
        let p = producer(&b2)?;
        let start = Instant::now();
        for i in 0..m {
            let due = Duration::from_secs_f64(i as f64 / rate as f64);
            let el = start.elapsed();
            if due > el {
                std::thread::sleep(due - el);
            }
            let (k, v) = event_from(i, 1 << 30, now_ms());
            send(&p, "bench.latency", &k, &v);
            p.poll(Duration::ZERO);
        }
        p.flush(Duration::from_secs(60))?;
        delivered(&p, "bench.latency", m);
        d.store(true, Ordering::Relaxed);
        Ok(())
    });
    let mut lat: Vec<i64> = Vec::with_capacity(m);
    let deadline = Instant::now() + Duration::from_secs(120);
    while lat.len() < m && Instant::now() < deadline {
        if let Some(Ok(msg)) = reader.poll(Duration::from_millis(50)) {
            let now = now_ms();
            if let Some(v) = msg
                .payload()
                .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            {
                if let Some(t) = v["event_time_ms"].as_i64() {
                    lat.push(now - t);
                }
            }
        }
    }
    prod.join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))??;
    shutdown.store(true, Ordering::Relaxed);
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("service panicked"))??;
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(-1)
    };
    println!(
        "sentinel latency at {rate} events/s (bucket 10 ms, no lateness): {} verdicts read back of {} the service produced for {m} events, p50 {} ms, p99 {} ms, max {} ms",
        lat.len(),
        counters.verdicts.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(-1)
    );
    let _ = done;
    Ok(())
}
