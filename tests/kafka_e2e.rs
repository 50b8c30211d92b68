//! End-to-end through a real Kafka-compatible broker (tansu): the service
//! consumes evidence, produces every output, commits offsets only behind
//! delivered outputs, survives crashes and broker restarts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::events::{intended_class, stream};
use common::kafka::{committed, high_watermarks, produce, read_topic, write_config, Broker};
use common::service::Service;
use common::{jsonl, ok, sentinel};
use serde_json::Value;

const T0: i64 = 1_767_225_600_000;

/// Runs `f` when dropped (prints logs when a test panics).
struct Guard<F: FnMut()>(F);
impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

/// Parsed JSON values of a topic.
fn values(brokers: &str, topic: &str) -> Vec<Value> {
    read_topic(brokers, topic)
        .into_iter()
        .map(|(_, _, v)| serde_json::from_slice(&v).expect("json value"))
        .collect()
}

/// Verdicts by evidence id, and dead letters.
type Outputs = (BTreeMap<String, Vec<Value>>, Vec<Value>);

/// Evidence ids covered by verdicts and dead-letter keys so far.
fn covered(brokers: &str) -> Outputs {
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for v in values(brokers, "events.sentinel_verdict") {
        by_id
            .entry(v["evidence_id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(v);
    }
    (by_id, values(brokers, "events.dead_letter"))
}

fn wait_for(brokers: &str, ids: &BTreeSet<String>, dead: usize, timeout: Duration) -> Outputs {
    try_wait_for(brokers, ids, dead, timeout).unwrap_or_else(|why| panic!("{why}"))
}

/// [`wait_for`], returning what was missing at the deadline instead of
/// panicking.
fn try_wait_for(
    brokers: &str,
    ids: &BTreeSet<String>,
    dead: usize,
    timeout: Duration,
) -> Result<Outputs, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let (v, d) = covered(brokers);
        if ids.iter().all(|id| v.contains_key(id)) && d.len() >= dead {
            return Ok((v, d));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out: {} of {} verdicts, {} of {dead} dead letters",
                ids.iter().filter(|id| v.contains_key(*id)).count(),
                ids.len(),
                d.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Why some of `ids` have no verdict, told apart from the input topic, the
/// service group's committed offsets and the broker's watermarks.
enum Shortfall {
    /// A record without a verdict lies below its partition's committed
    /// offset, or is not in the topic: Sentinel lost it.
    Lost(String),
    /// Every record without a verdict lies at or above the committed
    /// offsets, and the broker reports a high watermark below records a
    /// fresh consumer reads: tansu stopped serving a long-lived consumer
    /// (the defect the README describes). A restart resumes from the
    /// committed offsets.
    BrokerStale(String),
    /// Not processed, not committed, and the broker's watermarks are right:
    /// Sentinel stalled.
    Stalled(String),
}

fn diagnose(brokers: &str, ids: &BTreeSet<String>, partitions: u32) -> Shortfall {
    let (verdicts, _) = covered(brokers);
    let input = read_topic(brokers, "events.evidence_created");
    let mut at: BTreeMap<String, (i32, i64)> = BTreeMap::new();
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o, v) in &input {
        let e = ends.entry(*p).or_default();
        *e = (*e).max(o + 1);
        if let Ok(v) = serde_json::from_slice::<Value>(v) {
            if let Some(id) = v["evidence_id"].as_str() {
                at.entry(id.to_string()).or_insert((*p, *o));
            }
        }
    }
    let committed: BTreeMap<i32, i64> =
        committed(brokers, "sentinel", "events.evidence_created", partitions)
            .into_iter()
            .collect();
    let high: BTreeMap<i32, i64> = high_watermarks(brokers, "events.evidence_created", partitions)
        .into_iter()
        .collect();
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !verdicts.contains_key(*id))
        .collect();
    let facts = format!(
        "{} without a verdict (first {:?}); committed {committed:?}; high watermarks {high:?}; \
         a fresh consumer read to {ends:?}",
        missing.len(),
        missing.first()
    );
    for id in &missing {
        match at.get(*id) {
            None => return Shortfall::Lost(format!("{id} is not in the input topic; {facts}")),
            Some((p, o)) if committed.get(p).is_some_and(|c| o < c) => {
                return Shortfall::Lost(format!(
                    "{id} (partition {p}, offset {o}) is behind the committed offset; {facts}"
                ))
            }
            Some(_) => {}
        }
    }
    if ends
        .iter()
        .any(|(p, end)| high.get(p).is_some_and(|h| h < end))
    {
        Shortfall::BrokerStale(facts)
    } else {
        Shortfall::Stalled(facts)
    }
}

#[test]
fn end_to_end_through_the_broker_matches_file_replay() {
    let broker = Broker::memory();
    broker.create_sentinel_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &broker.brokers(), 2, "");
    let mut service = Service::start(&config, &dir.path().join("run.log"));
    service.wait_assigned(2, 4, Duration::from_secs(60));

    let events = stream(400, 20, T0, 4);
    let mut messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    messages.push((
        "bad".into(),
        b"{\"evidence_id\":\"cut\",\"event_ti".to_vec(),
    ));
    messages.push((
        "bad".into(),
        br#"{"evidence_id":7,"event_time_ms":1,"request":{}}"#.to_vec(),
    ));
    messages.push(("bad".into(), br#"{"evidence_id":"","event_time_ms":1767225600000,"request":{"method":"GET","target":"/"}}"#.to_vec()));
    produce(&broker.brokers(), "events.evidence_created", &messages);

    let ids: BTreeSet<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let log = service.log.clone();
    let guard = scopeguard(move || {
        eprintln!(
            "service log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let (verdicts, dead) = wait_for(&broker.brokers(), &ids, 3, Duration::from_secs(90));
    std::mem::forget(guard);
    let status = service.terminate(Duration::from_secs(60));
    assert!(status.success(), "{status}: {}", service.log_text());

    // Every input is accounted for, once (no rebalance after the group settled).
    assert_eq!(verdicts.len(), 400);
    assert!(
        verdicts.values().all(|v| v.len() == 1),
        "duplicates without a crash"
    );
    let mut reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        ["invalid_field", "invalid_json", "schema_violation"]
    );
    for (id, vs) in &verdicts {
        let v = &vs[0];
        let want = intended_class(id);
        if want == "benign" {
            assert_eq!(v["decision"], "benign", "{v}");
        } else {
            assert_eq!(v["label"], want, "{v}");
            assert_ne!(v["decision"], "benign", "{v}");
        }
        assert_eq!(v["provenance"]["source"], "kafka:events.evidence_created");
        assert!(v["provenance"]["partition"].as_i64().is_some());
    }
    let ready = values(&broker.brokers(), "events.evidence_ready");
    assert_eq!(ready.len(), 400);

    // Offsets are committed up to the end of every partition.
    let input = read_topic(&broker.brokers(), "events.evidence_created");
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o, _) in &input {
        let e = ends.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    let got: BTreeMap<i32, i64> =
        committed(&broker.brokers(), "sentinel", "events.evidence_created", 4)
            .into_iter()
            .collect();
    for (p, end) in &ends {
        assert_eq!(
            got.get(p),
            Some(end),
            "partition {p} committed {:?}, end {end}",
            got.get(p)
        );
    }

    // The same events through the file pipeline give the same verdicts and rules.
    let file = dir.path().join("events.jsonl");
    let text: Vec<u8> = events
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("replay");
    ok(sentinel(&[
        "replay",
        "--quiet",
        "--workers",
        "2",
        "--out",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ]));
    for r in jsonl(&out.join("verdicts.jsonl")) {
        let live = &verdicts[r["evidence_id"].as_str().unwrap()][0];
        for f in [
            "verdict_id",
            "decision",
            "label",
            "score",
            "payload_score",
            "behaviour_score",
            "class_scores",
        ] {
            assert_eq!(live[f], r[f], "{f} differs for {}", r["evidence_id"]);
        }
    }
    let live_rules: BTreeSet<String> = values(&broker.brokers(), "events.rule_generated")
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_string())
        .collect();
    let file_rules: BTreeSet<String> = jsonl(&out.join("rules.jsonl"))
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!live_rules.is_empty());
    assert_eq!(live_rules, file_rules);

    // An analyst records the topic and replays it: same verdicts, with the live provenance.
    let rec = dir.path().join("evidence.rec");
    ok(sentinel(&[
        "record",
        "--brokers",
        &broker.brokers(),
        "--topic",
        "events.evidence_created",
        "--out",
        rec.to_str().unwrap(),
    ]));
    let out2 = dir.path().join("replay-rec");
    ok(sentinel(&[
        "replay",
        "--quiet",
        "--workers",
        "2",
        "--out",
        out2.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]));
    let replayed = jsonl(&out2.join("verdicts.jsonl"));
    assert_eq!(replayed.len(), 400);
    for r in &replayed {
        let live = &verdicts[r["evidence_id"].as_str().unwrap()][0];
        assert_eq!(live["provenance"], r["provenance"]);
        assert_eq!(live["decision"], r["decision"]);
    }
    assert_eq!(jsonl(&out2.join("dead_letters.jsonl")).len(), 3);
}

/// Produces `messages` in the background at about `per_second`; `sent`
/// counts the messages delivered so far.
fn produce_paced(
    brokers: String,
    messages: Vec<(String, Vec<u8>)>,
    per_second: usize,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for chunk in messages.chunks(per_second / 10) {
            produce(&brokers, "events.evidence_created", chunk);
            sent.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

#[test]
fn a_killed_service_restarts_and_loses_nothing() {
    let broker = Broker::memory();
    broker.create_sentinel_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &broker.brokers(), 2, "");
    let mut service = Service::start(&config, &dir.path().join("run1.log"));
    service.wait_assigned(2, 4, Duration::from_secs(60));
    let events = stream(3000, 50, T0, 5);
    let ids: BTreeSet<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    // About six seconds of input; the service is killed in the middle, once
    // it has produced outputs and while input is still arriving.
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer = produce_paced(broker.brokers(), messages, 500, sent.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(std::sync::atomic::Ordering::SeqCst) < 1200 {
        assert!(Instant::now() < deadline, "no progress before the crash");
        std::thread::sleep(Duration::from_millis(20));
    }
    service.kill();
    let before = covered(&broker.brokers()).0.len();
    eprintln!(
        "killed after {} messages sent, {before} verdicts",
        sent.load(std::sync::atomic::Ordering::SeqCst)
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut service = Service::start(&config, &dir.path().join("run2.log"));
    producer.join().unwrap();
    let log = service.log.clone();
    let guard = scopeguard(move || {
        eprintln!(
            "service log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let (verdicts, _) = match try_wait_for(&broker.brokers(), &ids, 0, Duration::from_secs(120)) {
        Ok(done) => done,
        Err(why) => match diagnose(&broker.brokers(), &ids, 4) {
            Shortfall::Lost(facts) => panic!("{why}: lost input: {facts}"),
            Shortfall::Stalled(facts) => panic!("{why}: the service stalled: {facts}"),
            // Not a loss: the broker stopped serving the records it holds.
            // The restart that recovers them is part of what this test
            // checks (resuming from committed offsets loses nothing).
            Shortfall::BrokerStale(facts) => {
                eprintln!(
                    "{why}: tansu reports stale watermarks ({facts}); restarting the service"
                );
                assert!(service.terminate(Duration::from_secs(60)).success());
                service = Service::start(&config, &dir.path().join("run3.log"));
                wait_for(&broker.brokers(), &ids, 0, Duration::from_secs(120))
            }
        },
    };
    std::mem::forget(guard);
    assert!(
        service.terminate(Duration::from_secs(60)).success(),
        "{}",
        service.log_text()
    );
    assert!(
        before > 0 && before < ids.len(),
        "the crash did not come mid-stream: {before} verdicts before"
    );
    // Nothing lost; duplicates carry identical ids.
    assert_eq!(verdicts.len(), ids.len());
    let mut duplicates = 0;
    for (id, vs) in &verdicts {
        let first = &vs[0]["verdict_id"];
        assert!(
            vs.iter().all(|v| &v["verdict_id"] == first),
            "{id}: different ids for duplicates"
        );
        duplicates += vs.len() - 1;
    }
    // The restart resumed from committed offsets: far from everything was redone.
    assert!(
        duplicates < ids.len() / 2,
        "{duplicates} duplicates: the restart did not resume from committed offsets"
    );
    // The diagnosis a timeout would print calls an id the topic never had lost.
    let mut unknown = ids.clone();
    unknown.insert("never-produced".into());
    assert!(matches!(
        diagnose(&broker.brokers(), &unknown, 4),
        Shortfall::Lost(facts) if facts.starts_with("never-produced is not in the input topic")
    ));
}

#[test]
fn the_service_survives_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::sqlite(dir.path());
    broker.create_sentinel_topics(2);
    let config = write_config(dir.path(), &broker.brokers(), 2, "");
    let mut service = Service::start(&config, &dir.path().join("run.log"));
    service.wait_assigned(2, 2, Duration::from_secs(60));
    let events = stream(1500, 30, T0, 5);
    let ids: BTreeSet<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    produce(
        &broker.brokers(),
        "events.evidence_created",
        &messages[..750],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while covered(&broker.brokers()).0.len() < 100 {
        assert!(
            Instant::now() < deadline,
            "no progress before the broker restart"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    broker.stop();
    std::thread::sleep(Duration::from_secs(3));
    broker.restart();
    produce(
        &broker.brokers(),
        "events.evidence_created",
        &messages[750..],
    );
    let (verdicts, _) = wait_for(&broker.brokers(), &ids, 0, Duration::from_secs(120));
    assert_eq!(verdicts.len(), ids.len());
    assert!(
        service.terminate(Duration::from_secs(60)).success(),
        "{}",
        service.log_text()
    );
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::kafka::free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), 1, "");
    let start = Instant::now();
    let out = sentinel(&["run", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreachable"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_promotion_reaches_the_running_service_without_restart() {
    let broker = Broker::memory();
    broker.create_sentinel_topics(4);
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = common::kafka::free_port();
    let config = write_config(
        dir.path(),
        &broker.brokers(),
        2,
        &format!("model_reload_ms = 300\n[api]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n"),
    );
    let mut service = Service::start_in(&config, &dir.path().join("run.log"), data.path(), &[]);
    service.wait_assigned(2, 4, Duration::from_secs(60));
    let old = ok(common::sentinel_in(
        data.path(),
        &["models", "list", "--json"],
    ));
    let old: Value = serde_json::from_str(&old).unwrap();
    let old = old["active"].as_str().unwrap().to_string();

    // Before: the active model scores.
    let first = stream(100, 10, T0, 4);
    let msgs: Vec<(String, Vec<u8>)> = first
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    produce(&broker.brokers(), "events.evidence_created", &msgs);
    let ids: BTreeSet<String> = first.iter().map(|(_, id, _)| id.clone()).collect();
    let (v1, _) = wait_for(&broker.brokers(), &ids, 0, Duration::from_secs(90));
    assert!(v1.values().all(|vs| vs[0]["model_version"] == old.as_str()));

    // A new model is trained and promoted while the service runs.
    let trained = ok(common::sentinel_in(
        data.path(),
        &[
            "train",
            "--folds",
            "1",
            "--seed",
            "11",
            "--quiet",
            "--json",
            "--promote",
            "100",
        ],
    ));
    let new = serde_json::from_str::<Value>(&trained).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !service.log_text().contains("models reloaded") {
        assert!(
            Instant::now() < deadline,
            "no reload: {}",
            service.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // After: the same service scores with the new model, and says so.
    let second: Vec<_> = stream(200, 10, T0 + 60_000, 4)
        .into_iter()
        .skip(100)
        .collect();
    let msgs: Vec<(String, Vec<u8>)> = second
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    produce(&broker.brokers(), "events.evidence_created", &msgs);
    let ids2: BTreeSet<String> = second.iter().map(|(_, id, _)| id.clone()).collect();
    let (v2, _) = wait_for(&broker.brokers(), &ids2, 0, Duration::from_secs(90));
    for id in &ids2 {
        assert_eq!(v2[id][0]["model_version"], new.as_str(), "{id}");
    }
    // The service's own metrics: pipeline counters, consumer lag, watermark delay.
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = std::process::Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{metrics_port}/metrics")])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    for name in [
        "sentinel_events_in_total{source=\"input\"} 200",
        "cerberus_sentinel_predictions_total{verdict=",
        "sentinel_consumer_lag{partition=",
        "sentinel_watermark_delay_seconds",
        "cerberus_rules_generated_total",
    ] {
        assert!(metrics.contains(name), "{name} missing in\n{metrics}");
    }
    assert!(
        service.terminate(Duration::from_secs(60)).success(),
        "{}",
        service.log_text()
    );
    let audit = ok(common::sentinel_in(
        data.path(),
        &["audit", "tail", "-n", "50"],
    ));
    assert!(audit.contains("model.reloaded"), "{audit}");
    // The switch is a timestamped update: every verdict from its event time
    // on names the new model, every one before it the old.
    let update: Value = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["action"] == "model.update" && r["detail"]["initial"] == false)
        .unwrap_or_else(|| panic!("no model.update in {audit}"));
    let from = update["detail"]["event_time_ms_from"].as_i64().unwrap();
    assert_eq!(
        update["subject"]
            .as_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap(),
        format!("payload {new}")
    );
    for v in v1.values().chain(v2.values()).map(|vs| &vs[0]) {
        let expect = if v["event_time_ms"].as_i64().unwrap() >= from {
            new.as_str()
        } else {
            old.as_str()
        };
        assert_eq!(v["model_version"], expect, "{v}");
    }
    // A replay of the same events with the live run's switch schedule (from
    // the audit log) gives the live verdicts, with 1 and 2 workers.
    let file = dir.path().join("recorded.jsonl");
    let text: Vec<u8> = first
        .iter()
        .chain(second.iter())
        .flat_map(|(_, _, v)| v.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    std::fs::write(&file, text).unwrap();
    for workers in ["1", "2"] {
        let out = dir.path().join(format!("replay-{workers}"));
        ok(common::sentinel_in(
            data.path(),
            &[
                "replay",
                "--quiet",
                "--workers",
                workers,
                "--out",
                out.to_str().unwrap(),
                "--model-schedule",
                "audit",
                file.to_str().unwrap(),
            ],
        ));
        let replayed = jsonl(&out.join("verdicts.jsonl"));
        assert_eq!(replayed.len(), 200);
        for r in &replayed {
            let id = r["evidence_id"].as_str().unwrap();
            let live = v1.get(id).or_else(|| v2.get(id)).map(|vs| &vs[0]).unwrap();
            for f in [
                "verdict_id",
                "model_version",
                "decision",
                "score",
                "class_scores",
            ] {
                assert_eq!(
                    live[f], r[f],
                    "{f} differs for {id} ({workers} workers): live {live}\nreplay {r}"
                );
            }
        }
    }
}
