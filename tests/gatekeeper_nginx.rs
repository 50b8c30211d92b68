//! Rules a real WAF loads: Sentinel's rules in nginx + ModSecurity from
//! Debian's packages. Every generated rule loads; an attack that passes
//! gets 403 once the gatekeeper applies Sentinel's rules, benign requests
//! still get 200, a rollback restores the previous behaviour, and a rule
//! set the WAF refuses leaves the previous file in place.

mod common;

use common::nginx::Nginx;
use common::{jsonl, ok, sentinel};
use sentinel_models::corpus::{generate, CorpusSize};
use sentinel_schema::ThreatClass;

/// Evidence JSONL: generated attacks of every class (in the parameter a
/// real application would carry them) from many clients.
fn attack_evidence(per_class: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let samples = generate(
        3,
        CorpusSize {
            per_attack_class: per_class,
            benign: 0,
        },
    );
    for (i, s) in samples.iter().enumerate() {
        let (method, target, body, ctype) = match s.class {
            ThreatClass::Xxe => (
                "POST",
                "/api/import".to_string(),
                s.text.clone(),
                "application/xml",
            ),
            ThreatClass::Sqli => (
                "GET",
                format!("/products?id={}", common::percent_encode(&s.text)),
                String::new(),
                "",
            ),
            ThreatClass::Xss => (
                "GET",
                format!("/search?q={}", common::percent_encode(&s.text)),
                String::new(),
                "",
            ),
            ThreatClass::PathTraversal => (
                "GET",
                format!("/download?file={}", common::percent_encode(&s.text)),
                String::new(),
                "",
            ),
            _ => (
                "GET",
                format!("/ping?host={}", common::percent_encode(&s.text)),
                String::new(),
                "",
            ),
        };
        let mut headers = vec![serde_json::json!({"name": "Host", "value": "shop.example"})];
        if !ctype.is_empty() {
            headers.push(serde_json::json!({"name": "Content-Type", "value": ctype}));
        }
        let mut request =
            serde_json::json!({"method": method, "target": target, "headers": headers});
        if !body.is_empty() {
            request["body"] = serde_json::json!(body);
        }
        let ev = serde_json::json!({
            "evidence_id": format!("gen-{i:05}"),
            "event_time_ms": 1_767_225_600_000i64 + i as i64 * 100,
            "client": {"ip": format!("198.51.100.{}", 1 + i % 200)},
            "request": request,
            "response": {"status": 200}
        });
        out.extend_from_slice(&serde_json::to_vec(&ev).unwrap());
        out.push(b'\n');
    }
    out
}

#[test]
fn every_generated_rule_loads_in_modsecurity() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("attacks.jsonl");
    std::fs::write(&events, attack_evidence(80)).unwrap();
    let out = dir.path().join("out");
    ok(sentinel(&[
        "replay",
        "--quiet",
        "--no-simulate",
        "--out",
        out.to_str().unwrap(),
        events.to_str().unwrap(),
        "examples/sample.jsonl",
    ]));
    let rules = jsonl(&out.join("rules.jsonl"));
    assert!(rules.len() >= 20, "only {} rules", rules.len());
    let mut statuses = std::collections::BTreeSet::new();
    let mut conf = String::new();
    for r in &rules {
        statuses.insert(r["status"].as_str().unwrap().to_string());
        conf.push_str(r["secrule"].as_str().unwrap());
        conf.push('\n');
    }
    // Every rule of every status (block, challenge and tag actions alike).
    let (valid, log) = nginx.test_rules(&conf);
    assert!(valid, "nginx -t refused the rules:\n{log}");
    let loaded = format!("rules loaded inline/local/remote: 0/{}/0", rules.len());
    assert!(log.contains(&loaded), "expected {loaded:?} in:\n{log}");
    assert!(statuses.len() >= 2, "{statuses:?}");
}

const ATTACK: &str = "/products?id=1%27%20OR%20%271%27%3D%271";

const VARIANTS: &[&str] = &[
    "/products?id=1%27%20or%20%27a%27%3D%27a",
    "/products?id=7%27%20OR%202%3E1%20--%20",
    "/products?id=1%27/**/OR/**/%271%27%3D%271",
    "/products?id=x%27%20oR%20%27x%27%3D%27x",
    "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    "/search?q=%3CSCRIPT%20src%3D//evil.example/x.js%3E",
    "/download?file=../../../etc/passwd",
    "/download?file=..%2F..%2F..%2F..%2Fetc%2Fshadow",
];

