//! `sentinel serve`: the HTTP control plane (axum on tokio), with bearer
//! tokens and roles, TLS and mTLS (rustls), request limits, Prometheus
//! metrics and the audit log — over the same data directory as the
//! pipeline, so a promotion here changes what `sentinel run` loads next.

pub mod api;
pub mod auth;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod pipeline_metrics;
pub mod state;
pub mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use sentinel_models::serving::ServingEngine;
use sentinel_schema::AuditHook;

use api::ApiError;
use auth::{authenticate, required_role, AuthFailure};
use config::ApiConfig;
use metrics::Metrics;
use state::AppState;

/// Who is calling (set by the auth middleware).
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token holder's name (`anonymous` on public routes).
    pub name: String,
}

/// Arguments of `sentinel serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Configuration file ([api] tokens, TLS, limits; data_dir; [models], [sandbox]).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Listen address (overrides [api] listen).
    #[arg(long)]
    listen: Option<String>,
    /// Print the SHA-256 of a token (for [[api.tokens]] sha256) and exit.
    #[arg(long, value_name = "TOKEN")]
    hash_token: Option<String>,
}

async fn auth_layer(State(s): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let route = route_label(&path);
    let response = match required_role(&method, &path) {
        None => {
            req.extensions_mut().insert(Caller {
                name: "anonymous".into(),
            });
            next.run(req).await
        }
        Some(needed) => {
            let header = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match authenticate(header, &s.tokens) {
                Ok(t) if t.role >= needed => {
                    req.extensions_mut().insert(Caller {
                        name: t.name.clone(),
                    });
                    next.run(req).await
                }
                Ok(t) => {
                    let f = AuthFailure::Forbidden {
                        name: t.name.clone(),
                        role: t.role,
                        needed,
                    };
                    audit_failure(&s, &method, &path, &f);
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        format!("this endpoint needs the {} role", needed.as_str()),
                    )
                    .into_response()
                }
                Err(f) => {
                    audit_failure(&s, &method, &path, &f);
                    let mut r = ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "a valid bearer token is required",
                    )
                    .into_response();
                    r.headers_mut().insert(
                        axum::http::header::WWW_AUTHENTICATE,
                        axum::http::HeaderValue::from_static("Bearer"),
                    );
                    r
                }
            }
        }
    };
    s.metrics
        .http_requests
        .with_label_values(&[route, response.status().as_str()])
        .inc();
    response
}

/// A bounded route label for metrics (unknown paths collapse).
fn route_label(path: &str) -> &'static str {
    openapi::ROUTES
        .iter()
        .find(|r| {
            r.path == path
                || (r.path.ends_with("{id}") && path.starts_with(r.path.trim_end_matches("{id}")))
        })
        .map(|r| r.path)
        .unwrap_or("other")
}

fn audit_failure(s: &AppState, method: &str, path: &str, f: &AuthFailure) {
    let (who, why) = match f {
        AuthFailure::Missing => ("anonymous".to_string(), "missing token".to_string()),
        AuthFailure::Unknown => ("unknown".to_string(), "unknown token".to_string()),
        AuthFailure::Forbidden { name, role, needed } => (
            name.clone(),
            format!("role {} below {}", role.as_str(), needed.as_str()),
        ),
    };
    s.audit.audit(
        &who,
        "auth.failed",
        &format!("{method} {path}"),
        json!({"reason": why}),
    );
}

async fn metrics_handler(State(s): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        Json(json!({"status": "ready"})).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "starting").into_response()
    }
}

async fn openapi_handler() -> Response {
    Json(openapi::document()).into_response()
}

async fn not_found() -> Response {
    ApiError::not_found("no such endpoint").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
    .into_response()
}

/// The router over `state`.
pub fn router(state: Arc<AppState>, cfg: &ApiConfig) -> Router {
    let p = |x: &str| format!("/api/v1/sentinel/{x}");
    Router::new()
        .route(&p("analyze"), post(api::analyze))
        .route(&p("predict-payload"), post(api::predict_payload))
        .route(&p("explain"), post(api::explain))
        .route(&p("dataset/add-sample"), post(api::add_sample))
        .route(
            &p("dataset/add-false-positive"),
            post(api::add_false_positive),
        )
        .route(&p("dataset/stats"), get(api::dataset_stats))
        .route(&p("train/payload-classifier"), post(api::train))
        .route(&p("train/jobs/{id}"), get(api::train_job))
        .route(&p("models"), get(api::models))
        .route(&p("models/promote"), post(api::promote))
        .route(&p("model-server/health"), get(api::model_server_health))
        .route(&p("sandbox/panic"), post(api::sandbox_panic))
        .route(&p("sandbox/rearm"), post(api::sandbox_rearm))
        .route(&p("sandbox/audit-log"), get(api::audit_log))
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(openapi_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth_layer,
        ))
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(cfg.request_timeout_ms),
        ))
        .with_state(state)
}

