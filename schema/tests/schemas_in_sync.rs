//! The committed JSON Schemas in `schema/json/` must match the Rust types.
//! Run with `SENTINEL_BLESS=1` to rewrite them after an intentional change.

use std::path::PathBuf;

#[test]
fn committed_json_schemas_match_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let bless = std::env::var_os("SENTINEL_BLESS").is_some();
    let mut drifted = Vec::new();
    let mut expected_files = Vec::new();
    for (stem, schema) in sentinel_schema::json_schema::all() {
        let path = dir.join(format!("{stem}.schema.json"));
        expected_files.push(path.file_name().unwrap().to_owned());
        let text = sentinel_schema::json_schema::to_text(&schema);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == text => {}
            _ => drifted.push(stem),
        }
    }
    assert!(
        drifted.is_empty(),
        "JSON Schemas out of date for {drifted:?}; rerun with SENTINEL_BLESS=1 and commit schema/json/"
    );
    // No stale files for types that no longer exist.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            expected_files.contains(&name),
            "stale schema file {name:?} in schema/json/"
        );
    }
}

#[test]
fn sample_evidence_validates_against_its_type() {
    let json = r#"{"evidence_id":"e1","event_time_ms":1700000000000,
        "client":{"ip":"203.0.113.7"},
        "request":{"method":"GET","target":"/search?q=1%27%20OR%201=1","headers":[{"name":"Host","value":"shop"}]}}"#;
    let ev: sentinel_schema::EvidenceEvent = serde_json::from_str(json).unwrap();
    assert_eq!(ev.schema_version, sentinel_schema::SCHEMA_VERSION);
    assert_eq!(ev.request.header("host").unwrap().as_bytes(), b"shop");
    // Unknown fields are refused: producers learn about typos immediately.
    let typo = json.replace("\"client\"", "\"clinet\"");
    assert!(serde_json::from_str::<sentinel_schema::EvidenceEvent>(&typo).is_err());
}
