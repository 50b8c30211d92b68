//! Scaling and COST: the same computation as a single-threaded loop of the
//! pipeline's plain functions (no timely, no exchange, no channels), and
//! through the timely graph with 1 and 2 workers; also the behaviour
//! windows' state per active client key.
//!
//! The baseline decodes, validates, analyzes, keeps the prefix and behaviour windows,
//! infers, runs the threat twins and serializes every verdict, evidence-ready
//! and simulation record — what the graph does, minus rule generation and
//! policy (which the graph runs on top, for the few tagged verdicts). Its
//! verdicts are compared with the graph's, line for line.
//!
//! `cargo run --release -p sentinel-benches --bin cost-bench [FILE] [--runs N] [--models full|rules] [--synthetic EVENTS:CLIENTS] [--graph-only WORKERS] [--keep-resident BYTES] [--bucket-ms MS]`
//! (default FILE: ../shared/data/csic2010/normalTrafficTraining.txt.gz; `--synthetic` generates
//! a stream where each client returns many times per window instead;
//! `--graph-only` runs the loop once, then only the graph, for profiling;
//! `--keep-resident` sets the sandbox's `memory_keep_resident_bytes`; `--bucket-ms` the
//! event-time bucket of the loop and the graph, 1,000 by default)

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use sentinel_dataflow::{
    run_replay, Counters, GraphConfig, ScheduleLog, ScheduleSummary, SourceSettings,
};
use sentinel_operators::aggregate_window::{AggregateWindows, WindowSpan};
use sentinel_operators::analyze::{AnalyzeConfig, AnalyzedEvent, EventAnalyzer};
use sentinel_operators::enrich::EnrichmentTables;
use sentinel_operators::infer::verdict_scored;
use sentinel_operators::simulate::simulate_verdict;
use sentinel_operators::validate::validate;
use sentinel_operators::window::BehaviourWindows;
use sentinel_schema::Provenance;
use sentinel_sources::{FileSource, SourceItem, SourceOptions};

/// CPU time (user + system) this process has used so far, in seconds.
fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Which output file.
enum Out {
    Ready,
    Verdict,
    Sim,
}

/// The baseline's output files.
struct Outs {
    ready: std::io::BufWriter<std::fs::File>,
    verdicts: std::io::BufWriter<std::fs::File>,
    sims: std::io::BufWriter<std::fs::File>,
    line: Vec<u8>,
    verdict_hashes: Vec<u64>,
}

impl Outs {
    fn write<T: serde::Serialize>(&mut self, to: Out, v: &T) -> anyhow::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, v)?;
        if matches!(to, Out::Verdict) {
            self.verdict_hashes.push(hash(&self.line));
        }
        self.line.push(b'\n');
        let w = match to {
            Out::Ready => &mut self.ready,
            Out::Verdict => &mut self.verdicts,
            Out::Sim => &mut self.sims,
        };
        w.write_all(&self.line)?;
        Ok(())
    }
}

/// What the baseline measured.
struct Baseline {
    /// Payload memo `(hits, misses)`.
    payload_lookups: (u64, u64),
    /// Behaviour score memo `(hits, misses)`.
    behaviour_lookups: (u64, u64),
    records: u64,
    elapsed: f64,
    /// Hashes of the verdict lines (compared with the graph's).
    verdict_hashes: Vec<u64>,
    peak_keys: usize,
    bytes_per_key_at_peak: f64,
    entries_per_key_at_peak: f64,
}

