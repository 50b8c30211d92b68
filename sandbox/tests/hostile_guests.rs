//! Hostile guests: each is contained within its limit and reported, the
//! host keeps serving, and modules that import anything are refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentinel_sandbox::{Sandbox, SandboxConfig, SimFailure};
use sentinel_schema::AuditHook;

const REPORT: &str = r#"{"exploit":true,"context":"c","contexts":["c"],"evidence":["e"]}"#;

/// A module speaking the ABI whose `sentinel_run` body is `body`.
fn guest(extra: &str, body: &str) -> String {
    let escaped = REPORT.replace('"', "\\\"");
    format!(
        r#"(module
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 4096))
  (data (i32.const 0) "{escaped}")
  {extra}
  (func (export "sentinel_abi_version") (result i32) i32.const 1)
  (func (export "sentinel_alloc") (param $n i32) (result i32) (local $p i32)
    global.get $bump local.set $p
    global.get $bump local.get $n i32.add global.set $bump
    local.get $p)
  (func (export "sentinel_run") (param i32 i32) (result i64) {body}))"#
    )
}

fn well_behaved() -> String {
    guest("", &format!("i64.const {}", REPORT.len()))
}

/// What a hostile guest's failure must look like.
type Expect = fn(&SimFailure) -> bool;

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl AuditHook for Recorder {
    fn audit(&self, _actor: &str, action: &str, subject: &str, _d: serde_json::Value) {
        self.0
            .lock()
            .unwrap()
            .push((action.to_string(), subject.to_string()));
    }
}

fn sandbox(cfg: SandboxConfig) -> (Sandbox, Arc<Recorder>) {
    let audit = Arc::new(Recorder::default());
    (Sandbox::new(cfg, audit.clone()).unwrap(), audit)
}

fn small_limits() -> SandboxConfig {
    SandboxConfig {
        timeout_ms: 300,
        fuel: 50_000_000,
        memory_limit_bytes: 4 << 20,
        table_elements: 1_000,
        pool_slots: 8,
        ..SandboxConfig::default()
    }
}

fn assert_still_serving(sb: &Sandbox) {
    let ok = sb.load("ok", well_behaved().as_bytes(), None).unwrap();
    let sim = sb.simulate(&ok, "sqli", b"x");
    assert!(sim.report.unwrap().exploit);
}

#[test]
fn well_behaved_guest_reports() {
    let (sb, audit) = sandbox(small_limits());
    let m = sb.load("ok", well_behaved().as_bytes(), None).unwrap();
    let sim = sb.simulate(&m, "sqli", b"1' or '1'='1");
    let r = sim.report.unwrap();
    assert!(r.exploit);
    assert_eq!(r.context.as_deref(), Some("c"));
    assert!(sim.fuel_used > 0);
    let h = sb.health();
    assert_eq!(
        (h.started, h.completed, h.exploits, h.running),
        (1, 1, 1, 0)
    );
    let log = audit.0.lock().unwrap();
    assert!(log
        .iter()
        .any(|(a, s)| a == "sandbox.module_loaded" && s == "ok"));
}

#[test]
fn each_hostile_guest_is_contained() {
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "infinite-loop-fuel",
            guest("", "(loop $l (br $l)) i64.const 0"),
            |f| matches!(f, SimFailure::OutOfFuel(_)),
        ),
        (
            "memory-bomb",
            guest(
                "",
                "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) i64.const 0",
            ),
            |f| matches!(f, SimFailure::MemoryLimit(_)),
        ),
        (
            "table-bomb",
            guest(
                "(table 1 funcref)",
                "(loop $l (drop (table.grow (ref.null func) (i32.const 100))) (br $l)) i64.const 0",
            ),
            |f| matches!(f, SimFailure::TableLimit(_)),
        ),
        (
            "unbounded-recursion",
            guest("(func $f (call $f))", "call $f i64.const 0"),
            |f| matches!(f, SimFailure::StackOverflow),
        ),
        ("huge-output", guest("", "i64.const 0x7fffffff"), |f| {
            matches!(f, SimFailure::OutputTooLarge(..))
        }),
        (
            "output-outside-memory",
            guest("", "i64.const 0x7fff000000000100"),
            |f| matches!(f, SimFailure::BadOutput(_)),
        ),
        ("trap", guest("", "unreachable"), |f| {
            matches!(f, SimFailure::Trap(_))
        }),
        ("garbage-output", guest("", "i64.const 3"), |f| {
            matches!(f, SimFailure::BadOutput(_))
        }),
    ];
    let (sb, audit) = sandbox(small_limits());
    for (name, wat, expected) in cases {
        let m = sb.load(name, wat.as_bytes(), None).unwrap();
        let t0 = Instant::now();
        let sim = sb.simulate(&m, "sqli", b"payload");
        let err = sim.report.expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        // Contained well within the wall-clock deadline plus slack.
        assert!(t0.elapsed() < Duration::from_secs(5), "{name}");
        assert_still_serving(&sb);
    }
    let h = sb.health();
    assert_eq!(h.failures, 8);
    assert_eq!(h.running, 0);
    let log = audit.0.lock().unwrap();
    assert_eq!(
        log.iter().filter(|(a, _)| a == "sandbox.contained").count(),
        8
    );
}

