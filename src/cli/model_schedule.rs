//! `sentinel replay --model-schedule`: the model switches of a live run
//! (`model.update` records of the audit log, or a file of them), so that a
//! replay of its recording scores every record with the models the live run
//! used for it.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use sentinel_dataflow::model_updates::ModelSchedule;
use sentinel_models::bundle::ModelWatch;
use sentinel_models::registry::Registry;
use sentinel_models::serving::{load_version, ModelSet};
use sentinel_models::ModelBundle;

/// One switch: from `timestamp` on, `active` (and the canary) score.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct Switch {
    /// The graph timestamp (event-time bucket) from which it applies.
    pub timestamp: u64,
    /// The bucket width of the live run, ms (checked against the replay's).
    #[serde(default)]
    pub bucket_ms: Option<u64>,
    /// The active payload model.
    pub active: String,
    /// The canary, if one was rolling out.
    #[serde(default)]
    pub canary: Option<CanarySwitch>,
    /// The models a run started with (the first record of a run).
    #[serde(default)]
    pub initial: bool,
}

/// A canary in a switch.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct CanarySwitch {
    /// Its version.
    pub version: String,
    /// Percent of client keys.
    pub percent: f32,
}

/// Reads the switches: `audit` takes the `model.update` records of the last
/// run in the data directory's audit log (from its `initial` record on);
/// anything else is a JSON Lines file of switches
/// (`{"timestamp": T, "active": "...", "canary": null}`).
pub fn load_switches(spec: &str, data_dir: &Path) -> anyhow::Result<Vec<Switch>> {
    let mut out: Vec<Switch> = Vec::new();
    if spec == "audit" {
        let dir = crate::sandbox_open::audit_dir(data_dir);
        for seg in sentinel_sinks::audit_log::segments(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
        {
            let f = std::fs::File::open(&seg).with_context(|| format!("{}", seg.display()))?;
            for line in std::io::BufReader::new(f).lines() {
                let line = line.with_context(|| format!("{}", seg.display()))?;
                let Ok(r) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if r["action"] == "model.update" {
                    out.push(
                        serde_json::from_value(r["detail"].clone())
                            .with_context(|| format!("model.update record in {}", seg.display()))?,
                    );
                }
            }
        }
    } else {
        let text = std::fs::read_to_string(spec).with_context(|| format!("cannot read {spec}"))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(line).with_context(|| format!("{spec} line {}", i + 1))?);
        }
    }
    if spec == "audit" {
        if let Some(last_start) = out.iter().rposition(|s| s.initial) {
            out.drain(..last_start);
        }
    }
    out.sort_by_key(|s| s.timestamp);
    Ok(out)
}

/// The watch (with every scheduled bundle preloaded) and the schedule the
/// graph replays. Behaviour model and profile come from `base`.
pub fn prepare(
    switches: &[Switch],
    data_dir: &Path,
    base: &Arc<ModelBundle>,
    bucket_ms: u64,
) -> anyhow::Result<(Arc<ModelWatch>, Arc<ModelSchedule>)> {
    let registry = Registry::open(data_dir)?;
    let watch = Arc::new(ModelWatch::new(base.clone()));
    let mut schedule = Vec::new();
    for s in switches {
        if let Some(b) = s.bucket_ms {
            if b != bucket_ms {
                bail!(
                    "the live run used --bucket-ms {b} (switch at timestamp {}); replay with the same",
                    s.timestamp
                );
            }
        }
        let active = load_version(&registry, &s.active)
            .with_context(|| format!("model {} of the schedule", s.active))?;
        let canary = match &s.canary {
            Some(c) => Some((
                load_version(&registry, &c.version)
                    .with_context(|| format!("canary {} of the schedule", c.version))?,
                c.percent,
            )),
            None => None,
        };
        let bundle = Arc::new(ModelBundle {
            payload: ModelSet { active, canary },
            behaviour: base.behaviour.clone(),
            profile: base.profile.clone(),
        });
        schedule.push((s.timestamp, bundle.describe()));
        watch.preload(bundle);
    }
    Ok((watch, Arc::new(schedule)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_file_parses_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(
            &p,
            "{\"timestamp\":9,\"active\":\"b\",\"canary\":{\"version\":\"c\",\"percent\":10}}\n\n{\"timestamp\":3,\"active\":\"a\",\"bucket_ms\":1000}\n",
        )
        .unwrap();
        let s = load_switches(p.to_str().unwrap(), dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].timestamp, s[0].active.as_str()), (3, "a"));
        assert_eq!(s[1].canary.as_ref().unwrap().percent, 10.0);
        std::fs::write(&p, "{\"timestamp\":\"x\"}\n").unwrap();
        let e = load_switches(p.to_str().unwrap(), dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("line 1"), "{e:#}");
    }
}
