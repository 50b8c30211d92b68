//! The endpoints under `/api/v1/sentinel/`. Handlers parse JSON bodies
//! themselves so that every error has the same shape:
//! `{"error": {"code": "...", "message": "..."}}`, with nothing internal in
//! it (file paths, stack traces and library errors are logged, not sent).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use sentinel_models::dataset::{quality, DatasetStore, Origin, Sample};
use sentinel_models::explain::explain_payload;
use sentinel_models::registry::Registry;
use sentinel_models::{Analyzer, ModelBundle};
use sentinel_operators::infer::{verdict, ExplainMode, InferConfig};
use sentinel_operators::simulate::simulate_verdict;
use sentinel_schema::{AuditHook, EvidenceEvent, Provenance, ThreatClass};

use super::state::{AppState, Job};
use super::Caller;

/// A JSON error response.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 400 with a message for the caller.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 409: the request conflicts with the state (e.g. a model failed gating).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// 500: logged in full, sent as a generic message.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error (see the server log)".into(),
        }
    }

    /// Any status with a code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn ok(v: Value) -> ApiResult {
    Ok(Json(v).into_response())
}

fn class(s: &str) -> Result<ThreatClass, ApiError> {
    s.parse::<ThreatClass>()
        .map_err(|_| ApiError::bad_request(format!("unknown class {s:?}")))
}

/// `POST predict-payload`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    payload: String,
    #[serde(default)]
    client: String,
    /// `query` (default: `+` is a space) or `raw`.
    #[serde(default)]
    context: Option<String>,
}

/// Fast single-payload classification.
pub async fn predict_payload(State(s): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let r: PredictRequest = parse(&body)?;
    let form = match r.context.as_deref() {
        None | Some("query") => true,
        Some("raw") => false,
        Some(o) => return Err(ApiError::bad_request(format!("unknown context {o:?}"))),
    };
    let t0 = Instant::now();
    let p = s.engine.predict(r.payload.as_bytes(), form, &r.client);
    let m = &s.metrics;
    m.inference_latency
        .with_label_values(&[p.model_version.as_str()])
        .observe(t0.elapsed().as_secs_f64());
    m.predictions.with_label_values(&[p.label.as_str()]).inc();
    m.cache_hits
        .with_label_values(&["prediction", if p.cached { "hit" } else { "miss" }])
        .inc();
    Ok(Json(PredictResponse {
        label: p.label,
        score: p.score,
        class_scores: p.class_scores,
        signatures: p.signatures,
        model: p.model_version,
        cached: p.cached,
        degraded: p.degraded,
    })
    .into_response())
}

/// The answer of `predict-payload` (typed, so scores keep their `f32` form).
#[derive(serde::Serialize)]
pub struct PredictResponse {
    label: ThreatClass,
    score: f32,
    class_scores: sentinel_schema::ClassScores,
    signatures: Vec<&'static str>,
    model: String,
    cached: bool,
    degraded: bool,
}

/// The answer of `analyze`.
#[derive(serde::Serialize)]
pub struct AnalyzeResponse {
    verdict: sentinel_schema::Verdict,
    sim_results: Vec<sentinel_schema::SimResult>,
}

/// `POST explain`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    payload: String,
    #[serde(default)]
    class: Option<String>,
}

/// Exact Shapley explanation of a payload's score under the active model.
pub async fn explain(State(s): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let r: ExplainRequest = parse(&body)?;
    let target = r.class.as_deref().map(class).transpose()?;
    let bundle = s.bundle.read().map_err(ApiError::internal)?.clone();
    let mut analyzer = Analyzer::default();
    let analysis = analyzer.analyze_new(r.payload.as_bytes(), true);
    let e = explain_payload(bundle.payload.active.as_ref(), &analysis, target);
    let narrative = sentinel_models::explain::narrative::payload_sentence(&e);
    ok(json!({"explanation": e, "narrative": narrative}))
}