#[test]
fn wall_clock_deadline_stops_a_guest_with_fuel_to_burn() {
    let (sb, _) = sandbox(SandboxConfig {
        timeout_ms: 100,
        fuel: u64::MAX / 2,
        pool_slots: 4,
        ..SandboxConfig::default()
    });
    let m = sb
        .load(
            "spin",
            guest("", "(loop $l (br $l)) i64.const 0").as_bytes(),
            None,
        )
        .unwrap();
    let t0 = Instant::now();
    let sim = sb.simulate(&m, "xss", b"x");
    assert_eq!(sim.report, Err(SimFailure::Timeout(100)));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn oversized_input_is_refused_before_running() {
    let (sb, _) = sandbox(SandboxConfig {
        max_input_bytes: 16,
        pool_slots: 4,
        ..SandboxConfig::default()
    });
    let m = sb.load("ok", well_behaved().as_bytes(), None).unwrap();
    let sim = sb.simulate(&m, "sqli", &[b'a'; 64]);
    assert!(matches!(sim.report, Err(SimFailure::InputTooLarge(69, 16))));
}

#[test]
fn modules_importing_anything_are_refused() {
    let (sb, audit) = sandbox(small_limits());
    for (name, extra) in [
        ("env-import", r#"(import "env" "now" (func))"#),
        (
            "wasi-import",
            r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        ),
        ("memory-import", r#"(import "env" "mem2" (global i32))"#),
    ] {
        // Imports must come first in a module.
        let wat = well_behaved().replacen("(module", &format!("(module {extra}"), 1);
        let err = sb.load(name, wat.as_bytes(), None).unwrap_err();
        assert!(
            format!("{err:#}").contains("allows no imports"),
            "{name}: {err:#}"
        );
    }
    let missing = r#"(module (memory (export "memory") 1)
        (func (export "sentinel_abi_version") (result i32) i32.const 1))"#;
    let err = sb.load("no-run", missing.as_bytes(), None).unwrap_err();
    assert!(format!("{err:#}").contains("must export"), "{err:#}");
    let wrong_version =
        well_behaved().replace("(result i32) i32.const 1)", "(result i32) i32.const 7)");
    let err = sb.load("v7", wrong_version.as_bytes(), None).unwrap_err();
    assert!(format!("{err:#}").contains("ABI version 7"), "{err:#}");
    assert!(sb.load("junk", b"\0asm junk", None).is_err());
    let log = audit.0.lock().unwrap();
    assert_eq!(
        log.iter()
            .filter(|(a, _)| a == "sandbox.module_refused")
            .count(),
        6
    );
}

#[test]
fn compiled_modules_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (sb, audit) = sandbox(small_limits());
    sb.load("ok", well_behaved().as_bytes(), Some(dir.path()))
        .unwrap();
    let m = sb
        .load("ok", well_behaved().as_bytes(), Some(dir.path()))
        .unwrap();
    assert!(sb.simulate(&m, "sqli", b"x").report.unwrap().exploit);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    // A corrupt cache entry is rebuilt, not trusted.
    let path = files[0].as_ref().unwrap().path();
    std::fs::write(&path, b"garbage").unwrap();
    let m = sb
        .load("ok", well_behaved().as_bytes(), Some(dir.path()))
        .unwrap();
    assert!(sb.simulate(&m, "sqli", b"x").report.unwrap().exploit);
    let log = audit.0.lock().unwrap();
    let loaded: Vec<_> = log
        .iter()
        .filter(|(a, _)| a == "sandbox.module_loaded")
        .collect();
    assert_eq!(loaded.len(), 3);
}

/// A guest that looks for what an earlier simulation left in its memory:
/// it traps when a marker is there, then leaves one, in the part of the
/// slot kept resident (restored in place) and in the part beyond it
/// (returned to the OS); it also checks and overwrites a byte of its data
/// segment, which must come back from the image. Freed slots must come back
/// as new either way, with and without `PAGEMAP_SCAN`.
#[test]
fn a_reused_slot_holds_nothing_of_the_previous_simulation() {
    let body = format!(
        r#"(if (i32.load (i32.const 8192)) (then unreachable))
           (if (i32.load (i32.const 200000)) (then unreachable))
           (if (i32.ne (i32.load8_u (i32.const 12288)) (i32.const 7)) (then unreachable))
           (i32.store (i32.const 8192) (i32.const 1))
           (i32.store (i32.const 200000) (i32.const 1))
           (i32.store8 (i32.const 12288) (i32.const 0))
           i64.const {}"#,
        REPORT.len()
    );
    let memory = guest("", &body).replace(
        "(memory (export \"memory\") 1)",
        "(memory (export \"memory\") 4) (data (i32.const 12288) \"\\07\")",
    );
    let configs = [
        // No scan, one page of 64 KiB kept resident: the markers at 8 KiB
        // and 12 KiB are restored by memset and memcpy, the one at ~195 KiB
        // by madvise.
        (
            SandboxConfig {
                pool_slots: 2,
                memory_keep_resident_bytes: Some(64 << 10),
                pagemap_scan: false,
                decommit_batch: 1,
                ..small_limits()
            },
            20,
        ),
        // With the scan (where the kernel has it), one dirty page restored
        // in place and the others returned to the OS.
        (
            SandboxConfig {
                pool_slots: 2,
                memory_keep_resident_bytes: Some(4 << 10),
                decommit_batch: 1,
                ..small_limits()
            },
            20,
        ),
        // The defaults too (every dirty page restored in place with the
        // scan; without it decommits batched, nothing kept resident).
        (
            SandboxConfig {
                pool_slots: 2,
                ..small_limits()
            },
            80,
        ),
    ];
    for (config, runs) in configs {
        let (sb, _) = sandbox(config);
        let m = sb.load("marker", memory.as_bytes(), None).unwrap();
        for i in 0..runs {
            let sim = sb.simulate(&m, "sqli", b"x");
            assert!(sim.report.is_ok(), "run {i}: {:?}", sim.report);
        }
    }
}

/// The `sandbox.started` audit record says how freed slots are reset on
/// this host: the scan is used only where it is enabled and the kernel has
/// it, and the bytes kept resident follow (4 MiB with the scan, 0 without,
/// unless configured).
#[test]
fn the_start_record_says_how_slots_are_reset() {
    #[derive(Default)]
    struct Details(Mutex<Vec<(String, serde_json::Value)>>);
    impl AuditHook for Details {
        fn audit(&self, _actor: &str, action: &str, _subject: &str, d: serde_json::Value) {
            self.0.lock().unwrap().push((action.to_string(), d));
        }
    }
    for (pagemap_scan, keep) in [(true, None), (false, None), (true, Some(8192))] {
        let config = SandboxConfig {
            pagemap_scan,
            memory_keep_resident_bytes: keep,
            ..small_limits()
        };
        let audit = Arc::new(Details::default());
        let _sb = Sandbox::new(config.clone(), audit.clone()).unwrap();
        let records = audit.0.lock().unwrap();
        let (_, d) = records
            .iter()
            .find(|(a, _)| a == "sandbox.started")
            .expect("a start record");
        let active = pagemap_scan && wasmtime::PoolingAllocationConfig::is_pagemap_scan_available();
        assert_eq!(d["pagemap_scan_active"], active);
        let expected = keep.unwrap_or(if active {
            sentinel_sandbox::SCANNED_KEEP_RESIDENT_BYTES
        } else {
            0
        });
        assert_eq!(d["memory_keep_resident_effective"], expected);
    }
}
