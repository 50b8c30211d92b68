//! Learning the application profile (and, when the traffic allows, a
//! behaviour forest) from recorded normal traffic.

use std::collections::HashMap;

use sentinel_models::anomaly::{AppProfile, ForestConfig, ForestModel, ProfileConfig};
use sentinel_models::classifier::rule_scores;
use sentinel_models::features::behaviour::N;
use sentinel_models::features::window::{ClientWindow, Observation};
use sentinel_models::{Analyzer, PayloadAnalysis};
use sentinel_schema::EvidenceEvent;

use crate::client_key::client_key;
use crate::extract::{extract, stable_hash, ExtractLimits};
use crate::profile_params::profile_params;

/// What learning saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LearnStats {
    /// Requests learned from.
    pub learned: u64,
    /// Requests left out because a payload looked like an attack.
    pub skipped_attacks: u64,
    /// Distinct client keys.
    pub clients: usize,
}

/// Accumulates normal traffic.
pub struct ProfileLearner {
    profile: AppProfile,
    analyzer: Analyzer,
    scratch: PayloadAnalysis,
    exclude_attacks: bool,
    clients: HashMap<String, Vec<(Observation, Vec<u64>)>>,
    stats: LearnStats,
}

impl ProfileLearner {
    /// A learner; with `exclude_attacks`, requests with a payload the rule
    /// classifier scores at 0.5 or more are left out (so a few attacks in
    /// the "normal" traffic do not become normal).
    pub fn new(config: ProfileConfig, exclude_attacks: bool) -> Self {
        ProfileLearner {
            profile: AppProfile::new(config),
            analyzer: Analyzer::default(),
            scratch: PayloadAnalysis::default(),
            exclude_attacks,
            clients: HashMap::new(),
            stats: LearnStats::default(),
        }
    }

    /// Learns from one request.
    pub fn observe(&mut self, event: &EvidenceEvent) {
        let extraction = extract(&event.request, &ExtractLimits::default());
        if self.exclude_attacks {
            for p in &extraction.payloads {
                self.analyzer
                    .analyze(&p.raw, p.form_encoded, &mut self.scratch);
                if rule_scores(&self.scratch).max_attack() >= 0.5 {
                    self.stats.skipped_attacks += 1;
                    return;
                }
            }
        }
        let s = &extraction.summary;
        self.profile
            .observe(&s.method, &s.path, &profile_params(&extraction.payloads));
        self.stats.learned += 1;
        self.clients.entry(client_key(event)).or_default().push((
            Observation {
                time: event.event_time_ms,
                path: stable_hash(s.path.as_bytes()),
                ua: s.user_agent_hash,
                status: event.response.as_ref().map(|r| r.status).filter(|s| *s > 0),
                attack: false,
                blocked: event.waf_blocked,
            },
            s.param_name_hashes.clone(),
        ));
    }

    /// The behaviour windows of the learned traffic (per client, in event-time order).
    pub fn windows(&self, window_ms: i64) -> Vec<[f32; N]> {
        let mut keys: Vec<&String> = self.clients.keys().collect();
        keys.sort();
        let mut out = Vec::new();
        for k in keys {
            let mut reqs = self.clients[k].clone();
            reqs.sort_by_key(|(o, _)| o.time);
            let mut w = ClientWindow::default();
            for (o, params) in reqs {
                w.evict(o.time - window_ms, 4096);
                out.push(w.push(o, &params));
            }
        }
        out
    }

    /// Fits a behaviour forest on the learned traffic's windows, if there
    /// are at least `min_windows` of them from at least `min_clients` clients.
    pub fn fit_behaviour(
        &self,
        window_ms: i64,
        config: &ForestConfig,
        min_windows: usize,
        min_clients: usize,
        source: &str,
    ) -> Option<ForestModel> {
        if self.clients.len() < min_clients {
            return None;
        }
        let windows = self.windows(window_ms);
        (windows.len() >= min_windows)
            .then(|| ForestModel::fit(&windows, config, 0.995, 0.12, source))
    }

    /// What was seen so far.
    pub fn stats(&self) -> LearnStats {
        LearnStats {
            clients: self.clients.len(),
            ..self.stats.clone()
        }
    }

    /// The profile.
    pub fn into_profile(self) -> AppProfile {
        self.profile
    }
}
