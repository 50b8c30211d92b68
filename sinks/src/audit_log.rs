//! The tamper-evident audit log: append-only JSON Lines, hash-chained,
//! fsynced, rotated without breaking the chain.
//!
//! Layout of the audit directory:
//!
//! ```text
//! audit.jsonl                 the current segment
//! audit.<first-seq>.jsonl     rotated segments (first sequence number, 20 digits)
//! audit.head                  the last record's `seq hash` (detects truncation)
//! ```
//!
//! Each record's `hash` is the SHA-256 of the record serialized (sorted
//! keys) without `hash`; `prev_hash` is the previous record's hash, so an
//! edit, deletion or reordering anywhere breaks the chain from that record
//! on, and [`verify`] names the first bad one. The head file, replaced
//! atomically after every append, catches records cut off the end.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sentinel_schema::{AuditHook, AuditRecord};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const CURRENT: &str = "audit.jsonl";
const HEAD: &str = "audit.head";

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// File system failure.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The existing log is not a valid chain (refuse to extend it).
    #[error("audit log is corrupt: {0}")]
    Corrupt(Box<VerifyFailure>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Serializes a record as its log line (without the newline): the JSON of
/// every field but `hash`, then `,"hash":"<hex>"}` where the hash is the
/// SHA-256 of exactly those preceding bytes with a closing `}`. Hashing the
/// bytes written (not a re-serialization) keeps the chain exact whatever
/// the JSON library does with floats or key order.
pub fn encode_record(r: &mut AuditRecord) -> Vec<u8> {
    let mut v = serde_json::to_value(&*r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("hash");
    }
    let body = serde_json::to_vec(&v).unwrap_or_default();
    r.hash = hex::encode(Sha256::digest(&body));
    let mut line = body;
    line.pop(); // the closing brace
    line.extend_from_slice(format!(",\"hash\":\"{}\"}}", r.hash).as_bytes());
    line
}

/// Checks a log line's hash against its bytes; returns the hash.
pub fn line_hash_ok(line: &[u8]) -> Result<String, String> {
    const SUFFIX_LEN: usize = 9 + 64 + 2; // ,"hash":" + hex + "}
    if line.len() < SUFFIX_LEN + 2 {
        return Err("record too short".into());
    }
    let (body, suffix) = line.split_at(line.len() - SUFFIX_LEN);
    let hex = suffix
        .strip_prefix(b",\"hash\":\"")
        .and_then(|s| s.strip_suffix(b"\"}"))
        .ok_or("the record does not end with its hash")?;
    let hex = std::str::from_utf8(hex).map_err(|_| "hash is not text")?;
    let mut hashed = body.to_vec();
    hashed.push(b'}');
    if hex::encode(Sha256::digest(&hashed)) != hex {
        return Err("hash mismatch (the record was edited)".into());
    }
    Ok(hex.to_string())
}

/// An open audit log. Appends are serialized — across threads by a mutex,
/// across processes sharing the data directory by an OS file lock on
/// `audit.lock` — and durable (fsync) before [`AuditLog::append`] returns.
pub struct AuditLog {
    dir: PathBuf,
    rotate_bytes: u64,
    state: Mutex<()>,
    failures: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("dir", &self.dir).finish()
    }
}

/// Reads `audit.head`: the last record's sequence number and hash.
fn read_head(dir: &Path) -> Option<(u64, String)> {
    let text = std::fs::read_to_string(dir.join(HEAD)).ok()?;
    let mut parts = text.split_whitespace();
    let seq = parts.next()?.parse().ok()?;
    Some((seq, parts.next()?.to_string()))
}

/// The sequence number of the first record of a segment.
fn first_seq(path: &Path) -> Option<u64> {
    let f = File::open(path).ok()?;
    let mut line = String::new();
    BufReader::new(f).read_line(&mut line).ok()?;
    serde_json::from_str::<AuditRecord>(&line)
        .ok()
        .map(|r| r.seq)
}

impl AuditLog {
    /// Opens (or creates) the log in `dir`, rotating the current segment
    /// when it exceeds `rotate_bytes`. The existing chain is verified first:
    /// a tampered log is not silently extended.
    pub fn open(dir: &Path, rotate_bytes: u64) -> Result<AuditLog, AuditError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let log = AuditLog {
            dir: dir.to_path_buf(),
            rotate_bytes: rotate_bytes.max(1024),
            state: Mutex::new(()),
            failures: AtomicU64::new(0),
        };
        {
            let _lock = log.lock()?;
            verify(dir).map_err(|f| AuditError::Corrupt(Box::new(f)))?;
        }
        Ok(log)
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends that could not be written (e.g. disk full).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Takes the cross-process lock (released when the file is dropped).
    fn lock(&self) -> Result<File, AuditError> {
        let path = self.dir.join("audit.lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.lock().map_err(io(&path))?;
        Ok(f)
    }

    /// Appends one record and fsyncs it; returns the record.
    pub fn append(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<AuditRecord, AuditError> {
        let _in_process = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _lock = self.lock()?;
        // Another process may have appended since: the head is the truth.
        let (next_seq, last_hash) = match read_head(&self.dir) {
            Some((seq, hash)) => (seq + 1, hash),
            None => (0, GENESIS.to_string()),
        };
        let path = self.dir.join(CURRENT);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if bytes >= self.rotate_bytes {
            self.rotate(&path)?;
        }
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut rec = AuditRecord {
            seq: next_seq,
            time_ms,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail,
            prev_hash: last_hash,
            hash: String::new(),
        };
        let mut line = encode_record(&mut rec);
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(&line).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))?;
        self.write_head(rec.seq, &rec.hash)?;
        Ok(rec)
    }

