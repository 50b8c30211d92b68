//! Named, versioned feature vectors (the wire form).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A feature vector with its names, as printed by `sentinel features` and
/// carried in explanations. Inside the engine features are plain `f32`
/// arrays indexed by a versioned name table; this is their readable form.
///
/// JSON: `{"version": "payload-v1", "values": {"len_raw": 12.0, ...}}` with
/// the names in the table's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureVector {
    /// Name-table version (e.g. `payload-v1`); values are comparable only within a version.
    pub version: String,
    /// Feature values by name, in table order.
    pub values: NamedValues,
}

impl FeatureVector {
    /// Builds a vector from a name table and values (zipped; extra entries ignored).
    pub fn new(version: impl Into<String>, names: &[&str], values: &[f32]) -> Self {
        FeatureVector {
            version: version.into(),
            values: NamedValues(
                names
                    .iter()
                    .zip(values)
                    .map(|(n, v)| (n.to_string(), *v))
                    .collect(),
            ),
        }
    }

    /// The value of a named feature.
    pub fn get(&self, name: &str) -> Option<f32> {
        self.values
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Ordered `name → value` pairs, serialized as a JSON object in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamedValues(pub Vec<(String, f32)>);

impl Serialize for NamedValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for NamedValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamedValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of feature name to number")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, f32>()? {
                    out.push((k, v));
                }
                Ok(NamedValues(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl JsonSchema for NamedValues {
    fn schema_name() -> Cow<'static, str> {
        "NamedValues".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Feature values by name, in name-table order.",
            "additionalProperties": { "type": "number" }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_in_json() {
        let fv = FeatureVector::new("t-v1", &["b", "a"], &[1.0, 2.5]);
        let json = serde_json::to_string(&fv).unwrap();
        assert_eq!(json, r#"{"version":"t-v1","values":{"b":1.0,"a":2.5}}"#);
        let back: FeatureVector = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fv);
        assert_eq!(back.get("a"), Some(2.5));
    }
}
