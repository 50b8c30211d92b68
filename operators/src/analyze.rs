//! The stateless per-event stage: extract payloads, analyze and classify each,
//! judge CSRF, compute request and metadata features. Pure and
//! deterministic: the same event and model give the same result on any worker.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use sentinel_models::csrf::csrf_score;
use sentinel_models::features::metadata::{self, M};
use sentinel_models::features::payload::P;
use sentinel_models::features::request::{self, method_code, R};
use sentinel_models::normalize::Limits as NormalizeLimits;
use sentinel_models::{Analyzer, ModelBundle, PayloadAnalysis};
use sentinel_schema::{
    ClassScores, Enrichment, EvidenceEvent, PayloadExplanation, PayloadLocation, Provenance,
    ThreatClass,
};

use crate::client_key::{client_key, session_id};
use crate::enrich::EnrichmentTables;
use crate::extract::{extract, ExtractLimits, ExtractedPayload};
use crate::payload_memo::{BundleMemo, PayloadMemos};
use crate::profile_params::profile_params;
use sentinel_sources::ClientIdentity;

/// A payload that scored as a possible attack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayloadFinding {
    /// Where it was.
    pub location: PayloadLocation,
    /// Its class scores.
    pub scores: ClassScores,
    /// Matching signature indices (see `sentinel_models::signatures::SIGNATURES`).
    pub signatures: Vec<u16>,
    /// The normalized value (at most 256 characters).
    pub normalized: String,
    /// The value as extracted (lossy UTF-8, at most [`RAW_BYTES`] bytes),
    /// for the threat twins.
    pub raw: String,
}

/// How much of a finding's raw value travels on to simulation.
pub const RAW_BYTES: usize = 4096;

impl PayloadFinding {
    /// The top attack class and its score.
    pub fn top(&self) -> (ThreatClass, f32) {
        self.scores
            .top_attack()
            .unwrap_or((ThreatClass::Benign, 0.0))
    }
}

/// An event after the stateless stage: everything later stages need, and
/// nothing more (it crosses worker boundaries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedEvent {
    /// The evidence.
    pub evidence_id: String,
    /// Event time, ms since the epoch.
    pub event_time_ms: i64,
    /// Behavioural key.
    pub client_key: String,
    /// The input record.
    pub provenance: Provenance,
    /// True when the event arrived behind its partition's watermark.
    pub late: bool,
    /// Method.
    pub method: String,
    /// Decoded path.
    pub path: String,
    /// Response status, when recorded.
    pub status: Option<u16>,
    /// Hash of the User-Agent.
    pub user_agent_hash: u64,
    /// Hashes of the parameter names.
    pub param_name_hashes: Vec<u64>,
    /// Whether the upstream WAF blocked it.
    pub waf_blocked: bool,
    /// Enrichment.
    pub enrichment: Option<Enrichment>,
    /// Request features (see `sentinel_models::features::request`).
    pub request_features: Vec<f32>,
    /// Metadata features (see `sentinel_models::features::metadata`).
    pub metadata_features: Vec<f32>,
    /// Request-level class scores: the element-wise maximum over payloads, with CSRF.
    pub scores: ClassScores,
    /// Payloads that scored at least `infer::FINDING_MIN` for an attack class, best first (at most 8).
    pub findings: Vec<PayloadFinding>,
    /// Payloads examined.
    pub payload_count: u32,
    /// Why the CSRF score is what it is.
    pub csrf_reason: String,
    /// Extraction limits hit.
    pub limits_hit: Vec<String>,
    /// Whether an evidence package was verified.
    pub package_verified: bool,
    /// The model that scored it.
    pub model_version: String,
    /// How unusual its values are for the endpoint (learned profile; 0 without one).
    #[serde(default)]
    pub profile_score: f32,
    /// Why the profile score is what it is.
    #[serde(default)]
    pub profile_reasons: Vec<String>,
    /// The top finding's payload explanation, when explanations are on.
    #[serde(default)]
    pub payload_explanation: Option<Box<PayloadExplanation>>,
    /// The request's session, when it carries one (see [`crate::client_key::session_id`]).
    #[serde(default)]
    pub session: Option<String>,
    /// What the event's aggregate keys (prefix, AS, User-Agent, session)
    /// did in the window, by dimension (set by the aggregate stage; empty
    /// when no dimension is enabled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregates: Vec<crate::aggregate_window::AggregateFigure>,
}