/// Full analysis of one evidence event: verdict (with explanation) and the
/// threat-twin simulations a `simulate` verdict asks for.
pub async fn analyze(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let event: EvidenceEvent = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            s.metrics
                .evidence_operations
                .with_label_values(&["analyze", "invalid"])
                .inc();
            return Err(ApiError::bad_request(format!("not an evidence event: {e}")));
        }
    };
    let state = s.clone();
    let (v, sims) = tokio::task::spawn_blocking(move || {
        let provenance = Provenance {
            source: format!("api:{}", caller.name),
            partition: None,
            offset: 0,
        };
        let mut guard = state.analysis.lock().unwrap_or_else(|p| p.into_inner());
        let a = guard.analyzer.analyze(event, provenance, false, false);
        let features = guard.windows.observe(&a);
        drop(guard);
        let bundle = state.bundle.read().map(|b| b.clone());
        let bundle = bundle.unwrap_or_else(|p| p.into_inner().clone());
        let cfg = InferConfig {
            explain: ExplainMode::All,
            ..state.infer
        };
        let v = verdict(&a, &features, &bundle.behaviour, &cfg);
        let sims = match &state.simulator {
            Some(sim) => simulate_verdict(sim, &v, &state.simulate),
            None => Vec::new(),
        };
        (v, sims)
    })
    .await
    .map_err(ApiError::internal)?;
    let m = &s.metrics;
    m.evidence_operations
        .with_label_values(&["analyze", "ok"])
        .inc();
    m.predictions
        .with_label_values(&[v.decision.as_str()])
        .inc();
    for r in &sims {
        let outcome = match (&r.error, r.exploit) {
            (Some(_), _) => "error",
            (None, true) => "exploit",
            (None, false) => "no_exploit",
        };
        m.simulations.with_label_values(&[outcome]).inc();
        m.simulation_duration.observe(r.duration_us as f64 / 1e6);
    }
    Ok(Json(AnalyzeResponse {
        verdict: v,
        sim_results: sims,
    })
    .into_response())
}

/// `POST dataset/add-sample`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSample {
    payload: String,
    label: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default = "default_dataset")]
    dataset: String,
}

/// `POST dataset/add-false-positive`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFalsePositive {
    payload: String,
    predicted: String,
    #[serde(default)]
    evidence_id: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default = "default_dataset")]
    dataset: String,
}

fn default_dataset() -> String {
    "main".into()
}

fn commit(s: &AppState, caller: &Caller, dataset: &str, sample: Sample, what: &str) -> ApiResult {
    if sample.payload.is_empty() {
        return Err(ApiError::bad_request("payload is empty"));
    }
    if !sentinel_models::dataset::valid_name(dataset) {
        return Err(ApiError::bad_request(
            "dataset names use a-z, 0-9, _ and - (at most 64)",
        ));
    }
    let store = DatasetStore::open(&s.data_dir).map_err(ApiError::internal)?;
    let label = sample.label;
    let v = store
        .commit(
            dataset,
            &[sample],
            &format!("api: {what} labelled {} by {}", label.as_str(), caller.name),
        )
        .map_err(ApiError::internal)?;
    s.audit.audit(
        &caller.name,
        &format!("dataset.{what}"),
        dataset,
        json!({"version": v.id, "label": label.as_str()}),
    );
    ok(json!({"dataset": dataset, "version": v.id, "samples": v.samples}))
}

/// Adds a labelled sample to a dataset (a new content-addressed version).
pub async fn add_sample(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let r: AddSample = parse(&body)?;
    let sample = Sample {
        payload: r.payload,
        label: class(&r.label)?,
        origin: Origin::Manual,
        note: r.note,
    };
    commit(&s, &caller, &r.dataset, sample, "sample_added")
}

/// Adds a false-positive report: the value is benign, the model said otherwise.
pub async fn add_false_positive(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let r: AddFalsePositive = parse(&body)?;
    let sample = Sample {
        payload: r.payload,
        label: ThreatClass::Benign,
        origin: Origin::FalsePositive {
            predicted: class(&r.predicted)?,
            evidence_id: r.evidence_id,
        },
        note: r.note,
    };
    commit(&s, &caller, &r.dataset, sample, "false_positive_added")
}

/// `GET dataset/stats?dataset=main`.
#[derive(Deserialize)]
pub struct StatsQuery {
    #[serde(default = "default_dataset")]
    dataset: String,
}

