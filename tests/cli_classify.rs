//! `sentinel classify` and `sentinel features` through the binary.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn classify_lines_in_order() {
    let input = "1' OR '1'='1\nhello world\n<script>alert(1)</script>\n../../etc/passwd\n; cat /etc/passwd\n<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\nO'Brien\n";
    let out = ok(sentinel_stdin(&["classify"], input.as_bytes()));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "sqli",
            "benign",
            "xss",
            "path_traversal",
            "cmdi",
            "xxe",
            "benign"
        ]
    );
    for r in &rows {
        let s = r["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
    }
    assert!(rows[0]["score"].as_f64().unwrap() > 0.9);
    assert_eq!(rows[1]["score"].as_f64().unwrap(), 0.0);
}

#[test]
fn classify_jsonl_keeps_one_output_per_input() {
    let input = "{\"payload\": \"1 union select 1,2--\"}\nnot json\n{\"payload\": \"fine\"}\n";
    let out = ok(sentinel_stdin(
        &["classify", "--input", "jsonl"],
        input.as_bytes(),
    ));
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["label"], "sqli");
    assert!(rows[1]["error"]
        .as_str()
        .unwrap()
        .contains("invalid input line"));
    assert_eq!(rows[2]["label"], "benign");
}

#[test]
fn features_list_and_vectors() {
    let table = ok(sentinel(&["features", "--list"]));
    let rows = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| group"))
        .count();
    assert!(rows >= 35, "{rows}");
    // The README documents every feature.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for line in table.lines().skip(2) {
        let name = line.split('`').nth(1).unwrap();
        assert!(
            readme.contains(&format!("`{name}`")),
            "README lacks feature {name}"
        );
    }
    let out = ok(sentinel_stdin(
        &["features"],
        b"%3Cscript%3Ealert(1)%3C%2Fscript%3E\n",
    ));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["features"]["version"], "payload-v1");
    assert_eq!(v["normalized"], "<script>alert(1)</script>");
    assert_eq!(v["features"]["values"]["decode_depth"], 1.0);
}
