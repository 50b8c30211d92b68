//! The rules directory: one JSON file per rule version
//! (`<rule_id>.v<version>.json`), written atomically. The newest version of
//! a rule id is its current state; reviews and rollbacks add versions, so
//! the directory is also the rule history. `sentinel gatekeeper --from DIR`
//! and `sentinel rules` read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sentinel_schema::WafRule;

use crate::write_atomically;

/// Errors of the rules directory.
#[derive(Debug, thiserror::Error)]
pub enum RulesDirError {
    /// File system failure.
    #[error("rules directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that is not a rule record.
    #[error("{path} is not a rule record: {reason}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A rules directory.
#[derive(Clone, Debug)]
pub struct RulesDir {
    dir: PathBuf,
}

/// The newest version of each rule id.
pub fn latest_versions(rules: impl IntoIterator<Item = WafRule>) -> BTreeMap<String, WafRule> {
    let mut out: BTreeMap<String, WafRule> = BTreeMap::new();
    for r in rules {
        match out.get(&r.rule_id) {
            Some(cur) if cur.version >= r.version => {}
            _ => {
                out.insert(r.rule_id.clone(), r);
            }
        }
    }
    out
}

impl RulesDir {
    /// Opens (creating) `dir`.
    pub fn open(dir: &Path) -> Result<RulesDir, RulesDirError> {
        std::fs::create_dir_all(dir).map_err(|source| RulesDirError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(RulesDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file of a rule version.
    pub fn file_of(&self, rule_id: &str, version: u32) -> PathBuf {
        self.dir.join(format!("{rule_id}.v{version:05}.json"))
    }

    /// Writes one rule version (atomically; an existing identical file is left alone).
    pub fn write(&self, rule: &WafRule) -> Result<PathBuf, RulesDirError> {
        let path = self.file_of(&rule.rule_id, rule.version);
        let mut bytes = serde_json::to_vec_pretty(rule).unwrap_or_default();
        bytes.push(b'\n');
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            return Ok(path);
        }
        write_atomically(&path, &bytes).map_err(|source| RulesDirError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Every rule version in the directory (files that are not rule
    /// records are errors: a gatekeeper must not silently skip one).
    pub fn load_all(&self) -> Result<Vec<WafRule>, RulesDirError> {
        let io = |source| RulesDirError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p).map_err(|source| RulesDirError::Io {
                path: p.clone(),
                source,
            })?;
            let rule: WafRule = serde_json::from_slice(&bytes).map_err(|e| RulesDirError::Bad {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            out.push(rule);
        }
        Ok(out)
    }

    /// The newest version of every rule.
    pub fn latest(&self) -> Result<BTreeMap<String, WafRule>, RulesDirError> {
        Ok(latest_versions(self.load_all()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{RuleAction, RuleProvenance, RuleStatus, ThreatClass};

    pub(crate) fn rule(id: &str, version: u32, status: RuleStatus) -> WafRule {
        WafRule {
            rule_id: id.into(),
            modsec_id: 4_200_000,
            version,
            class: ThreatClass::Sqli,
            status,
            action: RuleAction::Block,
            confidence: 0.95,
            variables: vec!["ARGS".into()],
            transformations: vec!["none".into()],
            operator: "rx".into(),
            pattern: "x".into(),
            secrule: "SecRule ARGS \"@rx x\" \"id:4200000,phase:2,deny\"".into(),
            msg: "m".into(),
            severity: "CRITICAL".into(),
            provenance: RuleProvenance::default(),
            created_at_ms: 0,
            schema_version: 1,
        }
    }

    #[test]
    fn newest_version_wins() {
        let d = tempfile::tempdir().unwrap();
        let rd = RulesDir::open(d.path()).unwrap();
        rd.write(&rule("a", 1, RuleStatus::AutoApplied)).unwrap();
        rd.write(&rule("a", 2, RuleStatus::Retracted)).unwrap();
        rd.write(&rule("b", 1, RuleStatus::Proposed)).unwrap();
        rd.write(&rule("b", 1, RuleStatus::Proposed)).unwrap();
        let latest = rd.latest().unwrap();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest["a"].status, RuleStatus::Retracted);
        assert_eq!(rd.load_all().unwrap().len(), 3);
        std::fs::write(d.path().join("junk.json"), "{").unwrap();
        assert!(matches!(rd.load_all(), Err(RulesDirError::Bad { .. })));
    }
}
