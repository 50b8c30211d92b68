//! Timely cluster mode: two processes on loopback produce exactly the
//! outputs of one process (replay), byte for byte.

mod common;

use std::process::{Command, Stdio};

use common::kafka::free_port;

#[test]
fn two_processes_replay_byte_identical_to_one() {
    common::models_ready();
    let dir = tempfile::tempdir().unwrap();
    let inputs = ["examples/sample.jsonl", "examples/formats/access.log"];
    let single = common::replay(&inputs, 2, &[]);
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let out = dir.path().join(format!("out{i}"));
            Command::new(env!("CARGO_BIN_EXE_sentinel"))
                .current_dir(common::root())
                .env("SENTINEL_DATA_DIR", common::data_dir())
                .args(["replay", "--quiet", "--workers", "2", "--processes", "2"])
                .args([
                    "--process",
                    &i.to_string(),
                    "--hostfile",
                    hosts.to_str().unwrap(),
                ])
                .args(["--out", out.to_str().unwrap()])
                .args(inputs)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a cluster process")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for f in [
        "verdicts.jsonl",
        "rules.jsonl",
        "rules.conf",
        "evidence_ready.jsonl",
        "dead_letters.jsonl",
        "sim_results.jsonl",
    ] {
        let a = std::fs::read(single.path().join(f)).unwrap();
        let b = std::fs::read(dir.path().join("out0").join(f)).unwrap();
        assert!(!a.is_empty(), "{f} is empty");
        assert!(a == b, "{f} differs between 1 and 2 processes");
    }
}

/// Latest assignment of every worker, from the logs of all processes:
/// the total, once every one of `workers` workers holds a partition (the
/// group has settled with all members), else 0.
fn assigned_partitions(logs: &[String]) -> usize {
    settled_partitions(logs, 4)
}

