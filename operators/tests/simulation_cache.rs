//! The simulator's outcome cache: a payload seen again is not run again,
//! the reused outcome is the one a new run gives, outcomes that depend on
//! the moment are never kept, and the panic button also stops reuse.

use std::sync::Arc;

use sentinel_operators::simulate::{SimCacheStats, Simulator};
use sentinel_sandbox::{Sandbox, SandboxConfig, SimFailure};
use sentinel_schema::NoAudit;

const SPIN: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "sentinel_abi_version") (result i32) i32.const 1)
  (func (export "sentinel_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "sentinel_run") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0))"#;

fn simulator(config: SandboxConfig, spin: bool) -> Arc<Simulator> {
    let sandbox = Sandbox::new(config, Arc::new(NoAudit)).unwrap();
    let module = if spin {
        sandbox.load("spin", SPIN.as_bytes(), None).unwrap()
    } else {
        sandbox.twins(None).unwrap()
    };
    Simulator::new(sandbox, module)
}

#[test]
fn a_repeated_payload_reuses_the_outcome_of_a_fresh_run() {
    let cached = simulator(SandboxConfig::default(), false);
    let uncached = simulator(
        SandboxConfig {
            result_cache_entries: 0,
            ..SandboxConfig::default()
        },
        false,
    );
    let payloads = ["1' OR '1'='1", "<script>alert(1)</script>", "42"];
    for _ in 0..3 {
        for (class, p) in [
            ("sqli", payloads[0]),
            ("xss", payloads[1]),
            ("sqli", payloads[2]),
        ] {
            let a = cached.simulate(class, p.as_bytes());
            let b = uncached.simulate(class, p.as_bytes());
            assert_eq!(a.report, b.report, "{class} {p}");
            assert_eq!(a.fuel_used, b.fuel_used, "{class} {p}");
        }
    }
    assert_eq!(cached.cache_stats(), SimCacheStats { hits: 6, misses: 3 });
    assert_eq!(uncached.cache_stats(), SimCacheStats { hits: 0, misses: 9 });
    // The class is part of the key: the same text as another class runs.
    let _ = cached.simulate("cmdi", payloads[0].as_bytes());
    assert_eq!(cached.cache_stats().misses, 4);
    // Outcomes beyond the capacity evict the least recently used.
    let small = simulator(
        SandboxConfig {
            result_cache_entries: 2,
            ..SandboxConfig::default()
        },
        false,
    );
    for p in ["a", "b", "c", "a"] {
        let _ = small.simulate("sqli", p.as_bytes());
    }
    assert_eq!(small.cache_stats(), SimCacheStats { hits: 0, misses: 4 });
}

#[test]
fn outcomes_that_depend_on_the_moment_are_not_kept() {
    // The wall-clock deadline: a spinning guest times out, every time anew.
    let timed = simulator(
        SandboxConfig {
            timeout_ms: 30,
            fuel: u64::MAX / 2,
            ..SandboxConfig::default()
        },
        true,
    );
    for _ in 0..2 {
        let s = timed.simulate("sqli", b"x");
        assert!(matches!(s.report, Err(SimFailure::Timeout(_))), "{s:?}");
    }
    assert_eq!(timed.cache_stats(), SimCacheStats { hits: 0, misses: 2 });
    // The fuel budget is deterministic: kept.
    let fueled = simulator(
        SandboxConfig {
            timeout_ms: 60_000,
            fuel: 100_000,
            ..SandboxConfig::default()
        },
        true,
    );
    for _ in 0..2 {
        let s = fueled.simulate("sqli", b"x");
        assert!(matches!(s.report, Err(SimFailure::OutOfFuel(_))), "{s:?}");
    }
    assert_eq!(fueled.cache_stats(), SimCacheStats { hits: 1, misses: 1 });
}

#[test]
fn the_panic_button_stops_reuse_too() {
    let sim = simulator(SandboxConfig::default(), false);
    let first = sim.simulate("sqli", b"1' OR '1'='1");
    assert!(first.report.is_ok());
    sim.sandbox.panic("test");
    let refused = sim.simulate("sqli", b"1' OR '1'='1");
    assert_eq!(refused.report, Err(SimFailure::Refused));
    sim.sandbox.rearm("test");
    let again = sim.simulate("sqli", b"1' OR '1'='1");
    assert_eq!(again.report, first.report);
    assert_eq!(sim.cache_stats(), SimCacheStats { hits: 1, misses: 2 });
}
