//! Analyst feedback records (`events.feedback`, `sentinel feedback add`).

use sentinel_schema::{DeadLetterReason, Feedback};

use crate::DecodeError;

/// Longest payload a feedback record may carry (bytes).
pub const MAX_FEEDBACK_PAYLOAD: usize = 64 * 1024;

/// Decodes one feedback record: valid JSON of the `Feedback` schema with a
/// non-empty evidence id and analyst, and a payload of at most
/// [`MAX_FEEDBACK_PAYLOAD`] bytes.
pub fn decode_feedback(bytes: &[u8]) -> Result<Feedback, DecodeError> {
    let f: Feedback = serde_json::from_slice(bytes).map_err(|e| DecodeError::from_json(&e))?;
    if f.evidence_id.trim().is_empty() {
        return Err(DecodeError::new(
            DeadLetterReason::InvalidField,
            "feedback without an evidence_id",
        ));
    }
    if f.analyst.trim().is_empty() {
        return Err(DecodeError::new(
            DeadLetterReason::InvalidField,
            "feedback without an analyst",
        ));
    }
    if let Some(p) = &f.payload {
        if p.len() > MAX_FEEDBACK_PAYLOAD {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!(
                    "feedback payload of {} bytes (limit {MAX_FEEDBACK_PAYLOAD})",
                    p.len()
                ),
            ));
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_and_invalid_records() {
        let ok = br#"{"evidence_id":"e1","kind":"false_positive","label":"benign","payload":"ls -la tips","analyst":"ana","time_ms":1}"#;
        let f = decode_feedback(ok).unwrap();
        assert_eq!(f.payload.as_deref(), Some("ls -la tips"));
        let cases: [(&[u8], DeadLetterReason); 4] = [
            (b"{oops", DeadLetterReason::InvalidJson),
            (
                br#"{"evidence_id":"e1","kind":"nope","label":"benign","analyst":"a","time_ms":1}"#,
                DeadLetterReason::SchemaViolation,
            ),
            (
                br#"{"evidence_id":" ","kind":"label","label":"sqli","analyst":"a","time_ms":1}"#,
                DeadLetterReason::InvalidField,
            ),
            (
                br#"{"evidence_id":"e","kind":"label","label":"sqli","analyst":"","time_ms":1}"#,
                DeadLetterReason::InvalidField,
            ),
        ];
        for (bytes, reason) in cases {
            let e = decode_feedback(bytes).unwrap_err();
            assert_eq!(e.reason, reason, "{e}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_feedback(&bytes);
        }

        #[test]
        fn decoded_records_round_trip(
            id in "[a-z0-9-]{1,20}",
            payload in proptest::option::of(".{0,80}"),
            analyst in "[a-z]{1,10}",
        ) {
            let f = Feedback {
                evidence_id: id,
                kind: sentinel_schema::FeedbackKind::FalsePositive,
                label: sentinel_schema::ThreatClass::Benign,
                payload,
                analyst,
                note: None,
                time_ms: 5,
            };
            let bytes = serde_json::to_vec(&f).unwrap();
            prop_assert_eq!(decode_feedback(&bytes).unwrap(), f);
        }
    }
}