fn settled_partitions(logs: &[String], workers: usize) -> usize {
    let mut latest: std::collections::BTreeMap<String, usize> = Default::default();
    for log in logs {
        for line in log.lines().filter(|l| l.contains("assigned partitions")) {
            let worker = line
                .split("worker=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("?")
                .to_string();
            let parts = line.split("partitions=").nth(1).unwrap_or("");
            let n = parts
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .count();
            latest.insert(worker, n);
        }
    }
    if latest.len() < workers || latest.values().any(|n| *n == 0) {
        return 0;
    }
    latest.values().sum()
}

/// Two processes of two workers each consume the four partitions of the
/// input topic and give exactly the verdicts and rules of a one-process
/// replay of the same events. (Once seen failing under the full suite's
/// load — one partition without verdicts — before the source's
/// backpressure stopped counting records held for the watermark; the log
/// of both processes is printed if it happens again.)
#[test]
fn two_processes_through_kafka_give_the_verdicts_of_one() {
    use common::events::stream;
    use common::kafka::{produce, read_topic, write_config, Broker};
    use common::service::Service;
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::{Duration, Instant};

    let broker = Broker::memory();
    broker.create_sentinel_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &broker.brokers(), 2, "");
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    let h = hosts.to_str().unwrap().to_string();
    let logs: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("run{i}.log")))
        .collect();
    let mut services: Vec<Service> = (0..2)
        .map(|i| {
            let p = i.to_string();
            Service::start_with(
                &config,
                &logs[i],
                &["--processes", "2", "--process", &p, "--hostfile", &h],
            )
        })
        .collect();
    // The group settles: 4 workers in 2 processes hold the 4 partitions.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let texts: Vec<String> = services.iter().map(|s| s.log_text()).collect();
        if assigned_partitions(&texts) == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle:\n{}",
            texts.join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let events = stream(400, 20, 1_767_225_600_000, 4);
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    produce(&broker.brokers(), "events.evidence_created", &messages);
    let ids: BTreeSet<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let verdicts: BTreeMap<String, serde_json::Value> = loop {
        let got: BTreeMap<String, serde_json::Value> =
            read_topic(&broker.brokers(), "events.sentinel_verdict")
                .into_iter()
                .map(|(_, _, v)| {
                    let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
                    (v["evidence_id"].as_str().unwrap().to_string(), v)
                })
                .collect();
        if ids.iter().all(|id| got.contains_key(id)) {
            break got;
        }
        let missing: Vec<_> = ids
            .iter()
            .filter(|id| !got.contains_key(*id))
            .take(10)
            .collect();
        assert!(
            Instant::now() < deadline,
            "{} of {} verdicts; missing (first 10): {missing:?}\n{}",
            got.len(),
            ids.len(),
            services
                .iter()
                .map(|s| s.log_text())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // SIGTERM to every process, then wait: the dataflow spans both, so
    // each drains only when the other stops too.
    for s in &services {
        s.signal_term();
    }
    for s in &mut services {
        let status = s.wait_exit(Duration::from_secs(60));
        assert!(status.success(), "{status}: {}", s.log_text());
    }

    // One process, same events, from a file: the same verdicts and rules.
    let file = dir.path().join("events.jsonl");
    let text: Vec<u8> = events
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = common::replay(&[file.to_str().unwrap()], 2, &[]);
    for r in common::jsonl(&out.path().join("verdicts.jsonl")) {
        let live = &verdicts[r["evidence_id"].as_str().unwrap()];
        for f in [
            "verdict_id",
            "decision",
            "label",
            "score",
            "payload_score",
            "behaviour_score",
            "class_scores",
        ] {
            assert_eq!(
                live[f], r[f],
                "{f} differs for {}: live {live}\nreplay {r}",
                r["evidence_id"]
            );
        }
    }
    let live_rules: BTreeSet<String> = read_topic(&broker.brokers(), "events.rule_generated")
        .iter()
        .map(|(_, _, v)| {
            serde_json::from_slice::<serde_json::Value>(v).unwrap()["rule_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let file_rules: BTreeSet<String> = common::jsonl(&out.path().join("rules.jsonl"))
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!live_rules.is_empty());
    assert_eq!(live_rules, file_rules);
}

/// Fail-stop and recovery: process 1 is killed mid-stream; process 0
/// stops on its own (timely's connections close); the rest of the stream
/// arrives while the cluster is down; the restarted cluster resumes from the
/// committed offsets and every event gets its verdict, with identical ids
/// for redelivered records. Two fixes made this pass: static group
/// membership (the restarted workers take over the dead members' partitions
/// at once) and the cluster-wide process clock (an idle process no longer
/// holds back the last buckets of a process that read later event times —
/// those verdicts used to appear only at shutdown).
#[test]
fn killing_one_process_stops_the_cluster_and_a_restart_loses_nothing() {
    use common::events::stream;
    use common::kafka::{produce, read_topic, write_config, Broker};
    use common::service::Service;
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::{Duration, Instant};

    let broker = Broker::memory();
    broker.create_sentinel_topics(4);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &broker.brokers(), 2, "");
    let hosts = dir.path().join("hosts");
    let start = |round: usize, hosts: &std::path::Path| -> Vec<Service> {
        std::fs::write(
            hosts,
            format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
        )
        .unwrap();
        let h = hosts.to_str().unwrap().to_string();
        (0..2)
            .map(|i| {
                let p = i.to_string();
                Service::start_with(
                    &config,
                    &dir.path().join(format!("run{round}-{i}.log")),
                    &["--processes", "2", "--process", &p, "--hostfile", &h],
                )
            })
            .collect()
    };
    let mut cluster = start(1, &hosts);
    let deadline = Instant::now() + Duration::from_secs(90);
    while assigned_partitions(&cluster.iter().map(|s| s.log_text()).collect::<Vec<_>>()) != 4 {
        assert!(Instant::now() < deadline, "the group did not settle");
        std::thread::sleep(Duration::from_millis(300));
    }
    let events = stream(3000, 50, 1_767_225_600_000, 5);
    let ids: BTreeSet<String> = events.iter().map(|(_, id, _)| id.clone()).collect();
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(k, _, v)| (k.clone(), v.clone()))
        .collect();
    let verdict_ids = |b: &str| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, _, v) in read_topic(b, "events.sentinel_verdict") {
            let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
            m.entry(v["evidence_id"].as_str().unwrap().to_string())
                .or_default()
                .push(v["verdict_id"].as_str().unwrap().to_string());
        }
        m
    };
    // The first half of the stream arrives; once the cluster has produced
    // verdicts for part of it, process 1 dies. The rest of the stream
    // arrives while the cluster is down.
    let (first, second) = messages.split_at(messages.len() / 2);
    produce(&broker.brokers(), "events.evidence_created", first);
    let deadline = Instant::now() + Duration::from_secs(90);
    while verdict_ids(&broker.brokers()).is_empty() {
        assert!(Instant::now() < deadline, "no progress before the crash");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = verdict_ids(&broker.brokers()).len();
    let killed_at = Instant::now();
    cluster[1].kill();
    // Fail-stop: the surviving process stops on its own.
    let status = cluster[0].wait_exit(Duration::from_secs(60));
    assert!(
        !status.success(),
        "the survivor exited cleanly: {}",
        cluster[0].log_text()
    );
    eprintln!(
        "killed process 1 at {before} verdicts; process 0 stopped {:?} later",
        killed_at.elapsed()
    );
    produce(&broker.brokers(), "events.evidence_created", second);
    // Restart the whole cluster: it resumes from committed offsets.
    let mut cluster = start(2, &hosts);
    let deadline = Instant::now() + Duration::from_secs(180);
    let verdicts = loop {
        let v = verdict_ids(&broker.brokers());
        if ids.iter().all(|id| v.contains_key(id)) {
            break v;
        }
        if Instant::now() >= deadline {
            // Stop the cluster to get each process's own summary in the logs.
            for s in &cluster {
                s.signal_term();
            }
            for s in &mut cluster {
                let _ = s.wait_exit(Duration::from_secs(60));
            }
            let missing: Vec<&String> = ids
                .iter()
                .filter(|id| !v.contains_key(*id))
                .take(20)
                .collect();
            panic!(
                "{} of {} verdicts after the restart; missing (first 20): {missing:?}\n{}",
                v.len(),
                ids.len(),
                cluster
                    .iter()
                    .map(|s| s.log_text())
                    .collect::<Vec<_>>()
                    .join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    for s in &cluster {
        s.signal_term();
    }
    for s in &mut cluster {
        assert!(
            s.wait_exit(Duration::from_secs(60)).success(),
            "{}",
            s.log_text()
        );
    }
    assert!(
        before > 0 && before < ids.len(),
        "{before} verdicts before the crash"
    );
    // Nothing lost; redelivered records carry identical verdict ids.
    assert_eq!(verdicts.len(), ids.len());
    for (id, vs) in &verdicts {
        assert!(
            vs.iter().all(|v| v == &vs[0]),
            "{id}: different ids for duplicates"
        );
    }
}
