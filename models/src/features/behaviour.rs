//! Behavioural features: the client's activity in its event-time window.

use super::feature_table;

/// Version of the behaviour feature table.
pub const VERSION: &str = "behaviour-v1";

feature_table!(
    /// Index of a behaviour feature.
    B, SPECS, [
    WindowRequests => "window_requests": "Requests from the client key in the window, this one included.",
    RequestsPerMinute => "requests_per_minute": "Request rate over the window span, per minute.",
    ErrorRate => "error_rate": "Share of the window's requests answered 4xx/5xx (when responses are known).",
    DistinctPaths => "distinct_paths": "Distinct paths requested in the window.",
    DistinctParams => "distinct_params": "Distinct parameter names sent in the window.",
    UaDistinct => "ua_distinct": "Distinct User-Agent fingerprints in the window (stability: 1 is stable).",
    Burstiness => "burstiness": "Coefficient of variation of inter-arrival times (0 regular, >1 bursty).",
    AttackRatio => "attack_ratio": "Share of the window's earlier requests with an attack payload.",
    BlockedRatio => "blocked_ratio": "Share of the window's requests the upstream WAF blocked.",
]);

/// Number of behaviour features.
pub const N: usize = SPECS.len();
