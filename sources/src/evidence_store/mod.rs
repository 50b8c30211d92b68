//! The evidence store: fetch signed evidence packages from object stores
//! (`s3://bucket/key` on any S3-compatible store, `file:///path`) and verify
//! them before they are used.
//!
//! A package is accepted only when its bytes hash to the SHA-256 the event
//! announced, and — when the event carries a signature, or signatures are
//! required — when an Ed25519 signature over that 32-byte digest verifies
//! against one of the configured trusted keys. Anything else is a
//! [`PackageError`] that becomes a dead letter with its reason.

mod config;
mod store;
mod verify;

pub use config::{EvidenceStoreConfig, S3Config};
pub use store::EvidenceStore;
pub use verify::{digest_hex, sign_digest, verify_package, PackageError, TrustedKeys};
