//! End-to-end: recorded evidence through the whole timely graph, via the CLI.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::Value;

fn by_evidence(verdicts: &[Value]) -> HashMap<String, Value> {
    verdicts
        .iter()
        .map(|v| {
            (
                v["evidence_id"].as_str().unwrap_or_default().to_string(),
                v.clone(),
            )
        })
        .collect()
}

/// The class the sample's scanner meant with each request (by target or header).
fn intended(event: &Value) -> &'static str {
    let target = event["request"]["target"].as_str().unwrap_or_default();
    let ua = event["request"]["headers"].to_string();
    let body = event["request"]["body"].as_str().unwrap_or_default();
    if ua.contains("jndi")
        || ua.contains("() {")
        || target.contains("ping")
        || target.contains("{{")
    {
        "cmdi"
    } else if body.contains("ENTITY") {
        "xxe"
    } else if target.contains("file=") {
        "path_traversal"
    } else if target.contains("q=") {
        "xss"
    } else {
        "sqli"
    }
}

#[test]
fn sample_stream_gives_concrete_verdicts() {
    let dir = replay(&["examples/sample.jsonl"], 2, &[]);
    let verdicts = jsonl(&dir.path().join("verdicts.jsonl"));
    let dead = jsonl(&dir.path().join("dead_letters.jsonl"));
    let inputs = std::fs::read(root().join("examples/sample.jsonl")).unwrap();
    let lines = inputs
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    // Every input is accounted for: a verdict or a dead letter.
    assert_eq!(verdicts.len() + dead.len(), lines);

    let mut reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "invalid_field",
            "invalid_json",
            "invalid_json",
            "invalid_json",
            "schema_violation"
        ]
    );
    assert!(dead
        .iter()
        .all(|d| d["provenance"]["offset"].as_u64().is_some()
            && !d["detail"].as_str().unwrap().is_empty()));

    let v = by_evidence(&verdicts);
    let events: Vec<Value> = inputs
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let mut scans = 0;
    for e in &events {
        let id = e["evidence_id"].as_str().unwrap_or_default();
        let Some(verdict) = v.get(id) else { continue };
        if id.starts_with("cust-") {
            assert_eq!(
                verdict["decision"], "benign",
                "customer request flagged: {e}\n{verdict}"
            );
        } else if id.starts_with("scan-") {
            scans += 1;
            assert_ne!(verdict["decision"], "benign", "{e}");
            assert_eq!(verdict["label"], intended(e), "{e}\n{verdict}");
        }
    }
    assert_eq!(scans, 48);
    // The scanner's later requests are backed by its behaviour: simulate.
    let simulated = verdicts
        .iter()
        .filter(|v| v["decision"] == "simulate")
        .count();
    assert!(simulated >= 40, "{simulated}");
    assert_eq!(
        (
            v["oneoff-sqli"]["decision"].as_str(),
            v["oneoff-sqli"]["label"].as_str()
        ),
        (Some("tag"), Some("sqli"))
    );
    assert_eq!(v["csrf-email-change"]["label"], "csrf");
    assert_eq!(
        v["csrf-email-change"]["findings"][0]["location"],
        "header:Origin"
    );
    assert_eq!(v["late-arrival"]["late"], true);
    let oneoff = &v["oneoff-sqli"]["findings"][0];
    assert_eq!(oneoff["location"], "query:id");
    assert!(oneoff["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "sqli.quote_tautology"));
    // Verdicts carry provenance: the record's ordinal in the file.
    assert_eq!(
        v["oneoff-sqli"]["provenance"]["source"],
        "examples/sample.jsonl"
    );

    let rules = jsonl(&dir.path().join("rules.jsonl"));
    assert!(rules.len() >= 8, "{}", rules.len());
    let conf = std::fs::read_to_string(dir.path().join("rules.conf")).unwrap();
    let active = rules
        .iter()
        .filter(|r| r["status"] == "auto_applied")
        .count();
    assert_eq!(conf.matches("\nSecRule ").count(), active);
    assert!(rules
        .iter()
        .all(|r| r["secrule"].as_str().unwrap().starts_with("SecRule ")));
    let ready = jsonl(&dir.path().join("evidence_ready.jsonl"));
    assert_eq!(ready.len(), verdicts.len());
}

#[test]
fn outputs_are_byte_identical_across_worker_counts_and_runs() {
    // Raw HTTP requests are parsed on the worker that analyzes them, the
    // other formats on the reader.
    let files = [
        "examples/sample.jsonl",
        "examples/formats/access.log",
        "examples/formats/requests.http",
    ];
    let a = replay(&files, 1, &[]);
    let b = replay(&files, 2, &[]);
    let c = replay(&files, 2, &[]);
    let d = replay(&files, 3, &[]);
    for f in [
        "verdicts.jsonl",
        "rules.jsonl",
        "rules.conf",
        "evidence_ready.jsonl",
        "dead_letters.jsonl",
        "sim_results.jsonl",
    ] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert!(!x.is_empty(), "{f} is empty");
        for other in [&b, &c, &d] {
            assert_eq!(
                x,
                std::fs::read(other.path().join(f)).unwrap(),
                "{f} differs"
            );
        }
    }
}

