//! Feedback-driven retraining in a running `sentinel run` (issue #8): an
//! analyst reports false positives on `events.feedback`; the learner trains
//! a candidate, gates it, rolls it out as a canary, promotes it from what
//! it did on live traffic — and the same process, never restarted, stops
//! tagging the benign pattern while still catching attacks. Verdicts name
//! the model version that scored them.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::events::stream;
use common::kafka::{produce, read_topic, write_config, Broker};
use common::ok;
use common::service::Service;
use serde_json::{json, Value};

const T0: i64 = 1_767_225_600_000;

/// Benign searches on a Linux tutorial site that the default model tags as
/// command injection.
const PATTERN: [&str; 4] = [
    "ls -la tips and tricks",
    "ls -la explained for beginners",
    "ls -la output columns",
    "ls -la tips",
];

/// Attacks that must stay caught.
const ATTACKS: [&str; 3] = ["; ls -la /etc", "1' OR '1'='1", "<script>alert(1)</script>"];

fn event(id: &str, ip: &str, t: i64, q: &str) -> (String, Vec<u8>) {
    let target = format!("/docs/search?q={}", common::percent_encode(q));
    let ev = json!({
        "evidence_id": id, "event_time_ms": t, "client": {"ip": ip},
        "request": {"method": "GET", "target": target, "headers": [
            {"name": "Host", "value": "docs.example"},
            {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}]},
        "response": {"status": 200}
    });
    (format!("ip:{ip}"), serde_json::to_vec(&ev).unwrap())
}

/// Kafka messages: key and value.
type Messages = Vec<(String, Vec<u8>)>;

/// Pattern and attack events from `clients` addresses starting at `t0`.
fn probe(tag: &str, t0: i64, clients: usize) -> (Messages, BTreeMap<String, String>) {
    let mut msgs = Vec::new();
    let mut queries = BTreeMap::new();
    let all: Vec<&str> = PATTERN.iter().chain(ATTACKS.iter()).copied().collect();
    for c in 0..clients {
        for (j, q) in all.iter().enumerate() {
            let id = format!("{tag}-{c:02}-{j}");
            let ip = format!("203.0.113.{}", 10 + c);
            msgs.push(event(&id, &ip, t0 + (c * all.len() + j) as i64 * 20, q));
            queries.insert(id, q.to_string());
        }
    }
    (msgs, queries)
}

