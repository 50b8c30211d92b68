//! The feedback store: analyst labels as JSON Lines under the data
//! directory, appended by `sentinel feedback add` and by the learner (from
//! `events.feedback`), deduplicated, shared across processes by a file lock.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use sentinel_schema::{Feedback, ThreatClass};

/// A feedback store problem.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackStoreError {
    /// File system failure.
    #[error("feedback store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored line does not parse (the store was edited by hand).
    #[error("feedback store {path} line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parse error.
        message: String,
    },
}

/// The feedback file of a data directory.
#[derive(Clone, Debug)]
pub struct FeedbackStore {
    path: PathBuf,
}

/// What identifies one piece of feedback (the same label sent twice counts once).
fn key(f: &Feedback) -> (String, &'static str, String, Option<String>) {
    let kind = match f.kind {
        sentinel_schema::FeedbackKind::Label => "label",
        sentinel_schema::FeedbackKind::FalsePositive => "fp",
        sentinel_schema::FeedbackKind::FalseNegative => "fn",
    };
    (
        f.evidence_id.clone(),
        kind,
        f.label.as_str().to_string(),
        f.payload.clone(),
    )
}

impl FeedbackStore {
    /// The store of `data_dir` (`<data_dir>/feedback/feedback.jsonl`).
    pub fn open(data_dir: &Path) -> FeedbackStore {
        FeedbackStore {
            path: data_dir.join("feedback").join("feedback.jsonl"),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> FeedbackStoreError + '_ {
        move |source| FeedbackStoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Every stored label, oldest first.
    pub fn load(&self) -> Result<Vec<Feedback>, FeedbackStoreError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io()(e)),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(self.io())?;
            if line.trim().is_empty() {
                continue;
            }
            let f: Feedback =
                serde_json::from_str(&line).map_err(|e| FeedbackStoreError::Corrupt {
                    path: self.path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })?;
            out.push(f);
        }
        Ok(out)
    }

    /// Appends the feedback not stored yet (under an exclusive lock) and
    /// returns how many were new.
    pub fn append(&self, items: &[Feedback]) -> Result<usize, FeedbackStoreError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(self.io())?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(self.io())?;
        file.lock().map_err(self.io())?;
        let stored = self.load()?;
        let mut seen: BTreeSet<_> = stored.iter().map(key).collect();
        let mut bytes = Vec::new();
        let mut added = 0;
        for f in items {
            if seen.insert(key(f)) {
                serde_json::to_writer(&mut bytes, f).map_err(|e| self.io()(e.into()))?;
                bytes.push(b'\n');
                added += 1;
            }
        }
        file.write_all(&bytes).map_err(self.io())?;
        file.sync_data().map_err(self.io())?;
        Ok(added)
    }
}

/// The training samples feedback gives: each label that names a payload
/// (feedback about a whole evidence without a payload cannot be trained
/// on), in order; a later label of the same payload replaces an earlier one
/// when training.
pub fn feedback_samples(items: &[Feedback]) -> Vec<(String, ThreatClass)> {
    items
        .iter()
        .filter_map(|f| {
            let p = f.payload.as_ref()?;
            (!p.is_empty()).then(|| (p.clone(), f.label))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::FeedbackKind;

    fn fb(id: &str, payload: Option<&str>, label: ThreatClass) -> Feedback {
        Feedback {
            evidence_id: id.into(),
            kind: FeedbackKind::FalsePositive,
            label,
            payload: payload.map(String::from),
            analyst: "ana".into(),
            note: None,
            time_ms: 1,
        }
    }

    #[test]
    fn appends_deduplicate_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path());
        assert!(store.load().unwrap().is_empty());
        let a = fb("e1", Some("ls -la tips"), ThreatClass::Benign);
        let b = fb("e2", None, ThreatClass::Benign);
        assert_eq!(store.append(&[a.clone(), b.clone(), a.clone()]).unwrap(), 2);
        assert_eq!(store.append(std::slice::from_ref(&a)).unwrap(), 0);
        let again = FeedbackStore::open(dir.path()).load().unwrap();
        assert_eq!(again, vec![a, b]);
        assert_eq!(
            feedback_samples(&again),
            vec![("ls -la tips".to_string(), ThreatClass::Benign)]
        );
    }

    #[test]
    fn a_corrupt_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedbackStore::open(dir.path());
        store
            .append(&[fb("e1", Some("x"), ThreatClass::Benign)])
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(b"{not json\n").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