#[test]
fn replay_speed_does_not_change_verdicts() {
    // 600x: the sample's ten minutes of event time in about a second.
    let fast = replay(&["examples/sample.jsonl"], 2, &[]);
    let paced = replay(&["examples/sample.jsonl"], 2, &["--speed", "600x"]);
    assert_eq!(
        std::fs::read(fast.path().join("verdicts.jsonl")).unwrap(),
        std::fs::read(paced.path().join("verdicts.jsonl")).unwrap()
    );
}

#[test]
fn every_recorded_format_is_read() {
    for (file, verdicts, dead, attacks) in [
        ("examples/formats/access.log", 5, 1, 2),
        ("examples/formats/modsec-audit.json", 3, 0, 2),
        ("examples/formats/requests.http", 4, 1, 2),
        ("examples/formats/session.har", 2, 1, 1),
    ] {
        let dir = replay(&[file], 1, &[]);
        let v = jsonl(&dir.path().join("verdicts.jsonl"));
        let d = jsonl(&dir.path().join("dead_letters.jsonl"));
        assert_eq!((v.len(), d.len()), (verdicts, dead), "{file}");
        let flagged = v.iter().filter(|x| x["decision"] != "benign").count();
        assert_eq!(flagged, attacks, "{file}");
        // Offsets are the records' ordinals in the file.
        let mut offsets: Vec<u64> = v
            .iter()
            .chain(&d)
            .map(|x| x["provenance"]["offset"].as_u64().unwrap())
            .collect();
        offsets.sort();
        assert_eq!(
            offsets,
            (0..(verdicts + dead) as u64).collect::<Vec<_>>(),
            "{file}"
        );
    }
}