/// Quality metrics of a dataset version.
pub async fn dataset_stats(
    State(s): State<Arc<AppState>>,
    Query(q): Query<StatsQuery>,
) -> ApiResult {
    let store = DatasetStore::open(&s.data_dir).map_err(ApiError::internal)?;
    let v = store
        .resolve(&q.dataset)
        .map_err(|_| ApiError::not_found(format!("no dataset {:?}", q.dataset)))?;
    let samples = store.samples(&v).map_err(ApiError::internal)?;
    ok(json!({"dataset": q.dataset, "version": v.id, "quality": quality(&samples)}))
}

/// `POST train/payload-classifier`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default = "default_true")]
    include_generated: bool,
    #[serde(default = "default_folds")]
    folds: usize,
    #[serde(default)]
    seed: Option<u64>,
}

fn default_true() -> bool {
    true
}

fn default_folds() -> usize {
    3
}

/// Starts training in the background; returns the job id (202).
pub async fn train(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let r: TrainRequest = if body.is_empty() {
        parse(&Bytes::from_static(b"{}"))?
    } else {
        parse(&body)?
    };
    if !(1..=10).contains(&r.folds) {
        return Err(ApiError::bad_request("folds must be 1..=10"));
    }
    if !r.include_generated && r.dataset.is_none() {
        return Err(ApiError::bad_request(
            "nothing to train on: give a dataset or include_generated",
        ));
    }
    let id = format!(
        "job-{:x}",
        xxhash_rust::xxh3::xxh3_64(format!("{:?}{}", Instant::now(), caller.name).as_bytes())
    );
    let job = Job {
        id: id.clone(),
        state: "running".into(),
        started_by: caller.name.clone(),
        version: None,
        gate_failures: Vec::new(),
        metrics: None,
        error: None,
    };
    s.jobs
        .lock()
        .map_err(ApiError::internal)?
        .insert(id.clone(), job);
    s.audit.audit(
        &caller.name,
        "model.training_started",
        &id,
        json!({"dataset": r.dataset, "folds": r.folds}),
    );
    let state = s.clone();
    let job_id = id.clone();
    std::thread::spawn(move || {
        let result = super::jobs::train_and_register(
            &state.data_dir,
            r.dataset.as_deref(),
            r.include_generated,
            r.folds,
            r.seed.unwrap_or(0x5eed),
        );
        let mut jobs = state.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = jobs.get_mut(&job_id) {
            match result {
                Ok(done) => {
                    j.state = "succeeded".into();
                    state.audit.audit(
                        &j.started_by,
                        "model.trained",
                        &done.version,
                        json!({"job": job_id, "gate_failures": done.gate_failures}),
                    );
                    j.version = Some(done.version);
                    j.gate_failures = done.gate_failures;
                    j.metrics = Some(done.metrics);
                }
                Err(e) => {
                    tracing::error!("training job {job_id} failed: {e:#}");
                    j.state = "failed".into();
                    j.error = Some(format!("{e:#}"));
                }
            }
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": id, "state": "running"})),
    )
        .into_response())
}

/// `GET train/jobs/{id}`.
pub async fn train_job(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult {
    let jobs = s.jobs.lock().map_err(ApiError::internal)?;
    let j = jobs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))?;
    ok(serde_json::to_value(j).map_err(ApiError::internal)?)
}

/// The registry: versions with their metrics and gate, active, canary.
pub async fn models(State(s): State<Arc<AppState>>) -> ApiResult {
    let reg = Registry::open(&s.data_dir).map_err(ApiError::internal)?;
    let state = reg.state().map_err(ApiError::internal)?;
    let serving = s.bundle.read().map_err(ApiError::internal)?.describe();
    ok(json!({"registry": state, "serving": serving}))
}

/// `POST models/promote`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    version: String,
    #[serde(default = "default_percent")]
    percent: f32,
    #[serde(default)]
    force: bool,
}

fn default_percent() -> f32 {
    100.0
}

