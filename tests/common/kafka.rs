//! A real Kafka-compatible broker (tansu) for tests, and topic helpers.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// The tansu binary: `$TANSU`, `~/.cargo/bin/tansu` or `tansu` on the PATH.
/// `./scripts/test.sh` installs it when missing; a test never silently skips.
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".cargo/bin/tansu");
        if p.exists() {
            return p;
        }
    }
    let found = Command::new("tansu")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "the tansu broker is not installed: run ./scripts/test.sh (it installs it with `cargo install tansu --locked --features dynostore,libsql`)"
    );
    PathBuf::from("tansu")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running tansu broker, killed on drop.
pub struct Broker {
    child: Option<Child>,
    /// Port it listens on.
    pub port: u16,
    storage: String,
    dir: PathBuf,
}

impl Broker {
    /// Starts a broker with the in-memory engine.
    pub fn memory() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        Broker::start(free_port(), "memory://tansu/".into(), dir)
    }

    /// Starts a broker with the durable SQLite engine in `dir` (survives restarts).
    pub fn sqlite(dir: &Path) -> Broker {
        Broker::start(free_port(), "sqlite://tansu.db".into(), dir.to_path_buf())
    }

    fn start(port: u16, storage: String, dir: PathBuf) -> Broker {
        let mut b = Broker {
            child: None,
            port,
            storage,
            dir,
        };
        b.restart();
        b
    }

    /// Bootstrap servers.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker process.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::File::create(self.dir.join("tansu.log")).expect("log file");
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--storage-engine",
                &self.storage,
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start; see {}",
                self.dir.join("tansu.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates a topic (tansu does not auto-create).
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu_bin())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "cannot create topic {name}");
    }

    /// Creates Sentinel's topics: the input with `partitions`, the outputs with 2.
    pub fn create_sentinel_topics(&self, partitions: u32) {
        self.create_topic("events.evidence_created", partitions);
        self.create_topic("events.feedback", 1);
        for t in [
            "events.evidence_ready",
            "events.sentinel_verdict",
            "events.sim_result",
            "events.rule_generated",
            "events.dead_letter",
        ] {
            self.create_topic(t, 2);
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Produces `(key, value)` messages to `topic` and waits for delivery.
pub fn produce(brokers: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for (k, v) in messages {
        let mut rec = BaseRecord::to(topic).key(k.as_str()).payload(v.as_slice());
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    p.poll(Duration::from_millis(10));
                }
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// Reads every message of `topic` from the beginning to its current end.
pub fn read_topic(brokers: &str, topic: &str) -> Vec<(i32, i64, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sentinel-tests-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let parts: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut tpl = TopicPartitionList::new();
    for p in &parts {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut open: std::collections::BTreeSet<i32> = parts.into_iter().collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !open.is_empty() && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push((
                m.partition(),
                m.offset(),
                m.payload().unwrap_or_default().to_vec(),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                open.remove(&p);
            }
            _ => {}
        }
    }
    out
}

/// The high watermark the broker reports for each partition of `topic`
/// (`ListOffsets`), as `(partition, offset)`.
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub fn high_watermarks(brokers: &str, topic: &str, partitions: u32) -> Vec<(i32, i64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "sentinel-tests-watermarks")
        .create()
        .expect("consumer");
    (0..partitions as i32)
        .map(|p| {
            let (_, high) = c
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}

/// Committed offsets of `group` on `topic`, per partition.
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: u32) -> Vec<(i32, i64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    got.elements()
        .iter()
        .map(|e| {
            (
                e.partition(),
                match e.offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                },
            )
        })
        .collect()
}

/// Writes a service configuration for `brokers` into `dir`.
pub fn write_config(dir: &Path, brokers: &str, workers: usize, extra: &str) -> PathBuf {
    let p = dir.join("sentinel.toml");
    std::fs::write(
        &p,
        format!(
            "data_dir = \"{}\"\n[kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"sentinel\"\nconnect_timeout_ms = 5000\n[pipeline]\nworkers = {workers}\nidle_timeout_ms = 500\n{extra}",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    p
}