const BENIGN: &[&str] = &[
    "/products?id=42",
    "/products?id=42&sort=price",
    "/search?q=red+shoes",
    "/search?q=O%27Brien",
    "/search?q=select+a+dish+from+the+menu",
    "/search?q=tea+%26+biscuits",
    "/search?q=Rue+de+l%27%C3%89glise+5",
    "/download?file=reports/2026/q3.pdf",
    "/ping?host=example.com",
    "/",
];

fn gatekeeper(
    nginx: &Nginx,
    rules_dir: &std::path::Path,
    data: &std::path::Path,
) -> std::process::Output {
    common::sentinel_in(
        data,
        &[
            "gatekeeper",
            "--from",
            rules_dir.to_str().unwrap(),
            "--rules-file",
            nginx.rules_file().to_str().unwrap(),
            "--validate",
            &nginx.validate_cmd(),
            "--reload",
            &nginx.reload_cmd(),
            "--once",
        ],
    )
}

#[test]
fn gatekeeper_blocks_the_attack_and_its_variants_and_rollback_restores() {
    let nginx = Nginx::start();
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("rules");

    // Before: the WAF lets everything through.
    assert_eq!(nginx.get(ATTACK), 200);
    for v in VARIANTS {
        assert_eq!(nginx.get(v), 200, "{v}");
    }

    // Sentinel sees the traffic (a replay of recorded evidence) and emits rules.
    let events = dir.path().join("traffic.jsonl");
    let mut lines = Vec::new();
    for (_, _, json) in common::events::stream(600, 12, 1_767_225_600_000, 6) {
        lines.extend_from_slice(&json);
        lines.push(b'\n');
    }
    std::fs::write(&events, lines).unwrap();
    ok(common::sentinel_in(
        data.path(),
        &[
            "replay",
            "--quiet",
            "--out",
            dir.path().join("out").to_str().unwrap(),
            "--rules-dir",
            rules_dir.to_str().unwrap(),
            events.to_str().unwrap(),
        ],
    ));

    // The gatekeeper applies the auto-applied rules, validated by nginx.
    let out = gatekeeper(&nginx, &rules_dir, data.path());
    let report: serde_json::Value = serde_json::from_str(ok(out).trim()).unwrap();
    assert_eq!(report["outcome"], "applied", "{report}");
    nginx.wait_for(ATTACK, 403);
    for v in VARIANTS {
        assert_eq!(
            nginx.get(v),
            403,
            "variant passed: {v}\n{}\n{}",
            nginx.log_tail(),
            std::fs::read_to_string(nginx.rules_file()).unwrap()
        );
    }
    for b in BENIGN {
        assert_eq!(nginx.get(b), 200, "benign request blocked: {b}");
    }
    // Nothing changed: nothing reloaded.
    let again: serde_json::Value =
        serde_json::from_str(ok(gatekeeper(&nginx, &rules_dir, data.path())).trim()).unwrap();
    assert_eq!(again["outcome"], "unchanged");

    // Rule sets that must not load leave the working file in place: one
    // nginx refuses (an unknown phase) and one it would accept although
    // its regex does not compile (libmodsecurity ignores such rules), which
    // the gatekeeper itself refuses.
    let good = std::fs::read_to_string(nginx.rules_file()).unwrap();
    let listed = ok(common::sentinel_in(
        data.path(),
        &[
            "rules",
            "list",
            "--json",
            "--dir",
            rules_dir.to_str().unwrap(),
        ],
    ));
    let first: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let id = first["rule_id"].as_str().unwrap().to_string();
    for (n, (from, to, field)) in [(",phase:2,", ",phase:9,", "secrule"), ("", "((", "pattern")]
        .into_iter()
        .enumerate()
    {
        let mut broken = first.clone();
        let version = first["version"].as_u64().unwrap() + 1 + n as u64;
        broken["version"] = serde_json::json!(version);
        broken["status"] = serde_json::json!("approved");
        if field == "secrule" {
            let s = broken["secrule"].as_str().unwrap().replace(from, to);
            broken["secrule"] = serde_json::json!(s);
        } else {
            let p = format!("{}{to}", broken["pattern"].as_str().unwrap());
            let s = broken["secrule"]
                .as_str()
                .unwrap()
                .replacen("\" \"", &format!("{to}\" \""), 1);
            broken["pattern"] = serde_json::json!(p);
            broken["secrule"] = serde_json::json!(s);
        }
        std::fs::write(
            rules_dir.join(format!("{id}.v{version:05}.json")),
            serde_json::to_vec(&broken).unwrap(),
        )
        .unwrap();
        let refused = gatekeeper(&nginx, &rules_dir, data.path());
        assert_eq!(refused.status.code(), Some(1), "{field}");
        let report = String::from_utf8_lossy(&refused.stdout);
        assert!(report.contains("refused"), "{report}");
        assert_eq!(std::fs::read_to_string(nginx.rules_file()).unwrap(), good);
        assert_eq!(
            nginx.get(ATTACK),
            403,
            "{field}: {report}\n{}",
            nginx.log_tail()
        );
    }
    // The reviewer retracts the broken rule.
    ok(common::sentinel_in(
        data.path(),
        &[
            "rules",
            "rollback",
            &id,
            "--dir",
            rules_dir.to_str().unwrap(),
        ],
    ));

    // Rollback of every SQL-injection rule: the attack passes again, the
    // other classes stay blocked.
    let listed = ok(common::sentinel_in(
        data.path(),
        &[
            "rules",
            "list",
            "--json",
            "--dir",
            rules_dir.to_str().unwrap(),
            "--status",
            "auto_applied",
        ],
    ));
    let mut rolled = 0;
    for l in listed.lines() {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        if r["class"] == "sqli" {
            ok(common::sentinel_in(
                data.path(),
                &[
                    "rules",
                    "rollback",
                    r["rule_id"].as_str().unwrap(),
                    "--dir",
                    rules_dir.to_str().unwrap(),
                    "--reason",
                    "test",
                ],
            ));
            rolled += 1;
        }
    }
    assert!(rolled >= 1);
    let out: serde_json::Value =
        serde_json::from_str(ok(gatekeeper(&nginx, &rules_dir, data.path())).trim()).unwrap();
    assert_eq!(out["outcome"], "applied", "{out}");
    assert!(!out["removed"].as_array().unwrap().is_empty());
    nginx.wait_for(ATTACK, 200);
    assert_eq!(
        nginx.get("/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E"),
        403
    );

    // Every decision is in the audit log, and the chain verifies.
    let tail = ok(common::sentinel_in(
        data.path(),
        &["audit", "tail", "-n", "200"],
    ));
    for action in [
        "rule.auto_applied",
        "rules.applied",
        "rules.refused",
        "rule.retracted",
    ] {
        assert!(tail.contains(action), "{action} not audited");
    }
    assert!(ok(common::sentinel_in(data.path(), &["audit", "verify"])).starts_with("ok:"));
}