/// Promotes a model (canary below 100 %), refusing one that failed gating
/// unless `force`; the served models change at once.
pub async fn promote(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let r: PromoteRequest = parse(&body)?;
    if !(r.percent > 0.0 && r.percent <= 100.0) {
        return Err(ApiError::bad_request("percent must be in (0, 100]"));
    }
    let reg = Registry::open(&s.data_dir).map_err(ApiError::internal)?;
    if reg.meta(&r.version).is_err() {
        return Err(ApiError::not_found(format!("no model {:?}", r.version)));
    }
    let state = match reg.promote(&r.version, r.percent, r.force) {
        Ok(st) => st,
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("gat") {
                return Err(ApiError::conflict(msg));
            }
            return Err(ApiError::internal(msg));
        }
    };
    s.audit.audit(
        &caller.name,
        "model.promoted",
        &r.version,
        json!({"percent": r.percent, "force": r.force}),
    );
    reload_models(&s).map_err(ApiError::internal)?;
    ok(
        json!({"registry": state, "serving": s.bundle.read().map_err(ApiError::internal)?.describe()}),
    )
}

/// Reopens the models after a registry change and swaps them in.
pub fn reload_models(s: &AppState) -> anyhow::Result<()> {
    let bundle = Arc::new(ModelBundle::open(&s.data_dir, &s.models_config, |_| {})?);
    s.engine.set_models(bundle.payload.clone());
    {
        let mut a = s.analysis.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = AppState::analysis_for(bundle.clone(), s.window);
        a.analyzer = fresh.analyzer;
    }
    *s.bundle.write().unwrap_or_else(|p| p.into_inner()) = bundle;
    Ok(())
}

/// Serving health: models, breaker, cache, latency, sandbox.
pub async fn model_server_health(State(s): State<Arc<AppState>>) -> ApiResult {
    let engine = s.engine.health();
    let sandbox = s.simulator.as_ref().map(|x| x.sandbox.health());
    ok(json!({
        "ready": s.ready.load(Ordering::Relaxed),
        "models": s.bundle.read().map_err(ApiError::internal)?.describe(),
        "engine": engine,
        "sandbox": sandbox,
    }))
}

/// The sandbox, or 503 when simulation is disabled.
fn simulator(s: &AppState) -> Result<&sentinel_operators::simulate::Simulator, ApiError> {
    s.simulator.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_sandbox",
            "simulation is disabled",
        )
    })
}

/// Presses the sandbox panic button.
pub async fn sandbox_panic(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let sim = simulator(&s)?;
    let t0 = Instant::now();
    let running = sim.sandbox.panic(&caller.name);
    let stopped = sim.sandbox.wait_idle(std::time::Duration::from_secs(5));
    ok(json!({
        "panicked": true,
        "running_at_press": running,
        "all_stopped_ms": stopped.map(|_| t0.elapsed().as_secs_f64() * 1e3),
        "health": sim.sandbox.health(),
    }))
}

/// Re-arms the sandbox.
pub async fn sandbox_rearm(
    State(s): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let sim = simulator(&s)?;
    sim.sandbox.rearm(&caller.name);
    ok(json!({"health": sim.sandbox.health()}))
}

/// `GET sandbox/audit-log?offset=&limit=`.
#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
    /// Only records whose action starts with this (e.g. `sandbox.`).
    #[serde(default)]
    action: Option<String>,
}

fn default_limit() -> usize {
    100
}

/// The audit log, paged (oldest first).
pub async fn audit_log(State(s): State<Arc<AppState>>, Query(p): Query<Page>) -> ApiResult {
    let limit = p.limit.clamp(1, 1000);
    let mut records: Vec<Value> = Vec::new();
    for seg in sentinel_sinks::audit_log::segments(s.audit.dir()).map_err(ApiError::internal)? {
        let text = std::fs::read_to_string(&seg).map_err(ApiError::internal)?;
        for l in text.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                if p.action
                    .as_deref()
                    .is_none_or(|a| v["action"].as_str().is_some_and(|x| x.starts_with(a)))
                {
                    records.push(v);
                }
            }
        }
    }
    let total = records.len();
    let page: Vec<Value> = records.into_iter().skip(p.offset).take(limit).collect();
    let next = (p.offset + page.len() < total).then_some(p.offset + page.len());
    ok(json!({"total": total, "offset": p.offset, "records": page, "next_offset": next}))
}
