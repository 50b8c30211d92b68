//! Threat twins through the binary: `simulate`, `sandbox run|check`, the
//! simulate stage of a replay (sim results, rule confidence, provenance)
//! and the audit log it writes.

mod common;

use common::{jsonl, ok, private_data_dir, replay, sentinel, sentinel_in};

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn simulate_prints_what_the_twin_saw() {
    let out = ok(sentinel(&[
        "simulate",
        "--class",
        "sqli",
        "--json",
        "1' OR '1'='1",
        "O'Brien",
    ]));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["exploit"], true);
    assert_eq!(rows[0]["twin"], "sql");
    assert!(rows[0]["context"].is_string());
    assert!(rows[0]["evidence"][0].as_str().unwrap().contains("OR"));
    assert!(rows[0]["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(rows[1]["exploit"], false);

    // Without --class every twin runs the payload; only XSS breaks.
    let out = ok(sentinel(&["simulate", "--json", "<svg onload=alert(1)>"]));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 5);
    let broken: Vec<&str> = rows
        .iter()
        .filter(|r| r["exploit"] == true)
        .map(|r| r["twin"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["xss"]);

    // The human table.
    let table = ok(sentinel(&[
        "simulate",
        "--class",
        "path_traversal",
        "../../../etc/passwd",
    ]));
    assert!(table.contains("YES") && table.contains("path"), "{table}");

    // An unknown class is a clear error.
    let bad = sentinel(&["simulate", "--class", "csrf", "x"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no twin for class"));
}

#[test]
fn simulate_reports_a_budget_overrun_as_a_failure() {
    // A fuel budget far too small for the SQL twin: contained, reported, exit 1.
    let out = sentinel(&[
        "simulate", "--class", "sqli", "--fuel", "1000", "--json", "1 or 1=1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let rows = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows[0]["error_kind"], "fuel");
}

#[test]
fn user_twin_modules_run_and_bad_modules_are_refused() {
    let dir = private_data_dir();
    let out = ok(sentinel_in(
        dir.path(),
        &[
            "sandbox",
            "run",
            "--module",
            "examples/guests/quote-twin.wat",
            "--json",
            "O'Brien",
            "plain",
        ],
    ));
    let rows = json_lines(&out);
    assert_eq!(rows[0]["exploit"], true);
    assert_eq!(rows[0]["twin"], "quote-twin");
    assert_eq!(rows[1]["exploit"], false);

    let ok_check = ok(sentinel_in(
        dir.path(),
        &[
            "sandbox",
            "check",
            "--module",
            "examples/guests/quote-twin.wat",
        ],
    ));
    assert!(ok_check.starts_with("ok:"), "{ok_check}");

    let bad = dir.path().join("wasi.wat");
    std::fs::write(
        &bad,
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (memory (export "memory") 1))"#,
    )
    .unwrap();
    let out = sentinel_in(
        dir.path(),
        &["sandbox", "check", "--module", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("allows no imports"));

    // Everything above was audited, and the chain verifies.
    let verify = ok(sentinel_in(dir.path(), &["audit", "verify"]));
    assert!(verify.starts_with("ok:"), "{verify}");
    let tail = ok(sentinel_in(dir.path(), &["audit", "tail", "-n", "50"]));
    assert!(tail.contains("sandbox.module_refused"), "{tail}");
    assert!(tail.contains("sandbox.module_loaded"), "{tail}");
}

#[test]
fn replay_simulates_and_confirmed_exploits_raise_rule_confidence() {
    let with = replay(&["examples/sample.jsonl"], 2, &[]);
    let without = replay(&["examples/sample.jsonl"], 2, &["--no-simulate"]);
    let sims = jsonl(&with.path().join("sim_results.jsonl"));
    assert!(sims.len() >= 10, "{} sims", sims.len());
    let verdicts = jsonl(&with.path().join("verdicts.jsonl"));
    for s in &sims {
        // Every result belongs to a `simulate` verdict.
        let v = verdicts
            .iter()
            .find(|v| v["verdict_id"] == s["verdict_id"])
            .expect("verdict of a sim result");
        assert_eq!(v["decision"], "simulate");
        assert!(s["fuel_used"].as_u64().unwrap() > 0);
        assert_eq!(s["duration_us"], 0, "timing is off in replays by default");
        if s["exploit"] == true {
            assert!(s["broken_context"].is_string());
            assert!(!s["evidence"].as_array().unwrap().is_empty());
        }
    }
    assert!(sims.iter().filter(|s| s["exploit"] == true).count() >= 10);
    // Verdicts themselves never carry raw payloads.
    assert!(verdicts.iter().all(|v| v["findings"]
        .as_array()
        .map(|f| f.iter().all(|f| f.get("raw").is_none()))
        .unwrap_or(true)));
    assert!(std::fs::read(without.path().join("sim_results.jsonl"))
        .unwrap()
        .is_empty());

    // Rules from confirmed payloads cite their simulations and are at
    // least as confident as without simulation.
    let rules_with = jsonl(&with.path().join("rules.jsonl"));
    let rules_without = jsonl(&without.path().join("rules.jsonl"));
    let cited: Vec<_> = rules_with
        .iter()
        .filter(|r| {
            r["provenance"]["sim_ids"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    assert!(!cited.is_empty());
    let mut raised = 0;
    for r in &cited {
        let before = rules_without
            .iter()
            .find(|o| o["rule_id"] == r["rule_id"])
            .expect("same rule without simulation");
        // Rules the benign guard narrowed to a literal are capped at 0.85 either way.
        let (with, without) = (
            r["confidence"].as_f64().unwrap(),
            before["confidence"].as_f64().unwrap(),
        );
        assert!(with >= without, "{with} < {without}");
        raised += usize::from(with > without);
        for id in r["provenance"]["sim_ids"].as_array().unwrap() {
            assert!(sims
                .iter()
                .any(|s| &s["sim_id"] == id && s["exploit"] == true));
        }
    }
    assert!(
        raised >= 1,
        "no rule gained confidence from a confirmed exploit"
    );

    // --sim-timing records wall time.
    let timed = replay(&["examples/sample.jsonl"], 1, &["--sim-timing"]);
    let timed = jsonl(&timed.path().join("sim_results.jsonl"));
    assert!(timed.iter().any(|s| s["duration_us"].as_u64().unwrap() > 0));
}

#[test]
fn audit_verify_names_the_first_tampered_record() {
    let dir = private_data_dir();
    for _ in 0..3 {
        ok(sentinel_in(
            dir.path(),
            &["simulate", "--class", "xss", "<b>hi</b>"],
        ));
    }
    let log = dir.path().join("audit/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 6);
    let tampered = text.replacen("\"sandbox.module_loaded\"", "\"sandbox.module_lodged\"", 1);
    std::fs::write(&log, tampered).unwrap();
    let out = sentinel_in(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stdout);
    assert!(msg.contains("TAMPERED") && msg.contains("edited"), "{msg}");
    // A tampered log refuses further appends instead of extending it.
    let out = sentinel_in(dir.path(), &["simulate", "--class", "xss", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit log is corrupt"));
}