fn verdicts(brokers: &str) -> BTreeMap<String, Value> {
    read_topic(brokers, "events.sentinel_verdict")
        .into_iter()
        .map(|(_, _, v)| {
            let v: Value = serde_json::from_slice(&v).unwrap();
            (v["evidence_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn wait_verdicts(
    brokers: &str,
    ids: &BTreeSet<String>,
    service: &Service,
) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let v = verdicts(brokers);
        if ids.iter().all(|id| v.contains_key(id)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} verdicts\n{}",
            ids.iter().filter(|id| v.contains_key(*id)).count(),
            ids.len(),
            service.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn wait_log(service: &Service, needle: &str, timeout: Duration, mut meanwhile: impl FnMut()) {
    let deadline = Instant::now() + timeout;
    while !service.log_text().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no '{needle}' in\n{}",
            service.log_text()
        );
        meanwhile();
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn false_positive_feedback_retrains_canaries_and_promotes_without_restart() {
    let broker = Broker::memory();
    broker.create_sentinel_topics(2);
    let brokers = broker.brokers();
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = common::kafka::free_port();
    let config = write_config(
        dir.path(),
        &brokers,
        2,
        &format!(
            "model_reload_ms = 200\n[learning]\nenabled = true\ncheck_ms = 300\n\
             [learning.retrain]\nafter_labels = 3\n\
             [learning.canary]\npercent = 50\nmin_records = 40\nmax_flag_rate_drop = 0.2\n\
             [api]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n"
        ),
    );
    let mut service = Service::start_in(&config, &dir.path().join("run.log"), data.path(), &[]);
    service.wait_assigned(2, 2, Duration::from_secs(60));
    let pid = service.pid();
    let old: Value = serde_json::from_str(&ok(common::sentinel_in(
        data.path(),
        &["models", "list", "--json"],
    )))
    .unwrap();
    let old = old["active"].as_str().unwrap().to_string();

    // 1. Before: the benign pattern is tagged as an attack.
    let (msgs, queries) = probe("before", T0, 4);
    produce(&brokers, "events.evidence_created", &msgs);
    let ids: BTreeSet<String> = queries.keys().cloned().collect();
    let v1 = wait_verdicts(&brokers, &ids, &service);
    let mut reported = BTreeSet::new();
    for (id, q) in &queries {
        let v = &v1[id];
        assert_eq!(v["model_version"], old.as_str(), "{v}");
        assert_ne!(v["decision"], "benign", "{q} should be flagged before: {v}");
        // The analyst reports three of the pattern's payloads (from the
        // evidence: verdicts do not carry raw request data).
        if PATTERN[..3].contains(&q.as_str()) {
            reported.insert(q.clone());
        }
    }
    assert_eq!(reported.len(), 3, "{reported:?}");

    // 2. False-positive feedback through the feedback topic, plus one
    //    malformed record that must reach the dead-letter topic.
    let file = dir.path().join("feedback.jsonl");
    let lines: Vec<String> = reported
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"evidence_id": format!("before-{i}"), "kind": "false_positive",
                "label": "benign", "payload": p, "analyst": "ana", "time_ms": T0})
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = ok(common::sentinel_in(
        data.path(),
        &[
            "feedback",
            "add",
            file.to_str().unwrap(),
            "--brokers",
            &brokers,
        ],
    ));
    assert!(out.contains("published 3 records"), "{out}");
    produce(
        &brokers,
        "events.feedback",
        &[("bad".to_string(), b"{\"evidence_id\": 5".to_vec())],
    );

    // 3. The learner trains, gates and starts a canary; live traffic
    //    judges it and it is promoted.
    wait_log(&service, "is the canary", Duration::from_secs(180), || {});
    assert!(
        service
            .log_text()
            .contains("3 new labels; 3 labelled payloads"),
        "{}",
        service.log_text()
    );
    let mut t = T0 + 600_000;
    let mut batch = 0;
    wait_log(
        &service,
        "after its canary",
        Duration::from_secs(180),
        || {
            let traffic: Vec<(String, Vec<u8>)> = stream(60, 30, t, 4)
                .into_iter()
                .map(|(k, id, v)| {
                    let v = String::from_utf8(v)
                        .unwrap()
                        .replace(&id, &format!("live{batch}-{id}"));
                    (k, v.into_bytes())
                })
                .collect();
            produce(&brokers, "events.evidence_created", &traffic);
            t += 60 * 50;
            batch += 1;
        },
    );
    let registry: Value = serde_json::from_str(&ok(common::sentinel_in(
        data.path(),
        &["models", "list", "--json"],
    )))
    .unwrap();
    let new = registry["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    wait_log(
        &service,
        &format!("payload {new};"),
        Duration::from_secs(30),
        || {},
    );
    // The canary scored part of the live traffic, under its own version.
    let live = verdicts(&brokers);
    assert!(live.values().any(|v| v["model_version"] == new.as_str()));

    // 4. After: the same process no longer tags the pattern — the reported
    //    payloads and a variant it was not told about — and still catches
    //    the attacks; every verdict names the new version.
    let (msgs, queries) = probe("after", t + 600_000, 4);
    produce(&brokers, "events.evidence_created", &msgs);
    let ids: BTreeSet<String> = queries.keys().cloned().collect();
    let v2 = wait_verdicts(&brokers, &ids, &service);
    for (id, q) in &queries {
        let v = &v2[id];
        assert_eq!(v["model_version"], new.as_str(), "{v}");
        if PATTERN.contains(&q.as_str()) {
            assert_eq!(v["decision"], "benign", "{q} still flagged: {v}");
        } else {
            assert_ne!(v["decision"], "benign", "attack {q} missed: {v}");
        }
    }
    assert_eq!(service.pid(), pid);
    // Per-version counts on the service's metrics.
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = std::process::Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{metrics_port}/metrics")])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    for v in [&old, &new] {
        let name =
            format!("sentinel_model_records_total{{model_version=\"{v}\",outcome=\"scored\"}}");
        assert!(metrics.contains(&name), "{name} missing in\n{metrics}");
    }
    // The learner's differential dataset: three payloads labelled benign,
    // all learnt by the promoted model.
    for line in [
        "sentinel_learning_dataset{part=\"label:benign\"} 3",
        "sentinel_learning_dataset{part=\"pending\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    let dead: Vec<Value> = read_topic(&brokers, "events.dead_letter")
        .iter()
        .map(|(_, _, v)| serde_json::from_slice(v).unwrap())
        .collect();
    assert!(
        dead.iter()
            .any(|d| d["provenance"]["source"] == "kafka:events.feedback"),
        "{dead:?}"
    );
    assert!(
        service.terminate(Duration::from_secs(60)).success(),
        "{}",
        service.log_text()
    );
    let audit = ok(common::sentinel_in(
        data.path(),
        &["audit", "tail", "-n", "200"],
    ));
    for action in ["model.trained", "model.canary_started", "model.promoted"] {
        assert!(audit.contains(action), "{action} missing:\n{audit}");
    }
    let stored = ok(common::sentinel_in(data.path(), &["feedback", "list"]));
    assert!(stored.contains("3 records, 3 with a payload"), "{stored}");
}
