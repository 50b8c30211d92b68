//! Labelled corpora from files: CSV, JSON Lines, line files, and directory trees.
//!
//! * `*.csv` with a header: a `payload` (or `text`, `value`) column and a
//!   label column (`label`, `class`, `attack_type`); the HttpParams layout
//!   (`payload,length,attack_type,label`) reads as is.
//! * `*.jsonl`: `{"payload": "...", "label": "..."}` per line.
//! * a directory: every file below it; `true-positives.txt` is labelled by
//!   its parent directory (`…/sqli/true-positives.txt`), `false-positives.txt`
//!   is benign (the mgm/nuclei layout); `<class>.txt` is labelled by its stem.
//! * `FILE.txt:CLASS` forces the class of a line file.
//!
//! Labels use the aliases of [`ThreatClass`]'s parser (`norm`, `cmdexe`,
//! `traversal`, `log4shell`, ...).

use std::path::{Path, PathBuf};

use sentinel_schema::ThreatClass;

/// A problem reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// I/O.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A malformed file.
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CorpusError + '_ {
    move |source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads `(payload, class)` pairs from a corpus spec (see the module docs).
pub fn load(spec: &str) -> Result<Vec<(String, ThreatClass)>, CorpusError> {
    if let Some((file, class)) = spec.rsplit_once(':') {
        if let Ok(c) = class.parse::<ThreatClass>() {
            return load_lines(Path::new(file), c);
        }
    }
    let path = Path::new(spec);
    if path.is_dir() {
        let mut out = Vec::new();
        let mut entries: Vec<PathBuf> = Vec::new();
        collect(path, &mut entries).map_err(io(path))?;
        entries.sort();
        for p in entries {
            out.extend(load_file(&p)?);
        }
        return Ok(out);
    }
    load_file(path)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn load_file(path: &Path) -> Result<Vec<(String, ThreatClass)>, CorpusError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("csv") {
        return load_csv(path);
    }
    if ext.eq_ignore_ascii_case("jsonl") {
        return load_jsonl(path);
    }
    if name == "false-positives.txt" {
        return load_lines(path, ThreatClass::Benign);
    }
    if name == "true-positives.txt" {
        let class = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<ThreatClass>().ok());
        return match class {
            Some(c) => load_lines(path, c),
            None => Ok(Vec::new()),
        };
    }
    if ext == "txt" {
        if let Some(c) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<ThreatClass>().ok())
        {
            return load_lines(path, c);
        }
    }
    // Files that are not corpora (licences, READMEs) are ignored.
    Ok(Vec::new())
}

fn load_lines(path: &Path, class: ThreatClass) -> Result<Vec<(String, ThreatClass)>, CorpusError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| (l.to_string(), class))
        .collect())
}

fn load_csv(path: &Path) -> Result<Vec<(String, ThreatClass)>, CorpusError> {
    let fmt = |detail: String| CorpusError::Format {
        path: path.to_path_buf(),
        detail,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| fmt(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| fmt(e.to_string()))?.clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let text = col(&["payload", "text", "value"])
        .ok_or_else(|| fmt("no payload/text/value column".into()))?;
    let label = col(&["attack_type", "class", "label"])
        .ok_or_else(|| fmt("no attack_type/class/label column".into()))?;
    let mut out = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        let r = r.map_err(|e| fmt(format!("row {}: {e}", i + 2)))?;
        let (Some(t), Some(l)) = (r.get(text), r.get(label)) else {
            continue;
        };
        let class = l
            .parse::<ThreatClass>()
            .map_err(|e| fmt(format!("row {}: {e}", i + 2)))?;
        out.push((t.to_string(), class));
    }
    Ok(out)
}

fn load_jsonl(path: &Path) -> Result<Vec<(String, ThreatClass)>, CorpusError> {
    #[derive(serde::Deserialize)]
    struct Row {
        #[serde(alias = "text", alias = "value")]
        payload: String,
        #[serde(alias = "class", alias = "attack_type")]
        label: String,
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let mut out = Vec::new();
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|e| CorpusError::Format {
            path: path.to_path_buf(),
            detail: format!("line {}: {e}", i + 1),
        })?;
        let class = row
            .label
            .parse::<ThreatClass>()
            .map_err(|e| CorpusError::Format {
                path: path.to_path_buf(),
                detail: format!("line {}: {e}", i + 1),
            })?;
        out.push((row.payload, class));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_layout() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("p.csv"), "\"payload\",\"length\",\"attack_type\",\"label\"\n\"1' or 1=1\",\"9\",\"sqli\",\"anom\"\n\"hello\",\"5\",\"norm\",\"norm\"\n").unwrap();
        assert_eq!(
            load(d.path().join("p.csv").to_str().unwrap()).unwrap(),
            vec![
                ("1' or 1=1".to_string(), ThreatClass::Sqli),
                ("hello".to_string(), ThreatClass::Benign)
            ]
        );
        let tree = d.path().join("nuclei/payloads/cmdexe");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("true-positives.txt"), ";id\n\n|whoami\n").unwrap();
        std::fs::write(tree.join("false-positives.txt"), "cats; dogs\n").unwrap();
        std::fs::write(d.path().join("nuclei/LICENSE"), "GPL").unwrap();
        let all = load(d.path().join("nuclei").to_str().unwrap()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all.iter().filter(|(_, c)| *c == ThreatClass::Cmdi).count(),
            2
        );
        std::fs::write(
            d.path().join("x.jsonl"),
            "{\"payload\":\"a\",\"label\":\"xss\"}\n",
        )
        .unwrap();
        assert_eq!(
            load(d.path().join("x.jsonl").to_str().unwrap()).unwrap()[0].1,
            ThreatClass::Xss
        );
        std::fs::write(d.path().join("raw.txt"), "a\nb\n").unwrap();
        let forced = load(&format!("{}:xxe", d.path().join("raw.txt").display())).unwrap();
        assert!(forced.iter().all(|(_, c)| *c == ThreatClass::Xxe));
        std::fs::write(d.path().join("bad.csv"), "payload,label\nx,nonsense\n").unwrap();
        assert!(load(d.path().join("bad.csv").to_str().unwrap()).is_err());
    }
}