fn baseline(
    file: &std::path::Path,
    graph: &GraphConfig,
    bundle: &Arc<sentinel_models::ModelBundle>,
    services: &sentinel_dataflow::GraphServices,
) -> anyhow::Result<Baseline> {
    let start = Instant::now();
    let name = file.display().to_string();
    let settings = SourceSettings {
        bucket_ms: graph.bucket_ms,
        ..SourceSettings::default()
    };
    let mut source = FileSource::open(file, SourceOptions::default())
        .with_context(|| format!("cannot open {name}"))?;
    let analyze_config = AnalyzeConfig {
        explain: graph.infer.explain.on(),
        ..graph.analyze
    };
    let mut analyzer = EventAnalyzer::new(
        analyze_config,
        bundle.clone(),
        Arc::new(EnrichmentTables::default()),
    );
    // Outputs go to files, as the graph's do.
    let dir = tempfile::tempdir()?;
    let file_out = |n: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.path().join(n))?,
        ))
    };
    let mut outs = Outs {
        ready: file_out("evidence_ready.jsonl")?,
        verdicts: file_out("verdicts.jsonl")?,
        sims: file_out("sim_results.jsonl")?,
        line: Vec::with_capacity(4096),
        verdict_hashes: Vec::new(),
    };
    let mut windows = BehaviourWindows::new(graph.window);
    let scorer = bundle.behaviour.clone();
    let mut score_memo = sentinel_models::anomaly::BehaviourScoreMemo::default();
    let bucket = graph.bucket_ms as i64;
    let (mut peak_keys, mut peak_bytes, mut peak_entries) = (0usize, 0usize, 0usize);
    // Events of the current event-time bucket (the input is in time order,
    // as the verdict comparison with the graph checks).
    let mut pending: Vec<AnalyzedEvent> = Vec::new();
    let mut current_bucket = i64::MIN;
    let mut records = 0u64;
    let mut aggregates =
        AggregateWindows::new(WindowSpan::new(&graph.window.aggregates, graph.bucket_ms));
    let dims = graph.infer.aggregate_dims();
    let mut flush = |pending: &mut Vec<AnalyzedEvent>,
                     windows: &mut BehaviourWindows,
                     outs: &mut Outs,
                     bucket_end: i64|
     -> anyhow::Result<()> {
        pending.sort_by(|a, b| {
            (a.event_time_ms, a.provenance.offset).cmp(&(b.event_time_ms, b.provenance.offset))
        });
        aggregates.stamp_bucket(
            (bucket_end / bucket - 1) as u64,
            pending,
            dims,
            graph.window.prefix_v4_bits,
            graph.window.prefix_v6_bits,
        );
        for ev in pending.drain(..) {
            let features = windows.observe(&ev);
            let raw = score_memo.score(&scorer, &features);
            let v = verdict_scored(&ev, &features, raw, &scorer, &graph.infer);
            if let Some(sim) = &services.simulator {
                for s in simulate_verdict(sim, &v, &graph.simulate) {
                    outs.write(Out::Sim, &s)?;
                }
            }
            outs.write(Out::Verdict, &v)?;
        }
        windows.expire(bucket_end);
        let bytes = windows.state_bytes();
        if bytes > peak_bytes {
            peak_keys = windows.active_keys();
            peak_bytes = bytes;
            peak_entries = windows.entries();
        }
        Ok(())
    };
    while let Some(item) = source.next_item() {
        records += 1;
        let SourceItem::Event { offset, event, .. } = item else {
            continue;
        };
        if validate(&event, &settings.validation).is_err() {
            continue;
        }
        let provenance = Provenance {
            source: name.clone(),
            partition: None,
            offset,
        };
        let a = analyzer.analyze(*event, provenance, false, false);
        let ready = a.evidence_ready_ref();
        outs.write(Out::Ready, &ready)?;
        let b = a.event_time_ms.div_euclid(bucket);
        if b != current_bucket && current_bucket != i64::MIN {
            flush(
                &mut pending,
                &mut windows,
                &mut outs,
                (current_bucket + 1) * bucket,
            )?;
        }
        current_bucket = b;
        pending.push(a);
    }
    flush(
        &mut pending,
        &mut windows,
        &mut outs,
        (current_bucket + 1) * bucket,
    )?;
    let payload_lookups = analyzer.cache_stats();
    let behaviour_lookups = score_memo.stats();
    let Outs {
        ready: ready_out,
        verdicts: verdict_out,
        sims: sim_out,
        verdict_hashes,
        ..
    } = outs;
    for mut w in [ready_out, verdict_out, sim_out] {
        w.flush()?;
    }
    Ok(Baseline {
        payload_lookups,
        behaviour_lookups,
        records,
        elapsed: start.elapsed().as_secs_f64(),
        verdict_hashes,
        peak_keys,
        bytes_per_key_at_peak: peak_bytes as f64 / peak_keys.max(1) as f64,
        entries_per_key_at_peak: peak_entries as f64 / peak_keys.max(1) as f64,
    })
}

