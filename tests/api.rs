//! The control plane, black box over HTTP: the auth matrix (every endpoint
//! × no token, a bad token and each role), mTLS with trusted and untrusted
//! client certificates, JSON errors, and the analyst's whole flow (samples →
//! training job → promotion → the new model in `analyze` and `/metrics`).

mod common;

use common::api::{token, write_config, ClientTls, Server};
use common::kafka::free_port;

/// The documented minimum role of every endpoint (README "Control plane"),
/// with a request body that passes authorization without side effects
/// worth waiting for (training with `folds: 0` is a 400 after auth).
const ENDPOINTS: &[(&str, &str, Option<&str>, &str)] = &[
    ("GET", "/healthz", None, "public"),
    ("GET", "/readyz", None, "public"),
    ("GET", "/api/v1/openapi.json", None, "public"),
    ("GET", "/metrics", None, "viewer"),
    ("GET", "/api/v1/sentinel/models", None, "viewer"),
    (
        "GET",
        "/api/v1/sentinel/model-server/health",
        None,
        "viewer",
    ),
    ("GET", "/api/v1/sentinel/dataset/stats", None, "viewer"),
    (
        "GET",
        "/api/v1/sentinel/train/jobs/job-none",
        None,
        "viewer",
    ),
    (
        "POST",
        "/api/v1/sentinel/predict-payload",
        Some(r#"{"payload":"1' or 1=1--"}"#),
        "analyst",
    ),
    (
        "POST",
        "/api/v1/sentinel/explain",
        Some(r#"{"payload":"<script>alert(1)</script>"}"#),
        "analyst",
    ),
    (
        "POST",
        "/api/v1/sentinel/analyze",
        Some(
            r#"{"evidence_id":"m-1","event_time_ms":1767225600000,"client":{"ip":"203.0.113.9"},"request":{"method":"GET","target":"/p?id=1%27%20or%20%271%27%3D%271","headers":[{"name":"Host","value":"x"}]}}"#,
        ),
        "analyst",
    ),
    (
        "POST",
        "/api/v1/sentinel/dataset/add-sample",
        Some(r#"{"payload":"hello world","label":"benign","dataset":"matrix"}"#),
        "analyst",
    ),
    (
        "POST",
        "/api/v1/sentinel/dataset/add-false-positive",
        Some(r#"{"payload":"select a dish","predicted":"sqli","dataset":"matrix"}"#),
        "analyst",
    ),
    (
        "POST",
        "/api/v1/sentinel/train/payload-classifier",
        Some(r#"{"folds":0}"#),
        "operator",
    ),
    (
        "POST",
        "/api/v1/sentinel/models/promote",
        Some(r#"{"version":"no-such-model"}"#),
        "operator",
    ),
    (
        "GET",
        "/api/v1/sentinel/sandbox/audit-log",
        None,
        "operator",
    ),
    ("POST", "/api/v1/sentinel/sandbox/rearm", None, "operator"),
    ("POST", "/api/v1/sentinel/sandbox/panic", None, "operator"),
];

const ROLES: &[&str] = &["viewer", "analyst", "operator", "admin"];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap_or(usize::MAX)
}

#[test]
fn auth_matrix() {
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), data.path(), port, "");
    let server = Server::start(&cfg, port, ClientTls::default());
    for (method, path, body, needed) in ENDPOINTS {
        let cases: Vec<(Option<&str>, &str)> = [(None, "none"), (Some("not-a-token"), "bad")]
            .into_iter()
            .chain(ROLES.iter().map(|r| (Some(token(r)), *r)))
            .collect();
        for (tok, who) in cases {
            let (status, text) = server.request(method, path, tok, *body);
            let allowed =
                *needed == "public" || (rank(who) != usize::MAX && rank(who) >= rank(needed));
            if allowed {
                assert!(
                    status != 401 && status != 403 && (200..500).contains(&status),
                    "{method} {path} as {who}: {status} {text}"
                );
            } else if tok.is_none() || who == "bad" {
                assert_eq!(status, 401, "{method} {path} as {who}: {text}");
            } else {
                assert_eq!(status, 403, "{method} {path} as {who}: {text}");
            }
            if status >= 400 && *path != "/metrics" {
                let v: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path} as {who}: not JSON: {text}"));
                assert!(v["error"]["code"].is_string(), "{text}");
            }
        }
    }
    // Failed authentications are audited.
    let (status, log) = server.request(
        "GET",
        "/api/v1/sentinel/sandbox/audit-log?action=auth.failed&limit=1000",
        Some(token("admin")),
        None,
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&log).unwrap();
    // none + bad for every protected endpoint, plus every too-weak role.
    let protected = ENDPOINTS.iter().filter(|e| e.3 != "public").count();
    let weak: usize = ENDPOINTS
        .iter()
        .filter(|e| e.3 != "public")
        .map(|e| rank(e.3))
        .sum();
    assert_eq!(v["total"].as_u64().unwrap() as usize, 2 * protected + weak);
}

#[test]
fn errors_are_json_and_leak_nothing() {
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), data.path(), port, "");
    let s = Server::start(&cfg, port, ClientTls::default());
    let a = Some(token("admin"));
    for (method, path, body, status) in [
        (
            "POST",
            "/api/v1/sentinel/predict-payload",
            Some("{not json"),
            400,
        ),
        (
            "POST",
            "/api/v1/sentinel/predict-payload",
            Some(r#"{"payload":1}"#),
            400,
        ),
        (
            "POST",
            "/api/v1/sentinel/predict-payload",
            Some(r#"{"payload":"x","extra":1}"#),
            400,
        ),
        (
            "POST",
            "/api/v1/sentinel/dataset/add-sample",
            Some(r#"{"payload":"x","label":"nope"}"#),
            400,
        ),
        (
            "POST",
            "/api/v1/sentinel/dataset/add-sample",
            Some(r#"{"payload":"x","label":"xss","dataset":"../../etc"}"#),
            400,
        ),
        ("GET", "/api/v1/sentinel/no-such-thing", None, 404),
        ("DELETE", "/api/v1/sentinel/models", None, 405),
        ("GET", "/api/v1/sentinel/train/jobs/job-404", None, 404),
        (
            "POST",
            "/api/v1/sentinel/models/promote",
            Some(r#"{"version":"x","percent":0}"#),
            400,
        ),
    ] {
        let (got, text) = s.request(method, path, a, body);
        assert_eq!(got, status, "{method} {path}: {text}");
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.contains(data.path().to_str().unwrap()), "{msg}");
    }
    // Bodies over the limit (64 KiB in this configuration) are refused.
    let big = format!(r#"{{"payload":"{}"}}"#, "a".repeat(100_000));
    let (got, _) = s.request("POST", "/api/v1/sentinel/predict-payload", a, Some(&big));
    assert_eq!(got, 413);
}

fn cert_files(dir: &std::path::Path) -> (ClientTls, ClientTls, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Sentinel test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["analyst.example".into()]).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "analyst");
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    // A client certificate from a CA the server does not trust.
    let rogue_ca_key = KeyPair::generate().unwrap();
    let mut rogue_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    rogue_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let rogue_ca = rogue_params.self_signed(&rogue_ca_key).unwrap();
    let rogue_key = KeyPair::generate().unwrap();
    let rogue = CertificateParams::new(vec!["mallory.example".into()])
        .unwrap()
        .signed_by(&rogue_key, &rogue_ca, &rogue_ca_key)
        .unwrap();
    let w = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ca_pem = w("ca.pem", ca.pem());
    w("server.pem", server.pem());
    w("server.key", server_key.serialize_pem());
    let client_pem = w("client.pem", client.pem());
    let client_k = w("client.key", client_key.serialize_pem());
    let rogue_pem = w("rogue.pem", rogue.pem());
    let rogue_k = w("rogue.key", rogue_key.serialize_pem());
    let tls = format!(
        "[api.tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n",
        dir.join("server.pem").display().to_string(),
        dir.join("server.key").display().to_string(),
        ca_pem.display().to_string()
    );
    (
        ClientTls {
            ca: Some(ca_pem.clone()),
            cert: Some((client_pem, client_k)),
        },
        ClientTls {
            ca: Some(ca_pem),
            cert: Some((rogue_pem, rogue_k)),
        },
        tls,
    )
}

#[test]
fn mtls_requires_a_client_certificate_from_the_configured_ca() {
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let (trusted, rogue, tls) = cert_files(dir.path());
    let port = free_port();
    let cfg = write_config(dir.path(), data.path(), port, &tls);
    let s = Server::start(&cfg, port, trusted.clone());
    // Trusted client certificate: served (and tokens still apply).
    let (status, text) = s.request(
        "POST",
        "/api/v1/sentinel/predict-payload",
        Some(token("analyst")),
        Some(r#"{"payload":"<script>alert(1)</script>"}"#),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"xss\""));
    assert_eq!(
        s.request("GET", "/api/v1/sentinel/models", None, None).0,
        401
    );
    // A certificate from another CA, or none at all: the handshake fails.
    let (status, text) = s.request_with("GET", "/healthz", None, None, &rogue);
    assert_eq!(status, 0, "untrusted certificate was accepted: {text}");
    let none = ClientTls {
        ca: trusted.ca.clone(),
        cert: None,
    };
    let (status, text) = s.request_with("GET", "/healthz", None, None, &none);
    assert_eq!(
        status, 0,
        "a client without a certificate was served: {text}"
    );
}

#[test]
fn analyst_flow_samples_training_promotion_and_metrics() {
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), data.path(), port, "");
    let s = Server::start(&cfg, port, ClientTls::default());
    let (analyst, operator, viewer) = (token("analyst"), token("operator"), token("viewer"));
    let before = s.json("GET", "/api/v1/sentinel/models", viewer, None);
    let old = before["registry"]["active"].as_str().unwrap().to_string();

    // Samples and false-positive reports.
    for p in [
        "menu: select a dish from the list",
        "drop by anytime!",
        "O'Reilly & Sons",
    ] {
        s.json(
            "POST",
            "/api/v1/sentinel/dataset/add-false-positive",
            analyst,
            Some(&format!(
                r#"{{"payload":{},"predicted":"sqli","dataset":"flow"}}"#,
                serde_json::json!(p)
            )),
        );
    }
    let added = s.json(
        "POST",
        "/api/v1/sentinel/dataset/add-sample",
        analyst,
        Some(
            r#"{"payload":"1 UNION SELECT card FROM payments--","label":"sqli","dataset":"flow"}"#,
        ),
    );
    assert_eq!(added["samples"], 4);
    let stats = s.json(
        "GET",
        "/api/v1/sentinel/dataset/stats?dataset=flow",
        viewer,
        None,
    );
    assert_eq!(stats["quality"]["false_positive_reports"], 3);

    // Training in the background.
    let job = s.json(
        "POST",
        "/api/v1/sentinel/train/payload-classifier",
        operator,
        Some(r#"{"dataset":"flow","folds":1,"seed":7}"#),
    );
    let id = job["job_id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let done = loop {
        let j = s.json(
            "GET",
            &format!("/api/v1/sentinel/train/jobs/{id}"),
            viewer,
            None,
        );
        if j["state"] != "running" {
            break j;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "training did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    let new = done["version"].as_str().unwrap().to_string();
    assert_ne!(new, old);

    // Canary first, then all traffic.
    let canary = s.json(
        "POST",
        "/api/v1/sentinel/models/promote",
        operator,
        Some(&format!(r#"{{"version":"{new}","percent":10}}"#)),
    );
    assert_eq!(
        canary["registry"]["canary"]["version"],
        new.as_str(),
        "{canary}"
    );
    let full = s.json(
        "POST",
        "/api/v1/sentinel/models/promote",
        operator,
        Some(&format!(r#"{{"version":"{new}","percent":100}}"#)),
    );
    assert_eq!(full["registry"]["active"], new.as_str(), "{full}");

    // The new model answers, in analyze and predict-payload, and in /metrics.
    let v = s.json(
        "POST",
        "/api/v1/sentinel/analyze",
        analyst,
        Some(r#"{"evidence_id":"flow-1","event_time_ms":1767225600000,"client":{"ip":"203.0.113.7"},"request":{"method":"GET","target":"/p?id=1%20UNION%20SELECT%20card%20FROM%20payments--","headers":[{"name":"Host","value":"x"}]}}"#),
    );
    assert_eq!(v["verdict"]["model_version"], new.as_str(), "{v}");
    assert!(v["verdict"]["explanation"]["narrative"].is_string());
    let p = s.json(
        "POST",
        "/api/v1/sentinel/predict-payload",
        analyst,
        Some(r#"{"payload":"menu: select a dish from the list"}"#),
    );
    assert_eq!(p["model"], new.as_str());
    assert_eq!(
        p["label"], "benign",
        "the reported false positive is benign now: {p}"
    );
    let (status, metrics) = s.request("GET", "/metrics", Some(viewer), None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "cerberus_sentinel_inference_latency_seconds_count{{model=\"{new}\"}} 1"
        )),
        "{metrics}"
    );
    for name in [
        "cerberus_sentinel_predictions_total",
        "cerberus_sentinel_cache_hits_total",
        "cerberus_evidence_operations_total",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }
    // The promotion is in the audit log, under the operator's name.
    let log = s.json(
        "GET",
        "/api/v1/sentinel/sandbox/audit-log?action=model.&limit=100",
        operator,
        None,
    );
    let actions: Vec<String> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["actor"].as_str().unwrap(),
                r["action"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        actions.contains(&"operator-user model.promoted".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.ends_with("model.trained")),
        "{actions:?}"
    );
}

#[test]
fn fuzzing_with_the_openapi_document_finds_no_server_error() {
    // schemathesis (PyPI), installed by ./scripts/test.sh. Training is left
    // out: every valid request to it starts a real training run.
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), data.path(), port, "");
    let s = Server::start(&cfg, port, ClientTls::default());
    let out = std::process::Command::new("st")
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", s.base),
            "-H",
            &format!("Authorization: Bearer {}", token("admin")),
            "--checks",
            "not_a_server_error",
            "--exclude-path",
            "/api/v1/sentinel/train/payload-classifier",
            "-n",
            "40",
            "--request-timeout",
            "30",
            "--seed",
            "7",
        ])
        .env("NO_COLOR", "1")
        // schemathesis keeps a cache in its working directory.
        .current_dir(dir.path())
        .output()
        .expect("schemathesis is not installed: run ./scripts/test.sh (pip install schemathesis)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    assert!(report.contains("passed"), "{report}");
}

#[test]
fn a_cli_promotion_reaches_the_running_control_plane() {
    let data = common::private_data_dir();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        data.path(),
        port,
        "[pipeline]\nmodel_reload_ms = 300\n",
    );
    let s = Server::start(&cfg, port, ClientTls::default());
    let body = Some(r#"{"payload":"red shoes"}"#);
    let before = s.json(
        "POST",
        "/api/v1/sentinel/predict-payload",
        token("analyst"),
        body,
    );
    let trained = common::ok(common::sentinel_in(
        data.path(),
        &[
            "train",
            "--folds",
            "1",
            "--seed",
            "5",
            "--quiet",
            "--json",
            "--promote",
            "100",
        ],
    ));
    let new = serde_json::from_str::<serde_json::Value>(&trained).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(before["model"], new.as_str());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let p = s.json(
            "POST",
            "/api/v1/sentinel/predict-payload",
            token("analyst"),
            body,
        );
        if p["model"] == new.as_str() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still serving {}",
            p["model"]
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
