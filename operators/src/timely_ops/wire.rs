//! Records crossing process boundaries in a timely cluster.
//!
//! Timely serializes exchanged records with bincode, which is not
//! self-describing: Sentinel's wire types skip empty optional fields when
//! serialized (compact JSON output), and bincode cannot read such a record
//! back. [`Wire`] carries a record as self-describing MessagePack (field
//! names included, floats bit-exact) inside the bincode frame. Within a
//! process timely moves records without serializing them, so the wrapper
//! costs nothing there.

use serde::de::{DeserializeOwned, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A record exchanged between workers (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Wire<T>(pub T);

impl<T> Wire<T> {
    /// The record.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Serialize> Serialize for Wire<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = rmp_serde::to_vec_named(&self.0).map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a MessagePack-encoded record")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            v.push(b);
        }
        Ok(v)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Wire<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = d.deserialize_byte_buf(BytesVisitor)?;
        rmp_serde::from_slice(&bytes)
            .map(Wire)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Sparse {
        a: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        b: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        c: Vec<f32>,
        d: f32,
    }

    #[test]
    fn survives_bincode_with_skipped_fields_and_exact_floats() {
        for v in [
            Sparse {
                a: 1,
                b: None,
                c: vec![],
                d: 0.1,
            },
            Sparse {
                a: 2,
                b: Some("x".into()),
                c: vec![0.97, 1e-7],
                d: f32::MAX,
            },
        ] {
            let bytes = bincode::serialize(&Wire(v.clone())).unwrap();
            let back: Wire<Sparse> = bincode::deserialize(&bytes).unwrap();
            assert_eq!(back.0, v);
            // Plain bincode does not give a record with skipped fields back.
            if v.b.is_none() {
                let plain = bincode::serialize(&v).unwrap();
                assert_ne!(bincode::deserialize::<Sparse>(&plain).ok(), Some(v));
            }
        }
    }
}