/// What one run of the timely graph measured.
struct GraphRun {
    /// Records read per second of wall time.
    rate: f64,
    /// Process CPU time over wall time.
    cores_busy: f64,
    counters: Arc<Counters>,
    /// Hashes of the verdict lines.
    verdict_hashes: Vec<u64>,
    /// Each worker's schedule (with `--schedule`).
    schedules: Vec<ScheduleSummary>,
}

/// The graph's file-source settings the bench lets one change.
#[derive(Clone, Copy)]
struct SourceKnobs {
    /// [`SourceSettings::max_in_flight`].
    max_in_flight: usize,
    /// [`SourceSettings::batch`].
    read_batch: usize,
}

/// Replays `file` through the timely graph ([`sentinel_benches::bench_graph`])
/// with `workers` workers and the source's `knobs`.
fn run_graph(
    file: &std::path::Path,
    workers: usize,
    graph: &GraphConfig,
    bundle: &Arc<sentinel_models::ModelBundle>,
    services: &sentinel_dataflow::GraphServices,
    knobs: SourceKnobs,
    record_schedule: bool,
) -> anyhow::Result<GraphRun> {
    let out = tempfile::tempdir()?;
    let counters = Arc::new(Counters::default());
    let cpu_before = process_cpu_seconds();
    let mut config = sentinel_benches::bench_replay(
        file,
        &file.display().to_string(),
        out.path(),
        workers,
        bundle.clone(),
        services.clone(),
    );
    config.graph = *graph;
    config.source.bucket_ms = graph.bucket_ms;
    config.source.max_in_flight = knobs.max_in_flight;
    config.source.batch = knobs.read_batch.max(1);
    let schedule_log = record_schedule.then(|| Arc::new(ScheduleLog::default()));
    config.schedule_log = schedule_log.clone();
    let summary = run_replay(config, counters.clone())?;
    let wall = summary.elapsed.as_secs_f64();
    let cores_busy = (process_cpu_seconds() - cpu_before) / wall;
    let rate = counters.records_in.load(Ordering::Relaxed) as f64 / wall;
    let text = std::fs::read(out.path().join("verdicts.jsonl"))?;
    let verdict_hashes = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(hash)
        .collect();
    let schedules = schedule_log
        .map(|log| log.take().iter().map(|s| s.summary()).collect())
        .unwrap_or_default();
    Ok(GraphRun {
        rate,
        cores_busy,
        counters,
        verdict_hashes,
        schedules,
    })
}

/// `n` events, 10 ms apart in event time, over `k` client addresses (each
/// client returns every `k · 10` ms), one in twenty a SQL injection.
fn write_synthetic(path: &std::path::Path, n: usize, k: usize) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        let c = i % k.max(1);
        let ip = format!("10.{}.{}.{}", c / 65_536 % 256, c / 256 % 256, c % 256);
        let target = if i % 20 == 19 {
            // Every attack its own payload: the twins' outcome cache never helps.
            let k = i / 20;
            format!("/products?id=1%27%20OR%20%27{k}%27%3D%27{k}&sort=price")
        } else {
            format!("/products?id={}&sort=price&page={}", i % 977, i % 7)
        };
        let v = serde_json::json!({
            "evidence_id": format!("syn-{i:09}"), "event_time_ms": 1_767_225_600_000i64 + i as i64 * 10,
            "client": {"ip": ip},
            "request": {"method": "GET", "target": target, "headers": [
                {"name": "Host", "value": "shop.example"},
                {"name": "User-Agent", "value": format!("Mozilla/5.0 (X11; Linux x86_64; rv:{}.0) Gecko/20100101 Firefox/133.0", 100 + c % 30)}]},
            "response": {"status": 200}
        });
        serde_json::to_writer(&mut w, &v)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Scaling and COST: a single-threaded loop against the timely graph.
