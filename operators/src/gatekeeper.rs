//! The gatekeeper's logic: from rule records (any versions, any order) to
//! the ModSecurity rules file a WAF loads, applied safely — written
//! atomically, validated by the WAF itself, reloaded, and rolled back to
//! the previous file when validation or reload fails. Reviews and
//! rollbacks are new rule versions.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use sentinel_schema::{RuleAction, RuleStatus, WafRule};
use sentinel_sinks::{latest_versions, render_rules_conf, write_atomically};

use crate::policy::{free_modsec_id, secrule_text, PolicyConfig};

/// A reviewer's (or a rollback's) decision on a rule: the next version.
/// Approving a rule keeps its action unless `action` says otherwise;
/// rejecting or retracting makes the gatekeeper drop it.
pub fn review(rule: &WafRule, status: RuleStatus, action: Option<RuleAction>) -> WafRule {
    let mut r = rule.clone();
    r.version += 1;
    r.status = status;
    if let Some(a) = action {
        r.action = a;
    }
    r.secrule = secrule_text(&r);
    r
}

/// The rules a gatekeeper loads: the newest version of every rule id whose
/// status is active, with ModSecurity ids made unique (rules from separate
/// runs may prefer the same id: the later rule id, in sorted order, moves
/// to the next free id and its `SecRule` text is re-rendered).
pub fn active_set(rules: impl IntoIterator<Item = WafRule>, cfg: &PolicyConfig) -> Vec<WafRule> {
    let latest = latest_versions(rules);
    let mut taken: HashSet<u64> = HashSet::new();
    let mut out = Vec::new();
    for (_, mut r) in latest {
        if !r.status.is_active() {
            continue;
        }
        if taken.contains(&r.modsec_id) {
            let Some(id) = free_modsec_id(
                r.modsec_id.max(cfg.id_range_start),
                cfg.id_range_start,
                cfg.id_range_end,
                |i| taken.contains(&i),
            ) else {
                continue;
            };
            r.modsec_id = id;
            r.secrule = secrule_text(&r);
        }
        taken.insert(r.modsec_id);
        out.push(r);
    }
    out.sort_by_key(|r| r.modsec_id);
    out
}

/// The rule ids and versions a rules file holds (from its `# rule ID vN` comments).
pub fn rules_in_file(text: &str) -> BTreeSet<(String, u32)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# rule "))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let id = it.next()?;
            let v = it.next()?.strip_prefix('v')?.parse().ok()?;
            Some((id.to_string(), v))
        })
        .collect()
}

/// What an apply changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Rules now loaded that were not (or in another version): `(rule id, version)`.
    pub applied: Vec<(String, u32)>,
    /// Rules no longer loaded.
    pub removed: Vec<String>,
    /// Rules loaded now.
    pub active: usize,
}

/// The outcome of one apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// The file already had exactly these rules.
    Unchanged {
        /// Rules loaded.
        active: usize,
    },
    /// Written, validated and reloaded.
    Applied(ApplyReport),
    /// Validation or reload failed; the previous file is back in place.
    Refused {
        /// The validator's or reloader's output.
        error: String,
    },
}

/// Where and how a gatekeeper applies rules.
#[derive(Clone, Debug)]
pub struct ApplyConfig {
    /// The ModSecurity rules file (included by the WAF's configuration).
    pub rules_file: PathBuf,
    /// Validation command (`sh -c`), e.g. `nginx -t`; `None` skips it.
    pub validate: Option<String>,
    /// Reload command (`sh -c`), e.g. `nginx -s reload`; `None` skips it.
    pub reload: Option<String>,
}

fn run_shell(cmd: &str, rules_file: &Path) -> Result<(), String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("SENTINEL_RULES_FILE", rules_file)
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

