//! Reads the public CSIC 2010 corpus from `../shared/data` (read-only) when
//! it is present: every one of its 36,000 requests must decode.

use std::path::PathBuf;

use sentinel_sources::{FileSource, InputFormat, SourceItem, SourceOptions};

/// The corpus path; a missing corpus fails the test unless
/// `SENTINEL_ALLOW_MISSING_CORPORA=1` says this checkout has none.
fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("SENTINEL_ALLOW_MISSING_CORPORA").is_some(),
        "{} is missing (set SENTINEL_ALLOW_MISSING_CORPORA=1 to skip corpus tests)",
        p.display()
    );
    None
}

#[test]
fn csic_normal_traffic_decodes_completely() {
    let Some(path) = shared("csic2010/normalTrafficTraining.txt.gz") else {
        return;
    };
    let mut src = FileSource::open(&path, SourceOptions::default()).unwrap();
    assert_eq!(src.format(), InputFormat::RawHttp);
    let mut events = 0;
    let mut bad = Vec::new();
    let mut posts_with_body = 0;
    while let Some(item) = src.next_item() {
        match item {
            SourceItem::Event { event, offset, .. } => {
                assert_eq!(offset, events as u64);
                if event.request.method == "POST" && !event.request.body.is_empty() {
                    posts_with_body += 1;
                }
                events += 1;
            }
            SourceItem::Bad { offset, error, .. } => bad.push((offset, error)),
        }
    }
    assert!(
        bad.is_empty(),
        "bad records: {:?}",
        &bad[..bad.len().min(5)]
    );
    assert_eq!(events, 36_000);
    assert!(posts_with_body > 1000, "{posts_with_body}");
}