impl AnalyzedEvent {
    /// A plain GET of `/` by `client_key` at `event_time_ms`, scored
    /// benign, with nothing else set (tests build on it).
    #[cfg(test)]
    pub(crate) fn for_test(evidence_id: &str, client_key: &str, event_time_ms: i64) -> Self {
        AnalyzedEvent {
            evidence_id: evidence_id.into(),
            event_time_ms,
            client_key: client_key.into(),
            provenance: Provenance::default(),
            late: false,
            method: "GET".into(),
            path: "/".into(),
            status: None,
            user_agent_hash: 0,
            param_name_hashes: vec![],
            waf_blocked: false,
            enrichment: None,
            request_features: vec![],
            metadata_features: vec![],
            scores: ClassScores {
                benign: 1.0,
                ..Default::default()
            },
            findings: vec![],
            payload_count: 1,
            csrf_reason: String::new(),
            limits_hit: vec![],
            package_verified: false,
            model_version: "t".into(),
            profile_score: 0.0,
            profile_reasons: vec![],
            payload_explanation: None,
            session: None,
            aggregates: Vec::new(),
        }
    }

    /// The highest attack score.
    pub fn attack_score(&self) -> f32 {
        self.scores.max_attack()
    }

    /// The `events.evidence_ready` record of this event.
    pub fn evidence_ready(&self) -> sentinel_schema::EvidenceReady {
        self.evidence_ready_ref().to_record()
    }

    /// The `events.evidence_ready` record of this event, borrowed from it:
    /// what the graph serializes (the same JSON, no copies).
    pub fn evidence_ready_ref(&self) -> sentinel_schema::EvidenceReadyRef<'_> {
        sentinel_schema::EvidenceReadyRef {
            evidence_id: &self.evidence_id,
            event_time_ms: self.event_time_ms,
            client_key: &self.client_key,
            method: &self.method,
            path: &self.path,
            payload_count: self.payload_count,
            package_verified: self.package_verified,
            enrichment: self.enrichment.as_ref(),
            limits_hit: &self.limits_hit,
            schema_version: sentinel_schema::SCHEMA_VERSION,
            provenance: &self.provenance,
        }
    }
}

/// Configuration of the stateless stage.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnalyzeConfig {
    /// Extraction limits.
    pub extract: ExtractLimits,
    /// Normalization limits.
    pub normalize: NormalizeLimits,
    /// Attach an explanation of the top finding's payload score.
    pub explain: bool,
}

/// What the cache remembers about a payload value (shared behind an `Arc`:
/// a cache hit never copies it).
#[derive(Debug)]
pub(crate) struct Memo {
    scores: ClassScores,
    signatures: Vec<u16>,
    normalized: String,
    entropy: f32,
}

/// Runs the stateless stage; one per worker (it owns reusable buffers; its
/// payload memo is its own, or shared with the run's other workers through
/// [`EventAnalyzer::sharing`]).
pub struct EventAnalyzer {
    config: AnalyzeConfig,
    analyzer: Analyzer,
    scratch: PayloadAnalysis,
    models: Arc<ModelBundle>,
    enrichment: Arc<EnrichmentTables>,
    memos: Arc<PayloadMemos>,
    /// The memo of `models`.
    memo: Arc<BundleMemo>,
    /// Lookups `(hits, misses)` so far, and the part already reported to `memos`.
    lookups: (u64, u64),
    reported: (u64, u64),
}

/// Lookups between two reports of an analyzer's counts to its memos.
const REPORT_EVERY: u64 = 1024;

/// Longest normalized text kept in findings.
const SNIPPET_CHARS: usize = 256;

impl EventAnalyzer {
    /// An analyzer scoring with `models` and enriching with `enrichment`.
    pub fn new(
        config: AnalyzeConfig,
        models: Arc<ModelBundle>,
        enrichment: Arc<EnrichmentTables>,
    ) -> Self {
        EventAnalyzer::sharing(config, models, enrichment, Arc::default())
    }

    /// An analyzer that shares `memos` with the others built with it (the
    /// workers of a run): a payload value is scored once per process and
    /// model bundle, whichever worker sees it. Results are the same as with
    /// a private memo (a memo holds what scoring the value gives).
    pub fn sharing(
        config: AnalyzeConfig,
        models: Arc<ModelBundle>,
        enrichment: Arc<EnrichmentTables>,
        memos: Arc<PayloadMemos>,
    ) -> Self {
        let memo = memos.for_bundle(&models);
        EventAnalyzer {
            config,
            analyzer: Analyzer::new(config.normalize),
            scratch: PayloadAnalysis::default(),
            models,
            enrichment,
            memos,
            memo,
            lookups: (0, 0),
            reported: (0, 0),
        }
    }

