//! The panic button: with 100 long-running simulations in flight, all stop
//! at once, new ones are refused until re-armed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentinel_sandbox::{Sandbox, SandboxConfig, SimFailure};
use sentinel_schema::NoAudit;

const SPIN: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "sentinel_abi_version") (result i32) i32.const 1)
  (func (export "sentinel_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "sentinel_run") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0))"#;

#[test]
fn panic_stops_one_hundred_running_simulations() {
    let sb = Sandbox::new(
        SandboxConfig {
            timeout_ms: 120_000,
            fuel: u64::MAX / 2,
            pool_slots: 128,
            ..SandboxConfig::default()
        },
        Arc::new(NoAudit),
    )
    .unwrap();
    let module = sb.load("spin", SPIN.as_bytes(), None).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (sb, m) = (sb.clone(), module.clone());
            rt.spawn(async move { sb.simulate_async(&m, "sqli", b"x").await })
        })
        .collect();
    let t0 = Instant::now();
    while sb.health().running < 100 {
        assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", sb.health());
        std::thread::sleep(Duration::from_millis(5));
    }
    let pressed = Instant::now();
    assert_eq!(sb.panic("test"), 100);
    let stopped = sb.wait_idle(Duration::from_secs(10)).expect("all stop");
    let took = pressed.elapsed();
    eprintln!(
        "panic button: 100 running simulations stopped in {stopped:?} ({took:?} incl. wakeups)"
    );
    for t in tasks {
        let sim = rt.block_on(t).unwrap();
        assert_eq!(sim.report, Err(SimFailure::Interrupted));
    }
    let h = sb.health();
    assert_eq!(
        (h.interrupted, h.running, h.armed, h.panics),
        (100, 0, false, 1)
    );

    // Refused until re-armed.
    let refused = sb.simulate(&module, "sqli", b"x");
    assert_eq!(refused.report, Err(SimFailure::Refused));
    assert_eq!(sb.health().refused, 1);
    sb.rearm("test");
    let ok = Sandbox::clone(&sb);
    let quick = ok
        .load(
            "quick",
            SPIN.replace("(loop $l (br $l)) i64.const 0", "i64.const -1")
                .as_bytes(),
            None,
        )
        .unwrap();
    // Runs again (and this guest reports an ABI error, not a refusal).
    assert!(matches!(
        ok.simulate(&quick, "sqli", b"x").report,
        Err(SimFailure::BadOutput(_))
    ));
}