fn restore(path: &Path, previous: Option<&str>) -> std::io::Result<()> {
    match previous {
        Some(p) => write_atomically(path, p.as_bytes()),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// Checks what the WAF's own validation does not: libmodsecurity 3.0.9
/// accepts a rule whose regex does not compile (`nginx -t` passes; the rule
/// then never matches). Every `@rx` pattern of `active` must compile as a
/// regex (Sentinel generates patterns in the subset PCRE and Rust's `regex`
/// share), and its `SecRule` text must carry exactly that pattern.
pub fn check_patterns(active: &[WafRule]) -> Result<(), String> {
    for r in active {
        if r.operator == "rx" {
            if let Err(e) = regex::Regex::new(&r.pattern) {
                return Err(format!(
                    "rule {} (id {}): pattern does not compile: {e}",
                    r.rule_id, r.modsec_id
                ));
            }
        }
        let quoted = r.pattern.replace('"', "\\x22");
        let expected = format!("\"@{} {}\"", r.operator, quoted);
        if !r.secrule.contains(&expected) {
            return Err(format!(
                "rule {} (id {}): its SecRule text does not carry its pattern",
                r.rule_id, r.modsec_id
            ));
        }
    }
    Ok(())
}

/// Applies `active` (see [`active_set`]): when the rules file differs, the
/// new file is written atomically, validated and the WAF reloaded; on a
/// failure the previous file is restored (and the WAF, which never loaded
/// the bad file, keeps running the previous rules).
pub fn apply(cfg: &ApplyConfig, active: &[WafRule]) -> std::io::Result<ApplyOutcome> {
    let text = render_rules_conf(active);
    let previous = std::fs::read_to_string(&cfg.rules_file).ok();
    if previous.as_deref() == Some(text.as_str()) {
        return Ok(ApplyOutcome::Unchanged {
            active: active.len(),
        });
    }
    if let Err(error) = check_patterns(active) {
        return Ok(ApplyOutcome::Refused { error });
    }
    write_atomically(&cfg.rules_file, text.as_bytes())?;
    for cmd in [&cfg.validate, &cfg.reload].into_iter().flatten() {
        if let Err(error) = run_shell(cmd, &cfg.rules_file) {
            restore(&cfg.rules_file, previous.as_deref())?;
            return Ok(ApplyOutcome::Refused { error });
        }
    }
    let before = previous.as_deref().map(rules_in_file).unwrap_or_default();
    let after = rules_in_file(&text);
    let before_ids: BTreeMap<&str, u32> = before.iter().map(|(i, v)| (i.as_str(), *v)).collect();
    let after_ids: BTreeSet<&str> = after.iter().map(|(i, _)| i.as_str()).collect();
    Ok(ApplyOutcome::Applied(ApplyReport {
        applied: after
            .iter()
            .filter(|(i, v)| before_ids.get(i.as_str()) != Some(v))
            .cloned()
            .collect(),
        removed: before_ids
            .keys()
            .filter(|i| !after_ids.contains(*i))
            .map(|i| i.to_string())
            .collect(),
        active: active.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{RuleProvenance, ThreatClass};

    fn rule(id: &str, modsec_id: u64, version: u32, status: RuleStatus) -> WafRule {
        let mut r = WafRule {
            rule_id: id.into(),
            modsec_id,
            version,
            class: ThreatClass::Sqli,
            status,
            action: RuleAction::Block,
            confidence: 0.95,
            variables: vec!["ARGS".into()],
            transformations: vec!["none".into(), "lowercase".into()],
            operator: "rx".into(),
            pattern: format!("attack-{id}"),
            secrule: String::new(),
            msg: "Sentinel: test".into(),
            severity: "CRITICAL".into(),
            provenance: RuleProvenance::default(),
            created_at_ms: 0,
            schema_version: 1,
        };
        r.secrule = secrule_text(&r);
        r
    }

    #[test]
    fn newest_active_versions_with_unique_ids() {
        let cfg = PolicyConfig::default();
        let rules = vec![
            rule("a", 4_200_010, 1, RuleStatus::AutoApplied),
            rule("b", 4_200_010, 1, RuleStatus::AutoApplied),
            rule("c", 4_200_020, 1, RuleStatus::Proposed),
            rule("d", 4_200_030, 1, RuleStatus::AutoApplied),
        ];
        let mut rules = rules;
        rules.push(review(&rules[3], RuleStatus::Retracted, None));
        rules.push(review(
            &rules[2],
            RuleStatus::Approved,
            Some(RuleAction::Block),
        ));
        let set = active_set(rules, &cfg);
        let ids: Vec<(&str, u64)> = set
            .iter()
            .map(|r| (r.rule_id.as_str(), r.modsec_id))
            .collect();
        assert_eq!(ids, [("a", 4_200_010), ("b", 4_200_011), ("c", 4_200_020)]);
        assert!(set[1].secrule.contains("id:4200011,"));
        assert_eq!(set[2].version, 2);
        assert!(set[2].secrule.contains("ver:'sentinel/2'"));
    }

    #[test]
    fn apply_validates_reloads_and_restores() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("rules.conf");
        let log = d.path().join("reloads");
        let mut cfg = ApplyConfig {
            rules_file: file.clone(),
            validate: Some("grep -q SecRule \"$SENTINEL_RULES_FILE\"".into()),
            reload: Some(format!("echo reload >> {}", log.display())),
        };
        let a = rule("a", 4_200_001, 1, RuleStatus::AutoApplied);
        let b = rule("b", 4_200_002, 1, RuleStatus::AutoApplied);
        let out = apply(&cfg, &[a.clone(), b.clone()]).unwrap();
        let ApplyOutcome::Applied(rep) = out else {
            panic!("{out:?}")
        };
        assert_eq!(rep.applied.len(), 2);
        assert_eq!(
            apply(&cfg, &[a.clone(), b.clone()]).unwrap(),
            ApplyOutcome::Unchanged { active: 2 }
        );
        let out = apply(&cfg, std::slice::from_ref(&a)).unwrap();
        let ApplyOutcome::Applied(rep) = out else {
            panic!("{out:?}")
        };
        assert_eq!(rep.removed, ["b"]);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);

        // A file the validator refuses: the previous one stays, no reload.
        let good = std::fs::read_to_string(&file).unwrap();
        cfg.validate = Some("false".into());
        let out = apply(&cfg, &[a.clone(), b.clone()]).unwrap();
        assert!(matches!(out, ApplyOutcome::Refused { .. }), "{out:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);

        // A rule whose regex does not compile is refused before the WAF sees it.
        cfg.validate = None;
        let mut bad = rule("c", 4_200_003, 1, RuleStatus::AutoApplied);
        bad.pattern = "((".into();
        bad.secrule = secrule_text(&bad);
        let out = apply(&cfg, &[a.clone(), bad.clone()]).unwrap();
        assert!(
            matches!(out, ApplyOutcome::Refused { ref error } if error.contains("does not compile")),
            "{out:?}"
        );
        // ... and so is a SecRule text that does not carry the rule's pattern.
        let mut forged = rule("d", 4_200_004, 1, RuleStatus::AutoApplied);
        forged.secrule = forged.secrule.replace("attack-d", "x|.*");
        assert!(matches!(
            apply(&cfg, &[forged]).unwrap(),
            ApplyOutcome::Refused { .. }
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), good);

        // A failing reload restores the previous file too.
        cfg.validate = None;
        cfg.reload = Some("exit 3".into());
        assert!(matches!(
            apply(&cfg, &[b]).unwrap(),
            ApplyOutcome::Refused { .. }
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
        assert_eq!(rules_in_file(&good), BTreeSet::from([("a".to_string(), 1)]));
    }

    proptest::proptest! {
        #[test]
        fn rules_in_file_never_panics(text in "\\PC{0,300}") {
            let _ = rules_in_file(&text);
            let _ = rules_in_file(&format!("# rule {text}\n# rule a v{text}"));
        }
    }
}