    /// Reports the lookups made since the last report to the shared totals.
    fn report(&mut self) {
        let (hits, misses) = self.lookups;
        self.memos
            .count(hits - self.reported.0, misses - self.reported.1);
        self.reported = self.lookups;
    }

    /// Scores with `models` from the next record on (the model updates of
    /// the graph; a no-op when they are the models in use).
    pub fn use_models(&mut self, models: Arc<ModelBundle>) {
        if !Arc::ptr_eq(&self.models, &models) {
            self.memo = self.memos.for_bundle(&models);
            self.models = models;
        }
    }

    /// The active payload model's version.
    pub fn model_version(&self) -> &str {
        self.models.payload.active.version()
    }

    /// `(hits, misses)` of this analyzer's payload memo lookups.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.lookups
    }

    /// Scores a payload with the payload model `model` (0 active, 1 canary).
    fn score_payload(&mut self, p: &ExtractedPayload, model: u8) -> Arc<Memo> {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&p.raw);
        let key = (h.digest128(), p.form_encoded, model);
        if (self.lookups.0 + self.lookups.1) % REPORT_EVERY == REPORT_EVERY - 1 {
            self.report();
        }
        if let Some(m) = self.memo.get(&key) {
            self.lookups.0 += 1;
            return m;
        }
        self.lookups.1 += 1;
        self.analyzer
            .analyze(&p.raw, p.form_encoded, &mut self.scratch);
        let classifier = match (&self.models.payload.canary, model) {
            (Some((canary, _)), 1) => canary,
            _ => &self.models.payload.active,
        };
        let scores = classifier.classify(&self.scratch);
        let memo = Arc::new(Memo {
            scores,
            signatures: self.scratch.hits.to_vec(),
            normalized: if scores.max_attack() >= crate::infer::FINDING_MIN {
                self.scratch
                    .normalized
                    .text
                    .chars()
                    .take(SNIPPET_CHARS)
                    .collect()
            } else {
                String::new()
            },
            entropy: self.scratch.feature(P::Entropy),
        });
        self.memo.insert(key, memo.clone());
        memo
    }

    /// Analyzes one event (`verified`: its evidence package was fetched and verified).
    pub fn analyze(
        &mut self,
        mut event: EvidenceEvent,
        provenance: Provenance,
        late: bool,
        verified: bool,
    ) -> AnalyzedEvent {
        if let Some(ip) = event.client.ip {
            if event.enrichment.is_none() && !self.enrichment.is_empty() {
                event.enrichment = self.enrichment.lookup(ip);
            }
        }
        let session = session_id(&event);
        // `client_key`'s rule (address, else session, else nobody), with the
        // session read once.
        let key = ClientIdentity::named(event.client.ip, session.as_deref())
            .unwrap_or(ClientIdentity::Anonymous)
            .key();
        debug_assert_eq!(key, client_key(&event));
        let (classifier, model) = self.models.payload.for_client(&key);
        let model_version = classifier.version().to_string();
        let extraction = extract(&event.request, &self.config.extract);
        let mut scores = ClassScores {
            benign: 1.0,
            ..Default::default()
        };
        let mut findings = Vec::new();
        let mut entropy_sum = 0.0f32;
        let mut entropy_max = 0.0f32;
        for p in &extraction.payloads {
            let memo = self.score_payload(p, model);
            entropy_sum += memo.entropy;
            entropy_max = entropy_max.max(memo.entropy);
            scores = scores.max(&memo.scores);
            if memo.scores.max_attack() >= crate::infer::FINDING_MIN {
                findings.push(PayloadFinding {
                    location: p.location.clone(),
                    scores: memo.scores.rounded(),
                    signatures: memo.signatures.clone(),
                    normalized: memo.normalized.clone(),
                    raw: String::from_utf8_lossy(&p.raw[..p.raw.len().min(RAW_BYTES)]).into_owned(),
                });
            }
        }
        let (csrf, csrf_reason) = csrf_score(&extraction.summary.csrf);
        scores.csrf = csrf;
        if csrf >= 0.5 {
            // A request-level finding: where the cross-site evidence is.
            let header = if csrf_reason.starts_with("Sec-Fetch") {
                "Sec-Fetch-Site"
            } else if csrf_reason.starts_with("Referer") {
                "Referer"
            } else {
                "Origin"
            };
            findings.push(PayloadFinding {
                location: PayloadLocation::Header(header.to_string()),
                scores: ClassScores {
                    csrf,
                    benign: 1.0 - csrf,
                    ..Default::default()
                }
                .rounded(),
                signatures: Vec::new(),
                normalized: format!(
                    "{csrf_reason}: {} with cookies and no anti-CSRF token",
                    extraction.summary.method
                ),
                raw: String::new(),
            });
        }
        scores.benign = 1.0 - scores.max_attack();
        // Best first; ties by location so the order is deterministic.
        findings.sort_by(|a, b| {
            b.top()
                .1
                .total_cmp(&a.top().1)
                .then_with(|| a.location.cmp(&b.location))
        });
        findings.truncate(8);

        let s = &extraction.summary;
        let n = extraction.payloads.len();
        let mut rf = vec![0.0f32; request::N];
        rf[R::Method as usize] = method_code(&s.method);
        rf[R::ParamCount as usize] = s.param_count as f32;
        rf[R::HeaderCount as usize] = s.header_count as f32;
        rf[R::CookieCount as usize] = s.cookie_count as f32;
        rf[R::PathDepth as usize] = s.path_depth as f32;
        rf[R::PathLen as usize] = s.path.len() as f32;
        rf[R::BodyLen as usize] = s.body_len as f32;
        rf[R::PayloadCount as usize] = n as f32;
        rf[R::HeaderAnomalies as usize] = s.header_anomalies as f32;
        rf[R::ContentTypeMismatch as usize] = f32::from(u8::from(s.content_type_mismatch));
        rf[R::CrossSite as usize] = f32::from(u8::from(csrf >= 0.8));
        rf[R::HasCsrfToken as usize] = f32::from(u8::from(s.csrf.has_token));
        rf[R::MaxPayloadEntropy as usize] = entropy_max;
        rf[R::MeanPayloadEntropy as usize] = if n > 0 { entropy_sum / n as f32 } else { 0.0 };
        rf[R::NonAsciiTarget as usize] = f32::from(u8::from(s.non_ascii_target));
        rf[R::ExtractionLimits as usize] = extraction.limits_hit.len() as f32;

        let mut mf = vec![0.0f32; metadata::N];
        if let Some(e) = &event.enrichment {
            mf[M::ReputationHits as usize] = e.reputation.len() as f32;
            mf[M::AsnKnown as usize] = f32::from(u8::from(e.asn.is_some()));
            mf[M::CountryKnown as usize] = f32::from(u8::from(e.country.is_some()));
        }
        mf[M::TagCount as usize] = event.tags.len() as f32;
        mf[M::WafBlocked as usize] = f32::from(u8::from(event.waf_blocked));
        mf[M::HasClientIp as usize] = f32::from(u8::from(event.client.ip.is_some()));

        let payload_explanation = if self.config.explain {
            self.explain_top(&findings, &extraction.payloads, model)
        } else {
            None
        };
        let profile = match &self.models.profile {
            Some(profile) => {
                profile.score(&s.method, &s.path, &profile_params(&extraction.payloads))
            }
            None => Default::default(),
        };

        AnalyzedEvent {
            client_key: key,
            evidence_id: event.evidence_id,
            event_time_ms: event.event_time_ms,
            provenance,
            late,
            method: s.method.clone(),
            path: s.path.clone(),
            status: event.response.as_ref().map(|r| r.status).filter(|s| *s > 0),
            user_agent_hash: s.user_agent_hash,
            param_name_hashes: s.param_name_hashes.clone(),
            waf_blocked: event.waf_blocked,
            enrichment: event.enrichment,
            request_features: rf,
            metadata_features: mf,
            scores: scores.rounded(),
            findings,
            payload_count: n as u32,
            csrf_reason: csrf_reason.to_string(),
            limits_hit: extraction
                .limits_hit
                .iter()
                .map(|s| s.to_string())
                .collect(),
            package_verified: verified,
            model_version,
            profile_score: (profile.score * 10_000.0).round() / 10_000.0,
            profile_reasons: profile.reasons,
            payload_explanation,
            session,
            aggregates: Vec::new(),
        }
    }

    /// Explains the payload score of the top finding (contributions
    /// truncated to the 12 largest plus the rest).
    fn explain_top(
        &mut self,
        findings: &[PayloadFinding],
        payloads: &[ExtractedPayload],
        model: u8,
    ) -> Option<Box<PayloadExplanation>> {
        let top = findings.first()?;
        let p = payloads.iter().find(|p| p.location == top.location)?;
        self.analyzer
            .analyze(&p.raw, p.form_encoded, &mut self.scratch);
        let classifier = match (&self.models.payload.canary, model) {
            (Some((canary, _)), 1) => canary,
            _ => &self.models.payload.active,
        };
        let e = sentinel_models::explain::explain_payload(classifier.as_ref(), &self.scratch, None);
        Some(Box::new(e.truncated(12)))
    }
}