/// Builds the shared state from the configuration.
pub fn build_state(cfg: &crate::config::SentinelConfig) -> anyhow::Result<Arc<AppState>> {
    let data_dir = cfg.data_dir.clone();
    let audit = crate::sandbox_open::open_audit(&data_dir)?;
    let bundle = crate::models_open::open_models(&data_dir, &cfg.models, true)?;
    let engine = ServingEngine::new(bundle.payload.clone(), cfg.models.serving);
    let simulator = if cfg.simulate.enabled {
        Some(crate::sandbox_open::open_simulator(
            &data_dir,
            &cfg.sandbox,
            None,
            audit.clone(),
            true,
        )?)
    } else {
        None
    };
    let analysis = AppState::analysis_for(bundle.clone(), cfg.window);
    Ok(Arc::new(AppState {
        data_dir,
        tokens: cfg.api.tokens.clone(),
        audit,
        metrics: Metrics::new(),
        models_config: cfg.models.clone(),
        bundle: RwLock::new(bundle),
        engine,
        analysis: Mutex::new(analysis),
        infer: cfg.inference,
        window: cfg.window,
        simulator,
        simulate: cfg.simulate,
        jobs: Mutex::new(BTreeMap::new()),
        ready: AtomicBool::new(true),
    }))
}

/// Runs the command until SIGTERM/SIGINT.
pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    if let Some(t) = &a.hash_token {
        println!("{}", auth::hash_token(t));
        return Ok(0);
    }
    let mut cfg = match &a.config {
        Some(p) => crate::config::SentinelConfig::load(p)?,
        None => crate::config::SentinelConfig::load_or_default()?,
    };
    if let Some(l) = &a.listen {
        cfg.api.listen = l.clone();
    }
    if cfg.api.tokens.is_empty() {
        eprintln!(
            "sentinel: warning: no [[api.tokens]] configured: every protected endpoint answers 401"
        );
    }
    let addr: SocketAddr = cfg
        .api
        .listen
        .parse()
        .with_context(|| format!("bad listen address {:?}", cfg.api.listen))?;
    let state = build_state(&cfg)?;
    if cfg.pipeline.model_reload_ms > 0 {
        // Follow promotions made elsewhere (the CLI, another control plane)
        // the way `sentinel run` does.
        let s = state.clone();
        crate::models_open::spawn_registry_watch(
            "model-watch",
            cfg.data_dir.clone(),
            Duration::from_millis(cfg.pipeline.model_reload_ms),
            Arc::new(AtomicBool::new(false)),
            move || api::reload_models(&s),
        )?;
    }
    let app = router(state.clone(), &cfg.api);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            h.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let scheme = if cfg.api.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mtls = cfg.api.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        state.audit.audit(
            "system",
            "api.started",
            &cfg.api.listen,
            json!({"tls": cfg.api.tls.is_some(), "mtls": mtls}),
        );
        match &cfg.api.tls {
            Some(tls) => {
                let server_cfg = tls::server_config(tls)?;
                let rustls = axum_server::tls_rustls::RustlsConfig::from_config(server_cfg);
                let server = axum_server::bind_rustls(addr, rustls).handle(handle.clone());
                announce(&handle, scheme, mtls).await;
                server.serve(app.into_make_service()).await
            }
            None => {
                let server = axum_server::bind(addr).handle(handle.clone());
                announce(&handle, scheme, mtls).await;
                server.serve(app.into_make_service()).await
            }
        }
        .context("the server failed")
    })?;
    Ok(0)
}

async fn announce(handle: &axum_server::Handle, scheme: &str, mtls: bool) {
    let h = handle.clone();
    let scheme = scheme.to_string();
    tokio::spawn(async move {
        if let Some(addr) = h.listening().await {
            eprintln!(
                "sentinel: control plane on {scheme}://{addr}{}",
                if mtls {
                    " (client certificates required)"
                } else {
                    ""
                }
            );
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
