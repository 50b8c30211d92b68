//! Evidence JSONL: one [`EvidenceEvent`] per line, our own schema.

use sentinel_schema::EvidenceEvent;

use crate::DecodeError;

/// Decodes one line.
pub fn decode(bytes: &[u8]) -> Result<EvidenceEvent, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::DeadLetterReason;

    #[test]
    fn classifies_errors() {
        let truncated = br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GE"#;
        assert_eq!(
            decode(truncated).unwrap_err().reason,
            DeadLetterReason::InvalidJson
        );
        let wrong_shape = br#"{"evidence_id":5,"event_time_ms":1,"request":{}}"#;
        assert_eq!(
            decode(wrong_shape).unwrap_err().reason,
            DeadLetterReason::SchemaViolation
        );
        let ok =
            br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GET","target":"/"}}"#;
        assert_eq!(decode(ok).unwrap().evidence_id, "a");
    }
}