impl Drop for EventAnalyzer {
    fn drop(&mut self) {
        self.report();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> EventAnalyzer {
        EventAnalyzer::new(
            AnalyzeConfig::default(),
            Arc::new(ModelBundle::rules_only()),
            Arc::new(EnrichmentTables::default()),
        )
    }

    fn event(target: &str) -> EvidenceEvent {
        serde_json::from_value(serde_json::json!({
            "evidence_id": "e1", "event_time_ms": 1000,
            "client": {"ip": "198.51.100.4"},
            "request": {"method": "GET", "target": target, "headers": [{"name": "User-Agent", "value": "curl/8"}]}
        }))
        .unwrap()
    }

    #[test]
    fn attack_and_benign() {
        let mut a = analyzer();
        let prov = Provenance {
            source: "t".into(),
            partition: None,
            offset: 0,
        };
        let bad = a.analyze(
            event("/search?q=1%27%20union%20select%20password%20from%20users--"),
            prov.clone(),
            false,
            false,
        );
        assert_eq!(bad.scores.top_attack().unwrap().0, ThreatClass::Sqli);
        assert_eq!(bad.findings[0].location.to_string(), "query:q");
        assert_eq!(bad.client_key, "ip:198.51.100.4");
        let good = a.analyze(event("/search?q=red+shoes"), prov.clone(), false, false);
        assert_eq!(good.attack_score(), 0.0);
        assert!(good.findings.is_empty());
        // The cache does not change results.
        let again = a.analyze(
            event("/search?q=1%27%20union%20select%20password%20from%20users--"),
            prov,
            false,
            false,
        );
        assert_eq!(again, bad);
        assert!(a.cache_stats().0 > 0);
    }

    #[test]
    fn workers_share_one_memo_per_bundle() {
        let memos = Arc::new(PayloadMemos::default());
        let bundle = Arc::new(ModelBundle::rules_only());
        let enrichment = Arc::new(EnrichmentTables::default());
        let share = |b: &Arc<ModelBundle>| {
            EventAnalyzer::sharing(
                AnalyzeConfig::default(),
                b.clone(),
                enrichment.clone(),
                memos.clone(),
            )
        };
        let (mut first, mut second) = (share(&bundle), share(&bundle));
        let attack = "/search?q=1%27%20union%20select%20password%20from%20users--";
        let a = first.analyze(event(attack), Provenance::default(), false, false);
        // The event's payloads (query value, User-Agent), each scored once.
        let n = first.cache_stats().1;
        assert_eq!(first.cache_stats(), (0, n));
        assert!(n >= 1);
        // The other worker finds the values the first one scored.
        let b = second.analyze(event(attack), Provenance::default(), false, false);
        assert_eq!(second.cache_stats(), (n, 0));
        assert_eq!(a, b);
        // Same result as an analyzer with a memo of its own.
        assert_eq!(
            analyzer().analyze(event(attack), Provenance::default(), false, false),
            a
        );
        // Another bundle has a memo of its own: nothing is served across models.
        let other = Arc::new(ModelBundle::rules_only());
        second.use_models(other.clone());
        second.analyze(event(attack), Provenance::default(), false, false);
        assert_eq!(second.cache_stats(), (n, n));
        assert_eq!(memos.bundles(), 2);
        // Counts reach the shared totals when an analyzer goes; a bundle no
        // analyzer holds any longer loses its memo.
        drop(first);
        drop(second);
        assert_eq!(memos.stats(), (n, 2 * n));
        drop(other);
        let _third = share(&bundle);
        assert_eq!(memos.bundles(), 1);
    }
}
