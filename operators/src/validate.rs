//! Validation of decoded events: what decoding alone does not guarantee.

use sentinel_schema::{DeadLetterReason, EvidenceEvent};
use sentinel_sources::DecodeError;

/// Limits applied to decoded events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationLimits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest evidence id.
    pub max_id_len: usize,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        ValidationLimits {
            max_body_bytes: 8 * 1024 * 1024,
            max_id_len: 256,
        }
    }
}

pub use sentinel_schema::MAX_EVENT_TIME_MS;

/// Checks an event; the error says what is wrong.
pub fn validate(event: &EvidenceEvent, limits: &ValidationLimits) -> Result<(), DecodeError> {
    let invalid = |detail: String| DecodeError::new(DeadLetterReason::InvalidField, detail);
    if event.evidence_id.trim().is_empty() {
        return Err(invalid("evidence_id is empty".into()));
    }
    if event.evidence_id.len() > limits.max_id_len {
        return Err(invalid(format!(
            "evidence_id is {} bytes (limit {})",
            event.evidence_id.len(),
            limits.max_id_len
        )));
    }
    if !(0..=MAX_EVENT_TIME_MS).contains(&event.event_time_ms) {
        return Err(invalid(format!(
            "event_time_ms {} is outside 1970..9999",
            event.event_time_ms
        )));
    }
    let m = &event.request.method;
    if m.is_empty()
        || m.len() > 32
        || !m
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(format!("method {m:?} is not an HTTP token")));
    }
    if event.request.target.is_empty() {
        return Err(invalid("request target is empty".into()));
    }
    if event.request.body.len() > limits.max_body_bytes {
        return Err(DecodeError::new(
            DeadLetterReason::TooLarge,
            format!(
                "request body of {} bytes exceeds the {} byte limit",
                event.request.body.len(),
                limits.max_body_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> EvidenceEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn catches_bad_fields() {
        let l = ValidationLimits::default();
        let ok = r#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GET","target":"/"}}"#;
        assert!(validate(&ev(ok), &l).is_ok());
        for bad in [
            ok.replace("\"a\"", "\" \""),
            ok.replace("\"event_time_ms\":1", "\"event_time_ms\":-5"),
            ok.replace("\"GET\"", "\"GE T\""),
            ok.replace("\"target\":\"/\"", "\"target\":\"\""),
        ] {
            assert!(validate(&ev(&bad), &l).is_err(), "{bad}");
        }
        let small = ValidationLimits {
            max_body_bytes: 2,
            ..l
        };
        let body = ok.replace("\"target\":\"/\"", "\"target\":\"/\",\"body\":\"abc\"");
        assert_eq!(
            validate(&ev(&body), &small).unwrap_err().reason,
            DeadLetterReason::TooLarge
        );
    }
}
