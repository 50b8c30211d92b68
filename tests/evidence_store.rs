//! The evidence store against a real S3-compatible server (moto): good,
//! tampered, forged, missing and unreachable packages, through the store
//! and through the whole pipeline.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::s3::S3Server;
use common::{jsonl, ok, sentinel};
use ed25519_dalek::SigningKey;
use sentinel_schema::{EvidencePackage, EvidencePackageRef, Header, HttpRequest};
use sentinel_sources::evidence_store::{
    digest_hex, sign_digest, EvidenceStore, EvidenceStoreConfig, PackageError, S3Config,
};

fn package(target: &str) -> Vec<u8> {
    serde_json::to_vec(&EvidencePackage {
        request: HttpRequest {
            method: "GET".into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                Header::new("Host", "shop.example"),
                Header::new("User-Agent", "curl/8"),
            ],
            ..Default::default()
        },
        response: None,
        captured_at_ms: Some(1_767_225_600_000),
        sensor: Some("edge-1".into()),
    })
    .unwrap()
}

fn config(s3: &S3Server, key: &SigningKey) -> EvidenceStoreConfig {
    let mut trusted = BTreeMap::new();
    trusted.insert(
        "edge-1".to_string(),
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()),
    );
    EvidenceStoreConfig {
        s3: Some(S3Config {
            endpoint: s3.endpoint(),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            allow_http: true,
            virtual_hosted_style: false,
        }),
        timeout_ms: 1000,
        retries: 2,
        trusted_keys: trusted,
        require_signature: true,
        ..Default::default()
    }
}

fn reference(uri: &str, bytes: &[u8], key: &SigningKey) -> EvidencePackageRef {
    EvidencePackageRef {
        uri: uri.into(),
        sha256: digest_hex(bytes),
        signature: Some(sign_digest(key, bytes)),
        key_id: Some("edge-1".into()),
    }
}

#[test]
fn store_verifies_and_refuses() {
    let s3 = S3Server::start();
    s3.create_bucket("evidence");
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let store = EvidenceStore::new(config(&s3, &key)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let good = package("/search?q=%27%20or%201=1--");
    rt.block_on(store.put("s3://evidence/pkg/good.json", good.clone().into()))
        .unwrap();
    rt.block_on(store.put(
        "s3://evidence/pkg/tampered.json",
        package("/something/else").into(),
    ))
    .unwrap();

    // Good package.
    let p = rt
        .block_on(store.fetch_verified(&reference("s3://evidence/pkg/good.json", &good, &key)))
        .unwrap();
    assert_eq!(p.sensor.as_deref(), Some("edge-1"));
    // Tampered: the stored bytes are not the announced ones.
    let r = reference("s3://evidence/pkg/tampered.json", &good, &key);
    assert!(matches!(
        rt.block_on(store.fetch_verified(&r)),
        Err(PackageError::HashMismatch { .. })
    ));
    // Bad signature: signed by a key nobody trusts.
    let other = SigningKey::generate(&mut rand::rngs::OsRng);
    let r = reference("s3://evidence/pkg/good.json", &good, &other);
    assert!(matches!(
        rt.block_on(store.fetch_verified(&r)),
        Err(PackageError::BadSignature(_))
    ));
    // Missing object.
    let r = reference("s3://evidence/pkg/missing.json", &good, &key);
    assert!(matches!(
        rt.block_on(store.fetch_verified(&r)),
        Err(PackageError::Unavailable(_))
    ));
}

#[test]
fn a_silent_store_times_out_after_retries() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut cfg = EvidenceStoreConfig {
        s3: Some(S3Config {
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            allow_http: true,
            virtual_hosted_style: false,
        }),
        timeout_ms: 300,
        retries: 2,
        ..Default::default()
    };
    cfg.trusted_keys.insert(
        "edge-1".into(),
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()),
    );
    let store = EvidenceStore::new(cfg).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start = Instant::now();
    let r = reference("s3://evidence/pkg/x.json", b"{}", &key);
    let err = rt.block_on(store.fetch_verified(&r)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, PackageError::Unavailable(_)), "{err}");
    // Three attempts of 300 ms plus backoff, bounded.
    assert!(took >= Duration::from_millis(600), "{took:?}: no retries?");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn packages_through_the_pipeline() {
    let s3 = S3Server::start();
    s3.create_bucket("evidence");
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let store = EvidenceStore::new(config(&s3, &key)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The event carries only a harmless summary; the package holds the real request.
    let attack = package("/search?q=%27%20union%20select%20password%20from%20users--");
    rt.block_on(store.put("s3://evidence/a.json", attack.clone().into()))
        .unwrap();
    rt.block_on(store.put("s3://evidence/t.json", package("/x").into()))
        .unwrap();
    let local = dir.path().join("local.json");
    std::fs::write(&local, &attack).unwrap();
    let local_uri = format!("file://{}", local.display());

    let other = SigningKey::generate(&mut rand::rngs::OsRng);
    let cases = [
        ("good-s3", reference("s3://evidence/a.json", &attack, &key)),
        ("good-file", reference(&local_uri, &attack, &key)),
        ("tampered", reference("s3://evidence/t.json", &attack, &key)),
        ("forged", reference("s3://evidence/a.json", &attack, &other)),
        (
            "missing",
            reference("s3://evidence/none.json", &attack, &key),
        ),
    ];
    let mut lines = String::new();
    for (i, (id, r)) in cases.iter().enumerate() {
        let ev = serde_json::json!({
            "evidence_id": id, "event_time_ms": 1_767_225_600_000i64 + i as i64 * 1000,
            "client": {"ip": format!("203.0.113.{}", i + 1)},
            "request": {"method": "GET", "target": "/summary"},
            "package": r,
        });
        lines.push_str(&ev.to_string());
        lines.push('\n');
    }
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, lines).unwrap();
    let mut cfg_text = s3.toml();
    cfg_text = format!(
        "[evidence_store]\ntimeout_ms = 1000\nretries = 1\nrequire_signature = true\ntrusted_keys = {{ \"edge-1\" = \"{}\" }}\n{cfg_text}",
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
    );
    let cfg = dir.path().join("sentinel.toml");
    std::fs::write(&cfg, cfg_text).unwrap();
    let out = dir.path().join("out");
    ok(sentinel(&[
        "replay",
        "--quiet",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]));
    let verdicts = jsonl(&out.join("verdicts.jsonl"));
    let dead = jsonl(&out.join("dead_letters.jsonl"));
    let labels: BTreeMap<String, String> = verdicts
        .iter()
        .map(|v| {
            (
                v["evidence_id"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The verified package's request is what was judged.
    assert_eq!(labels.get("good-s3").map(String::as_str), Some("sqli"));
    assert_eq!(labels.get("good-file").map(String::as_str), Some("sqli"));
    let ready = jsonl(&out.join("evidence_ready.jsonl"));
    assert!(ready.iter().all(|r| r["package_verified"] == true));
    let mut reasons: Vec<(String, String)> = dead
        .iter()
        .map(|d| {
            let original: serde_json::Value =
                serde_json::from_str(d["original"].as_str().unwrap()).unwrap();
            (
                original["evidence_id"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("forged".to_string(), "package_bad_signature".to_string()),
            ("missing".to_string(), "package_unavailable".to_string()),
            ("tampered".to_string(), "package_hash_mismatch".to_string()),
        ]
    );
}
