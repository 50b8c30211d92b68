//! The parameters the application profile learns and judges: query, form,
//! JSON, multipart and XML values, decoded to text.

use sentinel_schema::PayloadLocation;

use crate::extract::ExtractedPayload;

/// Decodes a raw value: percent-escapes (and `+` as space for form
/// encoding); bytes that are not UTF-8 are read as Latin-1, the charset of
/// many older applications' escapes.
pub fn decode_value(raw: &[u8], form_encoded: bool) -> String {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' if form_encoded => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    bytes.push(h << 4 | l);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The profiled parameters of an extraction, as `(location, decoded value)`.
pub fn profile_params(payloads: &[ExtractedPayload]) -> Vec<(String, String)> {
    payloads
        .iter()
        .filter(|p| {
            matches!(
                p.location,
                PayloadLocation::Query(_)
                    | PayloadLocation::Form(_)
                    | PayloadLocation::Json(_)
                    | PayloadLocation::Multipart(_)
                    | PayloadLocation::Xml(_)
            )
        })
        .map(|p| (p.location.to_string(), decode_value(&p.raw, p.form_encoded)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_escapes_plus_and_latin1() {
        assert_eq!(decode_value(b"a+b%20c", true), "a b c");
        assert_eq!(decode_value(b"a+b", false), "a+b");
        assert_eq!(decode_value(b"caf%E9", true), "café");
        assert_eq!(decode_value(b"caf%C3%A9", true), "café");
        assert_eq!(decode_value(b"100%", true), "100%");
        assert_eq!(decode_value(b"%zz%4", true), "%zz%4");
    }

    proptest! {
        #[test]
        fn never_panics_and_plain_text_is_unchanged(s in "[a-zA-Z0-9 ._-]{0,40}", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(decode_value(s.as_bytes(), false), s);
            let _ = decode_value(&raw, true);
        }
    }
}
