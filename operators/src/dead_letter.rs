//! Dead letters from decode and validation errors.

use sentinel_schema::{ByteString, DeadLetter, Provenance, SCHEMA_VERSION};
use sentinel_sources::DecodeError;

/// Most bytes of the original record kept in a dead letter.
pub const MAX_ORIGINAL_BYTES: usize = 4096;

/// A dead letter for a record that failed with `error`.
pub fn dead_letter(
    error: &DecodeError,
    original: &[u8],
    original_len: u64,
    provenance: Provenance,
) -> DeadLetter {
    DeadLetter {
        reason: error.reason,
        detail: error.detail.clone(),
        original: ByteString::from(&original[..original.len().min(MAX_ORIGINAL_BYTES)]),
        original_len,
        schema_version: SCHEMA_VERSION,
        provenance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::DeadLetterReason;

    #[test]
    fn keeps_a_prefix_and_the_length() {
        let big = vec![b'x'; 10_000];
        let d = dead_letter(
            &DecodeError::malformed("junk"),
            &big,
            10_000,
            Provenance::default(),
        );
        assert_eq!(d.original.len(), MAX_ORIGINAL_BYTES);
        assert_eq!(d.original_len, 10_000);
        assert_eq!(d.reason, DeadLetterReason::MalformedRecord);
    }
}