#[derive(clap::Parser)]
#[command(name = "cost-bench")]
struct Args {
    /// Recorded input (ignored with `--synthetic`).
    #[arg(default_value = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/csic2010/normalTrafficTraining.txt.gz"
    ))]
    file: PathBuf,
    /// Runs of each kind (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// `full` (the default model and the behaviour forest) or `rules`.
    #[arg(long, default_value = "full")]
    models: String,
    /// Generate EVENTS events from CLIENTS clients, each back many times
    /// per window, instead of reading FILE.
    #[arg(long, value_name = "EVENTS:CLIENTS", value_parser = parse_synthetic)]
    synthetic: Option<(usize, usize)>,
    /// For profiling: run the loop once, then only the graph with this
    /// many workers.
    #[arg(long, value_name = "WORKERS")]
    graph_only: Option<usize>,
    /// The sandbox's `memory_keep_resident_bytes` (default: the sandbox's).
    #[arg(long, value_name = "BYTES")]
    keep_resident: Option<usize>,
    /// Event-time bucket of the loop and the graph, ms (the bench graph's
    /// 1,000 by default): how many records share a timestamp, and so what
    /// timely's progress tracking costs per record.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    bucket_ms: Option<u64>,
    /// The graph's file source: most finishable records in flight before
    /// the reader holds (`0`: unbounded).
    #[arg(long, value_name = "RECORDS", default_value_t = sentinel_dataflow::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// The graph's file source: records read per activation.
    #[arg(long, value_name = "RECORDS", default_value_t = sentinel_dataflow::SourceSettings::default().batch)]
    read_batch: usize,
    /// With `--graph-only`: record each worker's operator schedule and
    /// print how long it was parked and which operators took its time.
    #[arg(long, requires = "graph_only")]
    schedule: bool,
}

/// Operators a worker's schedule line names.
const SCHEDULE_TOP: usize = 6;

/// One line per worker: how long it was parked, and where its time went.
fn print_schedule(s: &ScheduleSummary) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let top: Vec<String> = (s.operators.iter().take(SCHEDULE_TOP))
        .map(|o| {
            format!(
                "{} #{} {:.0} ms ({} runs, longest {:.1} ms)",
                o.name,
                o.id,
                ms(o.total),
                o.runs,
                ms(o.longest)
            )
        })
        .collect();
    println!(
        "  worker {}: span {:.0} ms, parked {:.0} ms ({:.1} %) in {} parks, operators {:.0} ms, timely {:.0} ms; most time: {}",
        s.worker,
        ms(s.span),
        ms(s.parked),
        s.parked_fraction() * 100.0,
        s.parks,
        ms(s.in_operators),
        ms(s.in_timely()),
        top.join(", ")
    );
}

/// `EVENTS:CLIENTS`.
fn parse_synthetic(spec: &str) -> Result<(usize, usize), String> {
    let (n, k) = spec
        .split_once(':')
        .ok_or_else(|| format!("{spec:?} is not EVENTS:CLIENTS"))?;
    let number = |x: &str| x.parse::<usize>().map_err(|e| format!("{x:?}: {e}"));
    Ok((number(n)?, number(k)?))
}