#[test]
fn gatekeeper_follows_the_kafka_rule_topic_and_its_retractions() {
    let broker = common::kafka::Broker::memory();
    broker.create_topic("events.rule_generated", 2);
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let rules_dir = dir.path().join("rules");
    ok(common::sentinel_in(
        data.path(),
        &[
            "replay",
            "--quiet",
            "--no-simulate",
            "--out",
            out.to_str().unwrap(),
            "--rules-dir",
            rules_dir.to_str().unwrap(),
            "examples/sample.jsonl",
        ],
    ));
    // What `sentinel run` produces to the rule topic: one record per rule, keyed by rule id.
    let rules = jsonl(&out.join("rules.jsonl"));
    let messages: Vec<(String, Vec<u8>)> = rules
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_str().unwrap().to_string(),
                serde_json::to_vec(r).unwrap(),
            )
        })
        .collect();
    common::kafka::produce(&broker.brokers(), "events.rule_generated", &messages);
    let rules_file = dir.path().join("sentinel.conf");
    let run = || {
        let o = common::sentinel_in(
            data.path(),
            &[
                "gatekeeper",
                "--from",
                "kafka",
                "--brokers",
                &broker.brokers(),
                "--rules-file",
                rules_file.to_str().unwrap(),
                "--no-validate",
                "--once",
            ],
        );
        let text = ok(o);
        serde_json::from_str::<serde_json::Value>(text.trim()).unwrap()
    };
    let first = run();
    assert_eq!(first["outcome"], "applied", "{first}");
    let active = rules
        .iter()
        .filter(|r| r["status"] == "auto_applied")
        .count();
    assert_eq!(first["active"], active);
    let conf = std::fs::read_to_string(&rules_file).unwrap();
    assert_eq!(conf.matches("\nSecRule ").count(), active);

    // A reviewer retracts one rule and publishes the retraction.
    let victim = rules
        .iter()
        .find(|r| r["status"] == "auto_applied")
        .unwrap();
    let id = victim["rule_id"].as_str().unwrap();
    ok(common::sentinel_in(
        data.path(),
        &[
            "rules",
            "rollback",
            id,
            "--dir",
            rules_dir.to_str().unwrap(),
            "--brokers",
            &broker.brokers(),
        ],
    ));
    let second = run();
    assert_eq!(second["outcome"], "applied", "{second}");
    assert_eq!(second["removed"], serde_json::json!([id]));
    assert!(!std::fs::read_to_string(&rules_file).unwrap().contains(id));
}
