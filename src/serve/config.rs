//! `[api]`: the control plane's listener, tokens, TLS and limits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::auth::TokenConfig;

/// The control plane configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address to listen on.
    pub listen: String,
    /// Bearer tokens (by SHA-256) and their roles.
    pub tokens: Vec<TokenConfig>,
    /// TLS (and mTLS with `client_ca`); plain HTTP without it.
    pub tls: Option<TlsConfig>,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout_ms: u64,
    /// Where `sentinel run` serves `/metrics`, `/healthz` and `/readyz` (off when absent).
    pub metrics_listen: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: "127.0.0.1:8088".into(),
            tokens: Vec::new(),
            tls: None,
            max_body_bytes: 1 << 20,
            request_timeout_ms: 30_000,
            metrics_listen: None,
        }
    }
}

/// Server certificate and, for mTLS, the CA client certificates must chain to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA: when set, clients must present a certificate it signed.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}