fn main() -> anyhow::Result<()> {
    let Args {
        mut file,
        runs,
        models,
        synthetic,
        graph_only,
        keep_resident,
        bucket_ms,
        max_in_flight,
        read_batch,
        schedule,
    } = clap::Parser::parse();
    let scratch = tempfile::tempdir()?;
    if let Some((n, k)) = synthetic {
        file = scratch.path().join(format!("synthetic-{n}-{k}.jsonl"));
        write_synthetic(&file, n, k)?;
    }
    let bundle = sentinel_benches::bench_models(&models)?;
    let services = sentinel_benches::bench_services_keeping(&models, false, keep_resident)?;
    let mut graph = sentinel_benches::bench_graph();
    if let Some(b) = bucket_ms {
        graph.bucket_ms = b;
    }
    println!(
        "cost-bench: {} ({runs} runs each; models: {})",
        file.display(),
        bundle.describe()
    );
    let mut base_rates = Vec::new();
    let mut base = None;
    for _ in 0..runs {
        // On a thread of its own, as each graph run's workers are: a fresh
        // thread starts with an empty heap (its first touches of memory
        // fault pages in), a warm one does not.
        let b = std::thread::scope(|s| {
            s.spawn(|| baseline(&file, &graph, &bundle, &services))
                .join()
                .map_err(|_| anyhow::anyhow!("the baseline panicked"))
        })??;
        base_rates.push(b.records as f64 / b.elapsed);
        base = Some(b);
    }
    let base = base.context("--runs must be at least 1")?;
    let knobs = SourceKnobs {
        max_in_flight,
        read_batch,
    };
    let run_graph =
        |workers: usize| run_graph(&file, workers, &graph, &bundle, &services, knobs, schedule);
    if let Some(workers) = graph_only {
        for _ in 0..runs {
            let run = run_graph(workers)?;
            println!(
                "timely graph, {workers} worker(s): {:.0} records/s, {:.2} cores busy",
                run.rate, run.cores_busy
            );
            for s in &run.schedules {
                print_schedule(s);
            }
        }
        return Ok(());
    }
    // The machine's own ceiling: two copies of the loop at once, one per
    // thread, sharing nothing but the hardware (caches, memory bandwidth,
    // the hypervisor's scheduling). No dataflow can scale better than this.
    let mut pair_rates = Vec::new();
    for _ in 0..runs {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| baseline(&file, &graph, &bundle, &services));
            let b = s.spawn(|| baseline(&file, &graph, &bundle, &services));
            (a.join(), b.join())
        });
        let (a, b) = (
            a.map_err(|_| anyhow::anyhow!("the baseline panicked"))??,
            b.map_err(|_| anyhow::anyhow!("the baseline panicked"))??,
        );
        pair_rates.push((a.records + b.records) as f64 / a.elapsed.max(b.elapsed));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base_rate = median(base_rates);
    let pair_rate = median(pair_rates);
    // 1- and 2-worker runs alternate, so that a drift of the machine's
    // speed during the benchmark touches both; the scaling is the median of
    // the ratios of adjacent runs.
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    let mut identical = true;
    let mut aggregate_state = (0i64, 0i64, 0i64);
    let mut memo_lookups = [(0u64, 0u64); 2];
    let mut behaviour_lookups = [(0u64, 0u64); 2];
    let mut busy: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut cpu_per_record: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    // The stateless stage with 2 workers, per worker: (nanoseconds, records).
    let mut stage = [(0u64, 0u64); 2];
    for _ in 0..runs {
        let mut pair = [0f64; 2];
        for (slot, workers) in [1usize, 2].into_iter().enumerate() {
            let run = run_graph(workers)?;
            busy[slot].push(run.cores_busy);
            // Process CPU time per record: cores busy over records per second.
            cpu_per_record[slot].push(run.cores_busy / run.rate * 1e6);
            memo_lookups[slot] = run.counters.payload_memos.stats();
            let w = &run.counters.window;
            behaviour_lookups[slot] = (
                w.score_memo_hits.load(Ordering::Relaxed),
                w.score_memo_misses.load(Ordering::Relaxed),
            );
            if workers == 2 {
                for (w, totals) in stage.iter_mut().enumerate() {
                    let r = run.counters.worker_clocks.for_worker(w).reading();
                    totals.0 += r.stage_nanos;
                    totals.1 += r.stage_records;
                }
                let w = &run.counters.window;
                aggregate_state = (
                    w.aggregate_peak_bytes.load(Ordering::Relaxed),
                    w.aggregate_peak_keys.load(Ordering::Relaxed),
                    w.aggregate_peak_pairs.load(Ordering::Relaxed),
                );
            }
            pair[slot] = run.rate;
            rates[slot].push(run.rate);
            let mut graph_lines = run.verdict_hashes;
            let mut base_lines = base.verdict_hashes.clone();
            graph_lines.sort_unstable();
            base_lines.sort_unstable();
            identical &= graph_lines == base_lines;
        }
        ratios.push(pair[1] / pair[0]);
    }
    let [one_rates, two_rates] = rates;
    let (one, two) = (median(one_rates), median(two_rates));
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let (ratio_lo, ratio_hi) = spread(&ratios);
    let scaling = median(ratios);
    println!("records: {}", base.records);
    println!("single-thread loop (COST baseline): {base_rate:.0} records/s");
    println!(
        "two loops at once, one per thread (the machine's ceiling): {pair_rate:.0} records/s ({:.2}x one loop)",
        pair_rate / base_rate
    );
    println!(
        "timely graph, 1 worker: {one:.0} records/s ({:.2}x the baseline)",
        one / base_rate
    );
    println!(
        "timely graph, 2 workers: {two:.0} records/s ({:.2}x the baseline)",
        two / base_rate
    );
    let per_record = |(nanos, records): (u64, u64)| nanos as f64 / records.max(1) as f64 / 1e3;
    println!(
        "stateless stage with 2 workers (decode, analysis, evidence-ready; all runs): worker 0 (the reader) {} records at {:.2} µs each, worker 1 {} records at {:.2} µs each",
        stage[0].1,
        per_record(stage[0]),
        stage[1].1,
        per_record(stage[1]),
    );
    let [busy_one, busy_two] = busy;
    println!(
        "cores busy during the graph runs (process CPU time / wall time, medians): 1 worker {:.2}, 2 workers {:.2}",
        median(busy_one),
        median(busy_two)
    );
    // The scaling is (cores busy with 2 / with 1) × (CPU per record with 1 /
    // with 2): below 2 because a worker waited, or because two workers
    // spent more CPU on a record than one.
    let [cpu_one, cpu_two] = cpu_per_record;
    let (cpu_one, cpu_two) = (median(cpu_one), median(cpu_two));
    println!(
        "CPU time per record (process CPU time / records, medians): 1 worker {cpu_one:.2} µs, 2 workers {cpu_two:.2} µs ({:+.1} %)",
        (cpu_two / cpu_one - 1.0) * 100.0
    );
    println!(
        "scaling 1->2 workers: {scaling:.2}x (median of {} adjacent pairs; {ratio_lo:.2}-{ratio_hi:.2}x)",
        runs
    );
    let scored = |(hits, misses): (u64, u64)| {
        format!("{misses} of {} payload lookups scored", hits + misses)
    };
    println!(
        "payload memo: loop {}; graph, 1 worker {}; 2 workers {} (one memo per process)",
        scored(base.payload_lookups),
        scored(memo_lookups[0]),
        scored(memo_lookups[1])
    );
    let walked = |(hits, misses): (u64, u64)| {
        format!(
            "{misses} of {} behaviour scores walked the forest",
            hits + misses
        )
    };
    println!(
        "behaviour score memo: loop {}; graph, 1 worker {}; 2 workers {} (one memo per worker)",
        walked(base.behaviour_lookups),
        walked(behaviour_lookups[0]),
        walked(behaviour_lookups[1])
    );
    println!(
        "verdicts of the baseline and the graph identical: {}",
        if identical { "yes" } else { "NO" }
    );
    println!(
        "behaviour windows at their largest ({} active keys): {:.0} bytes per key ({:.1} requests held per key, window {} s)",
        base.peak_keys,
        base.bytes_per_key_at_peak,
        base.entries_per_key_at_peak,
        graph.window.window_ms / 1000
    );
    let agg = graph.window.aggregates;
    println!(
        "aggregate windows (differential arrangements, {:?} {} s, slide {} s) at their largest, 2 workers: {} keys, {} (key, client) pairs, {} bytes: {:.0} bytes per key, {:.0} per (key, client) pair",
        agg.mode,
        agg.window_ms / 1000,
        agg.slide_ms / 1000,
        aggregate_state.1,
        aggregate_state.2,
        aggregate_state.0,
        aggregate_state.0 as f64 / aggregate_state.1.max(1) as f64,
        aggregate_state.0 as f64 / aggregate_state.2.max(1) as f64
    );
    Ok(())
}
