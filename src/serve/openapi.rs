//! The OpenAPI 3.0 document, generated from the route table (the same
//! table the auth middleware's roles are checked against in a test).

use serde_json::{json, Value};

use super::auth::{required_role, Role};

/// One route: method, path, summary, request body schema.
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path (OpenAPI template syntax).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// JSON schema of the body, if any.
    pub body: Option<fn() -> Value>,
}

fn s(t: &str) -> Value {
    json!({"type": t})
}

fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props, "additionalProperties": false})
}

const CLASSES: &[&str] = &[
    "sqli",
    "xss",
    "cmdi",
    "path_traversal",
    "xxe",
    "csrf",
    "benign",
];

fn class() -> Value {
    json!({"type": "string", "enum": CLASSES})
}

/// Every route of the control plane.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/v1/sentinel/analyze", summary: "Full analysis of one evidence event: verdict with explanation, and threat-twin simulations", body: Some(|| json!({"type": "object", "description": "An EvidenceEvent (see schema/json/evidence_event.json)", "required": ["evidence_id", "event_time_ms", "request"]})) },
    Route { method: "POST", path: "/api/v1/sentinel/predict-payload", summary: "Fast single-payload classification (cached, canary-routed by client)", body: Some(|| obj(&["payload"], json!({"payload": s("string"), "client": s("string"), "context": {"type": "string", "enum": ["query", "raw"]}}))) },
    Route { method: "POST", path: "/api/v1/sentinel/explain", summary: "Exact Shapley explanation of a payload's score", body: Some(|| obj(&["payload"], json!({"payload": s("string"), "class": class()}))) },
    Route { method: "POST", path: "/api/v1/sentinel/dataset/add-sample", summary: "Add a labelled sample (a new dataset version)", body: Some(|| obj(&["payload", "label"], json!({"payload": {"type": "string", "minLength": 1}, "label": class(), "note": s("string"), "dataset": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}}))) },
    Route { method: "POST", path: "/api/v1/sentinel/dataset/add-false-positive", summary: "Report a false positive (benign value a model flagged)", body: Some(|| obj(&["payload", "predicted"], json!({"payload": {"type": "string", "minLength": 1}, "predicted": class(), "evidence_id": s("string"), "note": s("string"), "dataset": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}}))) },
    Route { method: "GET", path: "/api/v1/sentinel/dataset/stats", summary: "Quality metrics of a dataset version (?dataset=main)", body: None },
    Route { method: "POST", path: "/api/v1/sentinel/train/payload-classifier", summary: "Train, gate and register a payload model in the background; returns a job id", body: Some(|| obj(&[], json!({"dataset": s("string"), "include_generated": s("boolean"), "folds": {"type": "integer", "minimum": 1, "maximum": 10}, "seed": {"type": "integer", "minimum": 0}}))) },
    Route { method: "GET", path: "/api/v1/sentinel/train/jobs/{id}", summary: "A training job's state and result", body: None },
    Route { method: "GET", path: "/api/v1/sentinel/models", summary: "The model registry and the models being served", body: None },
    Route { method: "POST", path: "/api/v1/sentinel/models/promote", summary: "Promote a model (canary below 100 %); gating refuses failed models unless force", body: Some(|| obj(&["version"], json!({"version": s("string"), "percent": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 100}, "force": s("boolean")}))) },
    Route { method: "GET", path: "/api/v1/sentinel/model-server/health", summary: "Serving health: models, breaker, cache, latency, sandbox", body: None },
    Route { method: "POST", path: "/api/v1/sentinel/sandbox/panic", summary: "Interrupt every running simulation and refuse new ones until re-armed", body: None },
    Route { method: "POST", path: "/api/v1/sentinel/sandbox/rearm", summary: "Re-arm the sandbox after a panic", body: None },
    Route { method: "GET", path: "/api/v1/sentinel/sandbox/audit-log", summary: "The audit log, paged (?offset=&limit=&action=)", body: None },
    Route { method: "GET", path: "/metrics", summary: "Prometheus metrics", body: None },
    Route { method: "GET", path: "/healthz", summary: "Liveness", body: None },
    Route { method: "GET", path: "/readyz", summary: "Readiness (models loaded)", body: None },
    Route { method: "GET", path: "/api/v1/openapi.json", summary: "This document", body: None },
];

/// The concrete path of a route (templates filled with an example).
pub fn concrete(path: &str) -> String {
    path.replace("{id}", "job-0")
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let role = required_role(r.method, &concrete(r.path));
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}_{}", r.method.to_lowercase(), r.path.trim_start_matches('/').replace(['/', '-', '{', '}', '.'], "_")),
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
            },
            "x-sentinel-role": role.map(Role::as_str),
        });
        if r.path == "/metrics" {
            op["responses"]["200"] = json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}});
        }
        if r.path == "/api/v1/sentinel/train/payload-classifier" {
            op["responses"]["202"] = json!({"description": "Accepted", "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        if r.path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        match role {
            None => op["security"] = json!([]),
            Some(_) => op["security"] = json!([{"bearer": []}]),
        }
        if let Some(b) = r.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": b()}}});
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert(r.method.to_lowercase(), op));
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Sentinel control plane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
            }}}}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_role() {
        let doc = document();
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method.to_lowercase()];
            assert!(op.is_object(), "{} {}", r.method, r.path);
            assert_eq!(
                op["x-sentinel-role"].as_str(),
                required_role(r.method, &concrete(r.path)).map(Role::as_str)
            );
        }
    }
}