    fn write_head(&self, seq: u64, hash: &str) -> Result<(), AuditError> {
        let head = self.dir.join(HEAD);
        let tmp = self.dir.join("audit.head.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        writeln!(f, "{seq} {hash}").map_err(io(&tmp))?;
        f.sync_data().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &head).map_err(io(&head))
    }

    fn rotate(&self, current: &Path) -> Result<(), AuditError> {
        let first = first_seq(current).unwrap_or(0);
        let rotated = self.dir.join(format!("audit.{first:020}.jsonl"));
        std::fs::rename(current, &rotated).map_err(io(&rotated))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl AuditHook for AuditLog {
    fn audit(&self, actor: &str, action: &str, subject: &str, detail: serde_json::Value) {
        if let Err(e) = self.append(actor, action, subject, detail) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            eprintln!("warning: audit record {action} not written: {e}");
        }
    }
}

/// A verified log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySummary {
    /// Records in the chain.
    pub records: u64,
    /// Segment files read.
    pub segments: usize,
    /// The last record's hash ([`GENESIS`] when empty).
    pub last_hash: String,
    /// First sequence number of the current segment, if it has records.
    pub current_first_seq: Option<u64>,
}

/// Where and why verification failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}, line {line} (record {seq}): {reason}")]
pub struct VerifyFailure {
    /// The segment file.
    pub file: String,
    /// 1-based line number in that file.
    pub line: u64,
    /// The sequence number expected at that position.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// The segments of the log in chain order.
pub fn segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<PathBuf> = Vec::new();
    if dir.exists() {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("audit.") && name.ends_with(".jsonl") && name != CURRENT {
                rotated.push(p);
            }
        }
    }
    rotated.sort();
    let current = dir.join(CURRENT);
    if current.exists() {
        rotated.push(current);
    }
    Ok(rotated)
}

