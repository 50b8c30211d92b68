//! Request features: one vector per request.

use super::feature_table;

/// Version of the request feature table.
pub const VERSION: &str = "request-v1";

feature_table!(
    /// Index of a request feature.
    R, SPECS, [
    Method => "method": "Method code: 0 GET, 1 POST, 2 PUT, 3 DELETE, 4 PATCH, 5 HEAD, 6 OPTIONS, 7 other.",
    ParamCount => "param_count": "Query, form, JSON, multipart and XML parameters.",
    HeaderCount => "header_count": "Header lines.",
    CookieCount => "cookie_count": "Cookies.",
    PathDepth => "path_depth": "Path segments.",
    PathLen => "path_len": "Length of the decoded path.",
    BodyLen => "body_len": "Body length in bytes.",
    PayloadCount => "payload_count": "Payloads extracted for scoring.",
    HeaderAnomalies => "header_anomalies": "Header anomalies: missing Host or User-Agent, duplicate Host/Content-Length, oversized or invalid header names.",
    ContentTypeMismatch => "content_type_mismatch": "1 when the body does not parse as its declared Content-Type.",
    CrossSite => "cross_site": "1 when Origin/Referer names another host than Host, or Sec-Fetch-Site is cross-site.",
    HasCsrfToken => "has_csrf_token": "1 when a CSRF token parameter or header is present.",
    MaxPayloadEntropy => "max_payload_entropy": "Highest entropy among the payloads.",
    MeanPayloadEntropy => "mean_payload_entropy": "Mean entropy of the payloads.",
    NonAsciiTarget => "non_ascii_target": "1 when the raw request target has non-ASCII bytes.",
    ExtractionLimits => "extraction_limits": "Extraction limits hit (size, depth, count).",
]);

/// Number of request features.
pub const N: usize = SPECS.len();

/// The method code of [`R::Method`].
pub fn method_code(method: &str) -> f32 {
    const CODES: [(&str, f32); 7] = [
        ("GET", 0.0),
        ("POST", 1.0),
        ("PUT", 2.0),
        ("DELETE", 3.0),
        ("PATCH", 4.0),
        ("HEAD", 5.0),
        ("OPTIONS", 6.0),
    ];
    CODES
        .iter()
        .find(|(m, _)| method.eq_ignore_ascii_case(m))
        .map_or(7.0, |&(_, code)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_codes_ignore_case() {
        assert_eq!(method_code("GET"), 0.0);
        assert_eq!(method_code("post"), 1.0);
        assert_eq!(method_code("Put"), 2.0);
        assert_eq!(method_code("DELETE"), 3.0);
        assert_eq!(method_code("patch"), 4.0);
        assert_eq!(method_code("HEAD"), 5.0);
        assert_eq!(method_code("options"), 6.0);
        assert_eq!(method_code("PROPFIND"), 7.0);
        assert_eq!(method_code(""), 7.0);
        assert_eq!(method_code("GETS"), 7.0);
    }
}
