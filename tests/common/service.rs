//! `sentinel run` as a child process.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `sentinel run`.
pub struct Service {
    child: Option<Child>,
    /// Its log (standard error).
    pub log: PathBuf,
}

impl Service {
    /// Starts `sentinel run --config CONFIG`, logging to `log`.
    pub fn start(config: &Path, log: &Path) -> Service {
        Service::start_with(config, log, &[])
    }

    /// Starts `sentinel run --config CONFIG EXTRA…`, logging to `log`.
    pub fn start_with(config: &Path, log: &Path, extra: &[&str]) -> Service {
        super::models_ready();
        Service::start_in(config, log, &super::data_dir(), extra)
    }

    /// [`Service::start_with`] on the data directory `data_dir`.
    pub fn start_in(config: &Path, log: &Path, data_dir: &Path, extra: &[&str]) -> Service {
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["run", "--config", config.to_str().expect("utf-8 path")])
            .args(extra)
            .env("SENTINEL_DATA_DIR", data_dir)
            .env(
                "RUST_LOG",
                std::env::var("TEST_SENTINEL_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("start sentinel run");
        Service {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the consumer group has settled: the latest assignment of
    /// every worker, together, covers `partitions` partitions.
    pub fn wait_assigned(&self, workers: usize, partitions: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log_text();
            let mut latest: std::collections::BTreeMap<String, String> = Default::default();
            for line in log.lines().filter(|l| l.contains("assigned partitions")) {
                let worker = line
                    .split("worker=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("?");
                let parts = line.split("partitions=").nth(1).unwrap_or("").to_string();
                latest.insert(worker.to_string(), parts);
            }
            let total: usize = latest
                .values()
                .map(|p| {
                    p.trim_matches(|c| c == '[' || c == ']')
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .count()
                })
                .sum();
            if latest.len() >= workers.min(partitions) && total == partitions {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the consumer group did not settle; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM without waiting (a cluster's processes stop together).
    pub fn signal_term(&self) {
        if let Some(child) = self.child.as_ref() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal_term();
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                self.child = None;
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "sentinel did not stop after SIGTERM; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                self.child = None;
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "sentinel did not exit; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
