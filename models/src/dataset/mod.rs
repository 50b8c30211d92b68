//! The dataset manager: versioned datasets of labelled samples in the data
//! directory.
//!
//! Storage is content-addressed, like a tiny git:
//!
//! ```text
//! datasets/
//!   objects/<sha256>.jsonl.gz   # an immutable batch of samples (hash of the JSONL)
//!   versions/<id>.json          # a version: its batches, parent, message, counts
//!   refs/<name>                 # the head version of each named dataset
//!   .lock                       # held while committing
//! ```
//!
//! A version's id is the SHA-256 of its ordered batch list, so the same
//! content always has the same id. Every file is written atomically
//! (temporary file, fsync, rename) and in dependency order — batch, then
//! version, then ref — so a crash at any point leaves the previous head
//! intact; batches are verified against their hash when read.

pub mod quality;
pub mod sample;
pub mod split;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use quality::{clean, quality, CleanReport, Quality};
pub use sample::{Origin, Sample};
pub use split::{stratified_split, Split};

/// A dataset problem.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// I/O.
    #[error("dataset storage I/O at {path}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A stored file is damaged.
    #[error("dataset storage {path} is damaged: {detail}")]
    Corrupt {
        /// Where.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// No such dataset or version.
    #[error("no dataset version {0:?}")]
    Unknown(String),
    /// A bad name or argument.
    #[error("{0}")]
    Invalid(String),
}

/// A dataset version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// Content address (SHA-256 of the batch list).
    pub id: String,
    /// The version it extends.
    pub parent: Option<String>,
    /// Its batches, oldest first.
    pub objects: Vec<String>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// What changed.
    pub message: String,
    /// Samples in all.
    pub samples: usize,
    /// Samples per class.
    pub per_class: BTreeMap<String, usize>,
}

