//! Sandbox benchmarks (release build: `cargo run --release -p sentinel-benches --bin sandbox-bench`):
//!
//! 1. instantiation: simulations/s of a trivial ABI guest on one thread —
//!    the host's fixed cost (store, pooled instance, fuel, epoch, ABI calls);
//! 2. threat twins: simulations/s, latency percentiles and fuel per class on
//!    one thread, over generated attacks (seed 7) and benign values, with the
//!    same twins run natively for comparison;
//! 3. panic button: 100 running simulations on two executor threads, the
//!    time from the press until none is running (20 rounds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_sandbox::{Sandbox, SandboxConfig};
use sentinel_schema::{NoAudit, ThreatClass};

const TRIVIAL: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"exploit\":false}")
  (func (export "sentinel_abi_version") (result i32) i32.const 1)
  (func (export "sentinel_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "sentinel_run") (param i32 i32) (result i64) i64.const 17))"#;

const SPIN: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "sentinel_abi_version") (result i32) i32.const 1)
  (func (export "sentinel_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "sentinel_run") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0))"#;

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() -> anyhow::Result<()> {
    let sb = Sandbox::new(SandboxConfig::default(), Arc::new(NoAudit))?;

    // 1. Instantiation.
    let trivial = sb.load("trivial", TRIVIAL.as_bytes(), None)?;
    for _ in 0..2_000 {
        let _ = sb.simulate(&trivial, "sqli", b"x");
    }
    let n = 50_000;
    let mut h = Histogram::<u64>::new(3)?;
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let s = sb.simulate(&trivial, "sqli", b"1' or '1'='1");
        h.record(t.elapsed().as_nanos() as u64)?;
        anyhow::ensure!(s.report.is_ok(), "trivial guest failed: {:?}", s.report);
    }
    let el = t0.elapsed().as_secs_f64();
    println!("## instantiation + ABI round trip (trivial guest, 1 thread)");
    println!(
        "{n} simulations in {el:.2} s: {:.0}/s; p50 {:.1} µs, p99 {:.1} µs",
        n as f64 / el,
        us(&h, 0.5),
        us(&h, 0.99)
    );

    // 2. Twins.
    let t0 = Instant::now();
    let twins = sb.twins(None)?;
    println!(
        "\ntwin guest compiled in {:.2} s ({} bytes of wasm)",
        t0.elapsed().as_secs_f64(),
        sentinel_sandbox::guests::TWIN_GUEST_WASM.len()
    );
    let samples = generate(
        7,
        CorpusSize {
            per_attack_class: 300,
            benign: 1500,
        },
    );
    println!("\n## threat twins (1 thread; generated seed 7)");
    println!("| class | payloads | confirmed | sims/s (wasm) | p50 µs | p99 µs | mean fuel | sims/s (native) |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut all = Histogram::<u64>::new(3)?;
    let (mut total_n, mut total_s) = (0usize, 0f64);
    for class in [
        ThreatClass::Sqli,
        ThreatClass::Xss,
        ThreatClass::Cmdi,
        ThreatClass::PathTraversal,
        ThreatClass::Xxe,
        ThreatClass::Benign,
    ] {
        let vals: Vec<&str> = samples
            .iter()
            .filter(|s| s.class == class)
            .map(|s| s.text.as_str())
            .collect();
        // Benign values are simulated as SQL injection, the busiest twin.
        let as_class = if class == ThreatClass::Benign {
            "sqli"
        } else {
            class.as_str()
        };
        let mut h = Histogram::<u64>::new(3)?;
        let (mut confirmed, mut fuel) = (0usize, 0u64);
        let t0 = Instant::now();
        for v in &vals {
            let t = Instant::now();
            let s = sb.simulate(&twins, as_class, v.as_bytes());
            let ns = t.elapsed().as_nanos() as u64;
            h.record(ns)?;
            all.record(ns)?;
            fuel += s.fuel_used;
            if s.report.as_ref().map(|r| r.exploit).unwrap_or(false) {
                confirmed += 1;
            }
        }
        let el = t0.elapsed().as_secs_f64();
        total_n += vals.len();
        total_s += el;
        let family =
            sentinel_twins::Family::parse(as_class).unwrap_or(sentinel_twins::Family::Command);
        let t1 = Instant::now();
        for v in &vals {
            std::hint::black_box(sentinel_twins::run(family, v));
        }
        let native = vals.len() as f64 / t1.elapsed().as_secs_f64();
        println!(
            "| {} | {} | {confirmed} | {:.0} | {:.0} | {:.0} | {:.0} | {native:.0} |",
            class.as_str(),
            vals.len(),
            vals.len() as f64 / el,
            us(&h, 0.5),
            us(&h, 0.99),
            fuel as f64 / vals.len() as f64,
        );
    }
    println!(
        "| all | {total_n} | | {:.0} | {:.0} | {:.0} | | |",
        total_n as f64 / total_s,
        us(&all, 0.5),
        us(&all, 0.99)
    );

    // 3. Panic button.
    let spin_sb = Sandbox::new(
        SandboxConfig {
            timeout_ms: 600_000,
            fuel: u64::MAX / 2,
            ..SandboxConfig::default()
        },
        Arc::new(NoAudit),
    )?;
    let spin = spin_sb.load("spin", SPIN.as_bytes(), None)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let mut times = Vec::new();
    for _ in 0..20 {
        spin_sb.rearm("bench");
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (sb, m) = (spin_sb.clone(), spin.clone());
                rt.spawn(async move { sb.simulate_async(&m, "sqli", b"x").await })
            })
            .collect();
        let t0 = Instant::now();
        while spin_sb.health().running < 100 {
            if t0.elapsed() > Duration::from_secs(30) {
                // Say why: the simulations that ended instead of spinning.
                let running = spin_sb.health().running;
                spin_sb.panic("bench");
                let ended: Vec<String> = tasks
                    .into_iter()
                    .filter_map(|t| rt.block_on(t).ok())
                    .filter_map(|s| s.report.err().map(|e| e.to_string()))
                    .collect();
                anyhow::bail!(
                    "only {running} of 100 simulations started within 30 s; \
                     failures (including the panic's): {ended:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(20));
        let pressed = Instant::now();
        spin_sb.panic("bench");
        spin_sb
            .wait_idle(Duration::from_secs(10))
            .ok_or_else(|| anyhow::anyhow!("simulations still running 10 s after the panic"))?;
        times.push(pressed.elapsed());
        for t in tasks {
            let _ = rt.block_on(t);
        }
    }
    times.sort();
    println!("\n## panic button (100 running simulations, 2 executor threads, 20 rounds)");
    println!(
        "all stopped after: median {:.2} ms, max {:.2} ms",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
