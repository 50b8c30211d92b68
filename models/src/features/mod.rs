//! Named, versioned, documented features.
//!
//! Four tables, each with a version string that changes whenever a feature
//! is added, removed or redefined:
//!
//! * [`payload`] — one vector per payload (lengths, entropy, injection vocabulary, signatures);
//! * [`request`] — one vector per request (method, counts, header anomalies, CSRF context);
//! * [`behaviour`] — one vector per request from its client's event-time window;
//! * [`metadata`] — one vector per request from enrichment (reputation, ASN, tags).
//!
//! `sentinel features --list` prints them all as the README's table.

pub mod behaviour;
pub mod metadata;
pub mod payload;
pub mod request;
pub mod window;

/// A feature's name and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureSpec {
    /// Stable snake_case name.
    pub name: &'static str,
    /// What it measures.
    pub description: &'static str,
}

/// Declares a feature table: an index enum and the spec table in the same order.
macro_rules! feature_table {
    ($(#[$m:meta])* $enum:ident, $table:ident, [$($variant:ident => $name:literal : $desc:literal),* $(,)?]) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum $enum {
            $(
                #[doc = $desc]
                $variant
            ),*
        }

        /// The table, in index order.
        pub const $table: &[$crate::features::FeatureSpec] = &[
            $($crate::features::FeatureSpec { name: $name, description: $desc }),*
        ];
    };
}
pub(crate) use feature_table;

/// Every table as `(group name, version, specs)`.
pub fn tables() -> [(&'static str, &'static str, &'static [FeatureSpec]); 4] {
    [
        ("payload", payload::VERSION, payload::SPECS),
        ("request", request::VERSION, request::SPECS),
        ("behaviour", behaviour::VERSION, behaviour::SPECS),
        ("metadata", metadata::VERSION, metadata::SPECS),
    ]
}

/// Total number of features over all tables.
pub fn total() -> usize {
    tables().iter().map(|(_, _, s)| s.len()).sum()
}

/// The feature tables as a Markdown table (`group | name | description`).
pub fn markdown_table() -> String {
    let mut s = String::from("| group | feature | meaning |\n|---|---|---|\n");
    for (group, _, specs) in tables() {
        for spec in specs {
            s.push_str(&format!(
                "| {group} | `{}` | {} |\n",
                spec.name, spec.description
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_enough() {
        let mut seen = std::collections::HashSet::new();
        for (_, _, specs) in tables() {
            for s in specs {
                assert!(seen.insert(s.name), "duplicate feature {}", s.name);
                assert!(s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            }
        }
        assert!(total() >= 35, "{}", total());
    }
}
