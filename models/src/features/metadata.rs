//! Metadata features: enrichment and producer tags.

use super::feature_table;

/// Version of the metadata feature table.
pub const VERSION: &str = "metadata-v1";

feature_table!(
    /// Index of a metadata feature.
    M, SPECS, [
    ReputationHits => "reputation_hits": "Reputation lists (CIDR files) the client address is on.",
    AsnKnown => "asn_known": "1 when the client's ASN is known from the ASN list.",
    CountryKnown => "country_known": "1 when the client's country is known from the geo list.",
    TagCount => "tag_count": "Producer tags on the evidence (e.g. upstream WAF rule ids).",
    WafBlocked => "waf_blocked": "1 when the upstream WAF blocked the request.",
    HasClientIp => "has_client_ip": "1 when the evidence carries a client address.",
]);

/// Number of metadata features.
pub const N: usize = SPECS.len();