/// Verifies the whole chain in `dir`: every record parses, sequence numbers
/// are gapless, each `prev_hash` is the previous `hash`, each `hash` is
/// right, and the head file matches the last record.
pub fn verify(dir: &Path) -> Result<VerifySummary, VerifyFailure> {
    let fail = |file: &str, line: u64, seq: u64, reason: String| VerifyFailure {
        file: file.to_string(),
        line,
        seq,
        reason,
    };
    let files = segments(dir).map_err(|e| fail("(directory)", 0, 0, e.to_string()))?;
    let mut seq = 0u64;
    let mut last = GENESIS.to_string();
    let mut current_first_seq = None;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = File::open(path).map_err(|e| fail(&name, 0, seq, e.to_string()))?;
        let mut reader = BufReader::new(f);
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| fail(&name, line_no + 1, seq, e.to_string()))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.last() != Some(&b'\n') {
                return Err(fail(
                    &name,
                    line_no,
                    seq,
                    "truncated record (no newline)".into(),
                ));
            }
            let rec: AuditRecord = serde_json::from_slice(&buf[..buf.len() - 1])
                .map_err(|e| fail(&name, line_no, seq, format!("not an audit record: {e}")))?;
            if rec.seq != seq {
                return Err(fail(
                    &name,
                    line_no,
                    seq,
                    format!("sequence number {} where {seq} was expected (deleted or reordered records)", rec.seq),
                ));
            }
            if rec.prev_hash != last {
                return Err(fail(
                    &name,
                    line_no,
                    seq,
                    "prev_hash does not match the previous record (deleted, inserted or reordered records)".into(),
                ));
            }
            match line_hash_ok(&buf[..buf.len() - 1]) {
                Ok(h) if h == rec.hash => {}
                Ok(_) => return Err(fail(&name, line_no, seq, "hash field mismatch".into())),
                Err(reason) => return Err(fail(&name, line_no, seq, reason)),
            }
            if name == CURRENT && current_first_seq.is_none() {
                current_first_seq = Some(seq);
            }
            last = rec.hash;
            seq += 1;
        }
    }
    let head = dir.join(HEAD);
    match std::fs::read_to_string(&head) {
        Ok(text) => {
            let mut parts = text.split_whitespace();
            let (hs, hh) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let expected_seq = seq
                .checked_sub(1)
                .map(|s| s.to_string())
                .unwrap_or_default();
            if hs != expected_seq || hh != last {
                return Err(fail(
                    HEAD,
                    1,
                    seq,
                    format!("the head names record {hs} but the log ends at record {expected_seq:?} (records were cut off the end)"),
                ));
            }
        }
        Err(_) if seq == 0 => {}
        Err(e) => return Err(fail(HEAD, 0, seq, format!("missing head file: {e}"))),
    }
    Ok(VerifySummary {
        records: seq,
        segments: files.len(),
        last_hash: last,
        current_first_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_with(n: u64, rotate: u64) -> (tempfile::TempDir, AuditLog) {
        let d = tempfile::tempdir().unwrap();
        let log = AuditLog::open(d.path(), rotate).unwrap();
        // Floats that do not survive a parse/print round trip exactly.
        for i in 0..n {
            log.append(
                "tester",
                "model.promoted",
                &format!("m{i}"),
                json!({"i": i, "confidence": 0.97f32, "x": 0.1 + 0.2}),
            )
            .unwrap();
        }
        (d, log)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    fn write_lines(p: &Path, l: &[String]) {
        std::fs::write(p, l.iter().map(|s| format!("{s}\n")).collect::<String>()).unwrap();
    }

    #[test]
    fn chain_verifies_and_survives_reopen_and_rotation() {
        let (d, log) = log_with(30, 1024);
        drop(log);
        let log = AuditLog::open(d.path(), 1024).unwrap();
        log.append("a", "b", "c", json!(null)).unwrap();
        let s = verify(d.path()).unwrap();
        assert_eq!(s.records, 31);
        assert!(s.segments > 2, "{s:?}");
    }

    #[test]
    fn edits_deletions_reorderings_and_truncations_are_detected() {
        let (d, log) = log_with(10, 1 << 20);
        drop(log);
        let p = d.path().join(CURRENT);
        let original = lines(&p);

        // Edit one byte of record 4's subject.
        let mut l = original.clone();
        l[4] = l[4].replacen("m4", "m5", 1);
        write_lines(&p, &l);
        let e = verify(d.path()).unwrap_err();
        assert_eq!((e.line, e.seq), (5, 4), "{e}");
        assert!(e.reason.contains("edited"));

        // Delete record 6.
        let mut l = original.clone();
        l.remove(6);
        write_lines(&p, &l);
        assert_eq!(verify(d.path()).unwrap_err().seq, 6);

        // Swap records 2 and 3.
        let mut l = original.clone();
        l.swap(2, 3);
        write_lines(&p, &l);
        assert_eq!(verify(d.path()).unwrap_err().seq, 2);

        // Cut the last two records off.
        write_lines(&p, &original[..8]);
        let e = verify(d.path()).unwrap_err();
        assert!(e.reason.contains("cut off"), "{e}");

        // Cut in the middle of a line.
        let mut text = original.join("\n");
        text.truncate(text.len() - 10);
        std::fs::write(&p, text).unwrap();
        assert!(verify(d.path()).is_err());

        // A tampered log is not extended.
        assert!(matches!(
            AuditLog::open(d.path(), 1 << 20),
            Err(AuditError::Corrupt(_))
        ));

        write_lines(&p, &original);
        assert_eq!(verify(d.path()).unwrap().records, 10);
    }

    #[test]
    fn two_writers_on_one_directory_keep_one_chain() {
        let d = tempfile::tempdir().unwrap();
        let a = AuditLog::open(d.path(), 2048).unwrap();
        let b = AuditLog::open(d.path(), 2048).unwrap();
        std::thread::scope(|s| {
            for log in [&a, &b] {
                s.spawn(move || {
                    for i in 0..25 {
                        log.append("w", "x", &i.to_string(), json!(null)).unwrap();
                    }
                });
            }
        });
        assert_eq!(verify(d.path()).unwrap().records, 50);
    }

    #[test]
    fn deleting_a_rotated_segment_is_detected() {
        let (d, log) = log_with(40, 1024);
        drop(log);
        let segs = segments(d.path()).unwrap();
        assert!(segs.len() >= 3);
        std::fs::remove_file(&segs[1]).unwrap();
        assert!(verify(d.path()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics_on_arbitrary_files(
            lines in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120), 0..6),
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        ) {
            let d = tempfile::tempdir().unwrap();
            let mut text = Vec::new();
            for l in &lines {
                text.extend_from_slice(l);
                text.push(b'\n');
            }
            std::fs::write(d.path().join(CURRENT), &text).unwrap();
            std::fs::write(d.path().join(HEAD), &head).unwrap();
            // Random bytes are never a valid chain (unless empty).
            let r = verify(d.path());
            proptest::prop_assert!(r.is_err() || lines.is_empty() || text.iter().all(|b| *b == b'\n'));
            let _ = line_hash_ok(&text);
        }
    }
}