impl Version {
    /// The first 12 hex digits of the id.
    pub fn short(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}

/// The datasets of a data directory.
#[derive(Clone, Debug)]
pub struct DatasetStore {
    root: PathBuf,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Checks a dataset name: 1–64 of `[a-z0-9_-]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl DatasetStore {
    /// Opens (creating) the store under `data_dir/datasets`.
    pub fn open(data_dir: &Path) -> Result<Self, DatasetError> {
        let root = data_dir.join("datasets");
        for d in ["objects", "versions", "refs"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|source| DatasetError::Io { path: p, source })?;
        }
        Ok(DatasetStore { root })
    }

    fn io(path: &Path) -> impl Fn(std::io::Error) -> DatasetError + '_ {
        move |source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Dataset names, sorted.
    pub fn names(&self) -> Result<Vec<String>, DatasetError> {
        let dir = self.root.join("refs");
        let mut out: Vec<String> = std::fs::read_dir(&dir)
            .map_err(Self::io(&dir))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| valid_name(n))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The head version id of `name`, if the dataset exists.
    pub fn head(&self, name: &str) -> Result<Option<String>, DatasetError> {
        if !valid_name(name) {
            return Err(DatasetError::Invalid(format!(
                "invalid dataset name {name:?} (use a-z, 0-9, _ and -)"
            )));
        }
        let p = self.root.join("refs").join(name);
        match std::fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DatasetError::Io { path: p, source: e }),
        }
    }

    /// Reads a version by full id.
    pub fn version(&self, id: &str) -> Result<Version, DatasetError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DatasetError::Unknown(id.to_string()));
        }
        let p = self.root.join("versions").join(format!("{id}.json"));
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DatasetError::Unknown(id.to_string()))
            }
            Err(e) => return Err(DatasetError::Io { path: p, source: e }),
        };
        let v: Version = serde_json::from_slice(&bytes).map_err(|e| DatasetError::Corrupt {
            path: p.clone(),
            detail: e.to_string(),
        })?;
        if v.id != version_id(&v.objects) {
            return Err(DatasetError::Corrupt {
                path: p,
                detail: "id does not match the batch list".into(),
            });
        }
        Ok(v)
    }

    /// Resolves `NAME`, `NAME@ID-PREFIX` or a bare id prefix (≥ 6 hex digits).
    pub fn resolve(&self, spec: &str) -> Result<Version, DatasetError> {
        let (name, prefix) = match spec.split_once('@') {
            Some((n, p)) => (Some(n), Some(p)),
            None if valid_name(spec) && self.head(spec)?.is_some() => (Some(spec), None),
            None => (None, Some(spec)),
        };
        match (name, prefix) {
            (Some(n), None) => {
                let head = self
                    .head(n)?
                    .ok_or_else(|| DatasetError::Unknown(n.to_string()))?;
                self.version(&head)
            }
            (_, Some(prefix)) => {
                if prefix.len() < 6 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(DatasetError::Invalid(format!(
                        "version prefix {prefix:?} needs at least 6 hex digits"
                    )));
                }
                let dir = self.root.join("versions");
                let mut found: Vec<String> = std::fs::read_dir(&dir)
                    .map_err(Self::io(&dir))?
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter_map(|f| f.strip_suffix(".json").map(str::to_string))
                    .filter(|id| id.starts_with(&prefix.to_ascii_lowercase()))
                    .collect();
                found.sort();
                match found.len() {
                    1 => self.version(&found[0]),
                    0 => Err(DatasetError::Unknown(spec.to_string())),
                    _ => Err(DatasetError::Invalid(format!(
                        "version prefix {prefix} is ambiguous"
                    ))),
                }
            }
            (None, None) => Err(DatasetError::Unknown(spec.to_string())),
        }
    }

    /// The samples of a version, batches verified against their hashes.
    pub fn samples(&self, v: &Version) -> Result<Vec<Sample>, DatasetError> {
        let mut out = Vec::with_capacity(v.samples);
        for sha in &v.objects {
            out.extend(self.read_object(sha)?);
        }
        Ok(out)
    }

    fn object_path(&self, sha: &str) -> PathBuf {
        self.root.join("objects").join(format!("{sha}.jsonl.gz"))
    }

    fn read_object(&self, sha: &str) -> Result<Vec<Sample>, DatasetError> {
        let p = self.object_path(sha);
        let file = std::fs::File::open(&p).map_err(Self::io(&p))?;
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut text)
            .map_err(|e| DatasetError::Corrupt {
                path: p.clone(),
                detail: e.to_string(),
            })?;
        if sha256_hex(&text) != sha {
            return Err(DatasetError::Corrupt {
                path: p,
                detail: "content does not match its hash".into(),
            });
        }
        let mut out = Vec::new();
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            out.push(
                serde_json::from_slice(line).map_err(|e| DatasetError::Corrupt {
                    path: p.clone(),
                    detail: format!("line {}: {e}", i + 1),
                })?,
            );
        }
        Ok(out)
    }

    fn write_object(&self, samples: &[Sample]) -> Result<String, DatasetError> {
        let mut text = Vec::new();
        for s in samples {
            serde_json::to_writer(&mut text, s)
                .map_err(|e| DatasetError::Invalid(e.to_string()))?;
            text.push(b'\n');
        }
        let sha = sha256_hex(&text);
        let p = self.object_path(&sha);
        if !p.exists() {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&text).map_err(Self::io(&p))?;
            let bytes = gz.finish().map_err(Self::io(&p))?;
            crate::fsutil::write_atomic(&p, &bytes).map_err(Self::io(&p))?;
        }
        Ok(sha)
    }

    /// Adds `samples` to dataset `name` (creating it) as a new version and
    /// moves the head there. Safe against concurrent writers (an OS file
    /// lock) and crashes (see the module docs).
    pub fn commit(
        &self,
        name: &str,
        samples: &[Sample],
        message: &str,
    ) -> Result<Version, DatasetError> {
        if samples.is_empty() {
            return Err(DatasetError::Invalid("nothing to add".into()));
        }
        let lock_path = self.root.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Self::io(&lock_path))?;
        lock.lock().map_err(Self::io(&lock_path))?;
        let parent = match self.head(name)? {
            Some(id) => Some(self.version(&id)?),
            None => None,
        };
        let sha = self.write_object(samples)?;
        let mut objects = parent
            .as_ref()
            .map(|p| p.objects.clone())
            .unwrap_or_default();
        objects.push(sha);
        let mut per_class = parent
            .as_ref()
            .map(|p| p.per_class.clone())
            .unwrap_or_default();
        for s in samples {
            *per_class.entry(s.label.as_str().to_string()).or_default() += 1;
        }
        let v = Version {
            id: version_id(&objects),
            parent: parent.as_ref().map(|p| p.id.clone()),
            objects,
            created_at_ms: now_ms(),
            message: message.to_string(),
            samples: parent.as_ref().map(|p| p.samples).unwrap_or(0) + samples.len(),
            per_class,
        };
        let vp = self.root.join("versions").join(format!("{}.json", v.id));
        if !vp.exists() {
            let bytes =
                serde_json::to_vec_pretty(&v).map_err(|e| DatasetError::Invalid(e.to_string()))?;
            crate::fsutil::write_atomic(&vp, &bytes).map_err(Self::io(&vp))?;
        }
        let rp = self.root.join("refs").join(name);
        crate::fsutil::write_atomic(&rp, format!("{}\n", v.id).as_bytes())
            .map_err(Self::io(&rp))?;
        drop(lock);
        Ok(v)
    }

    /// The history of `name`, newest first.
    pub fn log(&self, name: &str) -> Result<Vec<Version>, DatasetError> {
        let mut out = Vec::new();
        let mut next = self.head(name)?;
        while let Some(id) = next {
            let v = self.version(&id)?;
            next = v.parent.clone();
            out.push(v);
        }
        Ok(out)
    }
}

/// The id of a batch list.
pub fn version_id(objects: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"sentinel-dataset-v1\n");
    for o in objects {
        h.update(o.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Writes samples as CSV (`payload,label,origin,split,note`).
pub fn export_csv(
    w: impl Write,
    samples: &[Sample],
    splits: Option<&[Split]>,
) -> Result<(), DatasetError> {
    let mut out = csv::Writer::from_writer(w);
    let err = |e: csv::Error| DatasetError::Invalid(format!("cannot write CSV: {e}"));
    out.write_record(["payload", "label", "origin", "split", "note"])
        .map_err(err)?;
    for (i, s) in samples.iter().enumerate() {
        let origin = match &s.origin {
            Origin::Import { source } => format!("import:{source}"),
            Origin::Manual => "manual".into(),
            Origin::FalsePositive { predicted, .. } => {
                format!("false_positive:{}", predicted.as_str())
            }
        };
        let split = splits
            .and_then(|sp| sp.get(i))
            .map(|s| s.as_str())
            .unwrap_or("");
        out.write_record([
            s.payload.as_str(),
            s.label.as_str(),
            &origin,
            split,
            s.note.as_deref().unwrap_or(""),
        ])
        .map_err(err)?;
    }
    out.flush()
        .map_err(|e| DatasetError::Invalid(format!("cannot write CSV: {e}")))?;
    Ok(())
}

/// Writes samples as JSON Lines (each sample, plus `split` when given).
pub fn export_jsonl(
    mut w: impl Write,
    samples: &[Sample],
    splits: Option<&[Split]>,
) -> Result<(), DatasetError> {
    let err = |e: std::io::Error| DatasetError::Invalid(format!("cannot write JSONL: {e}"));
    for (i, s) in samples.iter().enumerate() {
        let mut v = serde_json::to_value(s).map_err(|e| DatasetError::Invalid(e.to_string()))?;
        if let (Some(sp), Some(obj)) = (splits.and_then(|sp| sp.get(i)), v.as_object_mut()) {
            obj.insert(
                "split".into(),
                serde_json::Value::String(sp.as_str().into()),
            );
        }
        serde_json::to_writer(&mut w, &v).map_err(|e| DatasetError::Invalid(e.to_string()))?;
        w.write_all(b"\n").map_err(err)?;
    }
    w.flush().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::ThreatClass;

    fn s(p: &str, l: ThreatClass) -> Sample {
        Sample {
            payload: p.into(),
            label: l,
            origin: Origin::Manual,
            note: None,
        }
    }

    #[test]
    fn versions_are_content_addressed_and_chained() {
        let d = tempfile::tempdir().unwrap();
        let store = DatasetStore::open(d.path()).unwrap();
        assert!(store.head("main").unwrap().is_none());
        let v1 = store
            .commit(
                "main",
                &[
                    s("a", ThreatClass::Benign),
                    s("1 or 1=1", ThreatClass::Sqli),
                ],
                "first",
            )
            .unwrap();
        let v2 = store
            .commit("main", &[s("<b>", ThreatClass::Xss)], "second")
            .unwrap();
        assert_eq!(v2.parent.as_deref(), Some(v1.id.as_str()));
        assert_eq!(v2.samples, 3);
        assert_eq!(store.samples(&v2).unwrap().len(), 3);
        assert_eq!(store.resolve("main").unwrap(), v2);
        assert_eq!(store.resolve(&format!("main@{}", v1.short())).unwrap(), v1);
        assert_eq!(store.log("main").unwrap().len(), 2);
        // Same content, same id: a second store with the same commits agrees.
        let d2 = tempfile::tempdir().unwrap();
        let other = DatasetStore::open(d2.path()).unwrap();
        let w1 = other
            .commit(
                "x",
                &[
                    s("a", ThreatClass::Benign),
                    s("1 or 1=1", ThreatClass::Sqli),
                ],
                "m",
            )
            .unwrap();
        assert_eq!(w1.id, v1.id);
        assert_eq!(store.names().unwrap(), vec!["main"]);
        assert!(store.head("Bad Name").is_err());
    }

    #[test]
    fn damage_is_detected_and_a_crash_keeps_the_old_head() {
        let d = tempfile::tempdir().unwrap();
        let store = DatasetStore::open(d.path()).unwrap();
        let v1 = store
            .commit("main", &[s("a", ThreatClass::Benign)], "first")
            .unwrap();
        // A crash after writing a batch but before the version and ref:
        // the orphan batch changes nothing.
        store.write_object(&[s("b", ThreatClass::Benign)]).unwrap();
        assert_eq!(store.resolve("main").unwrap(), v1);
        // A damaged batch is refused, not silently read.
        let obj = store.object_path(&v1.objects[0]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"payload\":\"evil\",\"label\":\"benign\"}\n")
            .unwrap();
        std::fs::write(&obj, gz.finish().unwrap()).unwrap();
        assert!(matches!(
            store.samples(&v1),
            Err(DatasetError::Corrupt { .. })
        ));
    }

    #[test]
    fn exports() {
        let samples = vec![s("a,b", ThreatClass::Benign), s("x\"y", ThreatClass::Xss)];
        let mut csv_out = Vec::new();
        export_csv(&mut csv_out, &samples, Some(&[Split::Train, Split::Test])).unwrap();
        let text = String::from_utf8(csv_out).unwrap();
        assert!(
            text.starts_with("payload,label,origin,split,note\n\"a,b\",benign,manual,train,\n"),
            "{text}"
        );
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(&rows[1][0], "x\"y");
        let mut j = Vec::new();
        export_jsonl(&mut j, &samples, None).unwrap();
        let back: Vec<Sample> = String::from_utf8(j)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, samples);
    }
}