#[test]
fn malformed_records_become_dead_letters_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let good = |id: &str| {
        format!(
            r#"{{"evidence_id":"{id}","event_time_ms":1767225600000,"request":{{"method":"GET","target":"/a?q=1"}}}}"#
        )
    };
    let mut data = Vec::new();
    data.extend_from_slice(good("first").as_bytes());
    data.extend_from_slice(b"\n{\"evidence_id\":\"cut\",\"event_ti\n");
    data.extend_from_slice(&[0x00, 0xff, 0x13, 0x37, 0xc3, b'\n']);
    // A 50 MB body: over the 8 MiB record limit.
    let huge_start = data.len();
    data.extend_from_slice(br#"{"evidence_id":"huge","event_time_ms":1767225600000,"request":{"method":"POST","target":"/","body":""#);
    data.extend(std::iter::repeat_n(b'A', 50 * 1024 * 1024));
    data.extend_from_slice(b"\"}}");
    let huge_len = (data.len() - huge_start) as u64;
    data.push(b'\n');
    data.extend_from_slice(b"{\"evidence_id\":\"latin1\",\"event_time_ms\":1767225600000,\"request\":{\"method\":\"GET\",\"target\":\"/\xf1\"}}\n");
    data.extend_from_slice(good("last").as_bytes());
    data.push(b'\n');
    std::fs::write(&path, &data).unwrap();
    let out = replay(&[path.to_str().unwrap()], 2, &[]);
    let v = jsonl(&out.path().join("verdicts.jsonl"));
    let d = jsonl(&out.path().join("dead_letters.jsonl"));
    let ids: Vec<&str> = v
        .iter()
        .map(|x| x["evidence_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["first", "last"]);
    let reasons: Vec<(u64, &str)> = d
        .iter()
        .map(|x| {
            (
                x["provenance"]["offset"].as_u64().unwrap(),
                x["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "invalid_json"),
            (2, "invalid_json"),
            (3, "too_large"),
            (4, "invalid_json")
        ]
    );
    let huge = &d[2];
    assert_eq!(huge["original_len"].as_u64().unwrap(), huge_len);
    assert!(huge["original"].as_str().unwrap().len() <= 4096);
    // Binary garbage keeps its exact bytes (base64 when not UTF-8).
    assert!(d[1]["original"]["base64"].is_string());
}

#[test]
fn huge_raw_http_body_is_dead_lettered_and_the_stream_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.http");
    let mut data = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n".to_vec();
    data.extend(std::iter::repeat_n(b'B', 50 * 1024 * 1024));
    data.extend_from_slice(b"GET /next?q=%27%20or%201=1-- HTTP/1.1\r\nHost: x\r\n\r\n");
    std::fs::write(&path, &data).unwrap();
    let out = replay(&[path.to_str().unwrap()], 1, &[]);
    let v = jsonl(&out.path().join("verdicts.jsonl"));
    let d = jsonl(&out.path().join("dead_letters.jsonl"));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["reason"], "too_large");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["label"], "sqli");
}

#[test]
fn csic_normal_traffic_replays_without_dead_letters_or_false_alarms() {
    let Some(path) = shared("csic2010/normalTrafficTraining.txt.gz") else {
        return;
    };
    let out = replay(&[path.to_str().unwrap()], 2, &[]);
    let v = jsonl(&out.path().join("verdicts.jsonl"));
    let d = jsonl(&out.path().join("dead_letters.jsonl"));
    assert_eq!(v.len(), 36_000);
    assert!(d.is_empty(), "{:?}", &d[..d.len().min(3)]);
    let flagged = v.iter().filter(|x| x["decision"] != "benign").count();
    // Normal traffic: at most 0.1 % flagged.
    assert!(flagged <= 36, "{flagged} of 36000 normal requests flagged");
}

#[test]
fn bad_arguments_fail_clearly() {
    let out = sentinel(&["replay", "--quiet", "does/not/exist.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read does/not/exist.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let prose = dir.path().join("notes.txt");
    std::fs::write(&prose, "just some notes\n").unwrap();
    let out = sentinel(&["replay", "--quiet", prose.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --format"));
    let out = sentinel(&[
        "replay",
        "--quiet",
        "--speed",
        "warp",
        "examples/sample.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = sentinel(&[
        "replay",
        "--quiet",
        "--payload-weight",
        "0.9",
        "examples/sample.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// A flood spread over 40 addresses of one /24 — each address quiet on its
/// own (20 ordinary requests a minute) — is seen through the prefix
/// window; the same traffic from 40 addresses in 40 different /24s is not.
/// With 1 and 2 workers alike.
#[test]
fn a_flood_spread_over_a_prefix_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.jsonl");
    let mut lines = Vec::new();
    for i in 0..800usize {
        let client = i % 40;
        for (group, ip) in [
            ("flood", format!("203.0.113.{}", 10 + client)),
            ("spread", format!("198.18.{}.7", client)),
        ] {
            let ev = serde_json::json!({
                "evidence_id": format!("{group}-{i:04}"),
                "event_time_ms": 1_767_225_600_000i64 + i as i64 * 70,
                "client": {"ip": ip},
                "request": {"method": "GET", "target": format!("/products?page={}", i % 9),
                    "headers": [{"name": "Host", "value": "shop.example"},
                                {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}]},
                "response": {"status": 200}
            });
            lines.push(ev.to_string());
        }
    }
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let mut outputs = Vec::new();
    for workers in [1, 2] {
        let out = replay(&[file.to_str().unwrap()], workers, &[]);
        let verdicts = jsonl(&out.path().join("verdicts.jsonl"));
        let distributed = |group: &str| {
            verdicts
                .iter()
                .filter(|v| v["evidence_id"].as_str().unwrap().starts_with(group))
                .filter(|v| {
                    v["anomalies"].as_array().is_some_and(|a| {
                        a.iter()
                            .any(|r| r.as_str().unwrap_or("").starts_with("distributed:"))
                    })
                })
                .count()
        };
        let flood = distributed("flood-");
        assert!(flood > 100, "only {flood} flood verdicts name the prefix");
        assert_eq!(distributed("spread-"), 0);
        // Flagged for an analyst although no request carries an attack,
        // once the prefix has reached both flood thresholds.
        let tagged = |group: &str| {
            verdicts
                .iter()
                .filter(|v| v["evidence_id"].as_str().unwrap().starts_with(group))
                .filter(|v| v["decision"] != "benign")
                .count()
        };
        assert!(
            tagged("flood-") > 100 && tagged("flood-") <= flood,
            "{}",
            tagged("flood-")
        );
        assert_eq!(tagged("spread-"), 0);
        outputs.push(std::fs::read(out.path().join("verdicts.jsonl")).unwrap());
    }
    assert!(outputs[0] == outputs[1], "1 and 2 workers differ");
}

#[test]
fn the_twins_outcome_cache_changes_no_output() {
    // The sample repeats attack payloads: with the cache (the default) most
    // outcomes are reused; without it every one is simulated anew.
    let cfg = tempfile::tempdir().unwrap();
    let off = cfg.path().join("no-cache.toml");
    std::fs::write(&off, "[sandbox]\nresult_cache_entries = 0\n").unwrap();
    let cached = tempfile::tempdir().unwrap();
    let summary = ok(sentinel(&[
        "replay",
        "--workers",
        "2",
        "--out",
        cached.path().to_str().unwrap(),
        "examples/sample.jsonl",
    ]));
    assert!(summary.contains("outcome reused"), "{summary}");
    // The payload memo's counts: the sample repeats some values.
    let count = |row: &str| -> u64 {
        let line = summary
            .lines()
            .find(|l| l.contains(row))
            .unwrap_or_else(|| panic!("no {row} row in {summary}"));
        line.split(|c: char| !c.is_ascii_digit() && c != ',')
            .rfind(|t| t.chars().any(|c| c.is_ascii_digit()))
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap()
    };
    let (looked_up, scored, reused) = (
        count("looked up"),
        count("│ scored"),
        count("reused (seen before)"),
    );
    assert_eq!(looked_up, scored + reused, "{summary}");
    assert!(scored > 0 && reused > 0, "{summary}");
    // The behaviour score memo's: one score per verdict, some vectors repeat.
    let (vectors, walked, same) = (
        count("window vectors scored"),
        count("forest walked"),
        count("reused (same window features)"),
    );
    assert_eq!(vectors, walked + same, "{summary}");
    assert_eq!(vectors, count("verdicts.jsonl"), "{summary}");
    assert!(walked > 0 && same > 0, "{summary}");
    let fresh = replay(
        &["examples/sample.jsonl"],
        2,
        &["--config", off.to_str().unwrap()],
    );
    assert!(!jsonl(&fresh.path().join("sim_results.jsonl")).is_empty());
    for f in [
        "verdicts.jsonl",
        "rules.jsonl",
        "rules.conf",
        "evidence_ready.jsonl",
        "sim_results.jsonl",
    ] {
        assert_eq!(
            std::fs::read(cached.path().join(f)).unwrap(),
            std::fs::read(fresh.path().join(f)).unwrap(),
            "{f} differs with the outcome cache off"
        );
    }
}
