//! Hexadecimal ids: the 32 lowercase digits of a 128-bit hash, as the
//! evidence, verdict and rule ids carry them.

/// Appends `v` as 32 lowercase hexadecimal digits (what `{:032x}` writes,
/// without the formatting machinery, which costs several times more per
/// id; ids are made for every record).
pub fn push_hex128(out: &mut String, v: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(32);
    for byte in v.to_be_bytes() {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        for v in [0u128, 1, 0xf, u128::MAX, 1 << 127] {
            let mut s = String::from("raw-");
            push_hex128(&mut s, v);
            assert_eq!(s, format!("raw-{v:032x}"));
        }
    }

    proptest! {
        #[test]
        fn same_as_the_format_macro(v in any::<u128>()) {
            let mut s = String::new();
            push_hex128(&mut s, v);
            prop_assert_eq!(s, format!("{v:032x}"));
        }
    }
}
