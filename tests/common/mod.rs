//! Helpers for the end-to-end tests: run the `sentinel` binary and read its outputs.
#![allow(dead_code)]

pub mod api;
pub mod events;
pub mod kafka;
pub mod nginx;
pub mod s3;
pub mod service;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The data directory every test shares (under `target/tmp`): its default
/// model is trained once per build of the binary, by the first test that
/// needs it, and reused. The directory name carries the binary's
/// modification time, so a rebuild (new generators, new trainer) gets a
/// fresh directory and never a stale model. Tests that change the registry
/// copy it first (see [`private_data_dir`]).
pub fn data_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_sentinel"));
    let stamp = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sentinel-data-{stamp:x}"))
}

/// Removes the data directories of earlier builds (older than an hour).
fn remove_stale_data_dirs() {
    let keep = data_dir();
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let stale = p != keep
            && e.file_name().to_string_lossy().starts_with("sentinel-data")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if stale {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Makes sure the shared data directory has its models (`sentinel models
/// init`, serialized across test processes by the registry lock).
pub fn models_ready() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        remove_stale_data_dirs();
        let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["models", "init", "--quiet"])
            .env("SENTINEL_DATA_DIR", data_dir())
            .output()
            .expect("run sentinel models init");
        assert!(
            out.status.success(),
            "models init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A fresh copy of the shared data directory, for tests that promote,
/// roll back or train.
pub fn private_data_dir() -> tempfile::TempDir {
    models_ready();
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&data_dir(), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        // A private copy starts its own audit log (the shared one is being
        // appended to by other tests while we copy).
        if e.file_name() == "audit" {
            continue;
        }
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A `sentinel` command using the shared data directory.
pub fn command() -> Command {
    models_ready();
    let mut c = Command::new(env!("CARGO_BIN_EXE_sentinel"));
    c.current_dir(root()).env("SENTINEL_DATA_DIR", data_dir());
    c
}

/// Runs `sentinel ARGS` with `data_dir` as its data directory.
pub fn sentinel_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .current_dir(root())
        .env("SENTINEL_DATA_DIR", data_dir)
        .args(args)
        .output()
        .expect("run sentinel")
}

/// Runs `sentinel ARGS` with `data_dir` as its data directory and `stdin`.
pub fn sentinel_in_stdin(data_dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .current_dir(root())
        .env("SENTINEL_DATA_DIR", data_dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sentinel");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for sentinel")
}

/// Runs `sentinel ARGS` and returns its output (panics when it cannot start).
pub fn sentinel(args: &[&str]) -> Output {
    command().args(args).output().expect("run sentinel")
}

/// Runs `sentinel ARGS` with `stdin` and returns its output.
pub fn sentinel_stdin(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sentinel");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for sentinel")
}

/// Asserts success and returns stdout as text.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "sentinel failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses a JSON Lines file.
pub fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Replays `files` into a fresh temporary directory with `workers`; returns the directory.
pub fn replay(files: &[&str], workers: usize, extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = workers.to_string();
    let out = dir.path().to_str().expect("utf-8 temp path").to_string();
    let mut args = vec!["replay", "--quiet", "--workers", &w, "--out", &out];
    args.extend_from_slice(files);
    args.extend_from_slice(extra);
    ok(sentinel(&args));
    dir
}

/// A path in the shared corpora, or `None` (with a loud message) when the
/// checkout has none and `SENTINEL_ALLOW_MISSING_CORPORA` is set.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("../shared/data").join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("SENTINEL_ALLOW_MISSING_CORPORA").is_some(),
        "{} is missing (set SENTINEL_ALLOW_MISSING_CORPORA=1 to skip corpus tests)",
        p.display()
    );
    None
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for
/// request targets built from payloads).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
