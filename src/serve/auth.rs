//! Bearer tokens and roles. Tokens are configured by the SHA-256 of their
//! value (never the value itself); every endpoint has one documented
//! minimum role ([`required_role`]), which the middleware enforces and the
//! OpenAPI document and the README table are generated from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Roles, each including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads state: models, health, dataset statistics, metrics-like views.
    Viewer,
    /// Analyses and labels: analyze, predict, explain, dataset samples.
    Analyst,
    /// Operates: training, promotion, the sandbox panic button, the audit log.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// One configured token (`[[api.tokens]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (recorded in the audit log).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// SHA-256 of the token, hex (`sentinel serve hash-token` prints it).
    pub sha256: String,
}

/// SHA-256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two equal-length hex strings.
fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Why a request was not authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A token that is not configured.
    Unknown,
    /// A valid token whose role is too weak.
    Forbidden {
        /// The token's holder.
        name: String,
        /// Its role.
        role: Role,
        /// The role the endpoint needs.
        needed: Role,
    },
}

/// Checks an `Authorization` header value against the configured tokens.
pub fn authenticate<'a>(
    header: Option<&str>,
    tokens: &'a [TokenConfig],
) -> Result<&'a TokenConfig, AuthFailure> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure::Missing)?;
    let h = hash_token(token);
    tokens
        .iter()
        .find(|t| ct_eq(&t.sha256.to_ascii_lowercase(), &h))
        .ok_or(AuthFailure::Unknown)
}

/// Public endpoints (no token): liveness, readiness, the OpenAPI document.
pub const PUBLIC: &[&str] = &["/healthz", "/readyz", "/api/v1/openapi.json"];

/// The minimum role of an endpoint (`None`: public; unknown routes need admin).
pub fn required_role(method: &str, path: &str) -> Option<Role> {
    if PUBLIC.contains(&path) {
        return None;
    }
    let p = path.strip_prefix("/api/v1/sentinel/").unwrap_or(path);
    Some(match (method, p) {
        ("GET", "/metrics") => Role::Viewer,
        ("GET", "models") | ("GET", "model-server/health") | ("GET", "dataset/stats") => {
            Role::Viewer
        }
        ("GET", p) if p.starts_with("train/jobs/") => Role::Viewer,
        ("POST", "analyze")
        | ("POST", "predict-payload")
        | ("POST", "explain")
        | ("POST", "dataset/add-sample")
        | ("POST", "dataset/add-false-positive") => Role::Analyst,
        ("POST", "train/payload-classifier")
        | ("POST", "models/promote")
        | ("POST", "sandbox/panic")
        | ("POST", "sandbox/rearm")
        | ("GET", "sandbox/audit-log") => Role::Operator,
        _ => Role::Admin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Vec<TokenConfig> {
        vec![TokenConfig {
            name: "ana".into(),
            role: Role::Analyst,
            sha256: hash_token("s3cret"),
        }]
    }

    #[test]
    fn bearer_tokens() {
        let t = tokens();
        assert_eq!(authenticate(Some("Bearer s3cret"), &t).unwrap().name, "ana");
        assert_eq!(authenticate(None, &t), Err(AuthFailure::Missing));
        assert_eq!(
            authenticate(Some("Basic s3cret"), &t),
            Err(AuthFailure::Missing)
        );
        assert_eq!(authenticate(Some("Bearer "), &t), Err(AuthFailure::Missing));
        assert_eq!(
            authenticate(Some("Bearer nope"), &t),
            Err(AuthFailure::Unknown)
        );
    }

    #[test]
    fn roles_are_ordered_and_routes_documented() {
        assert!(Role::Viewer < Role::Analyst && Role::Operator < Role::Admin);
        assert_eq!(required_role("GET", "/healthz"), None);
        assert_eq!(required_role("GET", "/metrics"), Some(Role::Viewer));
        assert_eq!(
            required_role("POST", "/api/v1/sentinel/predict-payload"),
            Some(Role::Analyst)
        );
        assert_eq!(
            required_role("POST", "/api/v1/sentinel/sandbox/panic"),
            Some(Role::Operator)
        );
        assert_eq!(
            required_role("DELETE", "/api/v1/sentinel/models"),
            Some(Role::Admin)
        );
    }
}
