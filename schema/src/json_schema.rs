//! JSON Schema export for every record type.

use schemars::{schema_for, Schema};

/// `(file stem, schema)` for every exported record type, in a fixed order.
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        ("evidence_event", schema_for!(crate::EvidenceEvent)),
        ("http_request", schema_for!(crate::HttpRequest)),
        ("http_response", schema_for!(crate::HttpResponse)),
        ("payload", schema_for!(crate::Payload)),
        ("feature_vector", schema_for!(crate::FeatureVector)),
        ("verdict", schema_for!(crate::Verdict)),
        ("sim_result", schema_for!(crate::SimResult)),
        ("waf_rule", schema_for!(crate::WafRule)),
        ("model_meta", schema_for!(crate::ModelMeta)),
        ("feedback", schema_for!(crate::Feedback)),
        ("audit_record", schema_for!(crate::AuditRecord)),
        ("dead_letter", schema_for!(crate::DeadLetter)),
        ("evidence_ready", schema_for!(crate::EvidenceReady)),
        ("evidence_package", schema_for!(crate::EvidencePackage)),
    ]
}

/// Pretty JSON text of a schema, newline-terminated (the committed file form).
pub fn to_text(schema: &Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
